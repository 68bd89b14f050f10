// etcd's JSON gateway conventions (grpc-gateway), shared by every service that exposes routes on it
// (server/api, server/lease, server/lock): the HTTP status for a gRPC code, etcd's error body
// {"error": msg, "message": msg, "code": n}, and proto3 JSON in and out (original field names,
// unknown request fields ignored, bytes as base64, 64-bit integers as strings).
#pragma once

#include <google/protobuf/message.h>

#include <optional>
#include <string>

#include "server/net/server.h"

namespace cairn::server::api {

unsigned http_status(net::StatusCode code);
net::HttpResponse gateway_error(net::StatusCode code, const std::string& message);
inline net::HttpResponse gateway_error(const net::Status& st) {
  return gateway_error(st.code, st.message);
}
// Parses a request body (empty: all defaults) into `out`; the InvalidArgument status on malformed JSON.
std::optional<net::Status> gateway_parse(const std::string& body, google::protobuf::Message& out);
// A 200 response carrying `msg` as proto3 JSON.
net::HttpResponse gateway_json(const google::protobuf::Message& msg);

}  // namespace cairn::server::api
