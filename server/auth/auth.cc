#include "server/auth/auth.h"

#include "proto/etcd/rpc.pb.h"
#include "storage/codec.h"

namespace cairn::server::auth {

namespace codec = storage::codec;
using node::EntryKind;

bool is_auth_kind(EntryKind k) {
  auto v = static_cast<uint8_t>(k);
  return v >= static_cast<uint8_t>(EntryKind::kAuthEnable) &&
         v <= static_cast<uint8_t>(EntryKind::kAuthRoleRevokePermission);
}

std::string encode_authenticate(const AuthenticateRecord& r) {
  std::string out;
  codec::put_u64(&out, r.revision);
  codec::put_bytes(&out, r.user);
  codec::put_bytes(&out, r.simple_token);
  return out;
}

std::optional<AuthenticateRecord> decode_authenticate(std::string_view body) {
  codec::Reader rd(body);
  AuthenticateRecord r;
  if (!rd.u64(&r.revision) || !rd.bytes(&r.user) || !rd.bytes(&r.simple_token) || !rd.done())
    return std::nullopt;
  return r;
}

Expected<std::unique_ptr<Auth>, std::string> Auth::create(const AuthOptions& o,
                                                          std::shared_ptr<Clock> clock) {
  if (o.bcrypt_cost < kBcryptCostMin || o.bcrypt_cost > kBcryptCostMax)
    return unexpected("--bcrypt-cost must be between " + std::to_string(kBcryptCostMin) + " and " +
                      std::to_string(kBcryptCostMax));
  if (o.token_ttl.count() <= 0) return unexpected(std::string("--auth-token-ttl must be positive"));
  auto spec = parse_token_spec(o.token);
  if (!spec) return unexpected(spec.error());
  std::unique_ptr<Auth> a(new Auth());
  a->options_ = o;
  a->clock_ = std::move(clock);
  a->simple_ = std::make_unique<SimpleTokens>(a->clock_, o.token_ttl);
  if (spec->jwt) {
    auto j = JwtTokens::create(spec->jwt_options, a->clock_);
    if (!j) return unexpected(j.error());
    a->jwt_ = std::move(*j);
  }
  auto dummy = bcrypt_hash(random_simple_token(), o.bcrypt_cost);
  if (!dummy) return unexpected("bcrypt: " + dummy.error());
  a->dummy_hash_ = std::move(*dummy);
  a->pool_ = std::make_unique<HashPool>();
  a->publish();
  return a;
}

bool Auth::hash_async(std::string password, std::function<void(Expected<std::string, std::string>)> done) {
  int cost = options_.bcrypt_cost;
  return pool_->submit([password = std::move(password), cost, done = std::move(done)]() mutable {
    done(bcrypt_hash(password, cost));
  });
}

bool Auth::verify_async(std::string password, std::string hash, std::function<void(bool)> done) {
  return pool_->submit([password = std::move(password), hash = std::move(hash), done = std::move(done)]() {
    done(bcrypt_verify(password, hash));
  });
}

void Auth::publish() {
  auto p = std::make_shared<Published>();
  p->enabled = store_.enabled();
  p->revision = store_.revision();
  p->token_floor = store_.token_floor();
  for (const auto& [name, u] : store_.users())
    p->user_floor.emplace(name, u.token_floor);
  std::lock_guard lk(mu_);
  published_ = std::move(p);
}

std::shared_ptr<const Auth::Published> Auth::published() const {
  std::lock_guard lk(mu_);
  return published_;
}

bool Auth::enabled() const {
  return published()->enabled;
}

Expected<EntryAuth, EtcdError> Auth::identify(std::string_view token, std::string_view cert_cn) const {
  auto p = published();
  if (!p->enabled) return EntryAuth{{}, p->revision};
  if (token.empty()) return EntryAuth{std::string(cert_cn), p->revision};
  if (token.size() > kTokenBytesMax) return unexpected(err_invalid_auth_token());
  std::optional<TokenInfo> info = jwt_ ? jwt_->verify(token) : simple_->verify(token);
  if (!info) return unexpected(err_invalid_auth_token());
  auto u = p->user_floor.find(info->user);
  if (u == p->user_floor.end() || info->revision < u->second || info->revision < p->token_floor)
    return unexpected(err_invalid_auth_token());
  return EntryAuth{info->user, p->revision};
}

Expected<std::string, EtcdError> Auth::sign_jwt(const std::string& user, uint64_t revision) const {
  auto t = jwt_->sign(TokenInfo{user, revision});
  if (!t) return unexpected(EtcdError{net::StatusCode::kInternal, "etcdserver: " + t.error()});
  return *t;
}

Expected<storage::Unit, std::string> Auth::load(storage::KvEngine& engine) {
  auto r = store_.load(engine);
  simple_->clear();
  publish();
  return r;
}

std::optional<EtcdError> Auth::stale(const EntryAuth& a) const {
  if (a.revision < store_.revision()) return err_auth_old_revision();
  return std::nullopt;
}

std::optional<EtcdError> Auth::check_user(const EntryAuth& a) const {
  if (!store_.enabled()) return std::nullopt;
  if (a.user.empty()) return err_user_empty();
  if (auto e = stale(a)) return e;
  if (!store_.user(a.user)) return err_permission_denied();
  return std::nullopt;
}

std::optional<EtcdError> Auth::check_admin(const EntryAuth& a) const {
  if (auto e = check_user(a)) return e;
  if (store_.enabled() && !store_.is_root(a.user)) return err_permission_denied();
  return std::nullopt;
}

std::optional<EtcdError> Auth::check_read(const EntryAuth& a, std::string_view key,
                                          std::string_view end) const {
  if (auto e = check_user(a)) return e;
  if (store_.enabled() && !store_.permitted(a.user, key, end, PermKind::kRead))
    return err_permission_denied();
  return std::nullopt;
}

std::optional<EtcdError> Auth::check_lease_read(const EntryAuth& a, const storage::MvccStore& kv,
                                                int64_t lease) const {
  if (auto e = check_user(a)) return e;
  if (!store_.enabled() || store_.is_root(a.user)) return std::nullopt;
  if (auto info = kv.lease(lease))
    for (const auto& k : info->keys)
      if (!store_.permitted(a.user, k, {}, PermKind::kRead)) return err_permission_denied();
  return std::nullopt;
}

std::optional<EtcdError> Auth::check_user_get(const EntryAuth& a, const std::string& name) const {
  if (auto e = check_user(a)) return e;
  if (store_.enabled() && a.user != name && !store_.is_root(a.user)) return err_permission_denied();
  return std::nullopt;
}

std::optional<EtcdError> Auth::check_role_get(const EntryAuth& a, const std::string& role) const {
  if (auto e = check_user(a)) return e;
  if (!store_.enabled() || store_.is_root(a.user)) return std::nullopt;
  const User* u = store_.user(a.user);
  if (!u || !std::binary_search(u->roles.begin(), u->roles.end(), role)) return err_permission_denied();
  return std::nullopt;
}

std::optional<EtcdError> Auth::on_apply(const node::EntryPayload& p, const storage::ApplyRequest* req,
                                        const storage::MvccStore& kv, bool replay,
                                        storage::WriteBatch& extra) {
  if (is_auth_kind(p.kind)) {
    auto e = apply_auth(p, replay, extra);
    publish();
    return e;
  }
  // The member's own entries (no [auth]) and everything while auth is off pass.
  if (!p.auth || !store_.enabled() || !req) return std::nullopt;
  if (p.auth->user.empty()) return err_user_empty();
  if (auto e = stale(*p.auth)) return e;
  return check_store_request(store_, p.auth->user, *req, kv);
}

namespace {
template <class Msg>
bool parse_body(Msg& m, const std::string& body) {
  return m.ParseFromArray(body.data(), static_cast<int>(body.size()));
}
}  // namespace

std::optional<EtcdError> Auth::apply_authenticate(std::string_view body, bool replay) {
  auto r = decode_authenticate(body);
  if (!r) return EtcdError{net::StatusCode::kInvalidArgument, "etcdserver: malformed authenticate entry"};
  if (!store_.enabled()) return err_auth_not_enabled();
  // The password was checked against the state at r->revision; anything changed since (the password
  // itself, the user's existence) makes the proposer check again.
  if (r->revision != store_.revision()) return err_auth_old_revision();
  const User* u = store_.user(r->user);
  if (!u || u->no_password) return err_auth_failed();
  if (!r->simple_token.empty() && !replay)
    simple_->add(r->simple_token, TokenInfo{r->user, store_.revision()});
  return std::nullopt;
}

std::optional<EtcdError> Auth::apply_auth(const node::EntryPayload& p, bool replay, storage::WriteBatch& b) {
  namespace pb = etcdserverpb;
  if (p.kind == EntryKind::kAuthenticate) return apply_authenticate(p.body, replay);
  // Every other auth request is management: root, once auth is on (etcd's needAdminPermission).
  if (p.auth && store_.enabled()) {
    if (p.auth->user.empty()) return err_user_empty();
    if (auto e = stale(*p.auth)) return e;
    if (!store_.is_root(p.auth->user)) return err_permission_denied();
  }
  const EtcdError malformed{net::StatusCode::kInvalidArgument, "etcdserver: malformed auth entry"};
  switch (p.kind) {
    case EntryKind::kAuthEnable:
      return store_.enable(b);
    case EntryKind::kAuthDisable: {
      auto e = store_.disable(b);
      if (!e) simple_->clear();
      return e;
    }
    case EntryKind::kAuthUserAdd: {
      pb::AuthUserAddRequest r;
      if (!parse_body(r, p.body)) return malformed;
      return store_.user_add(r.name(), r.password(), r.options().no_password(), b);
    }
    case EntryKind::kAuthUserDelete: {
      pb::AuthUserDeleteRequest r;
      if (!parse_body(r, p.body)) return malformed;
      auto e = store_.user_delete(r.name(), b);
      if (!e) simple_->forget_user(r.name());
      return e;
    }
    case EntryKind::kAuthUserChangePassword: {
      pb::AuthUserChangePasswordRequest r;
      if (!parse_body(r, p.body)) return malformed;
      auto e = store_.user_change_password(r.name(), r.password(), b);
      if (!e) simple_->forget_user(r.name());
      return e;
    }
    case EntryKind::kAuthUserGrantRole: {
      pb::AuthUserGrantRoleRequest r;
      if (!parse_body(r, p.body)) return malformed;
      return store_.user_grant_role(r.user(), r.role(), b);
    }
    case EntryKind::kAuthUserRevokeRole: {
      pb::AuthUserRevokeRoleRequest r;
      if (!parse_body(r, p.body)) return malformed;
      auto e = store_.user_revoke_role(r.name(), r.role(), b);
      if (!e) simple_->forget_user(r.name());
      return e;
    }
    case EntryKind::kAuthRoleAdd: {
      pb::AuthRoleAddRequest r;
      if (!parse_body(r, p.body)) return malformed;
      return store_.role_add(r.name(), b);
    }
    case EntryKind::kAuthRoleDelete: {
      pb::AuthRoleDeleteRequest r;
      if (!parse_body(r, p.body)) return malformed;
      return store_.role_delete(r.role(), b);
    }
    case EntryKind::kAuthRoleGrantPermission: {
      pb::AuthRoleGrantPermissionRequest r;
      if (!parse_body(r, p.body)) return malformed;
      if (!r.has_perm()) return err_permission_not_given();
      return store_.role_grant_permission(r.name(), r.perm(), b);
    }
    case EntryKind::kAuthRoleRevokePermission: {
      pb::AuthRoleRevokePermissionRequest r;
      if (!parse_body(r, p.body)) return malformed;
      return store_.role_revoke_permission(r.role(), r.key(), r.range_end(), b);
    }
    default:
      return malformed;
  }
}

}  // namespace cairn::server::auth
