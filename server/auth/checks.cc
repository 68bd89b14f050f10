// The permission checks of store requests (etcd's authApplierV3: Put, Range, DeleteRange, Txn,
// LeaseRevoke and the lease of a Put).
#include "server/auth/auth.h"

namespace cairn::server::auth {

namespace {

struct Checker {
  const AuthStore& auth;
  const std::string& user;
  const storage::MvccStore& kv;

  bool read(std::string_view key, std::string_view end) const {
    return auth.permitted(user, key, end, PermKind::kRead);
  }
  bool write(std::string_view key, std::string_view end) const {
    return auth.permitted(user, key, end, PermKind::kWrite);
  }
  // Every key attached to the lease may be written (a lease that does not exist has none).
  bool lease_keys_writable(int64_t lease) const {
    auto info = kv.lease(lease);
    if (!info) return true;
    for (const auto& k : info->keys)
      if (!write(k, {})) return false;
    return true;
  }
  bool put(const storage::PutRequest& r) const {
    if (!write(r.key, {})) return false;
    if (r.prev_kv && !read(r.key, {})) return false;
    return r.lease == 0 || lease_keys_writable(r.lease);
  }
  bool del(const storage::DeleteRangeRequest& r) const {
    if (!write(r.key, r.range_end)) return false;
    return !r.prev_kv || read(r.key, r.range_end);
  }
  bool op(const storage::RequestOp& op) const {
    return std::visit(
        [&](const auto& v) -> bool {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, storage::RangeRequest>) {
            return read(v.key, v.range_end);
          } else if constexpr (std::is_same_v<T, storage::PutRequest>) {
            return put(v);
          } else if constexpr (std::is_same_v<T, storage::DeleteRangeRequest>) {
            return del(v);
          } else {
            return txn(*v);
          }
        },
        op.request);
  }
  // Both branches, whatever the compares will say: which branch runs must not decide what is allowed.
  bool txn(const storage::TxnRequest& t) const {
    for (const auto& c : t.compare)
      if (!read(c.key, c.range_end)) return false;
    for (const auto& o : t.success)
      if (!op(o)) return false;
    for (const auto& o : t.failure)
      if (!op(o)) return false;
    return true;
  }
};

}  // namespace

std::optional<EtcdError> check_store_request(const AuthStore& auth, const std::string& user,
                                             const storage::ApplyRequest& req, const storage::MvccStore& kv) {
  if (auth.is_root(user)) return std::nullopt;
  Checker c{auth, user, kv};
  bool ok = std::visit(
      [&](const auto& r) -> bool {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, storage::PutRequest>) {
          return c.put(r);
        } else if constexpr (std::is_same_v<T, storage::DeleteRangeRequest>) {
          return c.del(r);
        } else if constexpr (std::is_same_v<T, storage::TxnRequest>) {
          return c.txn(r);
        } else if constexpr (std::is_same_v<T, storage::LeaseRevokeRequest>) {
          return c.lease_keys_writable(r.id);
        } else if constexpr (std::is_same_v<T, storage::AlarmRequest>) {
          return r.action == storage::AlarmRequest::Action::kGet;  // raising or clearing one: root
        } else if constexpr (std::is_same_v<T, storage::LeaseCheckpointRequest> ||
                             std::is_same_v<T, storage::QuotaRequest>) {
          return false;  // the leader's own entries; a client never sends one
        } else {
          // Compaction, LeaseGrant, no-ops: any existing user.
          return auth.user(user) != nullptr;
        }
      },
      req);
  if (!ok) return err_permission_denied();
  return std::nullopt;
}

}  // namespace cairn::server::auth
