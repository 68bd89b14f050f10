// cairn_fault: fault injection on real cairn processes, judged by the linearizability checker.
//
// Starts a 3-member cluster of `cairn` processes on loopback (data dirs in a temp dir), runs concurrent
// clients (coroutines on one thread, each request to a random member, per-request timeout) doing puts of
// unique values, linearizable gets, compare-and-set txns and deletes on a small key set, and records every
// invocation and completion. Meanwhile a seeded fault loop kills followers, kills the leader, pauses the
// leader (SIGSTOP) past an election timeout, and kills every member, each time restarting what it
// stopped. After the faults: wait for health, read every key (these reads join the history), check the
// history per key, and compare Maintenance/HashKV of all members at one revision.
//
//   cairn_fault --cairn build/bin/cairn [--seed N] [--duration S] [--clients N] [--keys N]
//               [--base-port P] [--request-timeout-ms MS] [--keep] [--serializable-reads]
// Exit: 0 no anomaly; 1 anomaly (printed with the seed); 2 usage or setup error; 3 checker inconclusive.
// The same --seed repeats the same fault schedule (kinds, targets among followers, hold times); client
// timing is not deterministic. See docs/fault-testing.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "proto/etcd/rpc.pb.h"
#include "server/net/client.h"
#include "tests/fault/linearizability.h"

namespace {

using boost::asio::awaitable;
namespace net = cairn::server::net;
namespace lz = cairn::tests::fault;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kMembers = 3;
constexpr int kHeartbeatMs = 50;
constexpr int kElectionTimeoutMs = 500;
constexpr milliseconds kHealthWaitMax{60'000};
constexpr milliseconds kAdminTimeout{1'000};
constexpr int kFaultKinds = 4;

struct Options {
  std::uint64_t seed = 1;
  int duration_s = 60;
  int clients = 6;
  int keys = 5;
  std::string cairn;
  int base_port = 21600;
  int request_timeout_ms = 1500;
  bool keep = false;
  // Self-test of the pipeline: gets are sent serializable (served from the member's local state, no
  // ReadIndex), which is not linearizable; under faults the checker is expected to reject the history.
  bool serializable_reads = false;
};

enum FaultKind { kKillFollower = 0, kKillLeader = 1, kPauseLeader = 2, kKillAll = 3 };
const char* fault_name(int k) {
  static const char* names[kFaultKinds] = {"kill-follower", "kill-leader", "pause-leader", "kill-all"};
  return names[k];
}

Clock::time_point g_start;
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - g_start).count();
}
double now_s() {
  return static_cast<double>(now_ns()) / 1e9;
}

// ---- processes -----------------------------------------------------------------------------------

class Cluster {
 public:
  Cluster(std::string cairn, std::string dir, int base_port)
      : cairn_(std::move(cairn)), dir_(std::move(dir)), base_(base_port) {
    pids_.fill(-1);
  }
  ~Cluster() {
    for (int i = 0; i < kMembers; ++i)
      kill_member(i);
  }
  int client_port(int i) const { return base_ + 10 * i; }
  int peer_port(int i) const { return base_ + 10 * i + 1; }
  std::string log_path(int i) const { return dir_ + "/m" + std::to_string(i + 1) + ".log"; }
  bool running(int i) const { return pids_[i] > 0; }

  bool start(int i) {
    std::string cluster;
    for (int j = 0; j < kMembers; ++j) {
      if (j) cluster += ",";
      cluster += "m" + std::to_string(j + 1) + "=http://127.0.0.1:" + std::to_string(peer_port(j));
    }
    const std::string curl = "http://127.0.0.1:" + std::to_string(client_port(i));
    const std::string purl = "http://127.0.0.1:" + std::to_string(peer_port(i));
    std::vector<std::string> args = {cairn_,
                                     "--name",
                                     "m" + std::to_string(i + 1),
                                     "--data-dir",
                                     dir_ + "/m" + std::to_string(i + 1),
                                     "--listen-client-urls",
                                     curl,
                                     "--advertise-client-urls",
                                     curl,
                                     "--listen-peer-urls",
                                     purl,
                                     "--initial-advertise-peer-urls",
                                     purl,
                                     "--initial-cluster",
                                     cluster,
                                     "--initial-cluster-token",
                                     "fault",
                                     "--heartbeat-interval",
                                     std::to_string(kHeartbeatMs),
                                     "--election-timeout",
                                     std::to_string(kElectionTimeoutMs)};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = log_path(i);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fd);
      return false;
    }
    if (pid == 0) {
      // Child: die with the harness, whatever kills it (ctest timeout included).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      for (int other = 3; other < 4096; ++other)
        ::close(other);  // no harness sockets in the member
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fd);
    pids_[i] = pid;
    paused_[i] = false;
    return true;
  }
  void kill_member(int i) {
    if (pids_[i] <= 0) return;
    ::kill(pids_[i], SIGKILL);  // a stopped process dies too
    ::waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
    paused_[i] = false;
  }
  void pause(int i) {
    if (pids_[i] > 0 && ::kill(pids_[i], SIGSTOP) == 0) paused_[i] = true;
  }
  void resume(int i) {
    if (pids_[i] > 0 && ::kill(pids_[i], SIGCONT) == 0) paused_[i] = false;
  }
  // A member we did not stop has exited: returns its index and wait status.
  std::optional<std::pair<int, int>> unexpected_exit() {
    for (int i = 0; i < kMembers; ++i) {
      if (pids_[i] <= 0) continue;
      int status = 0;
      if (::waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
        pids_[i] = -1;
        return std::make_pair(i, status);
      }
    }
    return std::nullopt;
  }

 private:
  std::string cairn_;
  std::string dir_;
  int base_;
  std::array<pid_t, kMembers> pids_{};
  std::array<bool, kMembers> paused_{};
};

// ---- shared state --------------------------------------------------------------------------------

struct FaultRecord {
  int kind;
  int target;  // member index, -1 for all
  double at_s;
  std::int64_t at_ns;
  double recovery_s = -1;  // follower restart -> healthy
};

struct Run {
  Options opt;
  Cluster* cluster = nullptr;
  std::vector<lz::Op> history;
  std::vector<FaultRecord> faults;
  std::map<std::string, std::string> last_seen;  // key -> a value recently written or read
  std::vector<std::string> all_values;
  bool stop_clients = false;
  int clients_running = 0;
  bool faults_done = false;
  std::vector<std::string> anomalies;
  std::vector<std::uint64_t> member_ids;  // by index, from Status
};

awaitable<void> sleep_for(milliseconds d) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
  co_await t.async_wait(boost::asio::use_awaitable);
}

awaitable<net::UnaryResult> call(net::Channel& ch, std::string method, std::string request,
                                 milliseconds timeout) {
  net::CallOptions o;
  o.timeout = timeout;
  auto w = ch.unary(std::move(method), std::move(request), o);
  net::UnaryResult r = co_await std::move(w);
  co_return r;
}

std::unique_ptr<net::Channel> make_channel(boost::asio::any_io_executor ex, int port) {
  net::ChannelOptions co;
  co.connect_timeout = milliseconds(1'000);
  co.backoff_initial = milliseconds(50);
  co.backoff_max = milliseconds(500);
  return std::make_unique<net::Channel>(
      ex, std::vector<net::Endpoint>{{"127.0.0.1", static_cast<std::uint16_t>(port)}}, co);
}

// Status of one member: (its id, the leader it knows), or nullopt.
awaitable<std::optional<std::pair<std::uint64_t, std::uint64_t>>> member_status(net::Channel& ch) {
  etcdserverpb::StatusRequest req;
  net::UnaryResult r =
      co_await call(ch, "/etcdserverpb.Maintenance/Status", req.SerializeAsString(), kAdminTimeout);
  etcdserverpb::StatusResponse resp;
  if (!r.status.is_ok() || !resp.ParseFromString(r.response)) co_return std::nullopt;
  co_return std::make_pair(static_cast<std::uint64_t>(resp.header().member_id()),
                           static_cast<std::uint64_t>(resp.leader()));
}

// Every running member answers Status and names the same leader; returns its index, or -1.
awaitable<int> leader_if_healthy(Run& run, std::vector<std::unique_ptr<net::Channel>>& admin) {
  std::uint64_t leader = 0;
  for (int i = 0; i < kMembers; ++i) {
    auto s = co_await member_status(*admin[i]);
    if (!s || s->second == 0) co_return -1;
    if (run.member_ids[i] == 0) run.member_ids[i] = s->first;
    if (leader != 0 && leader != s->second) co_return -1;
    leader = s->second;
  }
  for (int i = 0; i < kMembers; ++i)
    if (run.member_ids[i] == leader) co_return i;
  co_return -1;
}

awaitable<int> wait_healthy(Run& run, std::vector<std::unique_ptr<net::Channel>>& admin) {
  const auto deadline = Clock::now() + kHealthWaitMax;
  while (Clock::now() < deadline) {
    int l = co_await leader_if_healthy(run, admin);
    if (l >= 0) co_return l;
    co_await sleep_for(milliseconds(100));
  }
  co_return -1;
}

// ---- clients -------------------------------------------------------------------------------------

std::string key_name(int k) {
  return "fault/k" + std::to_string(k);
}

void classify_error(lz::Op& op, const net::Status& st) {
  // Only a call that never reached a member is known not to have happened; anything else (deadline,
  // connection lost, etcd errors such as a request timeout or leader change) may have been committed.
  op.outcome = st.message == "no endpoint reachable" ? lz::Outcome::kFailed : lz::Outcome::kUnknown;
}

// One operation against member `m`, recorded into the history.
awaitable<lz::Op> do_op(Run& run, net::Channel& ch, int client, lz::OpKind kind, const std::string& key,
                        std::string value, std::string expected) {
  lz::Op op;
  op.client = client;
  op.key = key;
  op.kind = kind;
  op.value = value;
  op.expected = expected;
  const milliseconds timeout(run.opt.request_timeout_ms);
  std::string method, request;
  switch (kind) {
    case lz::OpKind::kPut: {
      etcdserverpb::PutRequest r;
      r.set_key(key);
      r.set_value(value);
      method = "/etcdserverpb.KV/Put";
      request = r.SerializeAsString();
      break;
    }
    case lz::OpKind::kGet: {
      etcdserverpb::RangeRequest r;
      r.set_key(key);  // serializable = false: a linearizable read
      r.set_serializable(run.opt.serializable_reads && client < run.opt.clients);
      method = "/etcdserverpb.KV/Range";
      request = r.SerializeAsString();
      break;
    }
    case lz::OpKind::kCas: {
      etcdserverpb::TxnRequest r;
      etcdserverpb::Compare* c = r.add_compare();
      c->set_result(etcdserverpb::Compare::EQUAL);
      c->set_target(etcdserverpb::Compare::VALUE);
      c->set_key(key);
      c->set_value(expected);
      etcdserverpb::PutRequest* p = r.add_success()->mutable_request_put();
      p->set_key(key);
      p->set_value(value);
      method = "/etcdserverpb.KV/Txn";
      request = r.SerializeAsString();
      break;
    }
    case lz::OpKind::kDelete: {
      etcdserverpb::DeleteRangeRequest r;
      r.set_key(key);
      method = "/etcdserverpb.KV/DeleteRange";
      request = r.SerializeAsString();
      break;
    }
  }
  op.invoke_ns = now_ns();
  net::UnaryResult res = co_await call(ch, method, std::move(request), timeout);
  op.complete_ns = now_ns();
  if (!res.status.is_ok()) {
    classify_error(op, res.status);
    co_return op;
  }
  bool parsed = false;
  switch (kind) {
    case lz::OpKind::kPut: {
      etcdserverpb::PutResponse r;
      parsed = r.ParseFromString(res.response);
      break;
    }
    case lz::OpKind::kGet: {
      etcdserverpb::RangeResponse r;
      parsed = r.ParseFromString(res.response);
      if (parsed && r.kvs_size() > 0) op.read = r.kvs(0).value();
      break;
    }
    case lz::OpKind::kCas: {
      etcdserverpb::TxnResponse r;
      parsed = r.ParseFromString(res.response);
      op.cas_succeeded = r.succeeded();
      break;
    }
    case lz::OpKind::kDelete: {
      etcdserverpb::DeleteRangeResponse r;
      parsed = r.ParseFromString(res.response);
      op.deleted = r.deleted() > 0;
      break;
    }
  }
  if (!parsed) op.outcome = lz::Outcome::kUnknown;
  co_return op;
}

awaitable<void> client_loop(Run& run, int client) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::unique_ptr<net::Channel>> chans;
  for (int i = 0; i < kMembers; ++i)
    chans.push_back(make_channel(ex, run.cluster->client_port(i)));
  std::mt19937_64 rng(run.opt.seed * 1000003ULL + static_cast<std::uint64_t>(client));
  std::uint64_t seq = 0;
  while (!run.stop_clients) {
    const int member = static_cast<int>(rng() % kMembers);
    const std::string key = key_name(static_cast<int>(rng() % static_cast<std::uint64_t>(run.opt.keys)));
    const int dice = static_cast<int>(rng() % 100);
    lz::OpKind kind = dice < 30   ? lz::OpKind::kPut
                      : dice < 70 ? lz::OpKind::kGet
                      : dice < 90 ? lz::OpKind::kCas
                                  : lz::OpKind::kDelete;
    std::string value = "c" + std::to_string(client) + "-" + std::to_string(seq++);
    std::string expected;
    if (kind == lz::OpKind::kCas) {
      auto it = run.last_seen.find(key);
      if (it != run.last_seen.end() && rng() % 4 != 0)
        expected = it->second;
      else if (!run.all_values.empty())
        expected = run.all_values[rng() % run.all_values.size()];
      else
        expected = "none";
    }
    lz::Op op = co_await do_op(run, *chans[member], client, kind, key, value, expected);
    if (op.outcome == lz::Outcome::kOk) {
      if (kind == lz::OpKind::kPut || (kind == lz::OpKind::kCas && op.cas_succeeded))
        run.last_seen[key] = value;
      if (kind == lz::OpKind::kGet && op.read) run.last_seen[key] = *op.read;
    }
    if (kind == lz::OpKind::kPut || kind == lz::OpKind::kCas) run.all_values.push_back(value);
    const bool backoff = op.outcome != lz::Outcome::kOk;
    run.history.push_back(std::move(op));
    // A member that is down refuses at once: back off so that faults do not flood the history.
    if (backoff) co_await sleep_for(milliseconds(100 + static_cast<int>(rng() % 100)));
  }
  for (auto& c : chans)
    c->close();
  --run.clients_running;
}

// ---- faults --------------------------------------------------------------------------------------

awaitable<void> fault_loop(Run& run) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::unique_ptr<net::Channel>> admin;
  for (int i = 0; i < kMembers; ++i)
    admin.push_back(make_channel(ex, run.cluster->client_port(i)));
  std::mt19937_64 rng(run.opt.seed);
  // The first four faults are every kind once, in a seeded order; then kinds are drawn at random.
  std::vector<int> schedule{kKillFollower, kKillLeader, kPauseLeader, kKillAll};
  std::shuffle(schedule.begin(), schedule.end(), rng);
  const double end_s = now_s() + run.opt.duration_s;
  Cluster& c = *run.cluster;
  for (std::size_t n = 0; n < schedule.size() || now_s() < end_s; ++n) {
    if (n >= schedule.size()) schedule.push_back(static_cast<int>(rng() % kFaultKinds));
    const int kind = schedule[n];
    const int quiet_ms = 1'000 + static_cast<int>(rng() % 2'000);
    const int hold_ms = 500 + static_cast<int>(rng() % 1'500);
    const int pick = static_cast<int>(rng() % 2);
    co_await sleep_for(milliseconds(quiet_ms));
    if (auto e = c.unexpected_exit()) {
      run.anomalies.push_back("member m" + std::to_string(e->first + 1) + " exited on its own (wait status " +
                              std::to_string(e->second) + ")");
      break;
    }
    const int leader = co_await wait_healthy(run, admin);
    if (leader < 0) {
      run.anomalies.push_back("cluster not healthy within 60 s before fault " + std::to_string(n + 1));
      break;
    }
    std::vector<int> followers;
    for (int i = 0; i < kMembers; ++i)
      if (i != leader) followers.push_back(i);
    FaultRecord f{kind, -1, now_s(), now_ns()};
    switch (kind) {
      case kKillFollower: {
        f.target = followers[static_cast<std::size_t>(pick)];
        std::printf("[%8.3f s] fault %zu: SIGKILL follower m%d (leader m%d), restart after %d ms\n", now_s(),
                    n + 1, f.target + 1, leader + 1, hold_ms);
        c.kill_member(f.target);
        co_await sleep_for(milliseconds(hold_ms));
        c.start(f.target);
        const auto restarted = Clock::now();
        while (Clock::now() - restarted < kHealthWaitMax) {
          auto s = co_await member_status(*admin[f.target]);
          if (s && s->second != 0) {
            f.recovery_s = std::chrono::duration<double>(Clock::now() - restarted).count();
            break;
          }
          co_await sleep_for(milliseconds(50));
        }
        break;
      }
      case kKillLeader:
        f.target = leader;
        std::printf("[%8.3f s] fault %zu: SIGKILL leader m%d, restart after %d ms\n", now_s(), n + 1,
                    leader + 1, hold_ms);
        c.kill_member(leader);
        co_await sleep_for(milliseconds(hold_ms));
        c.start(leader);
        break;
      case kPauseLeader: {
        f.target = leader;
        const int pause_ms = 2 * kElectionTimeoutMs + hold_ms;
        std::printf("[%8.3f s] fault %zu: SIGSTOP leader m%d for %d ms, then SIGCONT\n", now_s(), n + 1,
                    leader + 1, pause_ms);
        c.pause(leader);
        co_await sleep_for(milliseconds(pause_ms));
        c.resume(leader);
        break;
      }
      case kKillAll:
        std::printf("[%8.3f s] fault %zu: SIGKILL all members, restart after %d ms\n", now_s(), n + 1,
                    hold_ms);
        for (int i = 0; i < kMembers; ++i)
          c.kill_member(i);
        co_await sleep_for(milliseconds(hold_ms));
        for (int i = 0; i < kMembers; ++i)
          c.start(i);
        break;
    }
    std::fflush(stdout);
    run.faults.push_back(f);
  }
  for (auto& a : admin)
    a->close();
  run.faults_done = true;
}

// ---- final checks --------------------------------------------------------------------------------

awaitable<void> final_phase(Run& run) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::unique_ptr<net::Channel>> admin;
  for (int i = 0; i < kMembers; ++i)
    admin.push_back(make_channel(ex, run.cluster->client_port(i)));
  const int leader = co_await wait_healthy(run, admin);
  if (leader < 0) {
    run.anomalies.push_back("cluster not healthy within 60 s after the faults");
    co_return;
  }
  // Final linearizable reads of every key, part of the history: every acknowledged write must show.
  for (int k = 0; k < run.opt.keys; ++k) {
    bool done = false;
    for (int attempt = 0; attempt < 30 && !done; ++attempt) {
      lz::Op op = co_await do_op(run, *admin[(k + attempt) % kMembers], run.opt.clients, lz::OpKind::kGet,
                                 key_name(k), "", "");
      done = op.outcome == lz::Outcome::kOk;
      run.history.push_back(std::move(op));
      if (!done) co_await sleep_for(milliseconds(200));
    }
    if (!done) run.anomalies.push_back("final read of " + key_name(k) + " never succeeded");
  }
  // One revision, read linearizably, then HashKV of every member at that revision.
  std::int64_t revision = 0;
  for (int attempt = 0; attempt < 30 && revision == 0; ++attempt) {
    etcdserverpb::RangeRequest r;
    r.set_key(key_name(0));
    net::UnaryResult res =
        co_await call(*admin[leader], "/etcdserverpb.KV/Range", r.SerializeAsString(), kAdminTimeout);
    etcdserverpb::RangeResponse resp;
    if (res.status.is_ok() && resp.ParseFromString(res.response)) revision = resp.header().revision();
    if (revision == 0) co_await sleep_for(milliseconds(200));
  }
  if (revision == 0) {
    run.anomalies.push_back("could not read the current revision");
    co_return;
  }
  std::vector<std::optional<std::pair<std::uint32_t, std::int64_t>>> hashes(kMembers);
  for (int i = 0; i < kMembers; ++i) {
    std::string last_error;
    for (int attempt = 0; attempt < 100 && !hashes[i]; ++attempt) {
      etcdserverpb::HashKVRequest r;
      r.set_revision(revision);
      net::UnaryResult res = co_await call(*admin[i], "/etcdserverpb.Maintenance/HashKV",
                                           r.SerializeAsString(), milliseconds(5'000));
      etcdserverpb::HashKVResponse resp;
      if (res.status.is_ok() && resp.ParseFromString(res.response))
        hashes[i] = std::make_pair(static_cast<std::uint32_t>(resp.hash()),
                                   static_cast<std::int64_t>(resp.compact_revision()));
      else {
        last_error = res.status.message;
        co_await sleep_for(milliseconds(200));
      }
    }
    if (!hashes[i]) {
      run.anomalies.push_back("HashKV of m" + std::to_string(i + 1) + " failed: " + last_error);
      continue;
    }
    std::printf("HashKV m%d at revision %lld: hash %08x, compact revision %lld\n", i + 1,
                static_cast<long long>(revision), hashes[i]->first,
                static_cast<long long>(hashes[i]->second));
  }
  for (int i = 1; i < kMembers; ++i)
    if (hashes[i] && hashes[0] && hashes[i]->first != hashes[0]->first)
      run.anomalies.push_back("HashKV differs between m1 and m" + std::to_string(i + 1) + " at revision " +
                              std::to_string(revision));
  for (auto& a : admin)
    a->close();
}

awaitable<void> main_flow(Run& run, bool* finished) {
  auto ex = co_await boost::asio::this_coro::executor;
  for (int i = 0; i < kMembers; ++i)
    run.cluster->start(i);
  {
    std::vector<std::unique_ptr<net::Channel>> admin;
    for (int i = 0; i < kMembers; ++i)
      admin.push_back(make_channel(ex, run.cluster->client_port(i)));
    const int leader = co_await wait_healthy(run, admin);
    for (auto& a : admin)
      a->close();
    if (leader < 0) {
      run.anomalies.push_back("cluster not healthy within 60 s of start");
      *finished = true;
      co_return;
    }
    std::printf("[%8.3f s] cluster healthy, leader m%d\n", now_s(), leader + 1);
  }
  run.clients_running = run.opt.clients;
  for (int c = 0; c < run.opt.clients; ++c)
    boost::asio::co_spawn(ex, client_loop(run, c), boost::asio::detached);
  boost::asio::co_spawn(ex, fault_loop(run), boost::asio::detached);
  while (!run.faults_done)
    co_await sleep_for(milliseconds(100));
  // Let the clients run on the healed cluster for a moment, then stop them.
  co_await sleep_for(milliseconds(2'000));
  run.stop_clients = true;
  while (run.clients_running > 0)
    co_await sleep_for(milliseconds(50));
  if (run.anomalies.empty()) co_await final_phase(run);
  *finished = true;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--keep") {
      o.keep = true;
      continue;
    }
    if (a == "--serializable-reads") {
      o.serializable_reads = true;
      continue;
    }
    if (!(v = next())) return false;
    if (a == "--seed")
      o.seed = std::strtoull(v, nullptr, 10);
    else if (a == "--duration")
      o.duration_s = std::atoi(v);
    else if (a == "--clients")
      o.clients = std::atoi(v);
    else if (a == "--keys")
      o.keys = std::atoi(v);
    else if (a == "--cairn")
      o.cairn = v;
    else if (a == "--base-port")
      o.base_port = std::atoi(v);
    else if (a == "--request-timeout-ms")
      o.request_timeout_ms = std::atoi(v);
    else
      return false;
  }
  return !o.cairn.empty() && o.clients > 0 && o.keys > 0 && o.duration_s >= 0 && o.base_port > 0 &&
         o.base_port + 10 * kMembers < 65536;
}

void print_recovery(const char* what, std::vector<double> v) {
  if (v.empty()) {
    std::printf("  %s: none measured\n", what);
    return;
  }
  std::sort(v.begin(), v.end());
  std::printf("  %s: n=%zu min %.3f s, median %.3f s, max %.3f s\n", what, v.size(), v.front(),
              v[v.size() / 2], v.back());
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, opt)) {
    std::fprintf(stderr,
                 "usage: cairn_fault --cairn PATH [--seed N] [--duration S] [--clients N] [--keys N] "
                 "[--base-port P] [--request-timeout-ms MS] [--keep] [--serializable-reads]\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  g_start = Clock::now();
  char tmpl[] = "/tmp/cairn-fault.XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string dir = tmpl;
  std::printf("cairn_fault: seed %llu, duration %d s, %d clients, %d keys, ports %d-%d, dir %s\n",
              static_cast<unsigned long long>(opt.seed), opt.duration_s, opt.clients, opt.keys, opt.base_port,
              opt.base_port + 10 * kMembers, dir.c_str());
  std::fflush(stdout);
  Run run;
  run.opt = opt;
  run.member_ids.assign(kMembers, 0);
  bool finished = false;
  {
    Cluster cluster(opt.cairn, dir, opt.base_port);
    run.cluster = &cluster;
    boost::asio::io_context ioc;
    boost::asio::co_spawn(ioc, main_flow(run, &finished), boost::asio::detached);
    // Hang guard: the run must end well within the faults' duration plus recovery allowances.
    boost::asio::steady_timer guard(ioc, std::chrono::seconds(opt.duration_s + 240));
    guard.async_wait([&](const boost::system::error_code& ec) {
      if (!ec && !finished) ioc.stop();
    });
    while (!finished && !ioc.stopped())
      ioc.run_one();
    guard.cancel();
    if (!finished) run.anomalies.push_back("harness did not finish in time (hang guard)");
    // The cluster's destructor kills every member still running; the io_context (and the clients'
    // channels) go first.
  }

  // Figures.
  std::map<lz::OpKind, std::array<int, 3>> counts;
  int ok = 0, failed = 0, unknown = 0;
  for (const auto& op : run.history) {
    const int o = static_cast<int>(op.outcome);
    counts[op.kind][static_cast<std::size_t>(o)]++;
    (op.outcome == lz::Outcome::kOk ? ok : op.outcome == lz::Outcome::kFailed ? failed : unknown)++;
  }
  std::printf("operations: %zu (ok %d, failed %d, unknown %d)\n", run.history.size(), ok, failed, unknown);
  const char* kind_names[] = {"put", "get", "cas", "delete"};
  for (auto& [k, c] : counts)
    std::printf("  %-6s ok %d, failed %d, unknown %d\n", kind_names[static_cast<int>(k)], c[0], c[1], c[2]);
  std::array<int, kFaultKinds> fault_counts{};
  for (const auto& f : run.faults)
    fault_counts[static_cast<std::size_t>(f.kind)]++;
  std::printf("faults injected: %zu (", run.faults.size());
  for (int k = 0; k < kFaultKinds; ++k)
    std::printf("%s%s %d", k ? ", " : "", fault_name(k), fault_counts[k]);
  std::printf(")\n");
  std::vector<double> leader_recovery, follower_recovery;
  for (const auto& f : run.faults) {
    if (f.kind == kKillFollower && f.recovery_s >= 0) follower_recovery.push_back(f.recovery_s);
    if (f.kind != kKillLeader && f.kind != kPauseLeader && f.kind != kKillAll) continue;
    std::int64_t first = lz::kNeverCompleted;
    for (const auto& op : run.history) {
      const bool write = op.kind == lz::OpKind::kPut || op.kind == lz::OpKind::kDelete ||
                         (op.kind == lz::OpKind::kCas && op.cas_succeeded);
      if (write && op.outcome == lz::Outcome::kOk && op.invoke_ns >= f.at_ns)
        first = std::min(first, op.complete_ns);
    }
    if (first != lz::kNeverCompleted && f.kind == kKillLeader)
      leader_recovery.push_back(static_cast<double>(first - f.at_ns) / 1e9);
  }
  std::printf("recovery times:\n");
  print_recovery("leader SIGKILL -> first acknowledged write", leader_recovery);
  print_recovery("follower restart -> answers Status with a leader", follower_recovery);

  // The checker.
  bool inconclusive = false;
  const auto t0 = Clock::now();
  auto results = lz::check_history(run.history);
  for (const auto& r : results) {
    std::printf("key %s: %zu ops checked, %llu search steps: %s\n", r.key.c_str(), r.ops_checked,
                static_cast<unsigned long long>(r.steps),
                r.verdict == lz::Verdict::kLinearizable   ? "linearizable"
                : r.verdict == lz::Verdict::kInconclusive ? "INCONCLUSIVE (search bound reached)"
                                                          : "NOT LINEARIZABLE");
    if (r.verdict == lz::Verdict::kInconclusive) inconclusive = true;
    if (r.verdict != lz::Verdict::kNotLinearizable) continue;
    std::vector<lz::Op> key_ops;
    for (const auto& op : run.history)
      if (op.key == r.key) key_ops.push_back(op);
    lz::KeyResult m = lz::minimize(key_ops);
    std::printf("  smallest failing window found (%zu ops, %s):\n", m.counterexample.size(),
                m.window_from_start ? "from the start of the history" : "from any initial state");
    for (const auto& op : m.counterexample)
      std::printf("    %s\n", lz::describe(op).c_str());
    run.anomalies.push_back("history of key " + r.key + " is not linearizable");
  }
  std::printf("checker time: %.3f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  for (const auto& f : run.faults)
    std::printf("  fault at %.3f s: %s %s\n", f.at_s, fault_name(f.kind),
                f.target < 0 ? "all" : ("m" + std::to_string(f.target + 1)).c_str());

  const bool bad = !run.anomalies.empty();
  for (const auto& a : run.anomalies)
    std::printf("ANOMALY: %s\n", a.c_str());
  if (bad || inconclusive || opt.keep) {
    std::printf("member logs kept in %s (m1.log, m2.log, m3.log)\n", dir.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  if (bad) {
    std::printf("FAILED: seed %llu (replay: cairn_fault --seed %llu --duration %d --clients %d --keys %d)\n",
                static_cast<unsigned long long>(opt.seed), static_cast<unsigned long long>(opt.seed),
                opt.duration_s, opt.clients, opt.keys);
    return 1;
  }
  if (inconclusive) {
    std::printf("INCONCLUSIVE: seed %llu\n", static_cast<unsigned long long>(opt.seed));
    return 3;
  }
  std::printf("PASSED: seed %llu\n", static_cast<unsigned long long>(opt.seed));
  return 0;
}
