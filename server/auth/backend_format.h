// The auth state as etcd's backend file holds it (storage/etcd_backend: the auth, authUsers and
// authRoles buckets), both ways: a snapshot cairn streams carries its users, roles, enabled flag and
// auth revision, so an etcd restored from it enforces the same rules; an etcd snapshot restored into
// cairn keeps them too.
//
// Tokens do not travel: a restored store voids every token issued before its auth revision (the token
// floors are set to it), so a JWT signed before the snapshot (for a password changed since, say) is
// not accepted by the restored cluster.
#pragma once

#include <string>

#include "base/expected.h"
#include "server/auth/auth_store.h"
#include "storage/etcd_backend/export.h"
#include "storage/kv_engine.h"

namespace cairn::server::auth {

// The buckets' contents for `store` (users as authpb.User with the bcrypt hash, roles as authpb.Role).
storage::etcd_backend::AuthExport export_auth(const AuthStore& store);

// Writes `state` into the empty auth space of `engine` and syncs it (an offline restore). An undecodable user
// or role record, or an enabled state without a root user holding the root role, is refused and nothing is
// written.
Expected<storage::Unit, std::string> import_auth(const storage::etcd_backend::AuthExport& state,
                                                 storage::KvEngine& engine);

}  // namespace cairn::server::auth
