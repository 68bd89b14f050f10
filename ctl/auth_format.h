// etcdctl 3.4's simple output of the auth commands (user, role, auth), as pure functions.
#pragma once

#include <string>

#include "proto/etcd/rpc.pb.h"

namespace cairn::ctl {

// `role get`: "Role r\nKV Read:\n\t...\nKV Write:\n\t...\n" with etcdctl's range notation.
std::string simple_role_get(const std::string& role, const etcdserverpb::AuthRoleGetResponse& r);
// `role revoke-permission`: which key or range was revoked.
std::string simple_role_revoke(const std::string& role, const std::string& key, const std::string& end);
// `user get`: "User: u\nRoles: a b\n".
std::string simple_user_get(const std::string& name, const etcdserverpb::AuthUserGetResponse& r);

}  // namespace cairn::ctl
