// A Prometheus histogram whose observe() is lock-free: one relaxed atomic increment of the bucket the
// value falls in and one atomic add to the sum. Buckets are fixed at construction (etcd's boundaries are
// fixed per series, e.g. exponential_buckets(0.001, 2, 14) for WAL fsync). A scrape reads the buckets
// one by one, so it may see a value in the count and not yet in the sum; Prometheus tolerates that.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <prometheus/client_metric.h>

namespace cairn::server::metrics {

// Prometheus' ExponentialBuckets(start, factor, count): start, start*factor, ... (count upper bounds).
std::vector<double> exponential_buckets(double start, double factor, int count);
// go-grpc-prometheus' and Prometheus' default buckets (prometheus.DefBuckets), seconds.
std::vector<double> default_buckets();

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double value);
  // Cumulative buckets, +Inf last, with count and sum.
  prometheus::ClientMetric::Histogram snapshot() const;
  std::uint64_t count() const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative; [size] = +Inf
  std::atomic<double> sum_{0};
};

}  // namespace cairn::server::metrics
