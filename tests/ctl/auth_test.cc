// etcdctl 3.4's simple output of role get / role revoke-permission / user get, and the auth flags.
#include <gtest/gtest.h>

#include "ctl/args.h"
#include "ctl/auth_format.h"

namespace cairn::ctl {
namespace {

std::optional<int> parse(std::vector<const char*> args, Invocation& inv) {
  args.insert(args.begin(), "cairnctl");
  std::string out, err;
  return parse_args(static_cast<int>(args.size()), args.data(), inv, out, err);
}

TEST(AuthFormat, RoleGetRangesPrefixesAndOpenEnds) {
  etcdserverpb::AuthRoleGetResponse r;
  auto add = [&](authpb::Permission::Type t, std::string k, std::string e) {
    auto* p = r.add_perm();
    p->set_permtype(t);
    p->set_key(k);
    p->set_range_end(e);
  };
  add(authpb::Permission::READ, "/a/", "/a0");
  add(authpb::Permission::READWRITE, "k1", "");
  add(authpb::Permission::WRITE, "x", "z");
  add(authpb::Permission::READ, "m", std::string(1, '\0'));
  EXPECT_EQ(simple_role_get("r1", r),
            "Role r1\n"
            "KV Read:\n"
            "\t[/a/, /a0) (prefix /a/)\n"
            "\tk1\n"
            "\t[m, <open ended>\n"
            "KV Write:\n"
            "\tk1\n"
            "\t[x, z)\n");
}

TEST(AuthFormat, RevokeAndUserGet) {
  EXPECT_EQ(simple_role_revoke("r", "k", ""), "Permission of key k is revoked from role r\n");
  EXPECT_EQ(simple_role_revoke("r", "a", "b"), "Permission of range [a, b) is revoked from role r\n");
  EXPECT_EQ(simple_role_revoke("r", "a", std::string(1, '\0')),
            "Permission of range [a, <open ended> is revoked from role r\n");
  etcdserverpb::AuthUserGetResponse u;
  EXPECT_EQ(simple_user_get("bob", u), "User: bob\nRoles:\n");
  u.add_roles("root");
  u.add_roles("r1");
  EXPECT_EQ(simple_user_get("bob", u), "User: bob\nRoles: root r1\n");
}

TEST(AuthArgs, Flags) {
  Invocation a;
  ASSERT_FALSE(parse({"user", "add", "alice", "--interactive=false"}, a));
  EXPECT_EQ(a.command, "user add");
  EXPECT_FALSE(a.password_interactive);
  Invocation b;
  ASSERT_FALSE(parse({"user", "add", "svc", "--no-password"}, b));
  EXPECT_TRUE(b.no_password);
  EXPECT_TRUE(b.password_interactive);
  Invocation g;
  ASSERT_FALSE(parse({"role", "grant-permission", "r", "read", "/a/", "--prefix"}, g));
  EXPECT_EQ(g.command, "role grant-permission");
  EXPECT_TRUE(g.perm_prefix);
  EXPECT_EQ(g.args, (std::vector<std::string>{"r", "read", "/a/"}));
  Invocation e;
  ASSERT_FALSE(parse({"--user=root:pw", "auth", "enable"}, e));
  EXPECT_EQ(e.command, "auth enable");
  EXPECT_EQ(e.g.user, "root:pw");
}

}  // namespace
}  // namespace cairn::ctl
