// The client port as the two client-side fuzz targets drive it: a real net::Server (sniffing, HTTP/2 via
// nghttp2, gRPC framing, HTTP/1.1 via Beast, every limit) with a unary and a streaming gRPC route and
// JSON gateway routes that decode their bodies into etcd's request messages with api::gateway_parse and
// answer with api::gateway_json, fed one connection's bytes through an in-memory stream.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "proto/etcd/rpc.pb.h"
#include "server/api/gateway.h"
#include "server/net/server.h"
#include "tests/fuzz/memory_stream.h"

namespace cairn::fuzz {

template <class Request>
void add_gateway_route(server::net::Server& s, const char* path) {
  s.add_http("POST", path,
             [](const server::net::HttpRequest& r) -> boost::asio::awaitable<server::net::HttpResponse> {
               Request req;
               if (auto bad = server::api::gateway_parse(r.body, req))
                 co_return server::api::gateway_error(*bad);
               co_return server::api::gateway_json(req);  // the decoded message, re-encoded
             });
}

inline server::net::ServerLimits fuzz_limits() {
  server::net::ServerLimits l;
  l.message_bytes_max = 64 * 1024;
  l.header_bytes_max = 4 * 1024;
  l.http_body_bytes_max = 64 * 1024;
  l.stream_window_bytes = 64 * 1024;
  l.connection_window_bytes = 256 * 1024;
  l.handshake_timeout = std::chrono::milliseconds(2'000);
  l.shutdown_grace = std::chrono::milliseconds(0);
  return l;
}

inline void add_fuzz_routes(server::net::Server& s) {
  s.add_unary(
      "/etcdserverpb.KV/Range",
      [](server::net::ServerContext&, std::string_view req) -> boost::asio::awaitable<server::net::Reply> {
        etcdserverpb::RangeRequest r;
        if (!r.ParseFromArray(req.data(), static_cast<int>(req.size())))
          co_return server::net::Status{server::net::StatusCode::kInvalidArgument, "bad request"};
        etcdserverpb::RangeResponse out;
        out.set_count(static_cast<std::int64_t>(r.key().size()));
        co_return out.SerializeAsString();
      });
  s.add_stream("/etcdserverpb.Watch/Watch",
               [](server::net::ServerContext&,
                  server::net::ServerStream& st) -> boost::asio::awaitable<server::net::Status> {
                 while (auto m = co_await st.read()) {
                   etcdserverpb::WatchRequest w;
                   if (!w.ParseFromString(*m))
                     co_return server::net::Status{server::net::StatusCode::kInvalidArgument, "bad"};
                   if (!co_await st.write(w.SerializeAsString())) break;
                 }
                 co_return server::net::Status{};
               });
  add_gateway_route<etcdserverpb::RangeRequest>(s, "/v3/kv/range");
  add_gateway_route<etcdserverpb::PutRequest>(s, "/v3/kv/put");
  add_gateway_route<etcdserverpb::TxnRequest>(s, "/v3/kv/txn");
  add_gateway_route<etcdserverpb::LeaseGrantRequest>(s, "/v3/lease/grant");
  s.add_http("GET", "/health",
             [](const server::net::HttpRequest&) -> boost::asio::awaitable<server::net::HttpResponse> {
               co_return server::net::HttpResponse{200, "application/json", "{\"health\":\"true\"}", {}};
             });
}

// One connection carrying `input`, read `chunk_bytes` at a time. Returns once the server is done with it.
inline void serve_one_connection(std::string input, std::size_t chunk_bytes) {
  boost::asio::io_context ioc;
  auto out = std::make_shared<MemoryStreamOutput>();
  {
    server::net::Server server(ioc, fuzz_limits());
    add_fuzz_routes(server);
    server.serve_stream(std::make_unique<MemoryByteStream>(boost::asio::make_strand(ioc), std::move(input),
                                                           chunk_bytes, out));
    ioc.run_for(std::chrono::seconds(20));
    if (!ioc.stopped()) __builtin_trap();  // the connection hangs after its input ended
    server.shutdown();
    ioc.restart();
    ioc.run_for(std::chrono::seconds(5));
  }
}

}  // namespace cairn::fuzz
