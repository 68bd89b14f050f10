// Per-method gRPC counters (server/net/call_metrics.h) in go-grpc-prometheus's text shape.
#include "server/net/call_metrics.h"

#include <gtest/gtest.h>

namespace cairn::server::net {
namespace {

using namespace std::chrono_literals;

TEST(CallMetrics, CountsRegisteredMethodsOnly) {
  CallMetrics m;
  m.add_method("/etcdserverpb.KV/Put", false);
  m.add_method("/etcdserverpb.Watch/Watch", true);
  CallMetrics::Method* put = m.method("/etcdserverpb.KV/Put");
  ASSERT_NE(put, nullptr);
  m.started(put);
  m.handled(put, StatusCode::kOk, 2ms);
  m.started(put);
  m.handled(put, StatusCode::kResourceExhausted, 2ms);
  EXPECT_EQ(m.method("/no.Such/Method"), nullptr);  // not registered: not tracked
  m.started(nullptr);                               // what a call to it does: nothing
  const std::string t = m.render();
  EXPECT_NE(t.find("grpc_server_started_total{grpc_method=\"Put\",grpc_service=\"etcdserverpb.KV\","
                   "grpc_type=\"unary\"} 2\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("grpc_server_handled_total{grpc_code=\"ResourceExhausted\",grpc_method=\"Put\","
                   "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("grpc_method=\"Watch\",grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"} 0"),
            std::string::npos);
  EXPECT_EQ(t.find("Method"), std::string::npos);
  EXPECT_EQ(t.find("grpc_server_handling_seconds"), std::string::npos);  // --metrics=basic
}

TEST(CallMetrics, ExtensiveAddsLatencyHistograms) {
  CallMetrics m;
  m.enable_histograms(true);
  m.add_method("/etcdserverpb.KV/Range", false);
  CallMetrics::Method* range = m.method("/etcdserverpb.KV/Range");
  m.handled(range, StatusCode::kOk, 3ms);
  m.handled(range, StatusCode::kOk, 300ms);
  const std::string t = m.render();
  const std::string l = "grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"";
  EXPECT_NE(t.find("grpc_server_handling_seconds_bucket{" + l + ",le=\"0.005\"} 1\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("grpc_server_handling_seconds_bucket{" + l + ",le=\"0.25\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("grpc_server_handling_seconds_bucket{" + l + ",le=\"0.5\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("grpc_server_handling_seconds_bucket{" + l + ",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("grpc_server_handling_seconds_count{" + l + "} 2\n"), std::string::npos);
}

}  // namespace
}  // namespace cairn::server::net
