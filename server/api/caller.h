// Who a client call acts for, and how the services run a request with that identity (server/auth/auth.h).
//
// A gRPC call presents its token in the metadata "token" (clientv3's key); a JSON gateway call in its
// Authorization header (the bare token, as etcd's gateway takes it; "Bearer <token>" is accepted too).
// as_caller() checks the token, runs the request with the identity it names and, when the request met
// a newer auth state than the one its token was checked at ("revision of auth store is old"), checks
// the token again and runs the request again, at most kAuthAttemptsMax times, as etcd's server retries.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::api {

inline constexpr int kAuthAttemptsMax = 5;

struct Caller {
  std::string token;
  std::string cert_cn;  // the verified client certificate's common name, when the port checks them
};

// A verified client certificate names the user when no token is sent (etcd's --client-cert-auth).
inline Caller caller_of(const net::ServerContext& ctx) {
  Caller c;
  if (auto t = ctx.metadata_value("token")) c.token = std::string(*t);
  c.cert_cn = ctx.peer_common_name();
  return c;
}

inline Caller caller_of(const net::HttpRequest& req) {
  Caller c;
  c.cert_cn = req.peer_common_name;
  for (const auto& [k, v] : req.headers) {
    if (k != "authorization") continue;
    c.token = v.rfind("Bearer ", 0) == 0 ? v.substr(7) : v;
  }
  return c;
}

// attempt(node::EntryAuth) -> awaitable<net::Reply>.
template <class Attempt>
boost::asio::awaitable<net::Reply> as_caller(node::Node* n, Caller c, Attempt attempt) {
  const node::EtcdError old = auth::err_auth_old_revision();
  for (int i = 1;; ++i) {
    auto who = n->auth().identify(c.token, c.cert_cn);
    if (!who) co_return net::Status{who.error().code, who.error().message};
    auto aw = attempt(std::move(*who));
    net::Reply r = co_await std::move(aw);
    if (r.has_message() || i >= kAuthAttemptsMax || r.status().code != old.code ||
        r.status().message != old.message)
      co_return r;
  }
}

}  // namespace cairn::server::api
