// AuthStore: the replicated auth state (etcd's auth/store.go): the enabled flag, users, roles, their
// key permissions and the auth revision. It lives in the MVCC store's engine (Space::kAuth), so it is
// in every store snapshot, survives restarts and `cairnctl snapshot restore`, and changes only at apply
// time, in raft order, with the entry's own batch (the mutators append to `batch`, which the node hands
// to MvccStore::apply as its `extra` writes).
//
// Records in Space::kAuth (integers big-endian):
//   "enabled"        "1" while auth is enabled (absent: disabled)
//   "revision"       u64: the auth revision, +1 with every change of the auth state
//   "token_floor"    u64: tokens issued at an auth revision below this are void (set by AuthDisable)
//   "user/<name>"    u8 format (1) | u32 length + authpb.User (name, bcrypt hash, roles sorted,
//                    options) | u64 this user's token floor (set by password change and role revoke;
//                    a token of the user issued before it is void)
//   "role/<name>"    authpb.Role (name, permissions sorted by key then range_end)
//
// Threading: node thread only (AuthState's published copy in auth.h is what other threads read).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/expected.h"
#include "proto/etcd/auth.pb.h"
#include "server/auth/errors.h"
#include "server/auth/perms.h"
#include "storage/kv_engine.h"

namespace cairn::server::auth {

inline constexpr const char* kRootUser = "root";
inline constexpr const char* kRootRole = "root";

struct User {
  std::string name;
  std::string password_hash;       // empty with no_password
  std::vector<std::string> roles;  // sorted, unique
  bool no_password = false;
  uint64_t token_floor = 0;
};

enum class PermKind { kRead, kWrite };

class AuthStore {
 public:
  // Reads the state from the engine (an empty space: auth disabled, revision 0... as a new etcd has 1).
  Expected<storage::Unit, std::string> load(storage::KvEngine& engine);

  bool enabled() const { return enabled_; }
  uint64_t revision() const { return revision_; }
  uint64_t token_floor() const { return token_floor_; }
  const User* user(const std::string& name) const;
  const authpb::Role* role(const std::string& name) const;
  const std::map<std::string, User>& users() const { return users_; }
  const std::map<std::string, authpb::Role>& roles() const { return roles_; }

  // The user exists and holds the root role.
  bool is_root(const std::string& user) const;
  // Every key of (key, range_end) may be read / written by `user` (root: everything).
  bool permitted(const std::string& user, std::string_view key, std::string_view range_end,
                 PermKind kind) const;

  // ---- mutations (apply time): each checks etcd's preconditions, then changes the state, bumps the
  // revision and appends the records it changed to `batch`. An error changes nothing. ----
  std::optional<EtcdError> enable(storage::WriteBatch& batch);
  std::optional<EtcdError> disable(storage::WriteBatch& batch);
  std::optional<EtcdError> user_add(const std::string& name, const std::string& hash, bool no_password,
                                    storage::WriteBatch& batch);
  std::optional<EtcdError> user_delete(const std::string& name, storage::WriteBatch& batch);
  std::optional<EtcdError> user_change_password(const std::string& name, const std::string& hash,
                                                storage::WriteBatch& batch);
  std::optional<EtcdError> user_grant_role(const std::string& name, const std::string& role,
                                           storage::WriteBatch& batch);
  std::optional<EtcdError> user_revoke_role(const std::string& name, const std::string& role,
                                            storage::WriteBatch& batch);
  std::optional<EtcdError> role_add(const std::string& name, storage::WriteBatch& batch);
  std::optional<EtcdError> role_delete(const std::string& name, storage::WriteBatch& batch);
  std::optional<EtcdError> role_grant_permission(const std::string& name, const authpb::Permission& perm,
                                                 storage::WriteBatch& batch);
  std::optional<EtcdError> role_revoke_permission(const std::string& name, const std::string& key,
                                                  const std::string& range_end, storage::WriteBatch& batch);

  // Replaces the whole state with the given one (an offline restore: server/auth/backend_format.h).
  // Every token issued below `revision` is void (token floors at `revision`).
  void restore(bool enabled, uint64_t revision, std::vector<User> users, std::vector<authpb::Role> roles,
               storage::WriteBatch& batch);

 private:
  struct MergedPerms {
    KeyRangeSet read, write;
  };
  const MergedPerms& merged(const User& u) const;
  void bump(storage::WriteBatch& batch);
  void write_user(const User& u, storage::WriteBatch& batch) const;
  void write_role(const authpb::Role& r, storage::WriteBatch& batch) const;

  bool enabled_ = false;
  uint64_t revision_ = 0;
  uint64_t token_floor_ = 0;
  std::map<std::string, User> users_;
  std::map<std::string, authpb::Role> roles_;
  // Per user, the union of its roles' grants; dropped whenever the state changes.
  mutable std::map<std::string, MergedPerms> merged_;
};

std::string encode_user_record(const User& u);
std::optional<User> decode_user_record(std::string_view bytes);

}  // namespace cairn::server::auth
