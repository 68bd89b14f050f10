// etcd's auth errors as values: the gRPC code and exact message clientv3 matches (rpctypes/error.go in
// etcd 3.4, checked against a running etcd 3.4.23). The maintenance calls that need root answer with
// etcd's untranslated texts ("auth: ...", code Unknown), as etcd does.
#pragma once

#include "server/node/errors.h"

namespace cairn::server::auth {

using node::EtcdError;
using Code = net::StatusCode;

inline EtcdError err_root_user_not_exist() {
  return {Code::kFailedPrecondition, "etcdserver: root user does not exist"};
}
inline EtcdError err_root_role_not_exist() {
  return {Code::kFailedPrecondition, "etcdserver: root user does not have root role"};
}
inline EtcdError err_user_already_exist() {
  return {Code::kFailedPrecondition, "etcdserver: user name already exists"};
}
inline EtcdError err_user_empty() {
  return {Code::kInvalidArgument, "etcdserver: user name is empty"};
}
inline EtcdError err_user_not_found() {
  return {Code::kFailedPrecondition, "etcdserver: user name not found"};
}
inline EtcdError err_role_already_exist() {
  return {Code::kFailedPrecondition, "etcdserver: role name already exists"};
}
inline EtcdError err_role_not_found() {
  return {Code::kFailedPrecondition, "etcdserver: role name not found"};
}
inline EtcdError err_role_empty() {
  return {Code::kInvalidArgument, "etcdserver: role name is empty"};
}
inline EtcdError err_auth_failed() {
  return {Code::kInvalidArgument, "etcdserver: authentication failed, invalid user ID or password"};
}
inline EtcdError err_permission_denied() {
  return {Code::kPermissionDenied, "etcdserver: permission denied"};
}
inline EtcdError err_role_not_granted() {
  return {Code::kFailedPrecondition, "etcdserver: role is not granted to the user"};
}
inline EtcdError err_permission_not_granted() {
  return {Code::kFailedPrecondition, "etcdserver: permission is not granted to the role"};
}
inline EtcdError err_auth_not_enabled() {
  return {Code::kFailedPrecondition, "etcdserver: authentication is not enabled"};
}
inline EtcdError err_invalid_auth_token() {
  return {Code::kUnauthenticated, "etcdserver: invalid auth token"};
}
inline EtcdError err_invalid_auth_mgmt() {
  return {Code::kInvalidArgument, "etcdserver: invalid auth management"};
}
inline EtcdError err_auth_old_revision() {
  return {Code::kInvalidArgument, "etcdserver: revision of auth store is old"};
}
// etcd 3.5's name for a grant without a permission.
inline EtcdError err_permission_not_given() {
  return {Code::kInvalidArgument, "etcdserver: permission not given"};
}
// cairn's own: bcrypt reads a password as a C string, so a NUL byte would silently cut it short.
inline EtcdError err_password_has_nul() {
  return {Code::kInvalidArgument, "etcdserver: password must not contain a NUL byte"};
}

// etcd's maintenance server returns the auth store's errors untranslated (code Unknown). A stale
// revision stays as it is: the caller checks the token again and retries (server/api/caller.h).
inline EtcdError maintenance_error(const EtcdError& e) {
  if (e == err_user_empty()) return {Code::kUnknown, "auth: user name is empty"};
  if (e == err_invalid_auth_token()) return {Code::kUnknown, "auth: invalid auth token"};
  if (e == err_permission_denied()) return {Code::kUnknown, "auth: permission denied"};
  return e;
}

}  // namespace cairn::server::auth
