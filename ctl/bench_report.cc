#include "ctl/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ctl/format.h"

namespace cairn::ctl::bench {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string secs(double s) {
  return fmt("%4.4f", s) + " secs";
}

std::string bar(std::int64_t done, std::int64_t total, int width) {
  if (width < 3) width = 3;
  std::int64_t fill = total > 0 ? std::min<std::int64_t>(width, done * width / total) : 0;
  std::string b = "[";
  for (int i = 0; i < width; ++i)
    b += i < fill ? '=' : (i == fill && fill < width ? '>' : ' ');
  return b + "]";
}

}  // namespace

Stats compute_stats(std::vector<double> latencies_s, double total_s,
                    std::map<std::string, std::int64_t> errors) {
  Stats s;
  s.total_s = total_s;
  s.errors = std::move(errors);
  std::sort(latencies_s.begin(), latencies_s.end());
  s.latencies_s = std::move(latencies_s);
  const auto& l = s.latencies_s;
  if (l.empty()) return s;
  s.fastest_s = l.front();
  s.slowest_s = l.back();
  double sum = 0;
  for (double v : l)
    sum += v;
  s.average_s = sum / static_cast<double>(l.size());
  double var = 0;
  for (double v : l)
    var += (v - s.average_s) * (v - s.average_s);
  s.stddev_s = std::sqrt(var / static_cast<double>(l.size()));
  s.requests_per_s = total_s > 0 ? static_cast<double>(l.size()) / total_s : 0;
  return s;
}

std::vector<std::pair<double, std::int64_t>> histogram(const std::vector<double>& l) {
  std::vector<std::pair<double, std::int64_t>> rows;
  if (l.empty()) return rows;
  const double lo = l.front(), hi = l.back(), step = (hi - lo) / kHistogramBuckets;
  for (int i = 0; i < kHistogramBuckets; ++i)
    rows.push_back({lo + step * i, 0});
  rows.push_back({hi, 0});
  std::size_t b = 0;
  for (double v : l) {
    while (v > rows[b].first && b + 1 < rows.size())
      ++b;
    ++rows[b].second;
  }
  return rows;
}

std::vector<double> percentiles(const std::vector<double>& l) {
  std::vector<double> out(std::size(kPercentiles), 0.0);
  std::size_t j = 0;
  const double n = static_cast<double>(l.size());
  for (std::size_t i = 0; i < l.size() && j < out.size(); ++i) {
    if (static_cast<double>(i) * 100.0 / n >= kPercentiles[j]) out[j++] = l[i];
  }
  return out;
}

std::string format_report(const Stats& s) {
  std::string out;
  if (!s.latencies_s.empty()) {
    out += "\nSummary:\n";
    out += "  Total:\t" + secs(s.total_s) + ".\n";
    out += "  Slowest:\t" + secs(s.slowest_s) + ".\n";
    out += "  Fastest:\t" + secs(s.fastest_s) + ".\n";
    out += "  Average:\t" + secs(s.average_s) + ".\n";
    out += "  Stddev:\t" + secs(s.stddev_s) + ".\n";
    out += "  Requests/sec:\t" + fmt("%4.4f", s.requests_per_s) + "\n";
    out += "\nResponse time histogram:\n";
    auto rows = histogram(s.latencies_s);
    std::int64_t most = 0;
    for (const auto& r : rows)
      most = std::max(most, r.second);
    for (const auto& [bound, count] : rows) {
      std::int64_t len = most > 0 ? count * kHistogramBarWidthMax / most : 0;
      std::string b;
      for (std::int64_t i = 0; i < len; ++i)
        b += "\u220e";
      out += "  " + fmt("%4.4f", bound) + " [" + std::to_string(count) + "]\t|" + b + "\n";
    }
    out += "\nLatency distribution:\n";
    auto p = percentiles(s.latencies_s);
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (p[i] > 0) out += "  " + fmt("%g", kPercentiles[i]) + "% in " + secs(p[i]) + ".\n";
    }
  }
  if (!s.errors.empty()) {
    out += "\nError distribution:\n";
    for (const auto& [msg, n] : s.errors)
      out += "  [" + std::to_string(n) + "]\t" + msg + "\n";
  }
  return out;
}

std::string varint_key(std::int64_t n, int key_size) {
  std::string k(static_cast<std::size_t>(std::max(key_size, 0)), '\0');
  // Go's binary.PutVarint: zig-zag, then 7 bits per byte, low group first.
  std::uint64_t v = (static_cast<std::uint64_t>(n) << 1) ^ static_cast<std::uint64_t>(n >> 63);
  std::size_t i = 0;
  for (;;) {
    char byte = static_cast<char>(v >= 0x80 ? (v | 0x80) & 0xff : v);
    if (i < k.size()) k[i] = byte;
    ++i;
    if (v < 0x80) break;
    v >>= 7;
  }
  return k;
}

std::chrono::nanoseconds rate_offset(std::int64_t i, double rate_per_s) {
  if (rate_per_s <= 0 || i <= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / rate_per_s));
}

std::string render_progress(std::int64_t done, std::int64_t total, double elapsed_s, int bar_width) {
  char head[64];
  if (total <= 0) {
    std::snprintf(head, sizeof head, "  %lld", static_cast<long long>(done));
    return std::string(head) + " " + fmt("%.1fs", elapsed_s);
  }
  std::snprintf(head, sizeof head, "  %lld / %lld ", static_cast<long long>(done),
                static_cast<long long>(total));
  double pct = 100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total);
  return std::string(head) + bar(std::min(done, total), total, bar_width) + " " + fmt("%3.0f%%", pct) + " " +
         fmt("%.1fs", elapsed_s);
}

std::string render_bytes_progress(std::uint64_t done, std::uint64_t total, double elapsed_s, int bar_width) {
  std::string head = "  " + humanize_bytes(done) + " / " + (total ? humanize_bytes(total) : "?") + " ";
  if (total == 0) return head + fmt("%.1fs", elapsed_s);
  auto d = static_cast<std::int64_t>(std::min(done, total)), t = static_cast<std::int64_t>(total);
  return head + bar(d, t, bar_width) + " " + fmt("%3.0f%%", 100.0 * double(d) / double(t)) + " " +
         fmt("%.1fs", elapsed_s);
}

}  // namespace cairn::ctl::bench
