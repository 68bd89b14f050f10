// Flag parsing, member/cluster id derivation, URL parsing, entry payloads and error mapping.
#include <gtest/gtest.h>

#include <fstream>

#include "server/api/services.h"
#include "server/app/flags.h"
#include "server/node/request_codec.h"
#include "server/node/size_policy.h"
#include "server/node/url.h"

namespace cairn::server {
namespace {

Expected<app::ServerConfig, app::ParseExit> parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"cairn"};
  for (auto& a : args)
    argv.push_back(a.c_str());
  return app::parse_flags(static_cast<int>(argv.size()), argv.data());
}

TEST(Flags, ThreeMemberCluster) {
  auto r = parse({"--name",
                  "m2",
                  "--data-dir",
                  "/tmp/x",
                  "--listen-client-urls",
                  "http://127.0.0.1:22379",
                  "--advertise-client-urls",
                  "http://127.0.0.1:22379",
                  "--listen-peer-urls",
                  "http://127.0.0.1:22380",
                  "--initial-advertise-peer-urls",
                  "http://127.0.0.1:22380",
                  "--initial-cluster",
                  "m1=http://127.0.0.1:2380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380",
                  "--initial-cluster-state",
                  "existing",
                  "--initial-cluster-token",
                  "tok",
                  "--heartbeat-interval",
                  "50",
                  "--election-timeout",
                  "500",
                  "--max-request-bytes",
                  "1000"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const auto& n = r->node;
  EXPECT_EQ(n.name, "m2");
  EXPECT_FALSE(n.new_cluster);
  ASSERT_EQ(n.initial_members.size(), 3u);
  EXPECT_EQ(n.initial_members[1].id, n.member_id);
  EXPECT_EQ(n.listen_peer_port, 22380);
  EXPECT_EQ(n.heartbeat.count(), 50);
  EXPECT_EQ(n.election.count(), 500);
  EXPECT_EQ(n.max_request_bytes, 1000u);
  ASSERT_EQ(r->client_listen.size(), 1u);
  EXPECT_EQ(r->client_listen[0].port, 22379);
}

// server/node/size_policy.h: the largest request one WAL record and one peer frame carry is accepted,
// one byte more is refused at startup with a message naming the limit.
TEST(Flags, MaxRequestBytesIsBoundedByTheWalAndPeerTransport) {
  const std::string limit = std::to_string(node::kMaxRequestBytesLimit);
  auto ok = parse({"--name", "m1", "--max-request-bytes", limit});
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->node.max_request_bytes, node::kMaxRequestBytesLimit);
  EXPECT_GE(ok->node.peer_transport.frame_bytes_max, node::kEntryBytesMax + 1024);
  auto over = parse({"--name", "m1", "--max-request-bytes", std::to_string(node::kMaxRequestBytesLimit + 1)});
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, 1);
  EXPECT_NE(over.error().message.find("--max-request-bytes 16710657 is larger than 16710656"),
            std::string::npos)
      << over.error().message;
}

TEST(Flags, Defaults) {
  auto r = parse({});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->node.name, "default");
  EXPECT_EQ(r->node.data_dir, "default.etcd");
  EXPECT_EQ(r->node.initial_members.size(), 1u);
  EXPECT_EQ(r->client_listen[0].host, "127.0.0.1");  // localhost
}

// etcd's exit statuses: 2 for what Go's flag package refuses (unknown flag, bad value), 1 for what
// etcd's validation refuses afterwards. The messages are checked in flag_errors_test.cc.
TEST(Flags, BadFlagsExitStatus) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--no-such-flag"},
           {"--initial-cluster-state", "maybe"},
           {"--heartbeat-interval", "abc"},
           {"--listen-client-urls", "127.0.0.1:2379"},
       }) {
    auto r = parse(args);
    ASSERT_FALSE(r.has_value()) << args[0];
    EXPECT_EQ(r.error().code, 2) << args[0];
    EXPECT_FALSE(r.error().message.empty());
  }
  for (auto args : std::vector<std::vector<std::string>>{
           {"--heartbeat-interval", "100", "--election-timeout", "200"},
           {"--name", "x", "--initial-cluster", "y=http://127.0.0.1:2380"},
           {"positional"},
       }) {
    auto r = parse(args);
    ASSERT_FALSE(r.has_value()) << args[0];
    EXPECT_EQ(r.error().code, 1) << args[0];
  }
  auto h = parse({"--help"});
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(h.error().code, 0);
}

TEST(Flags, Environment) {
  setenv("ETCD_NAME", "envname", 1);
  setenv("ETCD_INITIAL_CLUSTER", "envname=http://localhost:2380", 1);
  auto r = parse({});
  unsetenv("ETCD_NAME");
  unsetenv("ETCD_INITIAL_CLUSTER");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->node.name, "envname");
}

TEST(MemberId, DerivedFromSortedPeerUrlsAndToken) {
  // sha1("http://127.0.0.1:2380" "tok") first 8 bytes, big-endian: stable across runs and members.
  uint64_t a = node::derive_member_id({"http://127.0.0.1:2380"}, "tok");
  EXPECT_EQ(a, node::derive_member_id({"http://127.0.0.1:2380"}, "tok"));
  EXPECT_NE(a, node::derive_member_id({"http://127.0.0.1:2380"}, "other"));
  EXPECT_EQ(node::derive_member_id({"http://b:1", "http://a:1"}, "t"),
            node::derive_member_id({"http://a:1", "http://b:1"}, "t"));
  // Known value: sha1("http://localhost:2380etcd-cluster") = 8e9e05c5 2164694d ... (etcd's default member
  // id).
  EXPECT_EQ(node::derive_member_id({"http://localhost:2380"}, "etcd-cluster"), 0x8e9e05c52164694dull);
  EXPECT_EQ(node::derive_cluster_id({3, 1, 2}), node::derive_cluster_id({1, 2, 3}));
  // etcd's default single-member cluster id.
  EXPECT_EQ(node::derive_cluster_id({0x8e9e05c52164694dull}), 0xcdf818194e3a8c32ull);
}

TEST(Url, Parse) {
  auto e = node::parse_url("http://127.0.0.1:2379");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 2379);
  EXPECT_TRUE(node::parse_url("http://[::1]:2379/"));
  auto tls = node::parse_url("https://127.0.0.1:2380");
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->port, 2380);
  EXPECT_FALSE(node::parse_url("ftp://127.0.0.1:2379"));
  EXPECT_FALSE(node::parse_url("http://127.0.0.1"));
  EXPECT_FALSE(node::parse_url("http://127.0.0.1:99999"));
  EXPECT_EQ(node::split_list("a,,b,"), (std::vector<std::string>{"a", "b"}));
}

TEST(EntryPayload, RoundTrip) {
  node::EntryPayload p{node::EntryKind::kTxn, 0x1122334455667788ull, 42, std::string("body\0x", 6),
                       std::nullopt};
  auto d = node::decode_entry_payload(node::encode_entry_payload(p));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, p.kind);
  EXPECT_EQ(d->request_id, p.request_id);
  EXPECT_EQ(d->origin, 42u);
  EXPECT_EQ(d->body, p.body);
  EXPECT_FALSE(node::decode_entry_payload("short"));
}

TEST(RequestCodec, NestedTxn) {
  etcdserverpb::TxnRequest t;
  auto* c = t.add_compare();
  c->set_key("k");
  c->set_target(etcdserverpb::Compare::MOD);
  c->set_mod_revision(7);
  c->set_result(etcdserverpb::Compare::GREATER);
  t.add_success()->mutable_request_put()->set_key("p");
  t.add_failure()->mutable_request_txn()->add_success()->mutable_request_range()->set_key("r");
  auto req = node::to_apply_request(node::EntryKind::kTxn, t.SerializeAsString());
  ASSERT_TRUE(req);
  const auto& st = std::get<storage::TxnRequest>(*req);
  ASSERT_EQ(st.compare.size(), 1u);
  EXPECT_EQ(st.compare[0].mod_revision, 7);
  EXPECT_EQ(st.compare[0].target, storage::Compare::Target::kMod);
  EXPECT_EQ(st.compare[0].result, storage::Compare::Result::kGreater);
  EXPECT_EQ(std::get<storage::PutRequest>(st.success[0].request).key, "p");
  const auto& inner = *std::get<storage::Box<storage::TxnRequest>>(st.failure[0].request);
  EXPECT_EQ(std::get<storage::RangeRequest>(inner.success[0].request).key, "r");
}

TEST(Errors, EtcdCodesAndMessages) {
  auto s = api::to_status(node::from_store(storage::make_error(storage::Errc::kCompacted)));
  EXPECT_EQ(s.code, net::StatusCode::kOutOfRange);
  EXPECT_EQ(s.message, "etcdserver: mvcc: required revision has been compacted");
  s = api::to_status(node::from_store(storage::make_error(storage::Errc::kEmptyKey)));
  EXPECT_EQ(s.code, net::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message, "etcdserver: key is not provided");
  s = api::to_status(node::err_no_leader());
  EXPECT_EQ(s.code, net::StatusCode::kUnavailable);
  EXPECT_EQ(s.message, "etcdserver: no leader");
  s = api::to_status(node::err_timeout());
  EXPECT_EQ(s.code, net::StatusCode::kUnavailable);
  EXPECT_EQ(s.message, "etcdserver: request timed out");
  EXPECT_EQ(node::err_request_too_large().message, "etcdserver: request is too large");
  EXPECT_EQ(node::err_member_not_found().code, net::StatusCode::kNotFound);
}

TEST(Flags, ConfigFileReplacesFlagsAndEnvironment) {
  std::string path = ::testing::TempDir() + "/cairn-config-test.yml";
  {
    std::ofstream out(path);
    out << "# etcd-style configuration\n"
           "name: 'cfg1'\n"
           "data-dir: \"/tmp/cfg data\"   # quoted, with a space\n"
           "listen-client-urls: http://127.0.0.1:23001\n"
           "advertise-client-urls: http://127.0.0.1:23001\n"
           "listen-peer-urls: http://127.0.0.1:23002\n"
           "initial-advertise-peer-urls: http://127.0.0.1:23002\n"
           "initial-cluster: cfg1=http://127.0.0.1:23002\n"
           "heartbeat-interval: 50\n"
           "election-timeout: 500\n"
           "snapshot-count: 1234\n"
           "auto-compaction-retention: '1h30m'\n"
           "experimental-watch-progress-notify-interval: 500ms\n"
           "enable-v2: false\n"
           "client-transport-security:\n"
           "  cert-file:\n"
           "  client-cert-auth: false\n";
  }
  auto r = parse({"--name", "ignored", "--config-file", path});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->flags.name, "cfg1");
  EXPECT_EQ(r->node.data_dir, "/tmp/cfg data");
  EXPECT_EQ(r->node.heartbeat, std::chrono::milliseconds(50));
  EXPECT_EQ(r->node.snapshot_count, 1234u);
  EXPECT_EQ(r->node.auto_compaction_period, std::chrono::minutes(90));
  EXPECT_EQ(r->node.watch_progress_notify_interval, std::chrono::milliseconds(500));
  ASSERT_EQ(r->client_listen.size(), 1u);
  EXPECT_EQ(r->client_listen[0].port, 23001);
}

TEST(Flags, ConfigFileErrors) {
  EXPECT_FALSE(app::config_file_args("name m1\n"));  // not a mapping
  EXPECT_FALSE(app::config_file_args("name: a: b\n"));
  EXPECT_FALSE(app::config_file_args("name: [x\n"));
  auto nested = app::config_file_args("name:\n  inner: 1\n");
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.error().find("name: expected a value"), std::string::npos) << nested.error();
  auto r = parse({"--config-file", "/nonexistent/cairn.yml"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, 1);
  EXPECT_EQ(
      r.error().message,
      "error verifying flags, open /nonexistent/cairn.yml: no such file or directory. See 'cairn --help'.");
}

TEST(Flags, AutoCompaction) {
  auto r = parse({"--auto-compaction-retention", "2"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->node.auto_compaction_period, std::chrono::hours(2));
  r = parse({"--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->node.auto_compaction_revisions, 1000);
  EXPECT_EQ(r->node.auto_compaction_period.count(), 0);
  r = parse({"--auto-compaction-retention", "10m"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->node.auto_compaction_period, std::chrono::minutes(10));
  EXPECT_FALSE(parse({"--auto-compaction-mode", "sometimes"}));
  EXPECT_FALSE(parse({"--auto-compaction-mode", "revision", "--auto-compaction-retention", "1h"}));
  EXPECT_FALSE(parse({"--auto-compaction-retention", "5 parsecs"}));
}

}  // namespace
}  // namespace cairn::server
