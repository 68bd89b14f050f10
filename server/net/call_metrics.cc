#include "server/net/call_metrics.h"

namespace cairn::server::net {

namespace {

constexpr const char* kCodeNames[CallMetrics::kCodes] = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

metrics::Labels labels(const CallMetrics::Method& m) {
  return {{"grpc_method", m.name}, {"grpc_service", m.service}, {"grpc_type", m.type}};
}

}  // namespace

void CallMetrics::add_method(std::string_view path, bool streaming) {
  auto [it, fresh] = methods_.try_emplace(std::string(path));
  Method& m = it->second;
  // "/etcdserverpb.KV/Range" -> grpc_service="etcdserverpb.KV",grpc_method="Range"
  auto slash = path.rfind('/');
  m.service = std::string(slash == std::string::npos || slash == 0 ? path : path.substr(1, slash - 1));
  m.name = std::string(slash == std::string::npos ? path : path.substr(slash + 1));
  // etcd's streaming methods: server streams send, bidirectional ones also read more than one message.
  m.type = "unary";
  if (streaming)
    m.type = path.ends_with("/Snapshot") || path.ends_with("/Observe") ? "server_stream" : "bidi_stream";
}

CallMetrics::Method* CallMetrics::method(std::string_view path) {
  auto it = methods_.find(path);
  return it == methods_.end() ? nullptr : &it->second;
}

void CallMetrics::started(Method* m) {
  if (m) m->started.fetch_add(1, std::memory_order_relaxed);
}

void CallMetrics::handled(Method* m, StatusCode code, std::chrono::nanoseconds took) {
  if (!m) return;
  const int c = static_cast<int>(code);
  m->handled[c >= 0 && c < kCodes ? c : 2].fetch_add(1, std::memory_order_relaxed);
  if (histograms_) m->seconds.observe(std::chrono::duration<double>(took).count());
}

void CallMetrics::collect(metrics::Families& out) const {
  using prometheus::MetricType;
  const std::string started_name = "grpc_server_started_total";
  out.declare(started_name, "Total number of RPCs started on the server.", MetricType::Counter);
  for (const auto& [path, m] : methods_)
    out.counter(started_name, "", static_cast<double>(m.started.load()), labels(m));
  const std::string handled_name = "grpc_server_handled_total";
  out.declare(handled_name, "Total number of RPCs completed on the server, regardless of success or failure.",
              MetricType::Counter);
  for (const auto& [path, m] : methods_)
    for (int c = 0; c < kCodes; ++c)
      if (auto n = m.handled[c].load()) {
        auto l = labels(m);
        l.insert(l.begin(), {"grpc_code", kCodeNames[c]});
        out.counter(handled_name, "", static_cast<double>(n), l);
      }
  if (!histograms_) return;
  const std::string seconds_name = "grpc_server_handling_seconds";
  out.declare(seconds_name,
              "Histogram of response latency (seconds) of gRPC that had been application-level handled by "
              "the server.",
              MetricType::Histogram);
  for (const auto& [path, m] : methods_)
    out.histogram(seconds_name, "", m.seconds, labels(m));
}

std::string CallMetrics::render() const {
  metrics::Families f;
  collect(f);
  return f.text();
}

}  // namespace cairn::server::net
