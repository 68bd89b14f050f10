// Auth (server/auth/auth.h) as the node drives it: entries decided at apply time against the auth
// revision they were checked with (a revoke that lands first wins), identities from tokens, store
// requests checked key by key (Txn both branches and nested, prev_kv, leases), bcrypt, the entry
// payload's [auth] header and the flags.
#include <gtest/gtest.h>

#include "proto/etcd/rpc.pb.h"
#include "server/app/flags.h"
#include "server/auth/auth.h"
#include "server/node/request_codec.h"
#include "storage/memory_engine.h"

namespace cairn::server::auth {
namespace {

using node::EntryKind;
using node::EntryPayload;
namespace pb = etcdserverpb;

class SimClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override { return t_; }
  int64_t unix_seconds() const override { return 1'700'000'000; }
  void advance(std::chrono::seconds s) { t_ += s; }

 private:
  std::chrono::steady_clock::time_point t_{};
};

struct Cluster {  // one member's state machine: the MVCC store and the auth beside it
  std::shared_ptr<SimClock> clock = std::make_shared<SimClock>();
  std::unique_ptr<storage::MvccStore> kv;
  std::unique_ptr<Auth> auth;
  uint64_t index = 0;

  Cluster() {
    AuthOptions o;
    o.bcrypt_cost = kBcryptCostMin;
    o.token_ttl = std::chrono::seconds(60);
    auto a = Auth::create(o, clock);
    EXPECT_TRUE(a);
    auth = std::move(*a);
    auto s = storage::MvccStore::open(std::make_unique<storage::MemoryEngine>());
    kv = std::move(s.value());
    EXPECT_TRUE(auth->load(kv->engine()));
  }
  // Applies one entry as Node::apply_entry does.
  std::optional<EtcdError> apply(EntryKind kind, const google::protobuf::Message& body,
                                 std::optional<EntryAuth> who = std::nullopt, bool replay = false) {
    return apply_raw(kind, body.SerializeAsString(), std::move(who), replay);
  }
  std::optional<EtcdError> apply_raw(EntryKind kind, std::string body, std::optional<EntryAuth> who,
                                     bool replay = false) {
    EntryPayload p{kind, 1, 1, std::move(body), std::move(who)};
    auto req = node::to_apply_request(p.kind, p.body);
    storage::WriteBatch extra;
    auto refused = auth->on_apply(p, req ? &*req : nullptr, *kv, replay, extra);
    if (refused) req.reset();
    auto r = kv->apply(++index, 1, req ? *req : storage::ApplyRequest{storage::NoopRequest{}},
                       extra.empty() ? nullptr : &extra);
    if (refused) return refused;
    if (!r) return node::from_store(r.error());
    return std::nullopt;
  }
  EntryAuth as(const std::string& user) const { return EntryAuth{user, auth->store().revision()}; }
  std::string authenticate(const std::string& user) {
    std::string token = random_simple_token();
    AuthenticateRecord rec{user, auth->store().revision(), token};
    EXPECT_EQ(apply_raw(EntryKind::kAuthenticate, encode_authenticate(rec), std::nullopt), std::nullopt);
    return token;
  }
  // root:pw with the root role, alice with role `reader` (read /app/ prefix, write /app/rw), auth on.
  void setup() {
    pb::AuthUserAddRequest u;
    u.set_name("root");
    u.set_password(*bcrypt_hash("pw", kBcryptCostMin));
    ASSERT_EQ(apply(EntryKind::kAuthUserAdd, u), std::nullopt);
    u.set_name("alice");
    ASSERT_EQ(apply(EntryKind::kAuthUserAdd, u), std::nullopt);
    pb::AuthUserGrantRoleRequest g;
    g.set_user("root");
    g.set_role("root");
    ASSERT_EQ(apply(EntryKind::kAuthUserGrantRole, g), std::nullopt);
    pb::AuthRoleAddRequest r;
    r.set_name("reader");
    ASSERT_EQ(apply(EntryKind::kAuthRoleAdd, r), std::nullopt);
    grant("reader", authpb::Permission::READ, "/app/", "/app0");
    grant("reader", authpb::Permission::WRITE, "/app/rw", "");
    g.set_user("alice");
    g.set_role("reader");
    ASSERT_EQ(apply(EntryKind::kAuthUserGrantRole, g), std::nullopt);
    ASSERT_EQ(apply(EntryKind::kAuthEnable, pb::AuthEnableRequest{}), std::nullopt);
  }
  void grant(const std::string& role, authpb::Permission::Type t, const std::string& key,
             const std::string& end) {
    pb::AuthRoleGrantPermissionRequest gp;
    gp.set_name(role);
    gp.mutable_perm()->set_permtype(t);
    gp.mutable_perm()->set_key(key);
    gp.mutable_perm()->set_range_end(end);
    ASSERT_EQ(apply(EntryKind::kAuthRoleGrantPermission, gp, as("root")), std::nullopt);
  }
};

pb::PutRequest put(const std::string& k, bool prev_kv = false, int64_t lease = 0) {
  pb::PutRequest p;
  p.set_key(k);
  p.set_value("v");
  p.set_prev_kv(prev_kv);
  p.set_lease(lease);
  return p;
}

TEST(Auth, WritesDecidedAtApplyTime) {
  Cluster c;
  c.setup();
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/rw"), c.as("alice")), std::nullopt);
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/x"), c.as("alice")), err_permission_denied());
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/rw", true), c.as("alice")), std::nullopt);  // read too
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/rw"), EntryAuth{"", c.auth->store().revision()}),
            err_user_empty());
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/rw"), c.as("nosuch")), err_permission_denied());
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/other"), c.as("root")), std::nullopt);
  // The member's own entries carry no [auth] and pass.
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/other")), std::nullopt);
}

// A request checked at revision R whose entry applies after a revoke (R+1): refused as stale, and when
// the proposer checks again it is denied. Nothing of it is applied.
TEST(Auth, ConcurrentRevokeWinsInRaftOrder) {
  Cluster c;
  c.setup();
  EntryAuth checked = c.as("alice");  // token checked, request proposed...
  pb::AuthRoleRevokePermissionRequest rv;
  rv.set_role("reader");
  rv.set_key("/app/rw");
  ASSERT_EQ(c.apply(EntryKind::kAuthRoleRevokePermission, rv, c.as("root")),
            std::nullopt);  // ...revoke first
  int64_t rev = c.kv->revision();
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/rw"), checked), err_auth_old_revision());
  EXPECT_EQ(c.kv->revision(), rev);
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/rw"), c.as("alice")), err_permission_denied());
  EXPECT_EQ(c.kv->revision(), rev);
  // The same for management: a root checked before root's role was... the revision moved: stale.
  EntryAuth old_root = c.as("root");
  pb::AuthRoleAddRequest r;
  r.set_name("x");
  ASSERT_EQ(c.apply(EntryKind::kAuthRoleAdd, r, c.as("root")), std::nullopt);
  r.set_name("y");
  EXPECT_EQ(c.apply(EntryKind::kAuthRoleAdd, r, old_root), err_auth_old_revision());
  EXPECT_EQ(c.auth->store().role("y"), nullptr);
}

TEST(Auth, TxnChecksEveryCompareAndBothBranches) {
  Cluster c;
  c.setup();
  auto txn = [](std::string cmp_key, std::string success_put, std::string failure_put, bool nested) {
    pb::TxnRequest t;
    auto* cmp = t.add_compare();
    cmp->set_key(cmp_key);
    cmp->set_target(pb::Compare::VERSION);
    cmp->set_version(0);
    *t.add_success()->mutable_request_put() = put(success_put);
    if (nested) {
      pb::TxnRequest inner;
      *inner.add_failure()->mutable_request_put() = put(failure_put);
      *t.add_failure()->mutable_request_txn() = inner;
    } else {
      *t.add_failure()->mutable_request_put() = put(failure_put);
    }
    return t;
  };
  EXPECT_EQ(c.apply(EntryKind::kTxn, txn("/app/a", "/app/rw", "/app/rw", false), c.as("alice")),
            std::nullopt);
  EXPECT_EQ(c.apply(EntryKind::kTxn, txn("/zzz", "/app/rw", "/app/rw", false), c.as("alice")),
            err_permission_denied());  // compare outside read
  EXPECT_EQ(c.apply(EntryKind::kTxn, txn("/app/a", "/app/rw", "/secret", false), c.as("alice")),
            err_permission_denied());  // the branch that will not run still counts
  EXPECT_EQ(c.apply(EntryKind::kTxn, txn("/app/a", "/app/rw", "/secret", true), c.as("alice")),
            err_permission_denied());  // nested
  pb::TxnRequest ranges;
  auto* rr = ranges.add_success()->mutable_request_range();
  rr->set_key("/app/");
  rr->set_range_end(std::string(1, '\0'));
  EXPECT_EQ(c.apply(EntryKind::kTxn, ranges, c.as("alice")), err_permission_denied());
  pb::DeleteRangeRequest d;
  d.set_key("/app/rw");
  EXPECT_EQ(c.apply(EntryKind::kDeleteRange, d, c.as("alice")), std::nullopt);
  d.set_key("/app/");
  d.set_range_end("/app0");
  EXPECT_EQ(c.apply(EntryKind::kDeleteRange, d, c.as("alice")), err_permission_denied());
}

TEST(Auth, LeaseKeysNeedWrite) {
  Cluster c;
  c.setup();
  pb::LeaseGrantRequest g;
  g.set_id(77);
  g.set_ttl(100);
  ASSERT_EQ(c.apply(EntryKind::kLeaseGrant, g, c.as("alice")), std::nullopt);  // any user may grant
  ASSERT_EQ(c.apply(EntryKind::kPut, put("/secret", false, 77), c.as("root")), std::nullopt);
  pb::LeaseRevokeRequest rv;
  rv.set_id(77);
  EXPECT_EQ(c.apply(EntryKind::kLeaseRevoke, rv, c.as("alice")), err_permission_denied());
  EXPECT_TRUE(c.kv->lease(77).has_value());
  EXPECT_EQ(c.apply(EntryKind::kPut, put("/app/rw", false, 77), c.as("alice")), err_permission_denied());
  EXPECT_EQ(c.auth->check_lease_read(c.as("alice"), *c.kv, 77), err_permission_denied());
  EXPECT_EQ(c.auth->check_lease_read(c.as("root"), *c.kv, 77), std::nullopt);
  // The lessor's own expiry revoke has no [auth].
  EXPECT_EQ(c.apply(EntryKind::kLeaseRevoke, rv), std::nullopt);
  EXPECT_FALSE(c.kv->lease(77).has_value());
}

TEST(Auth, ManagementNeedsRootOnceEnabled) {
  Cluster c;
  c.setup();
  pb::AuthRoleAddRequest r;
  r.set_name("x");
  EXPECT_EQ(c.apply(EntryKind::kAuthRoleAdd, r, c.as("alice")), err_permission_denied());
  EXPECT_EQ(c.apply(EntryKind::kAuthRoleAdd, r, EntryAuth{"", c.auth->store().revision()}), err_user_empty());
  EXPECT_EQ(c.auth->check_admin(c.as("alice")), err_permission_denied());
  EXPECT_EQ(c.auth->check_user_get(c.as("alice"), "alice"), std::nullopt);
  EXPECT_EQ(c.auth->check_user_get(c.as("alice"), "root"), err_permission_denied());
  EXPECT_EQ(c.auth->check_role_get(c.as("alice"), "reader"), std::nullopt);
  EXPECT_EQ(c.auth->check_role_get(c.as("alice"), "root"), err_permission_denied());
  EXPECT_EQ(c.auth->check_read(c.as("alice"), "/app/x", ""), std::nullopt);
  EXPECT_EQ(c.auth->check_read(c.as("alice"), "/other", ""), err_permission_denied());
  EXPECT_EQ(maintenance_error(*c.auth->check_admin(c.as("alice"))).message, "auth: permission denied");
}

TEST(Auth, TokensIdentifyAndAreVoided) {
  Cluster c;
  c.setup();
  std::string tok = c.authenticate("alice");
  auto who = c.auth->identify(tok, "");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->user, "alice");
  EXPECT_EQ(who->revision, c.auth->store().revision());
  EXPECT_EQ(c.auth->identify("forged", "").error(), err_invalid_auth_token());
  EXPECT_EQ(c.auth->identify("", "").value().user, "");  // no token: checks answer "user name is empty"
  EXPECT_EQ(c.auth->identify("", "cn-user").value().user, "cn-user");
  // A replayed Authenticate (committed before this member started) brings no token back.
  std::string replayed = random_simple_token();
  ASSERT_EQ(
      c.apply_raw(EntryKind::kAuthenticate,
                  encode_authenticate(AuthenticateRecord{"alice", c.auth->store().revision(), replayed}),
                  std::nullopt, true),
      std::nullopt);
  EXPECT_FALSE(c.auth->identify(replayed, ""));
  // An Authenticate checked at an older revision is stale.
  EXPECT_EQ(c.apply_raw(EntryKind::kAuthenticate,
                        encode_authenticate(AuthenticateRecord{"alice", c.auth->store().revision() - 1, "t"}),
                        std::nullopt),
            err_auth_old_revision());
  // Password change voids the user's tokens; other users' stay.
  std::string root_tok = c.authenticate("root");
  pb::AuthUserChangePasswordRequest cp;
  cp.set_name("alice");
  cp.set_password(*bcrypt_hash("new", kBcryptCostMin));
  ASSERT_EQ(c.apply(EntryKind::kAuthUserChangePassword, cp, c.as("root")), std::nullopt);
  EXPECT_FALSE(c.auth->identify(tok, ""));
  EXPECT_TRUE(c.auth->identify(root_tok, ""));
  // Expiry on the simulated clock.
  c.clock->advance(std::chrono::seconds(61));
  EXPECT_FALSE(c.auth->identify(root_tok, ""));
  // Auth disable voids everything; tokens are not checked while auth is off.
  std::string t2 = c.authenticate("root");
  ASSERT_EQ(c.apply(EntryKind::kAuthDisable, pb::AuthDisableRequest{}, c.as("root")), std::nullopt);
  EXPECT_TRUE(c.auth->identify("garbage", ""));
  ASSERT_EQ(c.apply(EntryKind::kAuthEnable, pb::AuthEnableRequest{}, c.as("root")), std::nullopt);
  EXPECT_FALSE(c.auth->identify(t2, ""));
  EXPECT_EQ(c.apply_raw(EntryKind::kAuthenticate, encode_authenticate(AuthenticateRecord{"nopw", 0, ""}), {}),
            err_auth_old_revision());
}

TEST(Auth, JwtTokensVoidedByTokenFloors) {
  Cluster c;
  c.setup();
  // Same provider logic as identify(): a JWT carries the revision it was issued at.
  uint64_t issued = c.auth->store().revision();
  const User* alice = c.auth->store().user("alice");
  EXPECT_GE(issued, alice->token_floor);
  pb::AuthUserRevokeRoleRequest rr;
  rr.set_name("alice");
  rr.set_role("reader");
  ASSERT_EQ(c.apply(EntryKind::kAuthUserRevokeRole, rr, c.as("root")), std::nullopt);
  EXPECT_LT(issued, c.auth->store().user("alice")->token_floor);
}

TEST(Bcrypt, HashAndVerify) {
  auto h = bcrypt_hash("secret", kBcryptCostMin);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->size(), 60u);
  EXPECT_EQ(h->substr(0, 7), "$2b$04$");
  EXPECT_EQ(bcrypt_cost(*h), 4);
  EXPECT_TRUE(bcrypt_verify("secret", *h));
  EXPECT_FALSE(bcrypt_verify("Secret", *h));
  EXPECT_FALSE(bcrypt_verify("", *h));
  EXPECT_FALSE(bcrypt_verify(std::string("secret\0x", 8), *h));
  EXPECT_FALSE(bcrypt_verify("secret", "plaintext"));
  EXPECT_NE(*h, *bcrypt_hash("secret", kBcryptCostMin));  // salted
  EXPECT_FALSE(bcrypt_hash(std::string("a\0b", 3), kBcryptCostMin));
  EXPECT_FALSE(bcrypt_hash("x", 3));
}

TEST(EntryAuthHeader, RoundTrip) {
  EntryPayload p{EntryKind::kPut, 9, 3, "body", EntryAuth{"alice", 12}};
  std::string bytes = node::encode_entry_payload(p);
  auto d = node::decode_entry_payload(bytes);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, EntryKind::kPut);
  EXPECT_EQ(d->body, "body");
  EXPECT_EQ(d->auth, (EntryAuth{"alice", 12}));
  EntryPayload none{EntryKind::kPut, 9, 3, "body", std::nullopt};
  EXPECT_FALSE(node::decode_entry_payload(node::encode_entry_payload(none))->auth.has_value());
  bytes.resize(17 + 5);  // cut inside the [auth] header
  EXPECT_FALSE(node::decode_entry_payload(bytes));
}

TEST(AuthFlags, ParsedAndChecked) {
  const char* ok[] = {"cairn", "--auth-token", "simple", "--auth-token-ttl", "42", "--bcrypt-cost", "5"};
  auto c = app::parse_flags(7, ok);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->node.auth.token_ttl, std::chrono::seconds(42));
  EXPECT_EQ(c->node.auth.bcrypt_cost, 5);
  const char* bad_cost[] = {"cairn", "--bcrypt-cost", "40"};
  EXPECT_FALSE(app::parse_flags(3, bad_cost));
  const char* bad_token[] = {"cairn", "--auth-token", "jwt,sign-method=RS256"};
  EXPECT_FALSE(app::parse_flags(3, bad_token));
  setenv("ETCD_AUTH_TOKEN_TTL", "7", 1);
  const char* env[] = {"cairn"};
  auto e = app::parse_flags(1, env);
  unsetenv("ETCD_AUTH_TOKEN_TTL");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->node.auth.token_ttl, std::chrono::seconds(7));
  auto cf = app::config_file_args("auth-token: simple\nbcrypt-cost: 6\n");
  ASSERT_TRUE(cf);
  EXPECT_NE(std::find(cf->begin(), cf->end(), "--bcrypt-cost=6"), cf->end());
}

}  // namespace
}  // namespace cairn::server::auth
