// etcd 3.6's /livez and /readyz (the contract is in probes.h).
#include "server/api/probes.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "server/net/completion.h"

namespace cairn::server::api {

using boost::asio::awaitable;
using net::HttpRequest;
using net::HttpResponse;
using node::Node;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// A check's result travels back from the node thread as text: empty when it passed, else the reason.
using Promise = std::shared_ptr<net::CompletionPromise<std::string>>;
using CheckFn = void (*)(Node& n, Promise p);

struct Check {
  const char* name;
  CheckFn run;
};

// Runs `task` on the node thread; an inbox too full to take it fails the check as etcd's overload does.
template <class F>
void on_node(Node& n, const Promise& p, F task) {
  if (!n.run([&n, p, task] { p->set(task(n)); })) p->set("etcdserver: too many requests");
}

// etcd reads one key (keys only, limit 1) through the read path; a single-key lookup is the same read
// path without a scan. etcd counts it in etcd_mvcc_range_total, so cairn does too.
std::string local_read(Node& n) {
  storage::RangeRequest r;
  r.key = "health";
  r.keys_only = true;
  r.limit = 1;
  n.count_range();
  auto res = n.store().range(r);
  return res ? std::string() : res.error().message();
}

void check_data_corruption(Node& n, Promise p) {
  on_node(n, p, [](Node& n) -> std::string {
    return n.store().alarmed(storage::AlarmType::kCorrupt) ? "alarm activated: CORRUPT" : "";
  });
}

void check_serializable_read(Node& n, Promise p) {
  on_node(n, p, local_read);
}

// ReadIndex through raft (no leader: at once "etcdserver: no leader"; no quorum: "etcdserver: request
// timed out" after the node's request timeout), then the local read.
void check_linearizable_read(Node& n, Promise p) {
  Node* np = &n;
  n.linearize([np, p](std::optional<node::EtcdError> e) { p->set(e ? e->message : local_read(*np)); });
}

void check_non_learner(Node& n, Promise p) {
  on_node(n, p, [](Node& n) -> std::string { return n.is_learner() ? "not supported for learner" : ""; });
}

constexpr Check kLivez[] = {{"serializable_read", check_serializable_read}};
constexpr Check kReadyz[] = {{"data_corruption", check_data_corruption},
                             {"serializable_read", check_serializable_read},
                             {"linearizable_read", check_linearizable_read},
                             {"non_learner", check_non_learner}};

struct Registry {
  const char* root;  // "/livez"
  const Check* begin;
  const Check* end;
};

// One check, bounded by the node's request timeout plus a margin (so the node's own timeout, with its
// etcd message, normally wins; the timer only fires when the node thread does not answer at all).
awaitable<CheckOutcome> run_check(Node* n, const Check& c) {
  auto pc = net::make_completion<std::string>();
  auto p = std::make_shared<net::CompletionPromise<std::string>>(std::move(pc.first));
  c.run(*n, std::move(p));
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  timer.expires_after(n->request_timeout() + std::chrono::seconds(1));
  auto raced = co_await (pc.second.wait() || timer.async_wait(boost::asio::use_awaitable));
  CheckOutcome out{c.name, std::nullopt};
  if (raced.index() == 1) {
    out.error = "etcdserver: request timed out";
  } else if (auto& reason = std::get<0>(raced); !reason) {
    out.error = "etcdserver: server stopped";
  } else if (!reason->empty()) {
    out.error = std::move(*reason);
  }
  co_return out;
}

awaitable<HttpResponse> run_root(Node* n, Registry reg, const HttpRequest& req) {
  ProbeQuery q = parse_probe_query(req.target);
  std::vector<CheckOutcome> outcomes;
  for (const Check* c = reg.begin; c != reg.end; ++c)
    if (!q.exclude.contains(c->name)) outcomes.push_back(co_await run_check(n, *c));
  co_return probe_response(outcomes, q.verbose);
}

awaitable<HttpResponse> run_one(Node* n, const Check* c, const HttpRequest& req) {
  std::vector<CheckOutcome> outcomes;
  outcomes.push_back(co_await run_check(n, *c));
  co_return probe_response(outcomes, parse_probe_query(req.target).verbose);
}

HttpResponse method_not_allowed() {
  HttpResponse r;
  r.status = 405;
  r.content_type = "text/plain; charset=utf-8";
  r.headers = {{"allow", "GET"}, {"x-content-type-options", "nosniff"}};
  r.body = "Method Not Allowed\n";
  return r;
}

void register_path(net::Server& s, const std::string& path, net::HttpHandler get) {
  s.add_http("GET", path, std::move(get));
  for (const char* m : {"POST", "PUT", "DELETE", "PATCH"})
    s.add_http(m, path,
               [](const HttpRequest&) -> awaitable<HttpResponse> { co_return method_not_allowed(); });
}

void register_registry(net::Server& s, Node* n, Registry reg) {
  register_path(s, reg.root, [n, reg](const HttpRequest& r) { return run_root(n, reg, r); });
  for (const Check* c = reg.begin; c != reg.end; ++c)
    register_path(s, std::string(reg.root) + "/" + c->name,
                  [n, c](const HttpRequest& r) { return run_one(n, c, r); });
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space, %XX a byte; a bad escape is kept as is).
std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && (hi = hex_digit(s[i + 1])) >= 0 &&
               (lo = hex_digit(s[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

ProbeQuery parse_probe_query(std::string_view target) {
  ProbeQuery q;
  size_t start = target.find('?');
  if (start == std::string_view::npos) return q;
  std::string_view rest = target.substr(start + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    if (key == "verbose") q.verbose = true;
    if (key == "exclude" && !value.empty()) q.exclude.insert(std::move(value));
  }
  return q;
}

HttpResponse probe_response(const std::vector<CheckOutcome>& outcomes, bool verbose) {
  std::string lines;
  bool failed = false;
  for (const auto& o : outcomes) {
    if (o.error) {
      failed = true;
      lines += "[-]" + o.name + " failed: " + *o.error + "\n";
    } else {
      lines += "[+]" + o.name + " ok\n";
    }
  }
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.headers = {{"x-content-type-options", "nosniff"}};
  if (failed) {
    r.status = 503;
    r.body = lines + "\n";
  } else {
    r.body = (verbose ? lines : std::string()) + "ok\n";
  }
  return r;
}

void register_probes(net::Server& s, Node& n) {
  register_registry(s, &n, Registry{"/livez", std::begin(kLivez), std::end(kLivez)});
  register_registry(s, &n, Registry{"/readyz", std::begin(kReadyz), std::end(kReadyz)});
}

}  // namespace cairn::server::api
