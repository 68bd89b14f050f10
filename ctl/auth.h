// etcdctl 3.4's auth command family: user add/delete/get/list/passwd/grant-role/revoke-role,
// role add/delete/get/list/grant-permission/revoke-permission, auth enable/disable. Simple output only;
// the other formats are refused (exit 4). Against a server without auth (cairn today) each command prints
// whatever the server answers (e.g. `unknown method`).
#pragma once

#include <string>

#include "ctl/args.h"
#include "ctl/format.h"
#include "ctl/rpc.h"

namespace cairn::ctl {

// group: "user", "role" or "auth"; sub: the subcommand.
int run_auth_command(const std::string& group, const std::string& sub, const Invocation& inv,
                     const ConnectionOptions& copts, const PrintOptions& print);

}  // namespace cairn::ctl
