#include "server/watch/gateway.h"

#include <google/protobuf/util/json_util.h>

#include <boost/beast/http/status.hpp>
#include <memory>

#include "base/json.h"
#include "proto/etcd/rpc.pb.h"
#include "server/api/caller.h"
#include "server/api/gateway.h"

namespace cairn::server::watch {

namespace asio = boost::asio;
using asio::awaitable;

JsonObjectSplitter::Result JsonObjectSplitter::next(std::string& out) {
  if (depth_ == 0 && scanned_ == 0) {
    std::size_t skip = 0;
    while (skip < pending_.size() && std::isspace(static_cast<unsigned char>(pending_[skip])))
      ++skip;
    pending_.erase(0, skip);
    if (pending_.empty()) return Result::kNeedMore;
    if (pending_[0] != '{') return Result::kBad;
  }
  for (; scanned_ < pending_.size(); ++scanned_) {
    const char c = pending_[scanned_];
    if (in_string_) {
      if (escaped_)
        escaped_ = false;
      else if (c == '\\')
        escaped_ = true;
      else if (c == '"')
        in_string_ = false;
      continue;
    }
    if (c == '"')
      in_string_ = true;
    else if (c == '{' || c == '[')
      ++depth_;
    else if ((c == '}' || c == ']') && --depth_ == 0) {
      out = pending_.substr(0, scanned_ + 1);
      pending_.erase(0, scanned_ + 1);
      scanned_ = 0;
      return Result::kObject;
    }
  }
  return pending_.size() > object_bytes_max_ ? Result::kBad : Result::kNeedMore;
}

namespace {

// grpc-gateway v1's error line inside a stream.
std::string stream_error(const net::Status& st) {
  const unsigned http = api::http_status(st.code);
  return "{\"error\":{\"grpc_code\":" + std::to_string(static_cast<int>(st.code)) +
         ",\"http_code\":" + std::to_string(http) + ",\"message\":\"" + base::json_escape(st.message) +
         "\",\"http_status\":\"" +
         std::string(boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(http))) +
         "\"}}\n";
}

// One gateway watch: JSON requests in, JSON lines out.
struct GatewayWatch {
  net::HttpStream& http;
  JsonObjectSplitter splitter;
  std::optional<net::Status> failed;  // malformed request: the stream ends with this error

  awaitable<std::optional<std::string>> read() {
    for (;;) {
      std::string obj;
      switch (splitter.next(obj)) {
        case JsonObjectSplitter::Result::kObject: {
          etcdserverpb::WatchRequest req;
          if (auto bad = api::gateway_parse(obj, req)) {
            failed = *bad;
            co_return std::nullopt;
          }
          co_return req.SerializeAsString();
        }
        case JsonObjectSplitter::Result::kBad:
          failed =
              net::Status{net::StatusCode::kInvalidArgument,
                          splitter.too_large() ? "watch request too large" : "invalid watch request body"};
          co_return std::nullopt;
        case JsonObjectSplitter::Result::kNeedMore:
          break;
      }
      std::optional<std::string> more = co_await http.read_body();
      if (!more) co_return std::nullopt;
      splitter.append(*more);
    }
  }

  awaitable<bool> write(std::string bytes) {
    etcdserverpb::WatchResponse resp;
    if (!resp.ParseFromString(bytes)) co_return false;
    google::protobuf::util::JsonPrintOptions jo;
    jo.preserve_proto_field_names = true;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(resp, &json, jo);
    co_return co_await http.write("{\"result\":" + json + "}\n");
  }
};

awaitable<void> serve_gateway(ServeFn serve, std::size_t object_bytes_max, const net::HttpRequest& req,
                              net::HttpStream& http) {
  auto gw = std::make_shared<GatewayWatch>(GatewayWatch{http, JsonObjectSplitter(object_bytes_max), {}});
  const api::Caller caller = api::caller_of(req);
  StreamIo io;
  io.read = [gw] { return gw->read(); };
  io.write = [gw](std::string m) { return gw->write(std::move(m)); };
  // A malformed request ends the stream as a cancellation would (the error line follows).
  io.cancelled = [gw] { return gw->failed.has_value(); };
  io.wait_closed = [gw] { return gw->http.wait_closed(); };
  io.token = caller.token;
  io.cert_cn = caller.cert_cn;
  net::Status st = co_await serve(io);
  if (gw->failed) st = *gw->failed;
  if (!st.is_ok() && st.code != net::StatusCode::kCancelled) (void)co_await http.write(stream_error(st));
}

}  // namespace

void add_gateway_route(net::Server& s, ServeFn serve) {
  const std::size_t object_bytes_max = s.limits().http_body_bytes_max;
  s.add_http_stream(
      "POST", "/v3/watch", "application/json",
      [serve = std::move(serve), object_bytes_max](const net::HttpRequest& req, net::HttpStream& http) {
        return serve_gateway(serve, object_bytes_max, req, http);
      });
}

}  // namespace cairn::server::watch
