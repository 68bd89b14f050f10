// The server's errors as values: etcd's gRPC code and exact message (clientv3 matches the text).
// Store errors map through storage::grpc_code/etcd_message; server-level ones are listed here.
#pragma once

#include <string>

#include "server/net/vocabulary.h"
#include "storage/errors.h"
#include "wire/framing.h"

namespace cairn::server::node {

struct EtcdError {
  net::StatusCode code = net::StatusCode::kUnknown;
  std::string message;
  bool operator==(const EtcdError&) const = default;
};

inline EtcdError err_no_leader() {
  return {net::StatusCode::kUnavailable, "etcdserver: no leader"};
}
inline EtcdError err_not_leader() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: not leader"};
}
inline EtcdError err_timeout() {
  return {net::StatusCode::kUnavailable, "etcdserver: request timed out"};
}
inline EtcdError err_stopped() {
  return {net::StatusCode::kUnavailable, "etcdserver: server stopped"};
}
inline EtcdError err_too_many_requests() {
  return {net::StatusCode::kResourceExhausted, "etcdserver: too many requests"};
}
inline EtcdError err_request_too_large() {
  return {net::StatusCode::kInvalidArgument, "etcdserver: request is too large"};
}
inline EtcdError err_member_not_found() {
  return {net::StatusCode::kNotFound, "etcdserver: member not found"};
}
inline EtcdError err_member_exist() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: member ID already exist"};
}
inline EtcdError err_peer_url_exist() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: Peer URLs already exists"};
}
inline EtcdError err_member_bad_urls() {
  return {net::StatusCode::kInvalidArgument, "etcdserver: given member URLs are invalid"};
}
inline EtcdError err_member_not_learner() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: can only promote a learner member"};
}
inline EtcdError err_learner_not_ready() {
  return {net::StatusCode::kFailedPrecondition,
          "etcdserver: can only promote a learner member which is in sync with leader"};
}
inline EtcdError err_too_many_learners() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: too many learner members in cluster"};
}
inline EtcdError err_bad_leader_transferee() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: bad leader transferee"};
}
inline EtcdError err_not_supported_for_learner() {
  return {net::StatusCode::kUnavailable, "etcdserver: rpc not supported for learner"};
}
inline EtcdError err_unhealthy() {
  return {net::StatusCode::kUnavailable, "etcdserver: unhealthy cluster"};
}

// A store error as etcd reports it. Internal store conditions become Unknown with their text.
inline EtcdError from_store(const storage::Error& e) {
  return {static_cast<net::StatusCode>(storage::grpc_code(e.code)), e.message()};
}

}  // namespace cairn::server::node
