#include "server/net/call_metrics.h"

#include <cstdio>

namespace cairn::server::net {

namespace {

constexpr const char* kCodeNames[CallMetrics::kCodes] = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

// "/etcdserverpb.KV/Range" -> grpc_service="etcdserverpb.KV",grpc_method="Range"
std::string labels(const std::string& path, const std::string& type) {
  auto slash = path.rfind('/');
  std::string service = slash == std::string::npos || slash == 0 ? path : path.substr(1, slash - 1);
  std::string method = slash == std::string::npos ? path : path.substr(slash + 1);
  return "grpc_method=\"" + method + "\",grpc_service=\"" + service + "\",grpc_type=\"" + type + "\"";
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

void CallMetrics::add_method(std::string_view path, bool streaming) {
  // etcd's streaming methods: server streams send, bidirectional ones also read more than one message.
  std::string type = "unary";
  if (streaming)
    type = path.ends_with("/Snapshot") || path.ends_with("/Observe") ? "server_stream" : "bidi_stream";
  std::lock_guard lk(mu_);
  methods_[std::string(path)].type = type;
}

void CallMetrics::started(std::string_view path) {
  std::lock_guard lk(mu_);
  if (auto it = methods_.find(path); it != methods_.end()) ++it->second.started;
}

void CallMetrics::handled(std::string_view path, StatusCode code, std::chrono::nanoseconds took) {
  std::lock_guard lk(mu_);
  auto it = methods_.find(path);
  if (it == methods_.end()) return;
  Method& m = it->second;
  int c = static_cast<int>(code);
  ++m.handled[c >= 0 && c < kCodes ? c : 2];
  if (!histograms_) return;
  const double s = std::chrono::duration<double>(took).count();
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i)
    if (s <= kBucketsSeconds[i]) {
      ++m.buckets[i];
      break;
    }
  m.seconds_sum += s;
  ++m.seconds_count;
}

std::string CallMetrics::render() const {
  std::lock_guard lk(mu_);
  std::string o =
      "# HELP grpc_server_started_total Total number of RPCs started on the server.\n"
      "# TYPE grpc_server_started_total counter\n";
  for (const auto& [path, m] : methods_)
    o += "grpc_server_started_total{" + labels(path, m.type) + "} " + std::to_string(m.started) + "\n";
  o += "# HELP grpc_server_handled_total Total number of RPCs completed on the server, regardless of success "
       "or failure.\n# TYPE grpc_server_handled_total counter\n";
  for (const auto& [path, m] : methods_)
    for (int c = 0; c < kCodes; ++c)
      if (m.handled[c] > 0)
        o += "grpc_server_handled_total{grpc_code=\"" + std::string(kCodeNames[c]) + "\"," +
             labels(path, m.type) + "} " + std::to_string(m.handled[c]) + "\n";
  if (!histograms_) return o;
  o += "# HELP grpc_server_handling_seconds Histogram of response latency (seconds) of gRPC that had been "
       "application-level handled by the server.\n# TYPE grpc_server_handling_seconds histogram\n";
  for (const auto& [path, m] : methods_) {
    const std::string l = labels(path, m.type);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
      cumulative += m.buckets[i];
      o += "grpc_server_handling_seconds_bucket{" + l + ",le=\"" + number(kBucketsSeconds[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
    }
    o += "grpc_server_handling_seconds_bucket{" + l + ",le=\"+Inf\"} " + std::to_string(m.seconds_count) +
         "\n";
    o += "grpc_server_handling_seconds_sum{" + l + "} " + number(m.seconds_sum) + "\n";
    o += "grpc_server_handling_seconds_count{" + l + "} " + std::to_string(m.seconds_count) + "\n";
  }
  return o;
}

}  // namespace cairn::server::net
