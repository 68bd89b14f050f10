// etcdctl 3.4's auth command family: user add/delete/get/list/passwd/grant-role/revoke-role,
// role add/delete/get/list/grant-permission/revoke-permission, auth enable/disable, in etcdctl's simple,
// json, fields and protobuf formats (ctl/format.h: fields is refused for user get/list and table for
// all, as etcdctl does; auth enable/disable print their line in every format).
#pragma once

#include <optional>
#include <string>

#include "ctl/args.h"
#include "ctl/format.h"
#include "ctl/rpc.h"

namespace cairn::ctl {

// Reads a password from the terminal with echo off, after writing `prompt` to stderr (stdout stays the
// command's output). Not a terminal: the first line of stdin.
std::optional<std::string> prompt_password(const std::string& prompt, std::string& err);

// group: "user", "role" or "auth"; sub: the subcommand.
int run_auth_command(const std::string& group, const std::string& sub, const Invocation& inv,
                     const ConnectionOptions& copts, const PrintOptions& print);

}  // namespace cairn::ctl
