// Argument parsing (global flags, environment, per-command flags) and etcdctl's txn grammar.
#include <gtest/gtest.h>

#include <cstdlib>

#include "ctl/args.h"
#include "ctl/requests.h"

namespace cairn::ctl {
namespace {

namespace pb = etcdserverpb;

std::optional<int> parse(std::vector<const char*> args, Invocation& inv) {
  args.insert(args.begin(), "cairnctl");
  std::string out, err;
  return parse_args(static_cast<int>(args.size()), args.data(), inv, out, err);
}

TEST(Args, GlobalFlagsAnywhere) {
  Invocation inv;
  ASSERT_FALSE(
      parse({"--endpoints=a:1,b:2", "get", "k", "--prefix", "-w", "json", "--command-timeout=10s"}, inv));
  EXPECT_EQ(inv.command, "get");
  EXPECT_EQ(inv.g.endpoints, "a:1,b:2");
  EXPECT_EQ(inv.g.write_out, "json");
  EXPECT_EQ(inv.g.command_timeout, "10s");
  EXPECT_TRUE(inv.get.prefix);
  EXPECT_EQ(inv.args, std::vector<std::string>{"k"});
}

TEST(Args, SubcommandsAndFlags) {
  Invocation inv;
  ASSERT_FALSE(parse({"lease", "timetolive", "abc", "--keys"}, inv));
  EXPECT_EQ(inv.command, "lease timetolive");
  EXPECT_TRUE(inv.keys);
  Invocation m;
  ASSERT_FALSE(parse({"member", "add", "m4", "--learner", "--peer-urls=http://x:1"}, m));
  EXPECT_EQ(m.command, "member add");
  EXPECT_TRUE(m.learner);
  EXPECT_EQ(m.peer_urls, "http://x:1");
  Invocation e;
  ASSERT_FALSE(parse({"endpoint", "status", "--cluster", "-w", "table"}, e));
  EXPECT_EQ(e.command, "endpoint status");
  EXPECT_TRUE(e.cluster);
  Invocation g;
  ASSERT_FALSE(
      parse({"get", "a", "--rev=5", "--limit=2", "--sort-by=KEY", "--order=DESCEND", "--consistency=s"}, g));
  EXPECT_EQ(g.get.rev, 5);
  EXPECT_EQ(g.get.limit, 2);
  EXPECT_EQ(g.get.order, "DESCEND");
}

TEST(Args, ExecAfterDoubleDash) {
  Invocation inv;
  ASSERT_FALSE(parse({"lock", "mylock", "--", "sh", "-c", "echo --prefix"}, inv));
  EXPECT_EQ(inv.command, "lock");
  EXPECT_EQ(inv.args, std::vector<std::string>{"mylock"});
  EXPECT_EQ(inv.exec_args, (std::vector<std::string>{"sh", "-c", "echo --prefix"}));
}

TEST(Args, EmptyKeyIsAnArgument) {
  Invocation inv;
  ASSERT_FALSE(parse({"put", "", "v"}, inv));
  EXPECT_EQ(inv.args, (std::vector<std::string>{"", "v"}));
}

TEST(Args, Environment) {
  setenv("ETCDCTL_ENDPOINTS", "127.0.0.1:9", 1);
  setenv("ETCDCTL_WRITE_OUT", "fields", 1);
  Invocation inv;
  ASSERT_FALSE(parse({"get", "k"}, inv));
  EXPECT_EQ(inv.g.endpoints, "127.0.0.1:9");
  EXPECT_EQ(inv.g.write_out, "fields");
  Invocation flag_wins;
  ASSERT_FALSE(parse({"get", "k", "--endpoints=x:1"}, flag_wins));
  EXPECT_EQ(flag_wins.g.endpoints, "x:1");
  unsetenv("ETCDCTL_ENDPOINTS");
  unsetenv("ETCDCTL_WRITE_OUT");
}

TEST(Args, Errors) {
  Invocation a;
  EXPECT_EQ(parse({"bogus"}, a), kExitError);
  Invocation b;
  EXPECT_EQ(parse({"get", "--bogus", "k"}, b), kExitError);
}

TEST(Args, Durations) {
  EXPECT_EQ(parse_go_duration("2s"), std::chrono::seconds(2));
  EXPECT_EQ(parse_go_duration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(parse_go_duration("1m30s"), std::chrono::seconds(90));
  EXPECT_EQ(parse_go_duration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(parse_go_duration("10"));
  EXPECT_FALSE(parse_go_duration("abc"));
}

TEST(Requests, PrefixAndRanges) {
  EXPECT_EQ(prefix_range_end("a"), "b");
  EXPECT_EQ(prefix_range_end("a\xff"), "b");
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
  pb::RangeRequest r;
  GetOptions o;
  o.prefix = true;
  ASSERT_EQ(build_range("abc", std::nullopt, o, r), "");
  EXPECT_EQ(r.range_end(), "abd");
  pb::RangeRequest f;
  GetOptions fk;
  fk.from_key = true;
  ASSERT_EQ(build_range("a4", std::nullopt, fk, f), "");
  EXPECT_EQ(f.range_end(), std::string(1, '\0'));
  pb::RangeRequest s;
  GetOptions so;
  so.sort_by = "KEY";
  so.order = "DESCEND";
  so.consistency = "s";
  ASSERT_EQ(build_range("a", std::nullopt, so, s), "");
  EXPECT_EQ(s.sort_order(), pb::RangeRequest::DESCEND);
  EXPECT_TRUE(s.serializable());
  GetOptions both;
  both.prefix = both.from_key = true;
  EXPECT_NE(build_range("a", std::nullopt, both, s), "");
  pb::PutRequest p;
  PutOptions po;
  po.lease = "zz";
  EXPECT_EQ(build_put("k", "v", po, p),
            "bad lease ID (strconv.ParseInt: parsing \"zz\": invalid syntax), expecting ID in Hex");
  po.lease = "694d77aa9e38260f";
  ASSERT_EQ(build_put("k", "v", po, p), "");
  EXPECT_EQ(p.lease(), 0x694d77aa9e38260f);
}

TEST(Txn, Compares) {
  pb::Compare c;
  ASSERT_EQ(parse_compare("value(\"tk\") = \"v1\"", c), "");
  EXPECT_EQ(c.target(), pb::Compare::VALUE);
  EXPECT_EQ(c.result(), pb::Compare::EQUAL);
  EXPECT_EQ(c.key(), "tk");
  EXPECT_EQ(c.value(), "v1");
  pb::Compare m;
  ASSERT_EQ(parse_compare("mod(\"tk\") > \"12\"", m), "");
  EXPECT_EQ(m.target(), pb::Compare::MOD);
  EXPECT_EQ(m.result(), pb::Compare::GREATER);
  EXPECT_EQ(m.mod_revision(), 12);
  pb::Compare v;
  ASSERT_EQ(parse_compare("ver(\"a b\") != \"2\"", v), "");
  EXPECT_EQ(v.key(), "a b");
  EXPECT_EQ(v.result(), pb::Compare::NOT_EQUAL);
  pb::Compare cr;
  ASSERT_EQ(parse_compare("create(\"newkey\") = \"0\"", cr), "");
  EXPECT_EQ(cr.target(), pb::Compare::CREATE);
  pb::Compare l;
  ASSERT_EQ(parse_compare("lease(\"k\") < \"ff\"", l), "");
  EXPECT_EQ(l.lease(), 255);
  pb::Compare bad;
  EXPECT_NE(parse_compare("value(tk) = v1", bad), "");
  EXPECT_NE(parse_compare("size(\"tk\") = \"1\"", bad), "");
  EXPECT_NE(parse_compare("mod(\"tk\") = \"x\"", bad), "");
}

TEST(Txn, Operations) {
  pb::RequestOp put;
  ASSERT_EQ(parse_request_op("put tk \"hello world\" --prev-kv", put), "");
  EXPECT_EQ(put.request_put().key(), "tk");
  EXPECT_EQ(put.request_put().value(), "hello world");
  EXPECT_TRUE(put.request_put().prev_kv());
  pb::RequestOp get;
  ASSERT_EQ(parse_request_op("get a --prefix --limit=3", get), "");
  EXPECT_EQ(get.request_range().range_end(), "b");
  EXPECT_EQ(get.request_range().limit(), 3);
  pb::RequestOp del;
  ASSERT_EQ(parse_request_op("del a c", del), "");
  EXPECT_EQ(del.request_delete_range().range_end(), "c");
  pb::RequestOp bad;
  EXPECT_NE(parse_request_op("upsert a b", bad), "");
  EXPECT_NE(parse_request_op("put a", bad), "");
  EXPECT_NE(parse_request_op("get a --bogus", bad), "");
  EXPECT_EQ(argify("put 'single q' \"a\\tb\" plain"),
            (std::vector<std::string>{"put", "single q", "a\tb", "plain"}));
}

}  // namespace
}  // namespace cairn::ctl
