#include "server/metrics/histogram.h"

#include <cassert>
#include <limits>

namespace cairn::server::metrics {

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> b;
  b.reserve(static_cast<size_t>(count));
  for (double v = start; static_cast<int>(b.size()) < count; v *= factor)
    b.push_back(v);
  return b;
}

std::vector<double> default_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 1; i < bounds_.size(); ++i)
    assert(bounds_[i - 1] < bounds_[i]);
  for (size_t i = 0; i <= bounds_.size(); ++i)
    counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i])
    ++i;  // le: a value equal to a bound is in it
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const {
  std::uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i)
    n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

prometheus::ClientMetric::Histogram Histogram::snapshot() const {
  prometheus::ClientMetric::Histogram h;
  std::uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    h.bucket.push_back(
        {cumulative, i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity()});
  }
  h.sample_count = cumulative;
  h.sample_sum = sum_.load(std::memory_order_relaxed);
  return h;
}

}  // namespace cairn::server::metrics
