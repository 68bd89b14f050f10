// The pure parts of `cairnctl bench` and the progress bars: etcd benchmark-style key generation, the
// request schedule behind --rate, the final report (Summary, Response time histogram, Latency
// distribution, Error distribution) and the one-line progress bar. No I/O and no threads, so they are
// unit-tested (tests/ctl/bench_test.cc); ctl/bench.cc runs the workloads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cairn::ctl::bench {

// The percentiles of the latency distribution, as etcd's report prints them.
inline constexpr double kPercentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9};
// Response time histogram: this many equal-width buckets between fastest and slowest, plus the slowest.
inline constexpr int kHistogramBuckets = 10;
// Width of the longest histogram bar (the fullest bucket), in characters.
inline constexpr int kHistogramBarWidthMax = 40;

struct Stats {
  double total_s = 0;
  std::vector<double> latencies_s;  // sorted ascending
  double slowest_s = 0, fastest_s = 0, average_s = 0, stddev_s = 0;
  double requests_per_s = 0;
  std::map<std::string, std::int64_t> errors;  // message -> count
};

// Sorts the latencies and derives the summary figures (population standard deviation; requests/sec
// counts successful requests over the whole run's wall time).
Stats compute_stats(std::vector<double> latencies_s, double total_s,
                    std::map<std::string, std::int64_t> errors);

// The histogram's rows: upper bound of each bucket and its count. A latency lands in the first bucket
// whose bound is >= it; the last bound is the slowest latency.
std::vector<std::pair<double, std::int64_t>> histogram(const std::vector<double>& sorted_s);
// The latency at each of kPercentiles: the first sample whose rank i satisfies i*100/n >= p.
std::vector<double> percentiles(const std::vector<double>& sorted_s);

// etcd benchmark's report text (what it prints to stdout after the run), starting with a blank line.
// With no successful request only the error distribution is printed.
std::string format_report(const Stats& s);

// etcd benchmark's keys: `n` as a zig-zag varint at the start of a zero-filled key_size-byte buffer
// (so --key-space-size 1 means one key of key_size zero bytes). Bytes that do not fit are dropped.
std::string varint_key(std::int64_t n, int key_size);

// --rate: request i (0-based, counted across all clients) may start at start + i/rate. rate <= 0:
// at once.
std::chrono::nanoseconds rate_offset(std::int64_t i, double rate_per_s);

// One progress line (no newline; the caller prefixes "\r"): "  1234 / 10000 [====>     ]  12% 3.1s".
// total <= 0: a counter without a bar.
std::string render_progress(std::int64_t done, std::int64_t total, double elapsed_s, int bar_width);
// The same for byte counts ("snapshot save"): "  12 MB / ? 3.1s" when the total is unknown.
std::string render_bytes_progress(std::uint64_t done, std::uint64_t total, double elapsed_s, int bar_width);

}  // namespace cairn::ctl::bench
