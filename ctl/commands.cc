// The commands. Each builds its request(s), calls the server through Connection and prints with format.h.
#include "ctl/commands.h"

#include <openssl/sha.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "ctl/auth.h"
#include "ctl/bench.h"
#include "ctl/bench_report.h"
#include "ctl/progress.h"
#include "ctl/snapshot.h"
#include "proto/etcd/rpc.pb.h"

namespace cairn::ctl {

namespace pb = etcdserverpb;
using std::chrono::milliseconds;

namespace {

constexpr std::size_t kStdinValueBytesMax = 64 * 1024 * 1024;

// ---------------------------------------------------------------- signals
// SIGINT/SIGTERM are blocked in every thread and taken by one thread with sigwait(), which runs the
// current command's cleanup (resign, unlock) and then dies of the signal as etcdctl would.
std::mutex g_cleanup_mu;
std::function<void()> g_cleanup;

void set_cleanup(std::function<void()> f) {
  std::lock_guard lk(g_cleanup_mu);
  g_cleanup = std::move(f);
}

void start_signal_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    std::function<void()> f;
    {
      std::lock_guard lk(g_cleanup_mu);
      f = g_cleanup;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    if (f) {
      // lock/elect: unlock or resign, then exit as etcdctl does after an interrupt (status 0).
      f();
      std::_Exit(0);
    }
    std::_Exit(128 + sig);
  }).detach();
}

// ---------------------------------------------------------------- output helpers
void write_out(const std::string& s) {
  if (!s.empty()) std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}
void write_err(const std::string& s) {
  if (!s.empty()) std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}
int fail(int code, const std::string& msg) {
  write_err("Error: " + msg + "\n");
  return code;
}
int emit(const Printed& p) {
  write_out(p.out);
  write_err(p.err);
  if (!p.error.empty()) return fail(p.exit_code, p.error);
  return p.exit_code;
}

const char* go_code_name(StatusCode c) {
  switch (c) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "Canceled";
    case StatusCode::kUnknown:
      return "Unknown";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kDeadlineExceeded:
      return "DeadlineExceeded";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kPermissionDenied:
      return "PermissionDenied";
    case StatusCode::kResourceExhausted:
      return "ResourceExhausted";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kAborted:
      return "Aborted";
    case StatusCode::kOutOfRange:
      return "OutOfRange";
    case StatusCode::kUnimplemented:
      return "Unimplemented";
    case StatusCode::kInternal:
      return "Internal";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kDataLoss:
      return "DataLoss";
    case StatusCode::kUnauthenticated:
      return "Unauthenticated";
  }
  return "Unknown";
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> v;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) v.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) v.push_back(cur);
  return v;
}

// ---------------------------------------------------------------- context
struct Ctx {
  const Invocation& inv;
  PrintOptions print;
  ConnectionOptions copts;
  std::unique_ptr<Connection> conn_;

  Connection& conn() {
    if (!conn_) conn_ = std::make_unique<Connection>(copts);
    return *conn_;
  }
  std::unique_ptr<Connection> conn_for(const std::string& endpoint) {
    ConnectionOptions o = copts;
    o.endpoints = {endpoint};
    return std::make_unique<Connection>(o);
  }

  // Calls and parses; on failure prints the error and returns the exit code in `code`.
  template <typename Resp>
  bool call(Connection& c, const char* method, const google::protobuf::Message& req, bool idempotent,
            Resp& resp, int& code, const std::string& error_prefix = "",
            const std::string& error_suffix = "") {
    auto r = c.unary(method, req.SerializeAsString(), idempotent);
    if (!r.status.is_ok()) {
      code = fail(kExitError, error_prefix + error_text(r.status) + error_suffix);
      return false;
    }
    if (!resp.ParseFromString(r.response)) {
      code = fail(kExitError, std::string("malformed response from ") + method);
      return false;
    }
    return true;
  }
  template <typename Resp>
  bool call(const char* method, const google::protobuf::Message& req, bool idempotent, Resp& resp,
            int& code) {
    return call(conn(), method, req, idempotent, resp, code);
  }
};

// Every endpoint, or with --cluster every client URL from the member list.
bool endpoints_for(Ctx& ctx, std::vector<std::string>& eps, int& code) {
  if (!ctx.inv.cluster) {
    eps = ctx.copts.endpoints;
    return true;
  }
  pb::MemberListResponse resp;
  if (!ctx.call("/etcdserverpb.Cluster/MemberList", pb::MemberListRequest{}, true, resp, code)) return false;
  for (const auto& m : resp.members()) {
    for (const auto& u : m.clienturls()) {
      if (std::find(eps.begin(), eps.end(), u) == eps.end()) eps.push_back(u);
    }
  }
  return true;
}

// ---------------------------------------------------------------- KV
// KV.RangeStream: the chunks merged in order make the Range's response (server/api/range_stream.h).
bool range_stream(Ctx& ctx, const pb::RangeRequest& req, pb::RangeResponse& resp, int& code) {
  auto s = ctx.conn().stream("/etcdserverpb.KV/RangeStream", false);
  if (!s->write(req.SerializeAsString())) {
    code = fail(kExitError, error_text(s->finish()));
    return false;
  }
  s->writes_done();
  while (auto m = s->read()) {
    pb::RangeStreamResponse chunk;
    if (!chunk.ParseFromString(*m)) {
      code = fail(kExitError, "malformed response from /etcdserverpb.KV/RangeStream");
      return false;
    }
    resp.MergeFrom(chunk.range_response());
  }
  auto st = s->finish();
  if (!st.is_ok()) {
    code = fail(kExitError, error_text(st));
    return false;
  }
  return true;
}

int cmd_get(Ctx& ctx) {
  const auto& a = ctx.inv.args;
  if (a.empty() || a.size() > 2) {
    return fail(kExitBadArgs, "get command needs one argument as key and an optional argument as range_end");
  }
  if (ctx.inv.get.print_value_only && ctx.print.format != OutputFormat::kSimple) {
    return fail(kExitBadArgs, "--print-value-only is only for `--write-out=simple`");
  }
  pb::RangeRequest req;
  std::string e = build_range(a[0], a.size() > 1 ? std::optional(a[1]) : std::nullopt, ctx.inv.get, req);
  if (!e.empty()) return fail(kExitBadArgs, e);
  pb::RangeResponse resp;
  int code = 0;
  if (ctx.inv.get.stream) {
    if (!range_stream(ctx, req, resp, code)) return code;
  } else if (!ctx.call("/etcdserverpb.KV/Range", req, true, resp, code)) {
    return code;
  }
  if (ctx.inv.get.count_only && ctx.print.format == OutputFormat::kSimple) {
    write_out(std::to_string(resp.count()) + "\n");
    return 0;
  }
  return emit(print_get(resp, ctx.print, ctx.inv.get.keys_only, ctx.inv.get.print_value_only));
}

int cmd_put(Ctx& ctx) {
  const auto& a = ctx.inv.args;
  std::string value;
  if (a.empty() || a.size() > 2)
    return fail(kExitBadArgs, "put command needs 1 argument and input from stdin or 2 arguments");
  if (a.size() == 2) {
    value = a[1];
  } else if (!ctx.inv.put.ignore_value) {
    // etcdctl reads the value from stdin when it is not given.
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
      if (value.size() + n > kStdinValueBytesMax) return fail(kExitBadArgs, "value from stdin is too large");
      value.append(buf, n);
    }
  }
  if (ctx.inv.put.ignore_value && a.size() == 2) {
    return fail(kExitBadArgs, "put command needs 1 argument and input from stdin or 2 arguments");
  }
  pb::PutRequest req;
  std::string e = build_put(a[0], value, ctx.inv.put, req);
  if (!e.empty()) return fail(kExitBadArgs, e);
  pb::PutResponse resp;
  int code = 0;
  if (!ctx.call("/etcdserverpb.KV/Put", req, false, resp, code)) return code;
  return emit(print_put(resp, ctx.print));
}

int cmd_del(Ctx& ctx) {
  const auto& a = ctx.inv.args;
  if (a.empty() || a.size() > 2) {
    return fail(kExitBadArgs, "del command needs one argument as key and an optional argument as range_end");
  }
  pb::DeleteRangeRequest req;
  std::string e = build_delete(a[0], a.size() > 1 ? std::optional(a[1]) : std::nullopt, ctx.inv.del, req);
  if (!e.empty()) return fail(kExitBadArgs, e);
  pb::DeleteRangeResponse resp;
  int code = 0;
  if (!ctx.call("/etcdserverpb.KV/DeleteRange", req, false, resp, code)) return code;
  return emit(print_del(resp, ctx.print));
}

int cmd_txn(Ctx& ctx) {
  if (!ctx.inv.args.empty()) return fail(kExitBadArgs, "txn command does not accept argument");
  bool interactive = ctx.inv.interactive;
  pb::TxnRequest req;
  // Reads lines until an empty one; false at end of input.
  auto section = [&](const char* prompt, auto&& each) -> std::string {
    if (interactive) write_out(std::string(prompt) + "\n");
    std::string line;
    for (;;) {
      if (!std::getline(std::cin, line)) return "EOF";
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) return {};
      std::string e = each(line);
      if (!e.empty()) return e;
    }
  };
  std::string e =
      section("compares:", [&](const std::string& l) { return parse_compare(l, *req.add_compare()); });
  if (e.empty()) {
    e = section("success requests (get, put, del):",
                [&](const std::string& l) { return parse_request_op(l, *req.add_success()); });
  }
  if (e.empty()) {
    e = section("failure requests (get, put, del):",
                [&](const std::string& l) { return parse_request_op(l, *req.add_failure()); });
  }
  if (!e.empty()) return fail(kExitInvalidInput, e);
  pb::TxnResponse resp;
  int code = 0;
  if (!ctx.call("/etcdserverpb.KV/Txn", req, false, resp, code)) return code;
  return emit(print_txn(resp, ctx.print));
}

int cmd_compaction(Ctx& ctx) {
  if (ctx.inv.args.size() != 1) return fail(kExitBadArgs, "compaction command needs 1 argument");
  auto rev = parse_i64(ctx.inv.args[0]);
  if (!rev)
    return fail(kExitBadArgs, "strconv.ParseInt: parsing \"" + ctx.inv.args[0] + "\": invalid syntax");
  pb::CompactionRequest req;
  req.set_revision(*rev);
  req.set_physical(ctx.inv.physical);
  pb::CompactionResponse resp;
  int code = 0;
  if (!ctx.call("/etcdserverpb.KV/Compact", req, false, resp, code)) return code;
  return emit(print_compaction(resp, *rev, ctx.print));
}

// ---------------------------------------------------------------- watch
std::string cancel_text(const pb::WatchResponse& r) {
  if (r.compact_revision() != 0) return "etcdserver: mvcc: required revision has been compacted";
  if (!r.cancel_reason().empty()) return r.cancel_reason();
  return "etcdserver: watch canceled";
}

void run_watch_exec(const std::vector<std::string>& cmd, const pb::WatchResponse& r) {
  for (const auto& ev : r.events()) {
    pid_t pid = fork();
    if (pid == 0) {
      sigset_t set;
      sigemptyset(&set);
      pthread_sigmask(SIG_SETMASK, &set, nullptr);
      setenv("ETCD_WATCH_REVISION", std::to_string(r.header().revision()).c_str(), 1);
      setenv("ETCD_WATCH_EVENT_TYPE", ev.type() == mvccpb::Event::DELETE ? "DELETE" : "PUT", 1);
      setenv("ETCD_WATCH_KEY", ev.kv().key().c_str(), 1);
      setenv("ETCD_WATCH_VALUE", ev.kv().value().c_str(), 1);
      std::vector<char*> argv;
      for (const auto& s : cmd)
        argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      std::_Exit(127);
    }
    if (pid > 0) {
      int st = 0;
      waitpid(pid, &st, 0);
    }
  }
}

bool build_watch_create(const std::vector<std::string>& a, bool prefix, std::int64_t rev, bool prev_kv,
                        pb::WatchRequest& req, std::string& err) {
  if (a.empty() || a.size() > 2 || (prefix && a.size() == 2)) {
    err = "bad number of arguments";
    return false;
  }
  auto* c = req.mutable_create_request();
  std::string key = a[0];
  if (prefix) {
    if (key.empty()) key = std::string(1, '\0');
    c->set_range_end(prefix_range_end(a[0]));
  } else if (a.size() == 2) {
    c->set_range_end(a[1]);
  }
  c->set_key(key);
  c->set_start_revision(rev);
  c->set_prev_kv(prev_kv);
  return true;
}

// Prints watch responses until the stream ends; returns the exit code.
int watch_loop(Ctx& ctx, Stream& s, const std::vector<std::string>& exec, bool interactive) {
  while (auto m = s.read()) {
    pb::WatchResponse r;
    if (!r.ParseFromString(*m)) return fail(kExitError, "malformed watch response");
    if (r.canceled()) {
      write_out("watch was canceled (" + cancel_text(r) + ")\n");
      if (ctx.print.format == OutputFormat::kJson || ctx.print.format == OutputFormat::kFields) {
        emit(print_watch(r, ctx.print));
      }
      return fail(kExitInterrupted, "watch is canceled by the server");
    }
    if (r.created() && r.events_size() == 0) continue;
    if (r.events_size() == 0 && r.compact_revision() == 0) {
      if (interactive) write_out("progress notify: " + std::to_string(r.header().revision()) + "\n");
      continue;
    }
    int rc = emit(print_watch(r, ctx.print));
    if (rc != 0) return rc;
    if (!exec.empty()) run_watch_exec(exec, r);
  }
  auto st = s.finish();
  return fail(kExitInterrupted, st.is_ok() ? "watch is canceled by the server" : error_text(st));
}

int cmd_watch(Ctx& ctx) {
  const auto& inv = ctx.inv;
  if (!inv.interactive) {
    pb::WatchRequest req;
    std::string err;
    if (!build_watch_create(inv.args, inv.watch_prefix, inv.watch_rev, inv.watch_prev_kv, req, err)) {
      return fail(kExitBadArgs, err);
    }
    auto s = ctx.conn().stream("/etcdserverpb.Watch/Watch", true);
    if (!s->write(req.SerializeAsString())) {
      return fail(kExitError, error_text(s->finish()));
    }
    return watch_loop(ctx, *s, inv.exec_args, false);
  }
  // Interactive: stdin lines "watch [options] key [range_end]" and "progress" on one stream, read on a
  // second thread.
  auto s = ctx.conn().stream("/etcdserverpb.Watch/Watch", true);
  std::atomic<int> reader_rc{-1};
  std::thread reader([&] { reader_rc = watch_loop(ctx, *s, inv.exec_args, true); });
  std::string line;
  int rc = 0;
  while (std::getline(std::cin, line)) {
    auto w = argify(line);
    if (w.empty()) continue;
    if (w[0] == "progress") {
      pb::WatchRequest req;
      req.mutable_progress_request();
      s->write(req.SerializeAsString());
      continue;
    }
    if (w[0] != "watch") {
      write_err("Invalid command " + w[0] + " (only support watch)\n");
      continue;
    }
    bool prefix = false, prev_kv = false;
    std::int64_t rev = 0;
    std::vector<std::string> pos;
    for (std::size_t i = 1; i < w.size(); ++i) {
      if (w[i] == "--prefix")
        prefix = true;
      else if (w[i] == "--prev-kv")
        prev_kv = true;
      else if (w[i].rfind("--rev=", 0) == 0)
        rev = parse_i64(w[i].substr(6)).value_or(0);
      else if (w[i] == "--rev" && i + 1 < w.size())
        rev = parse_i64(w[++i]).value_or(0);
      else
        pos.push_back(w[i]);
    }
    pb::WatchRequest req;
    std::string err;
    if (!build_watch_create(pos, prefix, rev, prev_kv, req, err)) {
      write_err("Invalid command: " + err + "\n");
      continue;
    }
    s->write(req.SerializeAsString());
  }
  rc = fail(kExitInvalidInput, "Error reading watch request line: EOF");
  std::fflush(stdout);
  std::_Exit(rc);  // the reader thread is blocked on the stream; etcdctl exits here as well
  reader.join();
  return rc;
}

// ---------------------------------------------------------------- leases
int cmd_lease(Ctx& ctx, const std::string& sub) {
  const auto& a = ctx.inv.args;
  int code = 0;
  if (sub == "grant") {
    if (a.size() != 1) return fail(kExitBadArgs, "lease grant command needs TTL argument");
    auto ttl = parse_i64(a[0]);
    if (!ttl)
      return fail(kExitBadArgs, "bad TTL (strconv.ParseInt: parsing \"" + a[0] + "\": invalid syntax)");
    pb::LeaseGrantRequest req;
    req.set_ttl(*ttl);
    pb::LeaseGrantResponse resp;
    auto r = ctx.conn().unary("/etcdserverpb.Lease/LeaseGrant", req.SerializeAsString(), false);
    if (!r.status.is_ok()) return fail(kExitError, "failed to grant lease (" + error_text(r.status) + ")");
    if (!resp.ParseFromString(r.response)) return fail(kExitError, "malformed response");
    return emit(print_lease_grant(resp, ctx.print));
  }
  if (sub == "list") {
    pb::LeaseLeasesResponse resp;
    auto r = ctx.conn().unary("/etcdserverpb.Lease/LeaseLeases", pb::LeaseLeasesRequest{}.SerializeAsString(),
                              true);
    if (!r.status.is_ok()) return fail(kExitError, "failed to list leases (" + error_text(r.status) + ")");
    if (!resp.ParseFromString(r.response)) return fail(kExitError, "malformed response");
    return emit(print_lease_list(resp, ctx.print));
  }
  if (a.size() != 1) return fail(kExitBadArgs, "lease " + sub + " command needs 1 argument");
  auto id = parse_hex_i64(a[0]);
  if (!id) return fail(kExitBadArgs, "bad lease ID arg (" + a[0] + "), expecting ID in Hex");
  if (sub == "revoke") {
    pb::LeaseRevokeRequest req;
    req.set_id(*id);
    pb::LeaseRevokeResponse resp;
    auto r = ctx.conn().unary("/etcdserverpb.Lease/LeaseRevoke", req.SerializeAsString(), false);
    if (!r.status.is_ok()) return fail(kExitError, "failed to revoke lease (" + error_text(r.status) + ")");
    if (!resp.ParseFromString(r.response)) return fail(kExitError, "malformed response");
    return emit(print_lease_revoke(*id, resp, ctx.print));
  }
  if (sub == "timetolive") {
    pb::LeaseTimeToLiveRequest req;
    req.set_id(*id);
    req.set_keys(ctx.inv.keys);
    pb::LeaseTimeToLiveResponse resp;
    if (!ctx.call("/etcdserverpb.Lease/LeaseTimeToLive", req, true, resp, code)) return code;
    return emit(print_lease_ttl(resp, ctx.inv.keys, ctx.print));
  }
  if (sub == "keep-alive") {
    auto s = ctx.conn().stream("/etcdserverpb.Lease/LeaseKeepAlive", true);
    pb::LeaseKeepAliveRequest req;
    req.set_id(*id);
    for (;;) {
      if (!s->write(req.SerializeAsString())) return fail(kExitBadConnection, error_text(s->finish()));
      auto m = s->read(ctx.copts.command_timeout);
      if (!m) {
        if (s->timed_out()) return fail(kExitBadConnection, "context deadline exceeded");
        return fail(kExitBadConnection, error_text(s->finish()));
      }
      pb::LeaseKeepAliveResponse resp;
      if (!resp.ParseFromString(*m)) return fail(kExitError, "malformed response");
      if (resp.ttl() <= 0) {
        if (ctx.inv.once) return fail(kExitBadConnection, "etcdserver: requested lease not found");
        write_out("lease " + hex_id16(std::uint64_t(*id)) + " expired or revoked.\n");
        return 0;
      }
      int rc = emit(print_lease_keepalive(resp, ctx.print));
      if (rc != 0 || ctx.inv.once) return rc;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::max<std::int64_t>(resp.ttl() * 1000 / 3, 500)));
    }
  }
  return fail(kExitBadArgs, "unknown lease command " + sub);
}

// ---------------------------------------------------------------- members
int cmd_member(Ctx& ctx, const std::string& sub) {
  const auto& a = ctx.inv.args;
  int code = 0;
  if (sub == "list") {
    pb::MemberListResponse resp;
    if (!ctx.call("/etcdserverpb.Cluster/MemberList", pb::MemberListRequest{}, true, resp, code)) return code;
    return emit(print_member_list(resp, ctx.print));
  }
  if (sub == "add") {
    if (a.size() != 1) return fail(kExitBadArgs, "member name not provided");
    if (ctx.inv.peer_urls.empty()) return fail(kExitBadArgs, "member peer urls not provided");
    pb::MemberAddRequest req;
    for (const auto& u : split(ctx.inv.peer_urls, ','))
      req.add_peerurls(u);
    req.set_islearner(ctx.inv.learner);
    pb::MemberAddResponse resp;
    if (!ctx.call("/etcdserverpb.Cluster/MemberAdd", req, false, resp, code)) return code;
    return emit(print_member_add(resp, a[0], ctx.print));
  }
  if (a.size() != 1) return fail(kExitBadArgs, "member ID is not provided");
  auto id = parse_hex_u64(a[0]);
  if (!id)
    return fail(kExitBadArgs, "bad member ID arg (strconv.ParseUint: parsing \"" + a[0] +
                                  "\": invalid syntax), expecting ID in Hex");
  if (sub == "remove") {
    pb::MemberRemoveRequest req;
    req.set_id(*id);
    pb::MemberRemoveResponse resp;
    if (!ctx.call("/etcdserverpb.Cluster/MemberRemove", req, false, resp, code)) return code;
    return emit(print_member_remove(*id, resp, ctx.print));
  }
  if (sub == "update") {
    if (ctx.inv.peer_urls.empty()) return fail(kExitBadArgs, "member peer urls not provided");
    pb::MemberUpdateRequest req;
    req.set_id(*id);
    for (const auto& u : split(ctx.inv.peer_urls, ','))
      req.add_peerurls(u);
    pb::MemberUpdateResponse resp;
    if (!ctx.call("/etcdserverpb.Cluster/MemberUpdate", req, false, resp, code)) return code;
    return emit(print_member_update(*id, resp, ctx.print));
  }
  if (sub == "promote") {
    pb::MemberPromoteRequest req;
    req.set_id(*id);
    pb::MemberPromoteResponse resp;
    if (!ctx.call("/etcdserverpb.Cluster/MemberPromote", req, false, resp, code)) return code;
    return emit(print_member_promote(*id, resp, ctx.print));
  }
  return fail(kExitBadArgs, "unknown member command " + sub);
}

// ---------------------------------------------------------------- endpoints and maintenance
int cmd_endpoint(Ctx& ctx, const std::string& sub) {
  std::vector<std::string> eps;
  int code = 0;
  if (!endpoints_for(ctx, eps, code)) return code;
  if (sub == "health") {
    std::vector<EndpointHealth> hs(eps.size());
    std::vector<std::thread> ts;
    for (std::size_t i = 0; i < eps.size(); ++i) {
      ts.emplace_back([&, i] {
        auto c = ctx.conn_for(eps[i]);
        pb::RangeRequest req;
        req.set_key("health");
        auto t0 = std::chrono::steady_clock::now();
        auto r = c->unary("/etcdserverpb.KV/Range", req.SerializeAsString(), true);
        hs[i].endpoint = eps[i];
        hs[i].took_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
                .count();
        hs[i].health = r.status.is_ok() || r.status.message == "etcdserver: permission denied";
        if (!hs[i].health) {
          hs[i].error = error_text(r.status);
          return;
        }
        // As etcdctl 3.4: a member with an active alarm is not healthy.
        pb::AlarmRequest areq;
        areq.set_action(pb::AlarmRequest::GET);
        auto ar = c->unary("/etcdserverpb.Maintenance/Alarm", areq.SerializeAsString(), true);
        pb::AlarmResponse alarms;
        if (!ar.status.is_ok() || !alarms.ParseFromString(ar.response)) {
          hs[i].health = false;
          hs[i].error = "Unable to fetch the alarm list";
        } else if (alarms.alarms_size() > 0) {
          hs[i].health = false;
          hs[i].error = "Active Alarm(s): ";
          for (const auto& a : alarms.alarms()) {
            hs[i].error += a.alarm() == pb::AlarmType::NOSPACE   ? "NOSPACE "
                           : a.alarm() == pb::AlarmType::CORRUPT ? "CORRUPT "
                                                                 : "UNKNOWN ";
          }
        }
      });
    }
    for (auto& t : ts)
      t.join();
    int rc = emit(print_endpoint_health(hs, ctx.print));
    for (const auto& h : hs) {
      if (!h.health) return fail(kExitError, "unhealthy cluster");
    }
    return rc;
  }
  if (sub == "status") {
    std::vector<EndpointStatus> ss;
    bool failed = false;
    for (const auto& ep : eps) {
      auto c = ctx.conn_for(ep);
      EndpointStatus s;
      s.endpoint = ep;
      auto r = c->unary("/etcdserverpb.Maintenance/Status", pb::StatusRequest{}.SerializeAsString(), true);
      if (!r.status.is_ok() || !s.status.ParseFromString(r.response)) {
        write_err("Failed to get the status of endpoint " + ep + " (" + error_text(r.status) + ")\n");
        failed = true;
        continue;
      }
      ss.push_back(std::move(s));
    }
    int rc = emit(print_endpoint_status(ss, ctx.print));
    return failed ? kExitError : rc;
  }
  if (sub == "hashkv") {
    std::vector<EndpointHash> hs;
    bool failed = false;
    for (const auto& ep : eps) {
      auto c = ctx.conn_for(ep);
      EndpointHash h;
      h.endpoint = ep;
      pb::HashKVRequest req;
      req.set_revision(ctx.inv.hashkv_rev);
      auto r = c->unary("/etcdserverpb.Maintenance/HashKV", req.SerializeAsString(), true);
      if (!r.status.is_ok() || !h.hash.ParseFromString(r.response)) {
        write_err("Failed to get the hash of endpoint " + ep + " (" + error_text(r.status) + ")\n");
        failed = true;
        continue;
      }
      hs.push_back(std::move(h));
    }
    int rc = emit(print_endpoint_hashkv(hs, ctx.print));
    return failed ? kExitError : rc;
  }
  return fail(kExitBadArgs, "unknown endpoint command " + sub);
}

int cmd_defrag(Ctx& ctx) {
  std::vector<std::string> eps;
  int code = 0;
  if (!endpoints_for(ctx, eps, code)) return code;
  bool failed = false;
  for (const auto& ep : eps) {
    auto c = ctx.conn_for(ep);
    auto r =
        c->unary("/etcdserverpb.Maintenance/Defragment", pb::DefragmentRequest{}.SerializeAsString(), false);
    if (!r.status.is_ok()) {
      write_err("Failed to defragment etcd member[" + ep + "] (" + error_text(r.status) + ")\n");
      failed = true;
    } else {
      write_out("Finished defragmenting etcd member[" + ep + "]\n");
    }
  }
  return failed ? kExitError : 0;
}

int cmd_alarm(Ctx& ctx, const std::string& sub) {
  pb::AlarmRequest req;
  req.set_action(pb::AlarmRequest::GET);
  pb::AlarmResponse resp;
  int code = 0;
  if (!ctx.call("/etcdserverpb.Maintenance/Alarm", req, true, resp, code)) return code;
  if (sub == "disarm") {
    pb::AlarmResponse all;
    for (const auto& a : resp.alarms()) {
      pb::AlarmRequest d;
      d.set_action(pb::AlarmRequest::DEACTIVATE);
      d.set_memberid(a.memberid());
      d.set_alarm(a.alarm());
      pb::AlarmResponse dr;
      if (!ctx.call("/etcdserverpb.Maintenance/Alarm", d, false, dr, code)) return code;
      *all.mutable_header() = dr.header();
      for (const auto& x : dr.alarms())
        *all.add_alarms() = x;
    }
    return emit(print_alarm(all, ctx.print));
  }
  return emit(print_alarm(resp, ctx.print));
}

int cmd_snapshot_save(Ctx& ctx) {
  if (ctx.inv.args.size() != 1) return fail(kExitBadArgs, "snapshot save expects one argument");
  if (ctx.copts.endpoints.size() != 1) {
    std::string eps;
    for (const auto& e : ctx.copts.endpoints)
      eps += (eps.empty() ? "" : " ") + e;
    return fail(kExitBadArgs, "snapshot must be requested to one selected node, not multiple [" + eps + "]");
  }
  const std::string path = ctx.inv.args[0];
  const std::string part = path + ".part";
  std::FILE* f = std::fopen(part.c_str(), "wb");
  if (!f) return fail(kExitError, "could not open " + part + " (" + std::strerror(errno) + ")");
  auto s = ctx.conn().stream("/etcdserverpb.Maintenance/Snapshot", false);
  s->write(pb::SnapshotRequest{}.SerializeAsString());
  s->writes_done();
  std::uint64_t size = 0;
  // Bytes received against the server's announced total (from the first message).
  std::atomic<std::uint64_t> received{0}, announced{0};
  ProgressBar bar([&](double el) {
    return bench::render_bytes_progress(received.load(), announced.load(), el, ProgressBar::kBarWidth);
  });
  SHA256_CTX sha;
  SHA256_Init(&sha);
  std::string tail;  // the last 32 bytes written, kept out of the hash until we know they are the checksum
  while (auto m = s->read()) {
    pb::SnapshotResponse r;
    if (!r.ParseFromString(*m)) {
      std::fclose(f);
      return fail(kExitError, "malformed snapshot response");
    }
    const std::string& blob = r.blob();
    if (std::fwrite(blob.data(), 1, blob.size(), f) != blob.size()) {
      std::fclose(f);
      return fail(kExitIO, std::string("write ") + part + ": " + std::strerror(errno));
    }
    // remaining_bytes counts what is left after the message's blob (etcd and cairn alike), so the first
    // message's sum is the database's size; the 32-byte digest comes on top, and the bar is set to the
    // exact size at the end.
    if (size == 0) announced = r.remaining_bytes() + blob.size();
    size += blob.size();
    received = size;
    tail += blob;
    if (tail.size() > 32) {
      SHA256_Update(&sha, tail.data(), tail.size() - 32);
      tail.erase(0, tail.size() - 32);
    }
  }
  announced = size;
  bar.stop();
  auto st = s->finish();
  if (!st.is_ok()) {
    std::fclose(f);
    std::remove(part.c_str());
    return fail(kExitError, error_text(st));
  }
  if (std::fflush(f) != 0 || fsync(fileno(f)) != 0) {
    std::fclose(f);
    return fail(kExitIO, std::string("sync ") + part + ": " + std::strerror(errno));
  }
  std::fclose(f);
  if (size % 512 != 32) {
    return fail(kExitError, "sha256 checksum not found [bytes: " + std::to_string(size) + "]");
  }
  unsigned char digest[32];
  SHA256_Final(digest, &sha);
  if (std::memcmp(digest, tail.data(), 32) != 0) return fail(kExitError, "expected sha256 checksum mismatch");
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    return fail(kExitIO, "could not rename " + part + " to " + path + " (" + std::strerror(errno) + ")");
  }
  write_out("Snapshot saved at " + path + "\n");
  return 0;
}

int cmd_move_leader(Ctx& ctx) {
  if (ctx.inv.args.size() != 1) return fail(kExitBadArgs, "move-leader command needs 1 argument");
  auto target = parse_hex_u64(ctx.inv.args[0]);
  if (!target) return fail(kExitBadArgs, "bad member ID arg (" + ctx.inv.args[0] + "), expecting ID in Hex");
  std::uint64_t leader = 0;
  std::string leader_ep;
  for (const auto& ep : ctx.copts.endpoints) {
    auto c = ctx.conn_for(ep);
    auto r = c->unary("/etcdserverpb.Maintenance/Status", pb::StatusRequest{}.SerializeAsString(), true);
    pb::StatusResponse s;
    if (!r.status.is_ok() || !s.ParseFromString(r.response)) continue;
    if (s.leader() == s.header().member_id()) {
      leader = s.leader();
      leader_ep = ep;
      break;
    }
  }
  if (leader_ep.empty()) {
    std::string eps;
    for (const auto& e : ctx.copts.endpoints)
      eps += (eps.empty() ? "" : " ") + e;
    return fail(kExitError, "no leader endpoint given at [" + eps + "]");
  }
  auto c = ctx.conn_for(leader_ep);
  pb::MoveLeaderRequest req;
  req.set_targetid(*target);
  pb::MoveLeaderResponse resp;
  int code = 0;
  if (!ctx.call(*c, "/etcdserverpb.Maintenance/MoveLeader", req, false, resp, code)) return code;
  write_out("Leadership transferred from " + hex_id(leader) + " to " + hex_id(*target) + "\n");
  return 0;
}

// ---------------------------------------------------------------- concurrency recipes (lock, elect)
// A session: a lease kept alive in the background.
struct Session {
  std::int64_t lease = 0;
};

bool open_session(Ctx& ctx, std::int64_t ttl, Session& s, int& code) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  pb::LeaseGrantResponse resp;
  if (!ctx.call("/etcdserverpb.Lease/LeaseGrant", req, false, resp, code)) return false;
  s.lease = resp.id();
  ctx.conn().keep_alive_in_background(resp.id(), resp.ttl());
  return true;
}

void close_session(Connection& c, const Session& s, const std::string& key) {
  pb::DeleteRangeRequest d;
  d.set_key(key);
  c.unary("/etcdserverpb.KV/DeleteRange", d.SerializeAsString(), false);
  pb::LeaseRevokeRequest r;
  r.set_id(s.lease);
  c.unary("/etcdserverpb.Lease/LeaseRevoke", r.SerializeAsString(), false);
}

// Waits until `key` is deleted, watching from `rev`.
bool wait_delete(Ctx& ctx, const std::string& key, std::int64_t rev, int& code) {
  auto s = ctx.conn().stream("/etcdserverpb.Watch/Watch", true);
  pb::WatchRequest req;
  auto* c = req.mutable_create_request();
  c->set_key(key);
  c->set_start_revision(rev);
  if (!s->write(req.SerializeAsString())) {
    code = fail(kExitError, error_text(s->finish()));
    return false;
  }
  while (auto m = s->read()) {
    pb::WatchResponse r;
    if (!r.ParseFromString(*m)) break;
    if (r.canceled()) break;
    for (const auto& ev : r.events()) {
      if (ev.type() == mvccpb::Event::DELETE) {
        s->cancel();
        return true;
      }
    }
  }
  code = fail(kExitError, "watch ended before the key was deleted");
  return false;
}

// concurrency's waitDeletes: until no key under `prefix` was created at or before `max_create_rev`.
bool wait_deletes(Ctx& ctx, const std::string& prefix, std::int64_t max_create_rev, int& code) {
  for (;;) {
    pb::RangeRequest req;
    req.set_key(prefix);
    req.set_range_end(prefix_range_end(prefix));
    req.set_sort_target(pb::RangeRequest::CREATE);
    req.set_sort_order(pb::RangeRequest::DESCEND);
    req.set_limit(1);
    req.set_max_create_revision(max_create_rev);
    pb::RangeResponse resp;
    if (!ctx.call("/etcdserverpb.KV/Range", req, true, resp, code)) return false;
    if (resp.kvs_size() == 0) return true;
    if (!wait_delete(ctx, resp.kvs(0).key(), resp.header().revision() + 1, code)) return false;
  }
}

// Creates `key` with `value` under the session's lease unless it exists; returns its create revision.
bool create_own_key(Ctx& ctx, const Session& s, const std::string& key, const std::string& value,
                    std::int64_t& my_rev, int& code) {
  pb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(key);
  cmp->set_target(pb::Compare::CREATE);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_create_revision(0);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(s.lease);
  txn.add_failure()->mutable_request_range()->set_key(key);
  pb::TxnResponse resp;
  if (!ctx.call("/etcdserverpb.KV/Txn", txn, false, resp, code)) return false;
  my_rev = resp.header().revision();
  if (!resp.succeeded() && resp.responses_size() > 0 && resp.responses(0).response_range().kvs_size() > 0) {
    my_rev = resp.responses(0).response_range().kvs(0).create_revision();
  }
  return true;
}

int run_child(const std::vector<std::string>& cmd, const std::string& key, std::int64_t rev) {
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    pthread_sigmask(SIG_SETMASK, &set, nullptr);
    setenv("ETCD_LOCK_KEY", key.c_str(), 1);
    setenv("ETCD_LOCK_REV", std::to_string(rev).c_str(), 1);
    std::vector<char*> argv;
    for (const auto& s : cmd)
      argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "Error: exec: \"%s\": %s\n", cmd[0].c_str(), std::strerror(errno));
    std::_Exit(127);
  }
  if (pid < 0) return fail(kExitError, std::string("fork: ") + std::strerror(errno));
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return kExitError;
}

// concurrency.Mutex.Lock / Election.Campaign: a session, our own key under `prefix` holding `value`, then
// waits until every older key under `prefix` is gone. Registers a cleanup that closes the session; on
// failure closes it itself and returns false with `code` set.
bool acquire(Ctx& ctx, const std::string& prefix, std::int64_t ttl, const std::string& value, Session& s,
             std::string& key, std::int64_t& my_rev, int& code) {
  if (!open_session(ctx, ttl, s, code)) return false;
  key = prefix + hex_id(std::uint64_t(s.lease));
  Connection* conn = &ctx.conn();
  set_cleanup([conn, s, key] { close_session(*conn, s, key); });
  if (!create_own_key(ctx, s, key, value, my_rev, code) || !wait_deletes(ctx, prefix, my_rev - 1, code)) {
    close_session(ctx.conn(), s, key);
    return false;
  }
  return true;
}

// Prints our key as `get` would, then holds it until the signal thread ends the process.
[[noreturn]] void print_and_hold(Ctx& ctx, const std::string& key) {
  pb::RangeRequest g;
  g.set_key(key);
  pb::RangeResponse gr;
  int code = 0;
  if (ctx.call("/etcdserverpb.KV/Range", g, true, gr, code)) emit(print_get(gr, ctx.print, false, false));
  for (;;)
    std::this_thread::sleep_for(std::chrono::hours(1));
}

int cmd_lock(Ctx& ctx) {
  const auto& a = ctx.inv.args;
  if (a.empty())
    return fail(kExitBadArgs, "lock takes a lock name argument and an optional command to execute");
  // As etcdctl: the command is whatever follows the name, with or without a "--" before it.
  std::vector<std::string> command(a.begin() + 1, a.end());
  command.insert(command.end(), ctx.inv.exec_args.begin(), ctx.inv.exec_args.end());
  Session s;
  std::string key;
  std::int64_t my_rev = 0;
  int code = 0;
  if (!acquire(ctx, a[0] + "/", ctx.inv.lock_ttl, "", s, key, my_rev, code)) return code;
  if (!command.empty()) {
    int rc = run_child(command, key, my_rev);
    set_cleanup(nullptr);
    close_session(ctx.conn(), s, key);
    return rc;
  }
  // Holds the lock until interrupted; the signal thread unlocks.
  print_and_hold(ctx, key);
}

int cmd_elect(Ctx& ctx) {
  const auto& a = ctx.inv.args;
  int code = 0;
  if (ctx.inv.listen) {
    if (a.size() != 1)
      return fail(kExitBadArgs, "elect takes one election name argument and an optional proposal argument");
    std::string prefix = a[0] + "/";
    std::string last;
    for (;;) {
      pb::RangeRequest req;
      req.set_key(prefix);
      req.set_range_end(prefix_range_end(prefix));
      req.set_sort_target(pb::RangeRequest::CREATE);
      req.set_sort_order(pb::RangeRequest::ASCEND);
      req.set_limit(1);
      pb::RangeResponse resp;
      if (!ctx.call("/etcdserverpb.KV/Range", req, true, resp, code)) return code;
      if (resp.kvs_size() > 0) {
        std::string cur = resp.kvs(0).key() + '\0' + resp.kvs(0).value();
        if (cur != last) {
          pb::RangeResponse one = resp;
          one.set_more(false);
          emit(print_get(one, ctx.print, false, false));
          last = cur;
        }
      }
      // Wait for any change under the prefix.
      auto s = ctx.conn().stream("/etcdserverpb.Watch/Watch", true);
      pb::WatchRequest w;
      w.mutable_create_request()->set_key(prefix);
      w.mutable_create_request()->set_range_end(prefix_range_end(prefix));
      w.mutable_create_request()->set_start_revision(resp.header().revision() + 1);
      if (!s->write(w.SerializeAsString())) return fail(kExitError, error_text(s->finish()));
      bool changed = false;
      while (!changed) {
        auto m = s->read();
        if (!m) return fail(kExitError, error_text(s->finish()));
        pb::WatchResponse r;
        if (r.ParseFromString(*m) && r.events_size() > 0) changed = true;
      }
      s->cancel();
    }
  }
  if (a.size() != 2)
    return fail(kExitBadArgs, "elect takes one election name argument and an optional proposal argument");
  Session s;
  std::string key;
  std::int64_t my_rev = 0;
  if (!acquire(ctx, a[0] + "/", 60, a[1], s, key, my_rev, code)) return code;
  print_and_hold(ctx, key);
}

// cairn's own: one table of every member, gathered from the member list and each member's Status.
int cmd_cluster_status(Ctx& ctx) {
  pb::MemberListResponse ml;
  int code = 0;
  if (!ctx.call("/etcdserverpb.Cluster/MemberList", pb::MemberListRequest{}, true, ml, code)) return code;
  struct Row {
    const pb::Member* m;
    std::optional<pb::StatusResponse> st;
    std::string err;
  };
  std::vector<Row> rows;
  std::uint64_t leader_index = 0;
  for (const auto& m : ml.members()) {
    Row r{&m, std::nullopt, {}};
    if (m.clienturls_size() == 0) {
      r.err = "unstarted";
    } else {
      auto c = ctx.conn_for(m.clienturls(0));
      auto res = c->unary("/etcdserverpb.Maintenance/Status", pb::StatusRequest{}.SerializeAsString(), true);
      pb::StatusResponse st;
      if (res.status.is_ok() && st.ParseFromString(res.response)) {
        r.st = st;
        if (st.leader() == st.header().member_id()) leader_index = st.raftindex();
      } else {
        r.err = error_text(res.status);
      }
    }
    rows.push_back(std::move(r));
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& r : rows) {
    if (!r.st) {
      table.push_back({hex_id(r.m->id()), r.m->name(), r.m->islearner() ? "learner" : "?", "", "", "", "", "",
                       "", r.err});
      continue;
    }
    const auto& st = *r.st;
    std::string role = st.islearner()                           ? "learner"
                       : st.leader() == st.header().member_id() ? "leader"
                                                                : "follower";
    std::string lag =
        leader_index >= st.raftappliedindex() ? std::to_string(leader_index - st.raftappliedindex()) : "0";
    table.push_back({hex_id(r.m->id()), r.m->name(), role, std::to_string(st.raftterm()),
                     std::to_string(st.raftindex()), std::to_string(st.raftappliedindex()),
                     humanize_bytes(std::uint64_t(st.dbsize())), hex_id(st.leader()), lag, ""});
  }
  write_out(render_table(
      {"ID", "NAME", "ROLE", "TERM", "RAFT INDEX", "APPLIED INDEX", "DB SIZE", "LEADER", "LAG", "ERROR"},
      table));
  for (const auto& r : rows) {
    if (!r.st && r.m->clienturls_size() > 0) return kExitError;
  }
  return 0;
}

}  // namespace

std::string error_text(const net_status& s) {
  if (s.code == StatusCode::kDeadlineExceeded) return "context deadline exceeded";
  if (s.code == StatusCode::kCancelled && s.message.empty()) return "context canceled";
  if (s.message.rfind("etcdserver: ", 0) == 0) return s.message;
  return std::string("rpc error: code = ") + go_code_name(s.code) + " desc = " + s.message;
}

namespace {

// The global flags' connection options: TLS, timeouts, endpoints. 0, or the exit code after the error.
int connection_options(const Invocation& inv, ConnectionOptions& copts) {
  copts.cacert = inv.g.cacert;
  copts.cert = inv.g.cert;
  copts.key = inv.g.key;
  copts.insecure_skip_tls_verify = inv.g.insecure_skip_tls_verify;
  copts.insecure_transport = inv.g.insecure_transport;
  if (auto e = check_tls_options(copts)) return fail(kExitBadArgs, *e);
  if (!inv.g.discovery_srv.empty())
    return fail(kExitBadFeature, "DNS discovery is not supported by cairnctl yet");
  auto dur = [&](const std::string& name, const std::string& v, milliseconds& out) {
    auto d = parse_go_duration(v);
    if (!d) {
      fail(kExitBadArgs,
           "invalid argument \"" + v + "\" for \"--" + name + "\" flag: time: invalid duration " + v);
      return false;
    }
    out = std::chrono::duration_cast<milliseconds>(*d);
    return true;
  };
  if (!dur("dial-timeout", inv.g.dial_timeout, copts.dial_timeout) ||
      !dur("command-timeout", inv.g.command_timeout, copts.command_timeout) ||
      !dur("keepalive-time", inv.g.keepalive_time, copts.keepalive_time) ||
      !dur("keepalive-timeout", inv.g.keepalive_timeout, copts.keepalive_timeout)) {
    return kExitBadArgs;
  }
  if (inv.g.max_recv_bytes != 0) copts.recv_bytes_max = inv.g.max_recv_bytes;
  for (const auto& e : split(inv.g.endpoints, ',')) {
    std::string host;
    std::uint16_t port = 0;
    if (!split_endpoint(e, host, port)) return fail(kExitBadConnection, "bad endpoint " + e);
    copts.endpoints.push_back(e);
  }
  if (copts.endpoints.empty()) return fail(kExitBadConnection, "no endpoints given");
  return 0;
}

// --user (and --password): as clientv3, Authenticate on a connection of its own, then the token goes with
// every call. 0, or the exit code after the error.
int authenticate(const Invocation& inv, ConnectionOptions& copts) {
  if (inv.g.user.empty()) {
    if (!inv.g.password.empty()) return fail(kExitBadArgs, "No user given: --password needs --user");
    return 0;
  }
  std::string name = inv.g.user, password = inv.g.password;
  auto colon = name.find(':');
  if (colon != std::string::npos) {
    if (!password.empty())
      return fail(kExitBadArgs, "Password should be given by either --user or --password");
    password = name.substr(colon + 1);
    name = name.substr(0, colon);
  } else if (password.empty()) {
    // etcdctl: --user without a password asks for it on the terminal, without echo.
    std::string err;
    auto p = prompt_password("Password: ", err);
    if (!p) return fail(kExitBadArgs, err);
    password = *p;
  }
  pb::AuthenticateRequest areq;
  areq.set_name(name);
  areq.set_password(password);
  Connection auth(copts);
  auto r = auth.unary("/etcdserverpb.Auth/Authenticate", areq.SerializeAsString(), false);
  pb::AuthenticateResponse aresp;
  if (r.status.is_ok() && aresp.ParseFromString(r.response)) {
    copts.token = aresp.token();
  } else if (r.status.message != "etcdserver: authentication is not enabled") {
    return fail(kExitBadConnection, error_text(r.status));
  }
  return 0;
}

// The online commands, by name.
int dispatch(Ctx& ctx) {
  const Invocation& inv = ctx.inv;
  const std::string& c = inv.command;
  auto sub = [&](const char* group) -> std::optional<std::string> {
    std::string g = std::string(group) + " ";
    if (c.rfind(g, 0) == 0) return c.substr(g.size());
    return std::nullopt;
  };
  if (c == "get") return cmd_get(ctx);
  if (c == "put") return cmd_put(ctx);
  if (c == "del") return cmd_del(ctx);
  if (c == "txn") return cmd_txn(ctx);
  if (c == "compaction") return cmd_compaction(ctx);
  if (c == "watch") return cmd_watch(ctx);
  if (auto s = sub("lease")) return cmd_lease(ctx, *s);
  if (auto s = sub("member")) return cmd_member(ctx, *s);
  if (auto s = sub("endpoint")) return cmd_endpoint(ctx, *s);
  if (auto s = sub("alarm")) return cmd_alarm(ctx, *s);
  if (c == "defrag") return cmd_defrag(ctx);
  if (c == "snapshot save") return cmd_snapshot_save(ctx);
  if (c == "move-leader") return cmd_move_leader(ctx);
  if (c == "lock") return cmd_lock(ctx);
  if (c == "elect") return cmd_elect(ctx);
  if (c == "cluster status") return cmd_cluster_status(ctx);
  if (auto s = sub("user")) return run_auth_command("user", *s, inv, ctx.copts, ctx.print);
  if (auto s = sub("role")) return run_auth_command("role", *s, inv, ctx.copts, ctx.print);
  if (auto s = sub("auth")) return run_auth_command("auth", *s, inv, ctx.copts, ctx.print);
  if (auto s = sub("bench")) return run_bench(*s, inv, ctx.copts);
  if (c == "check perf") return run_check_perf(inv, ctx.copts);
  return fail(kExitBadFeature, "\"" + c + "\" is not implemented in cairnctl yet");
}

}  // namespace

int execute(const Invocation& inv) {
  auto fmt = parse_output_format(inv.g.write_out);
  if (!fmt) return fail(kExitBadFeature, "unsupported output format " + inv.g.write_out);
  Ctx ctx{inv, PrintOptions{*fmt, inv.g.hex}, {}, nullptr};
  if (inv.command == "version") {
    write_out("cairnctl version: 0.1.0\nAPI version: 3.4\n");
    return 0;
  }
  // Offline: no endpoints involved.
  if (inv.command == "snapshot status" || inv.command == "snapshot restore") return exec_cairnutl(inv);
  if (int rc = connection_options(inv, ctx.copts); rc != 0) return rc;
  if (int rc = authenticate(inv, ctx.copts); rc != 0) return rc;
  return dispatch(ctx);
}

int run(int argc, const char* const* argv) {
  start_signal_thread();
  Invocation inv;
  std::string out, err;
  if (auto code = parse_args(argc, argv, inv, out, err)) {
    write_out(out);
    write_err(err);
    return *code;
  }
  int rc = execute(inv);
  std::fflush(stdout);
  return rc;
}

}  // namespace cairn::ctl
