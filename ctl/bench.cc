#include "ctl/bench.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "ctl/bench_report.h"
#include "ctl/commands.h"
#include "ctl/progress.h"
#include "ctl/requests.h"
#include "proto/etcd/rpc.pb.h"

namespace cairn::ctl {

namespace {

namespace pb = etcdserverpb;
using Clock = std::chrono::steady_clock;

constexpr int kClientsMax = 10'000;
constexpr int kConnsMax = 1'000;
constexpr int kStreamsMax = 10'000;
constexpr std::int64_t kWatchersMax = 1'000'000;
constexpr int kSizeBytesMax = 64 * 1024 * 1024;
constexpr int kTxnOpsMax = 128;  // etcd's default --max-txn-ops
// How often a blocked stream read wakes up to check whether the run is over.
constexpr std::chrono::milliseconds kStreamPoll{200};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string random_bytes(std::mt19937_64& rng, int n) {
  std::string s(static_cast<std::size_t>(std::max(n, 0)), '\0');
  for (auto& c : s)
    c = static_cast<char>(rng() & 0xff);
  return s;
}

// Successful latencies and error counts from every client.
struct Recorder {
  std::mutex mu;
  std::vector<double> latencies_s;
  std::map<std::string, std::int64_t> errors;
  std::atomic<std::int64_t> done{0};

  void add(std::vector<double>& mine, std::map<std::string, std::int64_t>& errs) {
    std::lock_guard lk(mu);
    latencies_s.insert(latencies_s.end(), mine.begin(), mine.end());
    for (const auto& [m, n] : errs)
      errors[m] += n;
  }
};

int report(Recorder& rec, double total_s) {
  auto st = bench::compute_stats(std::move(rec.latencies_s), total_s, std::move(rec.errors));
  std::string out = bench::format_report(st) + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return st.errors.empty() ? 0 : 1;
}

// One request of a client: returns an error text, or nullopt on success.
using Request = std::function<std::optional<std::string>(std::int64_t i)>;

// Runs `total` requests from `clients` threads (request numbers are handed out in order; with --rate,
// request i starts no earlier than start + i/rate) and records each one's latency.
void drive(std::int64_t total, double rate, std::vector<Request>& clients, Recorder& rec) {
  std::atomic<std::int64_t> next{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (auto& req : clients) {
    threads.emplace_back([&] {
      std::vector<double> mine;
      std::map<std::string, std::int64_t> errs;
      for (;;) {
        std::int64_t i = next.fetch_add(1);
        if (i >= total) break;
        if (rate > 0) std::this_thread::sleep_until(t0 + bench::rate_offset(i, rate));
        auto s = Clock::now();
        auto e = req(i);
        double l = seconds_since(s);
        if (e)
          ++errs[*e];
        else
          mine.push_back(l);
        rec.done.fetch_add(1);
      }
      rec.add(mine, errs);
    });
  }
  for (auto& t : threads)
    t.join();
}

// drive() with the progress bar over --total requests; returns the run's wall time in seconds.
double drive_with_progress(const Invocation& inv, std::vector<Request>& clients, Recorder& rec) {
  const auto t0 = Clock::now();
  ProgressBar bar([&](double el) {
    return bench::render_progress(rec.done.load(), inv.total, el, ProgressBar::kBarWidth);
  });
  drive(inv.total, inv.rate, clients, rec);
  const double total_s = seconds_since(t0);
  bar.stop();
  return total_s;
}

std::vector<std::unique_ptr<Connection>> open_conns(const Invocation& inv, const ConnectionOptions& copts) {
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < inv.conns; ++i)
    conns.push_back(std::make_unique<Connection>(copts));
  return conns;
}

Request unary_request(Connection& conn, std::string method, bool idempotent,
                      std::function<std::string(std::int64_t)> build) {
  return [&conn, method = std::move(method), idempotent, build = std::move(build)](std::int64_t i) {
    auto r = conn.unary(method, build(i), idempotent);
    return r.status.is_ok() ? std::nullopt : std::optional<std::string>(error_text(r.status));
  };
}

int run_unary_workload(const std::string& workload, const Invocation& inv, const ConnectionOptions& copts) {
  const int key_size = inv.key_size >= 0 ? inv.key_size : 8;
  const int val_size = inv.val_size >= 0 ? inv.val_size : 8;
  std::mt19937_64 rng(std::random_device{}());
  const std::string value = random_bytes(rng, val_size);
  auto conns = open_conns(inv, copts);
  std::vector<Request> clients;
  std::vector<std::unique_ptr<std::mt19937_64>> rngs;
  for (int c = 0; c < inv.clients; ++c) {
    Connection& conn = *conns[static_cast<std::size_t>(c % inv.conns)];
    rngs.push_back(std::make_unique<std::mt19937_64>(rng()));
    std::mt19937_64* r = rngs.back().get();
    if (workload == "put") {
      clients.push_back(
          unary_request(conn, "/etcdserverpb.KV/Put", false, [&inv, r, &value, key_size](auto i) {
            std::int64_t n = inv.sequential_keys
                                 ? i % inv.key_space_size
                                 : static_cast<std::int64_t>((*r)() % std::uint64_t(inv.key_space_size));
            pb::PutRequest p;
            p.set_key(bench::varint_key(n, key_size));
            p.set_value(value);
            return p.SerializeAsString();
          }));
    } else if (workload == "range") {
      pb::RangeRequest q;
      q.set_key(inv.args[0]);
      if (inv.args.size() > 1) q.set_range_end(inv.args[1]);
      q.set_serializable(inv.bench_consistency == "s");
      std::string req = q.SerializeAsString();
      clients.push_back(unary_request(conn, "/etcdserverpb.KV/Range", true, [req](auto) { return req; }));
    } else {  // txn (etcd benchmark's txn-put)
      clients.push_back(unary_request(conn, "/etcdserverpb.KV/Txn", false, [&inv, &value, key_size](auto i) {
        pb::TxnRequest t;
        for (int j = 0; j < inv.txn_ops; ++j) {
          auto* p = t.add_success()->mutable_request_put();
          p->set_key(bench::varint_key((i * inv.txn_ops + j) % inv.key_space_size, key_size));
          p->set_value(value);
        }
        return t.SerializeAsString();
      }));
    }
  }
  Recorder rec;
  const double total_s = drive_with_progress(inv, clients, rec);
  return report(rec, total_s);
}

// Each client grants a lease of --lease-ttl seconds and sends its keep-alives on one LeaseKeepAlive
// stream (as clientv3's KeepAlive does), timing each request/response round trip. Leases are left to
// expire on their own.
int run_lease_keepalive(const Invocation& inv, const ConnectionOptions& copts) {
  auto conns = open_conns(inv, copts);
  struct Client {
    std::int64_t lease = 0;
    std::unique_ptr<Stream> stream;
  };
  std::vector<std::unique_ptr<Client>> state;
  std::vector<Request> clients;
  for (int c = 0; c < inv.clients; ++c) {
    Connection& conn = *conns[static_cast<std::size_t>(c % inv.conns)];
    pb::LeaseGrantRequest g;
    g.set_ttl(inv.lease_ttl);
    auto r = conn.unary("/etcdserverpb.Lease/LeaseGrant", g.SerializeAsString(), false);
    pb::LeaseGrantResponse gr;
    if (!r.status.is_ok() || !gr.ParseFromString(r.response)) {
      std::fprintf(stderr, "Error: failed to grant lease (%s)\n", error_text(r.status).c_str());
      return 1;
    }
    auto cl = std::make_unique<Client>();
    cl->lease = gr.id();
    cl->stream = conn.stream("/etcdserverpb.Lease/LeaseKeepAlive", true);
    Client* p = cl.get();
    state.push_back(std::move(cl));
    const auto timeout = copts.command_timeout;
    clients.push_back([p, timeout](std::int64_t) -> std::optional<std::string> {
      pb::LeaseKeepAliveRequest k;
      k.set_id(p->lease);
      if (!p->stream->write(k.SerializeAsString())) return error_text(p->stream->finish());
      auto m = p->stream->read(timeout);
      if (!m) return p->stream->timed_out() ? "context deadline exceeded" : error_text(p->stream->finish());
      pb::LeaseKeepAliveResponse kr;
      if (!kr.ParseFromString(*m)) return "malformed LeaseKeepAliveResponse";
      if (kr.ttl() <= 0) return "etcdserver: requested lease not found";
      return std::nullopt;
    });
  }
  Recorder rec;
  const double total_s = drive_with_progress(inv, clients, rec);
  for (auto& c : state)
    c->stream->cancel();
  return report(rec, total_s);
}

// Printable, distinct keys of the requested size: a fixed prefix and the key's number.
std::vector<std::string> watch_bench_keys(int nkeys, int key_size) {
  std::vector<std::string> keys;
  for (int k = 0; k < nkeys; ++k) {
    std::string key = "/bench-watch/" + std::to_string(k) + "/";
    if (static_cast<int>(key.size()) < key_size) key.resize(static_cast<std::size_t>(key_size), 'k');
    keys.push_back(key);
  }
  return keys;
}

struct WatchStream {
  std::unique_ptr<Stream> stream;
  std::int64_t expected = 0;  // events its watchers must see
  std::atomic<std::int64_t> received{0};
};

// Opens --streams streams of --watchers-per-stream watchers each (watcher w of stream s on key
// (s * per_stream + w) % keys), every one created before the first put, or it would miss events.
// `puts_to(k)`: how many puts key k gets. Prints the error and returns nullopt on failure.
std::optional<std::vector<std::unique_ptr<WatchStream>>> create_watchers(
    const Invocation& inv, const ConnectionOptions& copts, std::vector<std::unique_ptr<Connection>>& conns,
    const std::vector<std::string>& keys, const std::function<std::int64_t(int)>& puts_to) {
  std::vector<std::unique_ptr<WatchStream>> streams;
  const int nkeys = static_cast<int>(keys.size());
  for (int s = 0; s < inv.streams; ++s) {
    auto ws = std::make_unique<WatchStream>();
    ws->stream = conns[static_cast<std::size_t>(s % inv.conns)]->stream("/etcdserverpb.Watch/Watch", true);
    for (int w = 0; w < inv.watchers_per_stream; ++w) {
      int k = static_cast<int>((static_cast<std::int64_t>(s) * inv.watchers_per_stream + w) % nkeys);
      pb::WatchRequest req;
      req.mutable_create_request()->set_key(keys[static_cast<std::size_t>(k)]);
      req.mutable_create_request()->set_prev_kv(inv.watch_prev_kv);
      if (!ws->stream->write(req.SerializeAsString())) {
        std::fprintf(stderr, "Error: %s\n", error_text(ws->stream->finish()).c_str());
        return std::nullopt;
      }
      ws->expected += puts_to(k);
    }
    for (int created = 0; created < inv.watchers_per_stream;) {
      auto m = ws->stream->read(copts.command_timeout);
      pb::WatchResponse r;
      if (!m || !r.ParseFromString(*m)) {
        std::fprintf(
            stderr, "Error: creating watchers: %s\n",
            ws->stream->timed_out() ? "context deadline exceeded" : error_text(ws->stream->finish()).c_str());
        return std::nullopt;
      }
      if (r.canceled()) {
        std::fprintf(stderr, "Error: watch canceled by the server: %s\n", r.cancel_reason().c_str());
        return std::nullopt;
      }
      if (r.created()) ++created;
    }
    streams.push_back(std::move(ws));
  }
  return streams;
}

// What the watch workload's threads share: put i's start time (ns since t0, -1 before it is sent) and the
// event latencies.
struct WatchRun {
  explicit WatchRun(std::int64_t puts) : sent(static_cast<std::size_t>(puts)) {
    for (auto& a : sent)
      a.store(-1);
  }
  std::vector<std::atomic<std::int64_t>> sent;
  Clock::time_point t0 = Clock::now();
  Recorder events;
  std::atomic<bool> give_up{false};
};

// One stream's reader: each event's latency, from its put's start (its number leads the value) to now.
void read_watch_events(WatchStream& ws, WatchRun& run, std::int64_t put_total) {
  std::vector<double> mine;
  std::map<std::string, std::int64_t> errs;
  while (ws.received.load() < ws.expected && !run.give_up.load()) {
    auto m = ws.stream->read(kStreamPoll);
    if (!m) {
      if (ws.stream->timed_out()) continue;
      ++errs["watch stream ended: " + error_text(ws.stream->finish())];
      break;
    }
    pb::WatchResponse r;
    if (!r.ParseFromString(*m)) continue;
    const auto now = Clock::now();
    for (const auto& ev : r.events()) {
      auto i = parse_i64(ev.kv().value().substr(0, ev.kv().value().find(' ')));
      if (!i || *i < 0 || *i >= put_total) continue;
      std::int64_t at = run.sent[static_cast<std::size_t>(*i)].load(std::memory_order_acquire);
      mine.push_back(std::chrono::duration<double>(now - run.t0).count() - double(at) / 1e9);
      ws.received.fetch_add(1);
      run.events.done.fetch_add(1);
    }
  }
  run.events.add(mine, errs);
}

std::int64_t events_received(const std::vector<std::unique_ptr<WatchStream>>& streams) {
  std::int64_t got = 0;
  for (const auto& ws : streams)
    got += ws->received.load();
  return got;
}

// --streams watch streams with --watchers-per-stream watchers each, on --watched-key-total keys; then
// --put-total puts (put i writes key i % keys, its number in the value) at --put-rate. Each event's
// latency is from the start of its put to its arrival on a watcher; the report covers every delivery.
int run_watch(const Invocation& inv, const ConnectionOptions& copts) {
  const int val_size = inv.val_size >= 0 ? inv.val_size : 32;
  const int nkeys = inv.watched_key_total;
  const std::vector<std::string> keys = watch_bench_keys(nkeys, inv.key_size >= 0 ? inv.key_size : 32);
  auto puts_to = [&](int k) -> std::int64_t {
    return inv.put_total / nkeys + (k < inv.put_total % nkeys ? 1 : 0);
  };
  auto conns = open_conns(inv, copts);
  const auto tc = Clock::now();
  auto created = create_watchers(inv, copts, conns, keys, puts_to);
  if (!created) return 1;
  std::vector<std::unique_ptr<WatchStream>>& streams = *created;
  std::int64_t expected_total = 0;
  for (const auto& ws : streams)
    expected_total += ws->expected;
  std::printf("Created %lld watchers on %d streams (%d connections) in %.4f secs.\n",
              static_cast<long long>(static_cast<std::int64_t>(inv.streams) * inv.watchers_per_stream),
              inv.streams, inv.conns, seconds_since(tc));
  std::fflush(stdout);

  WatchRun run(inv.put_total);
  std::vector<std::thread> readers;
  for (auto& ws : streams)
    readers.emplace_back([&, w = ws.get()] { read_watch_events(*w, run, inv.put_total); });
  ProgressBar bar([&](double el) {
    return bench::render_progress(run.events.done.load(), expected_total, el, ProgressBar::kBarWidth);
  });
  Recorder puts;
  std::vector<Request> clients;
  for (int c = 0; c < inv.clients; ++c) {
    Connection* cp = conns[static_cast<std::size_t>(c % inv.conns)].get();
    clients.push_back([&, cp](std::int64_t i) -> std::optional<std::string> {
      pb::PutRequest p;
      p.set_key(keys[static_cast<std::size_t>(i % nkeys)]);
      std::string v = std::to_string(i) + " ";
      if (static_cast<int>(v.size()) < val_size) v.resize(static_cast<std::size_t>(val_size), 'v');
      p.set_value(v);
      run.sent[static_cast<std::size_t>(i)].store(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - run.t0).count(),
          std::memory_order_release);
      auto r = cp->unary("/etcdserverpb.KV/Put", p.SerializeAsString(), false);
      return r.status.is_ok() ? std::nullopt : std::optional<std::string>(error_text(r.status));
    });
  }
  drive(inv.put_total, inv.put_rate, clients, puts);
  // Deliveries still in flight get the command timeout after the last put.
  const auto deadline = Clock::now() + copts.command_timeout;
  while (events_received(streams) < expected_total && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  run.give_up = true;
  for (auto& t : readers)
    t.join();
  const double total_s = seconds_since(run.t0);
  bar.stop();
  for (auto& ws : streams)
    ws->stream->cancel();
  const std::int64_t got = events_received(streams);
  // A failed put has no events; only events of successful puts count as missing.
  std::int64_t failed_puts = 0;
  for (const auto& [m, n] : puts.errors) {
    run.events.errors["put: " + m] += n;
    failed_puts += n;
  }
  if (got < expected_total && failed_puts == 0)
    run.events.errors["events not delivered within the command timeout after the last put"] +=
        expected_total - got;
  std::printf("Watch events: %lld of %lld delivered (%lld puts, %.4f puts/sec).\n",
              static_cast<long long>(got), static_cast<long long>(expected_total),
              static_cast<long long>(inv.put_total), static_cast<double>(puts.latencies_s.size()) / total_s);
  std::fflush(stdout);
  return report(run.events, total_s);
}

}  // namespace

int run_bench(const std::string& workload, const Invocation& inv, const ConnectionOptions& copts) {
  auto bad = [](const std::string& m) {
    std::fprintf(stderr, "Error: %s\n", m.c_str());
    return kExitBadArgs;
  };
  if (inv.clients < 1 || inv.clients > kClientsMax)
    return bad("--clients must be 1.." + std::to_string(kClientsMax));
  if (inv.conns < 1 || inv.conns > kConnsMax) return bad("--conns must be 1.." + std::to_string(kConnsMax));
  if (inv.total < 1) return bad("--total must be at least 1");
  if (inv.rate < 0 || inv.put_rate < 0) return bad("--rate must not be negative");
  if (inv.key_size > kSizeBytesMax || inv.val_size > kSizeBytesMax) return bad("key or value size too large");
  if (inv.key_size == 0) return bad("--key-size must be at least 1");
  if (inv.key_space_size < 1) return bad("--key-space-size must be at least 1");
  if (workload == "range") {
    if (inv.args.empty() || inv.args.size() > 2)
      return bad("bench range needs a key and an optional range end");
    if (inv.bench_consistency != "l" && inv.bench_consistency != "s")
      return bad("unknown consistency flag \"" + inv.bench_consistency + "\"");
  } else if (!inv.args.empty()) {
    return bad("bench " + workload + " takes no arguments");
  }
  if (workload == "put" || workload == "range") return run_unary_workload(workload, inv, copts);
  if (workload == "txn" || workload == "txn-put") {
    if (inv.txn_ops < 1 || inv.txn_ops > kTxnOpsMax)
      return bad("--txn-ops must be 1.." + std::to_string(kTxnOpsMax));
    if (inv.txn_ops > inv.key_space_size)
      return bad("--txn-ops must not exceed --key-space-size (keys in one txn must differ)");
    return run_unary_workload("txn", inv, copts);
  }
  if (workload == "lease-keepalive") {
    if (inv.lease_ttl < 1) return bad("--lease-ttl must be at least 1");
    return run_lease_keepalive(inv, copts);
  }
  if (workload == "watch") {
    if (inv.streams < 1 || inv.streams > kStreamsMax)
      return bad("--streams must be 1.." + std::to_string(kStreamsMax));
    if (inv.watchers_per_stream < 1 ||
        static_cast<std::int64_t>(inv.streams) * inv.watchers_per_stream > kWatchersMax)
      return bad("--watchers-per-stream must be at least 1 and streams x watchers at most " +
                 std::to_string(kWatchersMax));
    if (inv.watched_key_total < 1) return bad("--watched-key-total must be at least 1");
    if (inv.put_total < 1) return bad("--put-total must be at least 1");
    return run_watch(inv, copts);
  }
  return bad("unknown bench workload " + workload);
}

namespace {

// etcdctl check perf's loads: puts a second for the run, clients.
struct PerfLoad {
  const char* name;
  const char* alias;
  int limit;
  int clients;
};

const PerfLoad* find_perf_load(const std::string& name) {
  static constexpr PerfLoad kLoads[] = {{"s", "small", 150, 50},
                                        {"m", "medium", 1000, 200},
                                        {"l", "large", 8000, 500},
                                        {"xl", "xLarge", 15000, 1000}};
  for (const auto& l : kLoads)
    if (name == l.name || name == l.alias) return &l;
  return nullptr;
}

// 0 when no key has the prefix; else the exit code after the message etcdctl prints.
int check_prefix_empty(Connection& c, const std::string& prefix) {
  etcdserverpb::RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(prefix_range_end(prefix));
  r.set_limit(1);
  auto res = c.unary("/etcdserverpb.KV/Range", r.SerializeAsString(), true, std::chrono::seconds(60));
  if (!res.status.is_ok()) {
    std::fprintf(stderr, "Error: %s\n", error_text(res.status).c_str());
    return 1;
  }
  etcdserverpb::RangeResponse out;
  if (out.ParseFromString(res.response) && out.kvs_size() > 0) {
    std::fprintf(stderr, "Error: prefix \"%s\" has keys. Delete with etcdctl del --prefix %s first\n",
                 prefix.c_str(), prefix.c_str());
    return 3;
  }
  return 0;
}

// prefix + 256 bytes whose first bytes are a zig-zag varint of a random non-negative int63, like
// etcdctl's keys.
std::string perf_key(const std::string& prefix, std::mt19937_64& rng) {
  std::string k(256, '\0');
  std::uint64_t v = (rng() >> 1) << 1;
  std::size_t n = 0;
  while (v >= 0x80) {
    k[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  k[n] = static_cast<char>(v);
  return prefix + k;
}

struct PerfResults {
  std::vector<double> latencies;  // seconds, of the puts that succeeded
  std::map<std::string, int> errors;
  double total_s = 0;
};

// load->clients threads, one connection each, put 1 KiB values at load->limit puts a second in all (a
// token bucket of depth one: put i may start at t0 + i/limit, as etcdctl's rate limiter) for duration_s.
PerfResults run_perf_puts(const PerfLoad& load, const ConnectionOptions& copts, const std::string& prefix,
                          int duration_s) {
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < load.clients; ++i)
    conns.push_back(std::make_unique<Connection>(copts));
  const std::string value(1024, '\0');
  const auto period = std::chrono::duration<double>(1.0 / load.limit);
  const auto t0 = std::chrono::steady_clock::now();
  const auto stop_at = t0 + std::chrono::seconds(duration_s);
  std::atomic<long> next{0};
  std::mutex mu;
  PerfResults out;
  std::vector<std::thread> threads;
  // etcdctl's bar counts the seconds of the run.
  ProgressBar bar([&](double el) {
    return bench::render_progress(std::min<std::int64_t>(static_cast<std::int64_t>(el), duration_s),
                                  duration_s, el, ProgressBar::kBarWidth);
  });
  for (int c = 0; c < load.clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(std::random_device{}() ^ (static_cast<std::uint64_t>(c) << 32));
      Connection& conn = *conns[static_cast<std::size_t>(c)];
      std::vector<double> mine;
      for (;;) {
        long i = next.fetch_add(1);
        auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * i);
        if (due >= stop_at) break;
        std::this_thread::sleep_until(due);
        etcdserverpb::PutRequest p;
        p.set_key(perf_key(prefix, rng));
        p.set_value(value);
        auto s = std::chrono::steady_clock::now();
        auto r = conn.unary("/etcdserverpb.KV/Put", p.SerializeAsString(), false, std::chrono::seconds(60));
        double l = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
        if (r.status.is_ok()) {
          mine.push_back(l);
        } else {
          std::lock_guard lk(mu);
          ++out.errors[error_text(r.status)];
        }
      }
      std::lock_guard lk(mu);
      out.latencies.insert(out.latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads)
    t.join();
  out.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bar.stop();
  return out;
}

// etcdctl's verdict lines (throughput over 90% of the load, slowest put at most 0.5 s, stddev at most
// 0.1 s, no errors); the exit code.
int report_perf(const PerfResults& r, const PerfLoad& load) {
  bool ok = true;
  double rps = static_cast<double>(r.latencies.size()) / r.total_s;
  double slowest = 0, avg = 0, var = 0;
  for (double l : r.latencies) {
    slowest = std::max(slowest, l);
    avg += l;
  }
  if (!r.latencies.empty()) avg /= static_cast<double>(r.latencies.size());
  for (double l : r.latencies)
    var += (l - avg) * (l - avg);
  double stddev = r.latencies.empty() ? 0 : std::sqrt(var / static_cast<double>(r.latencies.size()));
  if (!r.errors.empty()) {
    std::printf("FAIL: too many errors\n");
    for (const auto& [msg, n] : r.errors)
      std::printf("FAIL: ERROR(%s) -> %d\n", msg.c_str(), n);
    ok = false;
  }
  if (rps / load.limit <= 0.9) {
    std::printf("FAIL: Throughput too low: %d writes/s\n", static_cast<int>(rps) + 1);
    ok = false;
  } else {
    std::printf("PASS: Throughput is %d writes/s\n", static_cast<int>(rps) + 1);
  }
  if (slowest > 0.5) {
    std::printf("FAIL: Slowest request took too long: %fs\n", slowest);
    ok = false;
  } else {
    std::printf("PASS: Slowest request took %fs\n", slowest);
  }
  if (stddev > 0.1) {
    std::printf("FAIL: Stddev too high: %fs\n", stddev);
    ok = false;
  } else {
    std::printf("PASS: Stddev is %fs\n", stddev);
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace

int run_check_perf(const Invocation& inv, const ConnectionOptions& copts) {
  const PerfLoad* load = find_perf_load(inv.perf_load);
  if (!load) {
    std::fprintf(stderr, "Error: unknown load option %s\n", inv.perf_load.c_str());
    return 4;
  }
  if (inv.perf_duration_s < 1 || inv.perf_duration_s > 3600) {
    std::fprintf(stderr, "Error: --duration must be 1..3600 seconds\n");
    return 128;
  }
  const std::string& prefix = inv.perf_prefix;
  Connection first(copts);
  if (int rc = check_prefix_empty(first, prefix); rc != 0) return rc;
  const PerfResults results = run_perf_puts(*load, copts, prefix, inv.perf_duration_s);
  etcdserverpb::DeleteRangeRequest d;
  d.set_key(prefix);
  d.set_range_end(prefix_range_end(prefix));
  auto res =
      first.unary("/etcdserverpb.KV/DeleteRange", d.SerializeAsString(), false, std::chrono::seconds(30));
  if (!res.status.is_ok()) {
    std::fprintf(stderr, "Error: %s\n", error_text(res.status).c_str());
    return 1;
  }
  return report_perf(results, *load);
}

}  // namespace cairn::ctl
