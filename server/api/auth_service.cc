// etcd's Auth service (etcdserverpb.Auth) and its JSON gateway routes (/v3/auth/...), over the node's
// auth (server/auth/auth.h). Management requests go through raft as auth entries and are decided at
// apply time; reads (UserGet, UserList, RoleGet, RoleList, AuthStatus) run on the node thread. Password
// hashing and checking run on the auth HashPool, never on a network or the node thread.
#include <google/protobuf/message.h>

#include "server/api/caller.h"
#include "server/api/gateway.h"
#include "server/api/services.h"
#include "server/auth/errors.h"
#include "server/net/completion.h"

namespace cairn::server::api {

namespace {

using boost::asio::awaitable;
using net::Reply;
using node::EntryKind;
using node::EtcdError;
using node::Node;
namespace pb = etcdserverpb;

Reply error_reply(const EtcdError& e) {
  return net::Status{e.code, e.message};
}

void fill(Node& n, pb::ResponseHeader* h) {
  auto hi = n.header();
  h->set_cluster_id(hi.cluster_id);
  h->set_member_id(hi.member_id);
  h->set_raft_term(hi.raft_term);
  h->set_revision(n.store().revision());
}

template <class Msg>
bool parse(Msg& m, const std::string& bytes) {
  return m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

Reply unmarshal_error() {
  return net::Status{net::StatusCode::kInvalidArgument, "grpc: failed to unmarshal the received message"};
}

// Runs fn(node) -> T on the node thread; nullopt when the node is stopped or its inbox full.
template <class T, class Fn>
awaitable<std::optional<T>> node_value(Node* n, Fn fn) {
  auto pc = net::make_completion<T>();
  auto promise = std::make_shared<net::CompletionPromise<T>>(std::move(pc.first));
  if (!n->run([n, promise, fn = std::move(fn)]() mutable { promise->set(fn(*n)); })) promise.reset();
  auto w = pc.second.wait();
  co_return co_await std::move(w);
}

// check(node, who) -> optional<EtcdError>, then fn(node) -> Reply, on the node thread, as the caller.
template <class Check, class Fn>
awaitable<Reply> read_as(Node* n, const Caller& c, Check check, Fn fn) {
  return as_caller(n, c, [n, check, fn](node::EntryAuth who) -> awaitable<Reply> {
    auto aw = node_value<Reply>(n, [check, fn, who](Node& nd) -> Reply {
      if (auto e = check(nd, who)) return error_reply(*e);
      return fn(nd);
    });
    std::optional<Reply> r = co_await std::move(aw);
    if (!r) co_return error_reply(node::err_too_many_requests());
    co_return std::move(*r);
  });
}

// Proposes an auth entry as `who`; done(node) -> Reply renders the answer once it applied here.
template <class Done>
awaitable<Reply> propose_once(Node* n, EntryKind kind, std::string body, std::optional<node::EntryAuth> who,
                              Done done) {
  auto pc = net::make_completion<Reply>();
  auto promise = std::make_shared<net::CompletionPromise<Reply>>(std::move(pc.first));
  auto cb = [n, promise, done](node::Result<storage::ApplyResponse> r) mutable {
    if (!r) {
      promise->set(error_reply(r.error()));
      return;
    }
    promise->set(done(*n));
  };
  if (who) {
    n->propose(kind, std::move(body), std::move(*who), std::move(cb));
  } else {
    n->propose(kind, std::move(body), std::move(cb));
  }
  auto w = pc.second.wait();
  std::optional<Reply> r = co_await std::move(w);
  if (!r) co_return error_reply(node::err_stopped());
  co_return std::move(*r);
}

// A management request: proposed with the caller's identity, answered with Resp's header.
template <class Resp>
awaitable<Reply> manage(Node* n, const Caller& c, EntryKind kind, std::string body) {
  return as_caller(n, c, [n, kind, body = std::move(body)](node::EntryAuth who) {
    return propose_once(n, kind, body, std::move(who), [](Node& nd) -> Reply {
      Resp out;
      fill(nd, out.mutable_header());
      return out.SerializeAsString();
    });
  });
}

awaitable<std::optional<Expected<std::string, std::string>>> hash_password(Node* n, std::string password) {
  auto pc = net::make_completion<Expected<std::string, std::string>>();
  auto promise =
      std::make_shared<net::CompletionPromise<Expected<std::string, std::string>>>(std::move(pc.first));
  if (!n->auth().hash_async(std::move(password),
                            [promise](Expected<std::string, std::string> h) { promise->set(std::move(h)); }))
    promise.reset();
  auto w = pc.second.wait();
  co_return co_await std::move(w);
}

// UserAdd and UserChangePassword: the password is hashed here, the hash goes into the entry.
template <class Req, class Resp>
awaitable<Reply> with_hash(Node* n, const Caller& c, EntryKind kind, Req req, bool hash) {
  if (req.password().find('\0') != std::string::npos) co_return error_reply(auth::err_password_has_nul());
  if (hash) {
    auto hw = hash_password(n, req.password());
    auto h = co_await std::move(hw);
    if (!h) co_return error_reply(node::err_too_many_requests());
    if (!*h) co_return net::Status{net::StatusCode::kInternal, "etcdserver: " + h->error()};
    req.set_password(**h);
  } else {
    req.clear_password();
  }
  auto aw = manage<Resp>(n, c, kind, req.SerializeAsString());
  co_return co_await std::move(aw);
}

awaitable<Reply> user_add(Node* n, std::string bytes, Caller c) {
  pb::AuthUserAddRequest req;
  if (!parse(req, bytes)) co_return unmarshal_error();
  if (req.name().empty()) co_return error_reply(auth::err_user_empty());
  bool hash = !req.options().no_password();
  auto aw = with_hash<pb::AuthUserAddRequest, pb::AuthUserAddResponse>(n, c, EntryKind::kAuthUserAdd,
                                                                       std::move(req), hash);
  co_return co_await std::move(aw);
}

awaitable<Reply> user_change_password(Node* n, std::string bytes, Caller c) {
  pb::AuthUserChangePasswordRequest req;
  if (!parse(req, bytes)) co_return unmarshal_error();
  auto aw = with_hash<pb::AuthUserChangePasswordRequest, pb::AuthUserChangePasswordResponse>(
      n, c, EntryKind::kAuthUserChangePassword, std::move(req), true);
  co_return co_await std::move(aw);
}

// What Authenticate needs from the state: whether auth is on, the user's hash, the auth revision.
struct PasswordCheck {
  bool enabled = false;
  bool known = false;
  std::string hash;
  uint64_t revision = 0;
};

awaitable<bool> verify_password(Node* n, std::string password, std::string hash) {
  auto pc = net::make_completion<bool>();
  auto promise = std::make_shared<net::CompletionPromise<bool>>(std::move(pc.first));
  if (!n->auth().verify_async(std::move(password), std::move(hash), [promise](bool ok) { promise->set(ok); }))
    promise.reset();
  auto w = pc.second.wait();
  std::optional<bool> ok = co_await std::move(w);
  co_return ok.value_or(false);
}

// Checks the password off the node thread, then proposes the token (simple) or the authentication
// (jwt) so that it applies in raft order: a password changed in between makes the entry fail with
// "revision of auth store is old", and the check runs again.
awaitable<Reply> authenticate(Node* n, std::string bytes, Caller) {
  pb::AuthenticateRequest req;
  if (!parse(req, bytes)) co_return unmarshal_error();
  const std::string name = req.name();
  for (int attempt = 1;; ++attempt) {
    auto sw = node_value<PasswordCheck>(n, [name](Node& nd) {
      PasswordCheck pc;
      const auto& st = nd.auth().store();
      pc.enabled = st.enabled();
      pc.revision = st.revision();
      const auth::User* u = st.user(name);
      pc.known = u && !u->no_password;
      pc.hash = pc.known ? u->password_hash : nd.auth().dummy_hash();
      return pc;
    });
    std::optional<PasswordCheck> check = co_await std::move(sw);
    if (!check) co_return error_reply(node::err_too_many_requests());
    if (!check->enabled) co_return error_reply(auth::err_auth_not_enabled());
    auto vw = verify_password(n, req.password(), check->hash);
    bool ok = co_await std::move(vw);
    if (!ok || !check->known) co_return error_reply(auth::err_auth_failed());
    auth::AuthenticateRecord rec{name, check->revision,
                                 n->auth().jwt() ? std::string() : auth::random_simple_token()};
    auto revision = std::make_shared<uint64_t>(0);
    auto pw = propose_once(n, EntryKind::kAuthenticate, auth::encode_authenticate(rec), std::nullopt,
                           [rec, revision](Node& nd) -> Reply {
                             pb::AuthenticateResponse out;
                             fill(nd, out.mutable_header());
                             out.set_token(rec.simple_token);
                             *revision = nd.auth().store().revision();
                             return out.SerializeAsString();
                           });
    Reply r = co_await std::move(pw);
    const EtcdError old = auth::err_auth_old_revision();
    if (!r.has_message() && r.status().message == old.message && attempt < kAuthAttemptsMax) continue;
    if (!r.has_message() || !n->auth().jwt()) co_return r;
    pb::AuthenticateResponse out;
    if (!out.ParseFromString(r.message())) co_return r;
    auto token = n->auth().sign_jwt(name, *revision);
    if (!token) co_return error_reply(token.error());
    out.set_token(*token);
    co_return out.SerializeAsString();
  }
}

awaitable<Reply> auth_status(Node* n, std::string, Caller) {
  auto aw = node_value<Reply>(n, [](Node& nd) -> Reply {
    pb::AuthStatusResponse out;
    fill(nd, out.mutable_header());
    out.set_enabled(nd.auth().store().enabled());
    out.set_authrevision(nd.auth().store().revision());
    return out.SerializeAsString();
  });
  std::optional<Reply> r = co_await std::move(aw);
  if (!r) co_return error_reply(node::err_too_many_requests());
  co_return std::move(*r);
}

auto admin_check() {
  return [](Node& nd, const node::EntryAuth& who) { return nd.auth().check_admin(who); };
}

awaitable<Reply> user_get(Node* n, std::string bytes, Caller c) {
  pb::AuthUserGetRequest req;
  if (!parse(req, bytes)) co_return unmarshal_error();
  std::string name = req.name();
  auto aw = read_as(
      n, c, [name](Node& nd, const node::EntryAuth& who) { return nd.auth().check_user_get(who, name); },
      [name](Node& nd) -> Reply {
        const auth::User* u = nd.auth().store().user(name);
        if (!u) return error_reply(auth::err_user_not_found());
        pb::AuthUserGetResponse out;
        fill(nd, out.mutable_header());
        for (const auto& r : u->roles)
          out.add_roles(r);
        return out.SerializeAsString();
      });
  co_return co_await std::move(aw);
}

awaitable<Reply> user_list(Node* n, std::string, Caller c) {
  auto aw = read_as(n, c, admin_check(), [](Node& nd) -> Reply {
    pb::AuthUserListResponse out;
    fill(nd, out.mutable_header());
    for (const auto& [name, u] : nd.auth().store().users())
      out.add_users(name);
    return out.SerializeAsString();
  });
  co_return co_await std::move(aw);
}

awaitable<Reply> role_get(Node* n, std::string bytes, Caller c) {
  pb::AuthRoleGetRequest req;
  if (!parse(req, bytes)) co_return unmarshal_error();
  std::string name = req.role();
  auto aw = read_as(
      n, c, [name](Node& nd, const node::EntryAuth& who) { return nd.auth().check_role_get(who, name); },
      [name](Node& nd) -> Reply {
        const authpb::Role* r = nd.auth().store().role(name);
        if (!r) return error_reply(auth::err_role_not_found());
        pb::AuthRoleGetResponse out;
        fill(nd, out.mutable_header());
        for (const auto& p : r->keypermission())
          *out.add_perm() = p;
        return out.SerializeAsString();
      });
  co_return co_await std::move(aw);
}

awaitable<Reply> role_list(Node* n, std::string, Caller c) {
  auto aw = read_as(n, c, admin_check(), [](Node& nd) -> Reply {
    pb::AuthRoleListResponse out;
    fill(nd, out.mutable_header());
    for (const auto& [name, r] : nd.auth().store().roles())
      out.add_roles(name);
    return out.SerializeAsString();
  });
  co_return co_await std::move(aw);
}

// The management calls whose body goes into the entry as it came.
template <class Req, class Resp, EntryKind kKind>
awaitable<Reply> plain(Node* n, std::string bytes, Caller c) {
  Req req;
  if (!parse(req, bytes)) co_return unmarshal_error();
  if constexpr (kKind == EntryKind::kAuthRoleAdd) {
    if (req.name().empty()) co_return error_reply(auth::err_role_empty());
  }
  auto aw = manage<Resp>(n, c, kKind, req.SerializeAsString());
  co_return co_await std::move(aw);
}

using Handler = awaitable<Reply> (*)(Node*, std::string, Caller);

struct Route {
  const char* grpc;
  const char* http;
  Handler handler;
  const google::protobuf::Message* request;
  const google::protobuf::Message* response;
};

template <class Req, class Resp>
Route route(const char* grpc, const char* http, Handler h) {
  return Route{grpc, http, h, &Req::default_instance(), &Resp::default_instance()};
}

std::vector<Route> routes() {
  using namespace etcdserverpb;
  return {
      route<AuthEnableRequest, AuthEnableResponse>(
          "AuthEnable", "enable", plain<AuthEnableRequest, AuthEnableResponse, EntryKind::kAuthEnable>),
      route<AuthDisableRequest, AuthDisableResponse>(
          "AuthDisable", "disable", plain<AuthDisableRequest, AuthDisableResponse, EntryKind::kAuthDisable>),
      route<AuthStatusRequest, AuthStatusResponse>("AuthStatus", "status", auth_status),
      route<AuthenticateRequest, AuthenticateResponse>("Authenticate", "authenticate", authenticate),
      route<AuthUserAddRequest, AuthUserAddResponse>("UserAdd", "user/add", user_add),
      route<AuthUserGetRequest, AuthUserGetResponse>("UserGet", "user/get", user_get),
      route<AuthUserListRequest, AuthUserListResponse>("UserList", "user/list", user_list),
      route<AuthUserDeleteRequest, AuthUserDeleteResponse>(
          "UserDelete", "user/delete",
          plain<AuthUserDeleteRequest, AuthUserDeleteResponse, EntryKind::kAuthUserDelete>),
      route<AuthUserChangePasswordRequest, AuthUserChangePasswordResponse>(
          "UserChangePassword", "user/changepw", user_change_password),
      route<AuthUserGrantRoleRequest, AuthUserGrantRoleResponse>(
          "UserGrantRole", "user/grant",
          plain<AuthUserGrantRoleRequest, AuthUserGrantRoleResponse, EntryKind::kAuthUserGrantRole>),
      route<AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse>(
          "UserRevokeRole", "user/revoke",
          plain<AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse, EntryKind::kAuthUserRevokeRole>),
      route<AuthRoleAddRequest, AuthRoleAddResponse>(
          "RoleAdd", "role/add", plain<AuthRoleAddRequest, AuthRoleAddResponse, EntryKind::kAuthRoleAdd>),
      route<AuthRoleGetRequest, AuthRoleGetResponse>("RoleGet", "role/get", role_get),
      route<AuthRoleListRequest, AuthRoleListResponse>("RoleList", "role/list", role_list),
      route<AuthRoleDeleteRequest, AuthRoleDeleteResponse>(
          "RoleDelete", "role/delete",
          plain<AuthRoleDeleteRequest, AuthRoleDeleteResponse, EntryKind::kAuthRoleDelete>),
      route<AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse>(
          "RoleGrantPermission", "role/grant",
          plain<AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse,
                EntryKind::kAuthRoleGrantPermission>),
      route<AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse>(
          "RoleRevokePermission", "role/revoke",
          plain<AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse,
                EntryKind::kAuthRoleRevokePermission>),
  };
}

awaitable<net::HttpResponse> gateway_auth(Node* n, Route r, net::HttpRequest http) {
  std::unique_ptr<google::protobuf::Message> req(r.request->New());
  if (auto bad = gateway_parse(http.body, *req)) co_return gateway_error(*bad);
  auto aw = r.handler(n, req->SerializeAsString(), caller_of(http));
  Reply reply = co_await std::move(aw);
  if (!reply.has_message()) co_return gateway_error(reply.status());
  std::unique_ptr<google::protobuf::Message> resp(r.response->New());
  if (!resp->ParseFromString(reply.message()))
    co_return gateway_error(net::StatusCode::kInternal, "bad response");
  co_return gateway_json(*resp);
}

}  // namespace

void register_auth(net::Server& s, Node& n) {
  Node* np = &n;
  for (const Route& r : routes()) {
    Handler h = r.handler;
    s.add_unary(std::string("/etcdserverpb.Auth/") + r.grpc,
                [np, h](net::ServerContext& ctx, std::string_view req) {
                  return h(np, std::string(req), caller_of(ctx));
                });
    s.add_http("POST", std::string("/v3/auth/") + r.http,
               [np, r](const net::HttpRequest& req) { return gateway_auth(np, r, req); });
  }
}

}  // namespace cairn::server::api
