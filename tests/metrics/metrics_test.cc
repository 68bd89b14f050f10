#include <gtest/gtest.h>

#include <prometheus/check_names.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "server/metrics/families.h"
#include "server/metrics/histogram.h"
#include "server/metrics/peer_metrics.h"
#include "server/metrics/process.h"

namespace cairn::server::metrics {
namespace {

TEST(Histogram, EtcdWalFsyncBucketsAreOneMillisecondDoublingFourteen) {
  auto b = exponential_buckets(0.001, 2, 14);
  ASSERT_EQ(b.size(), 14u);
  EXPECT_DOUBLE_EQ(b.front(), 0.001);
  EXPECT_DOUBLE_EQ(b.back(), 8.192);
}

TEST(Histogram, ValueOnABoundIsInThatBucketAndBucketsAreCumulative) {
  Histogram h({0.1, 1, 10});
  h.observe(0.1);  // le="0.1"
  h.observe(0.5);  // le="1"
  h.observe(100);  // +Inf only
  auto s = h.snapshot();
  ASSERT_EQ(s.bucket.size(), 4u);
  EXPECT_EQ(s.bucket[0].cumulative_count, 1u);
  EXPECT_EQ(s.bucket[1].cumulative_count, 2u);
  EXPECT_EQ(s.bucket[2].cumulative_count, 2u);
  EXPECT_EQ(s.bucket[3].cumulative_count, 3u);
  EXPECT_TRUE(std::isinf(s.bucket[3].upper_bound));
  EXPECT_EQ(s.sample_count, 3u);
  EXPECT_DOUBLE_EQ(s.sample_sum, 100.6);
}

TEST(Histogram, ConcurrentObservationsAreAllCounted) {
  Histogram h(exponential_buckets(0.001, 2, 14));
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        h.observe(0.003);
    });
  for (auto& t : ts)
    t.join();
  auto s = h.snapshot();
  EXPECT_EQ(s.sample_count, 40000u);
  EXPECT_EQ(s.bucket[1].cumulative_count, 0u);      // le=0.002
  EXPECT_EQ(s.bucket[2].cumulative_count, 40000u);  // le=0.004
  EXPECT_NEAR(s.sample_sum, 120.0, 1e-6);
}

TEST(Families, TextHasEtcdsBucketLabelsAndOneHeaderPerFamily) {
  Families f;
  Histogram h(exponential_buckets(0.001, 2, 14));
  h.observe(0.0015);
  f.histogram("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.", h);
  f.counter("grpc_server_started_total", "Total.", 3, {{"grpc_method", "Range"}});
  f.counter("grpc_server_started_total", "", 4, {{"grpc_method", "Put"}});
  f.gauge("etcd_server_has_leader", "Whether.", 1);
  const std::string t = f.text();
  EXPECT_NE(t.find("# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"), std::string::npos) << t;
  EXPECT_NE(t.find("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"8.192\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("etcd_disk_wal_fsync_duration_seconds_count 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("grpc_server_started_total{grpc_method=\"Put\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("etcd_server_has_leader 1\n"), std::string::npos) << t;
  size_t headers = 0;
  for (size_t p = 0; (p = t.find("# TYPE grpc_server_started_total", p)) != std::string::npos; ++p)
    ++headers;
  EXPECT_EQ(headers, 1u);
}

TEST(PeerMetrics, SlotsAreClaimedOncePerPeerAndLabelledInHex) {
  PeerMetrics pm;
  EXPECT_EQ(pm.of(0), nullptr);
  auto* a = pm.of(0x8e9e05c52164694dull);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(pm.of(0x8e9e05c52164694dull), a);
  a->sent_bytes += 100;
  a->round_trip.observe(0.0002);
  Families f;
  pm.collect(f);
  const std::string t = f.text();
  EXPECT_NE(t.find("etcd_network_peer_sent_bytes_total{To=\"8e9e05c52164694d\"} 100\n"), std::string::npos)
      << t;
  EXPECT_NE(
      t.find("etcd_network_peer_round_trip_time_seconds_bucket{To=\"8e9e05c52164694d\",le=\"0.0002\"} 1\n"),
      std::string::npos)
      << t;
}

TEST(PeerMetrics, AFullTableDropsNewPeersInsteadOfGrowing) {
  PeerMetrics pm;
  for (uint64_t id = 1; id <= PeerMetrics::kPeersMax; ++id)
    ASSERT_NE(pm.of(id), nullptr);
  EXPECT_EQ(pm.of(PeerMetrics::kPeersMax + 1), nullptr);
  EXPECT_NE(pm.of(1), nullptr);
}

TEST(Process, SeriesAreReadFromProc) {
  Families f;
  collect_process(f);
  std::vector<std::string> names;
  for (const auto& fam : f.all()) {
    names.push_back(fam.name);
    EXPECT_TRUE(prometheus::CheckMetricName(fam.name)) << fam.name;
  }
  for (const char* want : {"process_cpu_seconds_total", "process_open_fds", "process_max_fds",
                           "process_resident_memory_bytes", "process_start_time_seconds"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  for (const auto& fam : f.all()) {
    const double v = fam.metric[0].gauge.value;
    if (fam.name == "process_resident_memory_bytes") {
      EXPECT_GT(v, 1 << 20);
    } else if (fam.name == "process_open_fds") {
      EXPECT_GE(v, 3);
    } else if (fam.name == "process_start_time_seconds") {
      EXPECT_GT(v, 1.6e9);
    }
  }
}

}  // namespace
}  // namespace cairn::server::metrics
