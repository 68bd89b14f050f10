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
#include "ctl/requests.h"
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

int run_check_perf(const Invocation& inv, const ConnectionOptions& copts) {
  struct Load {
    const char* name;
    const char* alias;
    int limit;
    int clients;
  };
  static constexpr Load kLoads[] = {{"s", "small", 150, 50},
                                    {"m", "medium", 1000, 200},
                                    {"l", "large", 8000, 500},
                                    {"xl", "xLarge", 15000, 1000}};
  const Load* load = nullptr;
  for (const auto& l : kLoads)
    if (inv.perf_load == l.name || inv.perf_load == l.alias) load = &l;
  if (!load) {
    std::fprintf(stderr, "Error: unknown load option %s\n", inv.perf_load.c_str());
    return 4;
  }
  if (inv.perf_duration_s < 1 || inv.perf_duration_s > 3600) {
    std::fprintf(stderr, "Error: --duration must be 1..3600 seconds\n");
    return 128;
  }
  const std::string& prefix = inv.perf_prefix;
  Connection first(copts);
  {
    etcdserverpb::RangeRequest r;
    r.set_key(prefix);
    r.set_range_end(prefix_range_end(prefix));
    r.set_limit(1);
    auto res = first.unary("/etcdserverpb.KV/Range", r.SerializeAsString(), true, std::chrono::seconds(60));
    if (!res.status.is_ok()) {
      std::fprintf(stderr, "Error: %s\n", error_text(res.status).c_str());
      return 1;
    }
    etcdserverpb::RangeResponse out;
    if (out.ParseFromString(res.response) && out.kvs_size() > 0) {
      std::fprintf(stderr, "Error: prefix \"%s\" has keys. Delete with etcdctl del --prefix %s first\n",
                   prefix.c_str(), prefix.c_str());
      return 3;
    }
  }
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < load->clients; ++i)
    conns.push_back(std::make_unique<Connection>(copts));
  const std::string value(1024, '\0');
  const auto period = std::chrono::duration<double>(1.0 / load->limit);
  const auto t0 = std::chrono::steady_clock::now();
  const auto stop_at = t0 + std::chrono::seconds(inv.perf_duration_s);
  std::atomic<long> next{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::map<std::string, int> errors;
  std::vector<std::thread> threads;
  for (int c = 0; c < load->clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(std::random_device{}() ^ (static_cast<std::uint64_t>(c) << 32));
      Connection& conn = *conns[static_cast<std::size_t>(c)];
      std::vector<double> mine;
      for (;;) {
        // A token bucket of depth one: request i may start at t0 + i/limit, as etcdctl's rate limiter.
        long i = next.fetch_add(1);
        auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * i);
        if (due >= stop_at) break;
        std::this_thread::sleep_until(due);
        std::string key = prefix;
        std::string k(256, '\0');
        // The first bytes are a zig-zag varint of a random non-negative int63, like etcdctl's keys.
        std::uint64_t v = (rng() >> 1) << 1;
        std::size_t n = 0;
        while (v >= 0x80) {
          k[n++] = static_cast<char>(v | 0x80);
          v >>= 7;
        }
        k[n] = static_cast<char>(v);
        key += k;
        etcdserverpb::PutRequest p;
        p.set_key(key);
        p.set_value(value);
        auto s = std::chrono::steady_clock::now();
        auto r = conn.unary("/etcdserverpb.KV/Put", p.SerializeAsString(), false, std::chrono::seconds(60));
        double l = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
        if (r.status.is_ok()) {
          mine.push_back(l);
        } else {
          std::lock_guard lk(mu);
          ++errors[error_text(r.status)];
        }
        if (c == 0) {
          double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::fprintf(stderr, "\r%3d / %d s", static_cast<int>(el), inv.perf_duration_s);
        }
      }
      std::lock_guard lk(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads)
    t.join();
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "\n");
  {
    etcdserverpb::DeleteRangeRequest d;
    d.set_key(prefix);
    d.set_range_end(prefix_range_end(prefix));
    auto res =
        first.unary("/etcdserverpb.KV/DeleteRange", d.SerializeAsString(), false, std::chrono::seconds(30));
    if (!res.status.is_ok()) {
      std::fprintf(stderr, "Error: %s\n", error_text(res.status).c_str());
      return 1;
    }
  }
  bool ok = true;
  double rps = static_cast<double>(latencies.size()) / total_s;
  double slowest = 0, avg = 0, var = 0;
  for (double l : latencies) {
    slowest = std::max(slowest, l);
    avg += l;
  }
  if (!latencies.empty()) avg /= static_cast<double>(latencies.size());
  for (double l : latencies)
    var += (l - avg) * (l - avg);
  double stddev = latencies.empty() ? 0 : std::sqrt(var / static_cast<double>(latencies.size()));
  if (!errors.empty()) {
    std::printf("FAIL: too many errors\n");
    for (const auto& [msg, n] : errors)
      std::printf("FAIL: ERROR(%s) -> %d\n", msg.c_str(), n);
    ok = false;
  }
  if (rps / load->limit <= 0.9) {
    std::printf("FAIL: Throughput too low: %d writes/s\n", static_cast<int>(rps) + 1);
    ok = false;
  } else {
    std::printf("PASS: Throughput is %d writes/s\n", static_cast<int>(rps) + 1);
  }
  if (slowest > 0.5) {
    std::printf("FAIL: Slowest request took too long: %fs\n", slowest);
    ok = false;
  } else {
    std::printf("PASS: Slowest request took %fs\n", slowest);
  }
  if (stddev > 0.1) {
    std::printf("FAIL: Stddev too high: %fs\n", stddev);
    ok = false;
  } else {
    std::printf("PASS: Stddev is %fs\n", stddev);
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace cairn::ctl
