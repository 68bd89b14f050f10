// Per-method gRPC series in go-grpc-prometheus's shape, which etcd exports and dashboards read:
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
// and, with histograms enabled (etcd's --metrics=extensive), grpc_server_handling_seconds{...} with
// Prometheus' default buckets. Only registered methods are tracked (a client cannot grow the table by
// calling made-up paths).
// Threading: add_method() runs while the server is being set up (as route registration does); after
// that the table is fixed, and a call resolves its Method once, with its route, so started() and
// handled() are lock-free atomic increments. render()/collect() run on any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "server/metrics/families.h"
#include "server/metrics/histogram.h"
#include "server/net/vocabulary.h"
#include "wire/framing.h"

namespace cairn::server::net {

class CallMetrics {
 public:
  static constexpr int kCodes = 17;  // gRPC status codes 0..16

  struct Method {
    std::string service, name, type;  // labels; type: unary, server_stream, bidi_stream
    std::atomic<std::uint64_t> started{0};
    std::array<std::atomic<std::uint64_t>, kCodes> handled{};
    metrics::Histogram seconds{metrics::default_buckets()};
  };

  void enable_histograms(bool on) { histograms_ = on; }
  bool histograms() const { return histograms_; }
  void add_method(std::string_view path, bool streaming);
  // The registered method of a gRPC path, nullptr if none. Resolve once per call.
  Method* method(std::string_view path);
  void started(Method* m);
  void handled(Method* m, StatusCode code, std::chrono::nanoseconds took);
  // The three families (handling seconds only with histograms enabled).
  void collect(metrics::Families& out) const;
  // Prometheus text for every tracked method.
  std::string render() const;

 private:
  bool histograms_ = false;
  std::map<std::string, Method, std::less<>> methods_;  // by gRPC path; fixed once serving
};

}  // namespace cairn::server::net
