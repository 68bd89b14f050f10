#include "server/api/gateway.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>

#include "base/json.h"

namespace cairn::server::api {

unsigned http_status(net::StatusCode c) {
  switch (c) {
    case net::StatusCode::kOk:
      return 200;
    case net::StatusCode::kCancelled:
      return 408;
    case net::StatusCode::kInvalidArgument:
    case net::StatusCode::kOutOfRange:
      return 400;
    case net::StatusCode::kDeadlineExceeded:
      return 504;
    case net::StatusCode::kNotFound:
      return 404;
    case net::StatusCode::kAlreadyExists:
    case net::StatusCode::kAborted:
      return 409;
    case net::StatusCode::kPermissionDenied:
      return 403;
    case net::StatusCode::kUnauthenticated:
      return 401;
    case net::StatusCode::kResourceExhausted:
      return 429;
    case net::StatusCode::kFailedPrecondition:
      return 412;
    case net::StatusCode::kUnimplemented:
      return 501;
    case net::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

net::HttpResponse gateway_error(net::StatusCode code, const std::string& msg) {
  net::HttpResponse r;
  r.status = http_status(code);
  r.content_type = "application/json";
  r.body = "{\"error\":\"" + base::json_escape(msg) + "\",\"message\":\"" + base::json_escape(msg) +
           "\",\"code\":" + std::to_string(static_cast<int>(code)) + "}";
  return r;
}

std::optional<net::Status> gateway_parse(const std::string& body, google::protobuf::Message& out) {
  if (body.empty()) return std::nullopt;
  google::protobuf::util::JsonParseOptions po;
  po.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(body, &out, po);
  if (!st.ok()) return net::Status{net::StatusCode::kInvalidArgument, std::string(st.message())};
  return std::nullopt;
}

net::HttpResponse gateway_json(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions jo;
  jo.preserve_proto_field_names = true;
  net::HttpResponse r;
  r.content_type = "application/json";
  (void)google::protobuf::util::MessageToJsonString(msg, &r.body, jo);
  r.headers.emplace_back("grpc-metadata-content-type", "application/grpc");
  return r;
}

}  // namespace cairn::server::api
