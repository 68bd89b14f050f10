// Auth: authentication and authorization for one member (etcd's auth store + token provider + the
// checks etcd's authApplierV3 makes), owned by the node (server/node/node.h), consulted by the API layer.
//
// Who a request acts for is decided once, when it arrives: identify() checks its token (gRPC metadata
// "token", the gateway's Authorization header) or, without one, the CN of its verified TLS client
// certificate, and returns an EntryAuth {user, auth revision now}. That travels with the request: in the
// raft entry of a write, to the node thread for a read. The decision is made where the request takes
// effect, against the replicated state there: a write at apply time, in raft order, on every member
// alike (on_apply); a read, a watch creation, a lease or maintenance call on the node thread when it
// runs (check_*). If the auth state changed between the two (the entry's revision is older than the
// store's), the request is refused with etcd's "revision of auth store is old" and the API layer checks
// the token again and retries, as etcd's server does: a request never runs with rights that were revoked
// before it took effect.
//
// What needs what with auth enabled (etcd 3.4's rules unless noted; docs/security.md has the table):
//   Range, Txn compares, Watch, prev_kv             read on the keys
//   Put, DeleteRange, Txn ops (both branches)       write on the keys (+ read for prev_kv)
//   Put with a lease, LeaseRevoke                   write on every key attached to the lease
//   LeaseTimeToLive                                 read on every attached key (etcd 3.5)
//   LeaseGrant, LeaseKeepAlive, LeaseLeases, Compact, Alarm GET   any user (etcd: none)
//   user/role/auth management, Defragment, Hash, HashKV, Snapshot, Alarm activate/deactivate,
//   MoveLeader, member changes                      root (MoveLeader, Alarm changes: etcd lets any user)
//   UserGet of oneself, RoleGet of an own role      the user itself
//   Status, MemberList, Authenticate, AuthStatus    anyone
//
// Threading: identify(), enabled(), bcrypt_cost(), sign_jwt() from any thread (they read a copy of the
// state published after every change); everything else on the node thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/expected.h"
#include "server/auth/auth_store.h"
#include "server/auth/bcrypt.h"
#include "server/auth/hash_pool.h"
#include "server/auth/tokens.h"
#include "server/node/request_codec.h"
#include "storage/mvcc_store.h"

namespace cairn::server::auth {

using node::EntryAuth;

struct AuthOptions {
  std::string token = "simple";          // --auth-token
  std::chrono::seconds token_ttl{300};   // --auth-token-ttl (simple tokens)
  int bcrypt_cost = kBcryptCostDefault;  // --bcrypt-cost
};

// The body of a kAuthenticate entry: u64 BE auth revision at the password check | u32 BE length + user |
// u32 BE length + simple token (empty with jwt).
struct AuthenticateRecord {
  std::string user;
  uint64_t revision = 0;
  std::string simple_token;
};
std::string encode_authenticate(const AuthenticateRecord& r);
std::optional<AuthenticateRecord> decode_authenticate(std::string_view body);

// Whether a request's keys are allowed (the store-request checks, exposed for tests).
std::optional<EtcdError> check_store_request(const AuthStore& auth, const std::string& user,
                                             const storage::ApplyRequest& req, const storage::MvccStore& kv);

class Auth {
 public:
  static Expected<std::unique_ptr<Auth>, std::string> create(const AuthOptions& o,
                                                             std::shared_ptr<Clock> clock = system_clock());

  // ---- any thread ----
  bool enabled() const;
  Expected<EntryAuth, EtcdError> identify(std::string_view token, std::string_view cert_cn) const;
  int bcrypt_cost() const { return options_.bcrypt_cost; }
  bool jwt() const { return jwt_ != nullptr; }
  Expected<std::string, EtcdError> sign_jwt(const std::string& user, uint64_t revision) const;
  // A dummy hash at the configured cost, checked for unknown users so they cost what a known one does.
  const std::string& dummy_hash() const { return dummy_hash_; }
  // bcrypt off the calling thread (HashPool); false when its queue is full.
  bool hash_async(std::string password, std::function<void(Expected<std::string, std::string>)> done);
  bool verify_async(std::string password, std::string hash, std::function<void(bool)> done);

  // ---- node thread ----
  // Reads the state from the store's engine (at open, and after a snapshot from the leader replaced it).
  Expected<storage::Unit, std::string> load(storage::KvEngine& engine);
  const AuthStore& store() const { return store_; }
  // Auth enabled and the request names no user, an unknown user or a stale revision: the error.
  std::optional<EtcdError> check_user(const EntryAuth& a) const;
  std::optional<EtcdError> check_admin(const EntryAuth& a) const;
  std::optional<EtcdError> check_read(const EntryAuth& a, std::string_view key,
                                      std::string_view range_end) const;
  // LeaseTimeToLive: read on every key attached to the lease.
  std::optional<EtcdError> check_lease_read(const EntryAuth& a, const storage::MvccStore& kv,
                                            int64_t lease) const;
  // UserGet: oneself or root; RoleGet: a role one holds or root.
  std::optional<EtcdError> check_user_get(const EntryAuth& a, const std::string& name) const;
  std::optional<EtcdError> check_role_get(const EntryAuth& a, const std::string& role) const;

  // Apply time, for every decoded entry before the store applies it. An auth entry changes the auth
  // state (its records go into `extra`); a client's store request is checked. An error refuses the
  // entry (the node applies it as a no-op and answers the error). `replay`: the entry was committed
  // before this member started (tokens it carried are not brought back).
  std::optional<EtcdError> on_apply(const node::EntryPayload& p, const storage::ApplyRequest* req,
                                    const storage::MvccStore& kv, bool replay, storage::WriteBatch& extra);

 private:
  struct Published {
    bool enabled = false;
    uint64_t revision = 1;
    uint64_t token_floor = 0;
    std::unordered_map<std::string, uint64_t> user_floor;  // user -> its token floor
  };
  Auth() = default;
  void publish();
  std::shared_ptr<const Published> published() const;
  std::optional<EtcdError> apply_auth(const node::EntryPayload& p, bool replay, storage::WriteBatch& extra);
  std::optional<EtcdError> apply_authenticate(std::string_view body, bool replay);
  std::optional<EtcdError> stale(const EntryAuth& a) const;

  AuthOptions options_;
  std::shared_ptr<Clock> clock_;
  std::unique_ptr<SimpleTokens> simple_;
  std::unique_ptr<JwtTokens> jwt_;
  std::string dummy_hash_;
  std::unique_ptr<HashPool> pool_;
  AuthStore store_;  // node thread
  mutable std::mutex mu_;
  std::shared_ptr<const Published> published_;
};

// True for the kinds on_apply handles itself.
bool is_auth_kind(node::EntryKind k);

}  // namespace cairn::server::auth
