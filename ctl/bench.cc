#include "ctl/bench.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ctl/commands.h"
#include "proto/etcd/rpc.pb.h"

namespace cairn::ctl {

namespace {

constexpr int kClientsMax = 10'000;
constexpr int kConnsMax = 1'000;
constexpr int kSizeBytesMax = 64 * 1024 * 1024;

std::string random_bytes(std::mt19937_64& rng, int n) {
  static const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(static_cast<std::size_t>(n), 'a');
  for (auto& c : s)
    c = alphabet[rng() % 36];
  return s;
}

void print_report(std::vector<double> lat, double total_s, const std::map<std::string, int>& errors) {
  std::sort(lat.begin(), lat.end());
  std::printf("\nSummary:\n  Total:\t%4.4f secs.\n", total_s);
  if (!lat.empty()) {
    double sum = 0;
    for (double l : lat)
      sum += l;
    double avg = sum / double(lat.size());
    double var = 0;
    for (double l : lat)
      var += (l - avg) * (l - avg);
    double stddev = std::sqrt(var / double(lat.size()));
    std::printf(
        "  Slowest:\t%2.4f secs.\n  Fastest:\t%2.4f secs.\n  Average:\t%2.4f secs.\n  Stddev:\t%2.4f secs.\n",
        lat.back(), lat.front(), avg, stddev);
    std::printf("  Requests/sec:\t%4.4f\n", double(lat.size()) / total_s);
    // Histogram: 10 equal buckets between fastest and slowest.
    constexpr int kBuckets = 10;
    double lo = lat.front(), hi = lat.back(), step = (hi - lo) / kBuckets;
    std::vector<int> counts(kBuckets + 1, 0);
    for (double l : lat) {
      int b = step > 0 ? std::min(kBuckets, int((l - lo) / step)) : 0;
      ++counts[static_cast<std::size_t>(b)];
    }
    int maxc = *std::max_element(counts.begin(), counts.end());
    std::printf("\nResponse time histogram:\n");
    for (int b = 0; b <= kBuckets; ++b) {
      int bar = maxc ? counts[static_cast<std::size_t>(b)] * 40 / maxc : 0;
      std::printf("  %2.4f [%d]\t|%s\n", lo + step * b, counts[static_cast<std::size_t>(b)],
                  std::string(static_cast<std::size_t>(bar), '#').c_str());
    }
    std::printf("\nLatency distribution:\n");
    for (double p : {10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9}) {
      std::size_t i = std::min(lat.size() - 1, static_cast<std::size_t>(p / 100.0 * double(lat.size())));
      std::printf("  %g%% in %4.4f secs.\n", p, lat[i]);
    }
  }
  if (!errors.empty()) {
    std::printf("\nError distribution:\n");
    for (const auto& [msg, n] : errors)
      std::printf("  [%d]\t%s\n", n, msg.c_str());
  }
  std::fflush(stdout);
}

}  // namespace

int run_bench(const std::string& workload, const Invocation& inv, const ConnectionOptions& copts) {
  if (inv.clients < 1 || inv.clients > kClientsMax || inv.conns < 1 || inv.conns > kConnsMax ||
      inv.total < 1 || inv.key_size < 1 || inv.key_size > kSizeBytesMax || inv.val_size < 0 ||
      inv.val_size > kSizeBytesMax) {
    std::fprintf(stderr, "Error: bad bench parameters (clients 1..%d, conns 1..%d, total >= 1, sizes)\n",
                 kClientsMax, kConnsMax);
    return 128;
  }
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < inv.conns; ++i)
    conns.push_back(std::make_unique<Connection>(copts));
  std::string method;
  std::string range_request;
  if (workload == "range") {
    etcdserverpb::RangeRequest r;
    r.set_key(inv.args.empty() ? "foo" : inv.args[0]);
    if (inv.args.size() > 1) r.set_range_end(inv.args[1]);
    r.set_serializable(inv.bench_consistency == "s");
    range_request = r.SerializeAsString();
    method = "/etcdserverpb.KV/Range";
  } else {
    method = "/etcdserverpb.KV/Put";
  }
  std::atomic<int> next{0}, done{0};
  std::mutex mu;
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(inv.total));
  std::map<std::string, int> errors;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < inv.clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(c) * 7919 + 1);
      Connection& conn = *conns[static_cast<std::size_t>(c % inv.conns)];
      std::vector<double> mine;
      while (next.fetch_add(1) < inv.total) {
        std::string req = range_request;
        if (workload == "put") {
          etcdserverpb::PutRequest p;
          p.set_key(random_bytes(rng, inv.key_size));
          p.set_value(random_bytes(rng, inv.val_size));
          req = p.SerializeAsString();
        }
        auto s = std::chrono::steady_clock::now();
        auto r = conn.unary(method, req, workload == "range");
        double l = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
        if (r.status.is_ok()) {
          mine.push_back(l);
        } else {
          std::lock_guard lk(mu);
          ++errors[error_text(r.status)];
        }
        int d = done.fetch_add(1) + 1;
        if (d % std::max(1, inv.total / 20) == 0) std::fprintf(stderr, "\r%d / %d", d, inv.total);
      }
      std::lock_guard lk(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads)
    t.join();
  double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "\n");
  print_report(std::move(latencies), total_s, errors);
  return errors.empty() ? 0 : 1;
}

}  // namespace cairn::ctl
