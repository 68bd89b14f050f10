// AuthStore (server/auth/auth_store.h): etcd's preconditions and errors, and the state surviving a reopen
// of the store it is written into (the auth records go in the entry's own batch).
#include <gtest/gtest.h>

#include "server/auth/auth.h"
#include "storage/memory_engine.h"

namespace cairn::server::auth {
namespace {

authpb::Permission perm(authpb::Permission::Type t, std::string key, std::string end = {}) {
  authpb::Permission p;
  p.set_permtype(t);
  p.set_key(std::move(key));
  p.set_range_end(std::move(end));
  return p;
}

struct Fixture {
  std::shared_ptr<storage::MemoryDisk> disk = std::make_shared<storage::MemoryDisk>();
  std::unique_ptr<storage::MvccStore> kv;
  AuthStore auth;
  uint64_t index = 0;

  void open() {
    kv.reset();
    auto s = storage::MvccStore::open(std::make_unique<storage::MemoryEngine>(disk));
    ASSERT_TRUE(s);
    kv = std::move(*s);
    ASSERT_TRUE(auth.load(kv->engine()));
  }
  // Applies one mutation the way the node does: its records in the entry's batch.
  template <class F>
  std::optional<EtcdError> apply(F f) {
    storage::WriteBatch b;
    auto e = f(b);
    auto r = kv->apply(++index, 1, storage::NoopRequest{}, &b);
    EXPECT_TRUE(r);
    return e;
  }
};

TEST(AuthStore, EtcdErrors) {
  Fixture f;
  f.open();
  EXPECT_EQ(f.auth.revision(), 1u);
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.enable(b); }), err_root_user_not_exist());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_add("", "", false, b); }), err_user_empty());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_add("root", "h", false, b); }), std::nullopt);
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_add("root", "h", false, b); }),
            err_user_already_exist());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.enable(b); }), err_root_role_not_exist());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.role_add("", b); }), err_role_empty());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_grant_role("root", "nosuch", b); }),
            err_role_not_found());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_grant_role("nosuch", "root", b); }),
            err_user_not_found());
  // The root role needs no RoleAdd to be granted (etcd).
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_grant_role("root", "root", b); }), std::nullopt);
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_revoke_role("root", "r", b); }),
            err_role_not_granted());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.role_add("r", b); }), std::nullopt);
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.role_add("r", b); }), err_role_already_exist());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.role_revoke_permission("r", "a", "", b); }),
            err_permission_not_granted());
  EXPECT_EQ(f.apply([&](auto& b) {
    return f.auth.role_grant_permission("r", perm(authpb::Permission::READ, "b", "a"), b);
  }),
            err_invalid_auth_mgmt());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.enable(b); }), std::nullopt);
  EXPECT_TRUE(f.auth.enabled());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.enable(b); }), std::nullopt);  // twice is fine
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_delete("root", b); }), err_invalid_auth_mgmt());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.role_delete("root", b); }), err_invalid_auth_mgmt());
  EXPECT_EQ(f.apply([&](auto& b) { return f.auth.user_revoke_role("root", "root", b); }),
            err_invalid_auth_mgmt());
}

TEST(AuthStore, RevisionCountsChangesOnly) {
  Fixture f;
  f.open();
  uint64_t r0 = f.auth.revision();
  (void)f.apply([&](auto& b) { return f.auth.role_add("r", b); });
  EXPECT_EQ(f.auth.revision(), r0 + 1);
  (void)f.apply([&](auto& b) { return f.auth.role_add("r", b); });  // refused: no change
  EXPECT_EQ(f.auth.revision(), r0 + 1);
  (void)f.apply([&](auto& b) { return f.auth.user_add("u", "h", false, b); });
  (void)f.apply([&](auto& b) { return f.auth.user_grant_role("u", "r", b); });
  (void)f.apply([&](auto& b) { return f.auth.user_grant_role("u", "r", b); });  // already: no change
  EXPECT_EQ(f.auth.revision(), r0 + 3);
}

TEST(AuthStore, PermissionsAndRoleDelete) {
  Fixture f;
  f.open();
  (void)f.apply([&](auto& b) { return f.auth.user_add("u", "h", false, b); });
  (void)f.apply([&](auto& b) { return f.auth.role_add("r", b); });
  (void)f.apply([&](auto& b) {
    return f.auth.role_grant_permission("r", perm(authpb::Permission::READ, "/a/", "/a0"), b);
  });
  (void)f.apply([&](auto& b) {
    return f.auth.role_grant_permission("r", perm(authpb::Permission::READWRITE, "k"), b);
  });
  (void)f.apply([&](auto& b) { return f.auth.user_grant_role("u", "r", b); });
  EXPECT_TRUE(f.auth.permitted("u", "/a/x", "", PermKind::kRead));
  EXPECT_TRUE(f.auth.permitted("u", "/a/", "/a0", PermKind::kRead));
  EXPECT_FALSE(f.auth.permitted("u", "/a/", std::string(1, '\0'), PermKind::kRead));
  EXPECT_FALSE(f.auth.permitted("u", "/a/x", "", PermKind::kWrite));
  EXPECT_TRUE(f.auth.permitted("u", "k", "", PermKind::kWrite));
  EXPECT_FALSE(f.auth.permitted("nosuch", "k", "", PermKind::kRead));
  // Granting the same key again replaces its type.
  (void)f.apply(
      [&](auto& b) { return f.auth.role_grant_permission("r", perm(authpb::Permission::READ, "k"), b); });
  EXPECT_FALSE(f.auth.permitted("u", "k", "", PermKind::kWrite));
  EXPECT_EQ(f.auth.role("r")->keypermission_size(), 2);
  uint64_t floor = f.auth.user("u")->token_floor;
  (void)f.apply([&](auto& b) { return f.auth.role_delete("r", b); });
  EXPECT_TRUE(f.auth.user("u")->roles.empty());
  EXPECT_GT(f.auth.user("u")->token_floor, floor);
  EXPECT_FALSE(f.auth.permitted("u", "/a/x", "", PermKind::kRead));
}

TEST(AuthStore, SurvivesReopen) {
  Fixture f;
  f.open();
  (void)f.apply([&](auto& b) { return f.auth.user_add("root", "$2b$04$hash", false, b); });
  (void)f.apply([&](auto& b) { return f.auth.user_grant_role("root", "root", b); });
  (void)f.apply([&](auto& b) { return f.auth.user_add("nopw", "", true, b); });
  (void)f.apply([&](auto& b) { return f.auth.role_add("r", b); });
  (void)f.apply([&](auto& b) {
    return f.auth.role_grant_permission("r", perm(authpb::Permission::WRITE, "a", "c"), b);
  });
  (void)f.apply([&](auto& b) { return f.auth.user_grant_role("nopw", "r", b); });
  (void)f.apply([&](auto& b) { return f.auth.enable(b); });
  uint64_t rev = f.auth.revision();
  f.open();
  EXPECT_TRUE(f.auth.enabled());
  EXPECT_EQ(f.auth.revision(), rev);
  ASSERT_NE(f.auth.user("root"), nullptr);
  EXPECT_EQ(f.auth.user("root")->password_hash, "$2b$04$hash");
  EXPECT_TRUE(f.auth.is_root("root"));
  EXPECT_TRUE(f.auth.user("nopw")->no_password);
  EXPECT_TRUE(f.auth.permitted("nopw", "b", "", PermKind::kWrite));
  (void)f.apply([&](auto& b) { return f.auth.disable(b); });
  f.open();
  EXPECT_FALSE(f.auth.enabled());
  EXPECT_EQ(f.auth.token_floor(), f.auth.revision());
}

}  // namespace
}  // namespace cairn::server::auth
