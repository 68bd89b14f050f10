// Per-method gRPC counters in go-grpc-prometheus's shape, which etcd exports and dashboards read:
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
// and, with histograms enabled (etcd's --metrics=extensive), grpc_server_handling_seconds{...} with
// Prometheus' default buckets. Only registered methods are tracked (a client cannot grow the table by
// calling made-up paths). Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "server/net/wire.h"

namespace cairn::server::net {

class CallMetrics {
 public:
  static constexpr std::array<double, 11> kBucketsSeconds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1,    2.5,   5,    10};
  static constexpr int kCodes = 17;  // gRPC status codes 0..16

  void enable_histograms(bool on) { histograms_ = on; }
  bool histograms() const { return histograms_; }
  void add_method(std::string_view path, bool streaming);
  void started(std::string_view path);
  void handled(std::string_view path, StatusCode code, std::chrono::nanoseconds took);
  // Prometheus text for every tracked method.
  std::string render() const;

 private:
  struct Method {
    std::string type;  // unary, server_stream, bidi_stream
    uint64_t started = 0;
    std::array<uint64_t, kCodes> handled{};
    std::array<uint64_t, kBucketsSeconds.size()> buckets{};  // non-cumulative
    double seconds_sum = 0;
    uint64_t seconds_count = 0;
  };
  bool histograms_ = false;
  mutable std::mutex mu_;
  std::map<std::string, Method, std::less<>> methods_;  // by gRPC path
};

}  // namespace cairn::server::net
