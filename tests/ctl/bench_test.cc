// cairnctl bench: the report's figures and text (etcd benchmark's layout), key generation, the --rate
// schedule, the progress line, and the bench flags' parsing.
#include <gtest/gtest.h>

#include "ctl/args.h"
#include "ctl/bench_report.h"
#include "ctl/format.h"

namespace cairn::ctl {
namespace {

std::optional<int> parse(std::vector<const char*> args, Invocation& inv) {
  args.insert(args.begin(), "cairnctl");
  std::string out, err;
  return parse_args(static_cast<int>(args.size()), args.data(), inv, out, err);
}

std::string bars(int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += "\u220e";
  return s;
}

TEST(BenchReport, StatsAndExactText) {
  auto st = bench::compute_stats({0.4, 0.1, 0.3, 0.2}, 1.0, {});
  EXPECT_DOUBLE_EQ(st.fastest_s, 0.1);
  EXPECT_DOUBLE_EQ(st.slowest_s, 0.4);
  EXPECT_NEAR(st.average_s, 0.25, 1e-12);
  EXPECT_NEAR(st.stddev_s, 0.111803, 1e-6);  // population standard deviation
  EXPECT_DOUBLE_EQ(st.requests_per_s, 4.0);
  std::string want =
      "\nSummary:\n"
      "  Total:\t1.0000 secs.\n"
      "  Slowest:\t0.4000 secs.\n"
      "  Fastest:\t0.1000 secs.\n"
      "  Average:\t0.2500 secs.\n"
      "  Stddev:\t0.1118 secs.\n"
      "  Requests/sec:\t4.0000\n"
      "\nResponse time histogram:\n"
      "  0.1000 [1]\t|" +
      bars(40) +
      "\n"
      "  0.1300 [0]\t|\n"
      "  0.1600 [0]\t|\n"
      "  0.1900 [0]\t|\n"
      "  0.2200 [1]\t|" +
      bars(40) +
      "\n"
      "  0.2500 [0]\t|\n"
      "  0.2800 [0]\t|\n"
      "  0.3100 [1]\t|" +
      bars(40) +
      "\n"
      "  0.3400 [0]\t|\n"
      "  0.3700 [0]\t|\n"
      "  0.4000 [1]\t|" +
      bars(40) +
      "\n"
      "\nLatency distribution:\n"
      "  10% in 0.2000 secs.\n"
      "  25% in 0.3000 secs.\n"
      "  50% in 0.4000 secs.\n";
  EXPECT_EQ(bench::format_report(st), want);
}

TEST(BenchReport, HistogramBarsScaleToFullestBucket) {
  std::vector<double> l(80, 0.001);
  l.resize(100, 0.011);  // 80 fast, 20 slow
  auto st = bench::compute_stats(l, 2.0, {});
  auto h = bench::histogram(st.latencies_s);
  ASSERT_EQ(h.size(), 11u);
  EXPECT_EQ(h.front().second, 80);
  EXPECT_EQ(h.back().second, 20);
  std::string text = bench::format_report(st);
  EXPECT_NE(text.find("  0.0010 [80]\t|" + bars(40) + "\n"), std::string::npos);
  EXPECT_NE(text.find("  0.0110 [20]\t|" + bars(10) + "\n"), std::string::npos);
  EXPECT_NE(text.find("  Requests/sec:\t50.0000\n"), std::string::npos);
  EXPECT_NE(text.find("  99% in 0.0110 secs.\n"), std::string::npos);
  // As etcd's report: with 100 samples no rank reaches 99.9%, so that line is left out.
  EXPECT_EQ(text.find("99.9%"), std::string::npos);
  EXPECT_NE(text.find("  75% in 0.0010 secs.\n"), std::string::npos);
  EXPECT_NE(text.find("  90% in 0.0110 secs.\n"), std::string::npos);
}

TEST(BenchReport, PercentilesOfOneThousand) {
  std::vector<double> l;
  for (int i = 1; i <= 1000; ++i)
    l.push_back(i / 1000.0);
  auto p = bench::percentiles(l);
  ASSERT_EQ(p.size(), 8u);
  EXPECT_DOUBLE_EQ(p[0], 0.101);  // rank 100 is the first with rank*100/n >= 10
  EXPECT_DOUBLE_EQ(p[2], 0.501);
  EXPECT_DOUBLE_EQ(p[6], 0.991);
  EXPECT_DOUBLE_EQ(p[7], 1.0);  // 99.9%: rank 999
}

TEST(BenchReport, ErrorsOnlyAndErrorsAfterSummary) {
  auto none = bench::compute_stats({}, 1.0, {{"etcdserver: request timed out", 3}});
  EXPECT_EQ(bench::format_report(none), "\nError distribution:\n  [3]\tetcdserver: request timed out\n");
  auto some = bench::compute_stats({0.5}, 1.0, {{"boom", 1}});
  std::string t = bench::format_report(some);
  EXPECT_LT(t.find("Summary:"), t.find("Error distribution:\n  [1]\tboom\n"));
}

TEST(BenchKeys, GoPutVarintIntoZeroFilledKey) {
  EXPECT_EQ(bench::varint_key(0, 8), std::string(8, '\0'));
  EXPECT_EQ(bench::varint_key(1, 4), std::string("\x02\0\0\0", 4));
  EXPECT_EQ(bench::varint_key(-1, 2), std::string("\x01\0", 2));
  EXPECT_EQ(bench::varint_key(64, 3), std::string("\x80\x01\0", 3));  // zig-zag 128: two bytes
  EXPECT_EQ(bench::varint_key(300, 2), std::string("\xd8\x04", 2));   // 600 = 0x258
  EXPECT_EQ(bench::varint_key(64, 1), std::string("\x80", 1));        // what does not fit is dropped
  EXPECT_NE(bench::varint_key(5, 8), bench::varint_key(6, 8));
}

TEST(BenchRate, ScheduleSpreadsRequestsEvenly) {
  using std::chrono::milliseconds;
  EXPECT_EQ(bench::rate_offset(0, 100), milliseconds(0));
  EXPECT_EQ(bench::rate_offset(1, 100), milliseconds(10));
  EXPECT_EQ(bench::rate_offset(250, 100), milliseconds(2500));
  EXPECT_EQ(bench::rate_offset(1000, 0), milliseconds(0));  // unlimited
  EXPECT_EQ(bench::rate_offset(3, 2.5), milliseconds(1200));
}

TEST(Progress, Lines) {
  EXPECT_EQ(bench::render_progress(0, 100, 0.0, 10), "  0 / 100 [>         ]   0% 0.0s");
  EXPECT_EQ(bench::render_progress(50, 100, 1.25, 10), "  50 / 100 [=====>    ]  50% 1.2s");
  EXPECT_EQ(bench::render_progress(100, 100, 2.0, 10), "  100 / 100 [==========] 100% 2.0s");
  EXPECT_EQ(bench::render_progress(7, 0, 3.0, 10), "  7 3.0s");
  EXPECT_EQ(bench::render_bytes_progress(1500000, 3000000, 1.0, 4), "  1.5 MB / 3.0 MB [==> ]  50% 1.0s");
  EXPECT_EQ(bench::render_bytes_progress(2048, 0, 0.5, 4), "  2.0 kB / ? 0.5s");
}

TEST(BenchArgs, WorkloadsAndEtcdBenchmarkFlags) {
  Invocation p;
  ASSERT_FALSE(parse({"bench", "put", "--conns=4", "--clients=32", "--total=500", "--key-size=16",
                      "--val-size=256", "--rate=1000", "--key-space-size=100000", "--sequential-keys"},
                     p));
  EXPECT_EQ(p.command, "bench put");
  EXPECT_EQ(p.conns, 4);
  EXPECT_EQ(p.clients, 32);
  EXPECT_EQ(p.total, 500);
  EXPECT_EQ(p.key_size, 16);
  EXPECT_EQ(p.val_size, 256);
  EXPECT_DOUBLE_EQ(p.rate, 1000);
  EXPECT_EQ(p.key_space_size, 100000);
  EXPECT_TRUE(p.sequential_keys);

  Invocation r;
  ASSERT_FALSE(parse({"bench", "range", "foo", "fop", "--consistency=s", "--total=10"}, r));
  EXPECT_EQ(r.command, "bench range");
  EXPECT_EQ(r.args, (std::vector<std::string>{"foo", "fop"}));
  EXPECT_EQ(r.bench_consistency, "s");
  EXPECT_EQ(r.key_size, -1);  // workload default

  Invocation t;
  ASSERT_FALSE(parse({"bench", "txn-put", "--txn-ops=4", "--key-space-size=8"}, t));
  EXPECT_EQ(t.command, "bench txn");  // txn-put is an alias
  EXPECT_EQ(t.txn_ops, 4);

  Invocation w;
  ASSERT_FALSE(parse({"bench", "watch", "--streams=3", "--watchers-per-stream=7", "--put-total=50",
                      "--put-rate=0", "--watched-key-total=2", "--prev-kv"},
                     w));
  EXPECT_EQ(w.command, "bench watch");
  EXPECT_EQ(w.streams, 3);
  EXPECT_EQ(w.watchers_per_stream, 7);
  EXPECT_EQ(w.put_total, 50);
  EXPECT_DOUBLE_EQ(w.put_rate, 0);
  EXPECT_EQ(w.watched_key_total, 2);
  EXPECT_TRUE(w.watch_prev_kv);

  Invocation l;
  ASSERT_FALSE(parse({"bench", "lease-keepalive", "--total=20", "--lease-ttl=30", "--clients=2"}, l));
  EXPECT_EQ(l.command, "bench lease-keepalive");
  EXPECT_EQ(l.lease_ttl, 30);

  Invocation bad;
  EXPECT_TRUE(parse({"bench", "range", "k", "--txn-ops=2"}, bad));  // not a range flag
  Invocation unknown;
  EXPECT_TRUE(parse({"bench", "nosuch"}, unknown));
}

TEST(SnapshotArgs, RestoreFlags) {
  Invocation inv;
  ASSERT_FALSE(parse({"snapshot", "restore", "s.db", "--name=m2", "--data-dir=/d/m2",
                      "--initial-cluster=m1=http://a:1,m2=http://b:1", "--initial-cluster-token=tok",
                      "--initial-advertise-peer-urls=http://b:1", "--skip-hash-check"},
                     inv));
  EXPECT_EQ(inv.command, "snapshot restore");
  EXPECT_EQ(inv.args, std::vector<std::string>{"s.db"});
  EXPECT_EQ(inv.name, "m2");
  EXPECT_EQ(inv.data_dir, "/d/m2");
  EXPECT_EQ(inv.initial_cluster, "m1=http://a:1,m2=http://b:1");
  EXPECT_EQ(inv.initial_cluster_token, "tok");
  EXPECT_EQ(inv.initial_advertise_peer_urls, "http://b:1");
  EXPECT_TRUE(inv.skip_hash_check);
  Invocation st;
  ASSERT_FALSE(parse({"snapshot", "status", "s.db", "-w", "table"}, st));
  EXPECT_EQ(st.command, "snapshot status");
}

TEST(SnapshotStatusFormat, EveryFormat) {
  SnapshotStatusView v{0xfe01cafe, 1234, 2500, 2'150'400};
  EXPECT_EQ(print_snapshot_status(v, {OutputFormat::kSimple, false}).out, "fe01cafe, 1234, 2500, 2.2 MB\n");
  EXPECT_EQ(print_snapshot_status(v, {OutputFormat::kJson, false}).out,
            "{\"hash\":4261530366,\"revision\":1234,\"totalKey\":2500,\"totalSize\":2150400}\n");
  EXPECT_EQ(print_snapshot_status(v, {OutputFormat::kFields, false}).out,
            "\"Hash\" : 4261530366\n\"Revision\" : 1234\n\"Keys\" : 2500\n\"Size\" : 2150400\n");
  EXPECT_EQ(print_snapshot_status(v, {OutputFormat::kTable, false}).out,
            "+----------+----------+------------+------------+\n"
            "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n"
            "+----------+----------+------------+------------+\n"
            "| fe01cafe |     1234 |       2500 |     2.2 MB |\n"
            "+----------+----------+------------+------------+\n");
  auto pb = print_snapshot_status(v, {OutputFormat::kProtobuf, false});
  EXPECT_EQ(pb.error, "protobuf not supported as output format");
  EXPECT_EQ(pb.exit_code, kExitBadFeature);
}

}  // namespace
}  // namespace cairn::ctl
