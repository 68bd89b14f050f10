// cairn_fault: fault injection on real cairn (or etcd) processes, judged by the linearizability checker.
//
// Starts a 3-member cluster on loopback (data dirs in a temp dir; peer links through a fault-injecting
// proxy run by the harness, peer_proxy.h), runs concurrent clients (coroutines on one thread, each request
// to a random member, per-request timeout) doing puts of unique values, linearizable gets, compare-and-set
// txns and deletes on a small key set, and records every invocation and completion. Meanwhile a seeded
// fault loop kills followers, the leader, the leader and a follower, or every member, pauses the leader
// (SIGSTOP) past an election timeout, partitions the leader or a follower, cuts one direction of a link,
// tears the tail of a stopped member's newest WAL segment, and replaces a follower (MemberRemove, MemberAdd
// of a fresh member), each time healing what it broke. After the faults: wait for health, read every key
// (these reads join the history), check the history per key, compare Maintenance/HashKV of all members at
// one revision, and require that no CORRUPT alarm was raised (cairn's state check runs on every member).
//
//   cairn_fault --cairn build/bin/cairn [--seed N] [--seeds N] [--duration S] [--faults K1,K2,...] [--clients
//   N]
//               [--keys N] [--base-port P] [--request-timeout-ms MS] [--keep] [--serializable-reads]
//               [--server-arg ARG]... [--skip-read-index] [--scenario stale-read] [--expect-violation]
//               [--watchers N] [--lease-clients N] [--io-shim PATH]
//   cairn_fault --check-history FILE [--steps-max N]   (the checker alone on a saved key history)
//   cairn_fault --etcd /usr/bin/etcd ...       (the same against etcd; no partitions: see --faults)
// Exit: 0 no anomaly; 1 anomaly (printed with the seed); 2 usage or setup error; 3 checker inconclusive.
// Soak mode (--seeds N): N runs, seeds --seed .. --seed+N-1, one line each; exit 1 if any did not pass.
// With --expect-violation: 0 only if the checker rejected some key and nothing else went wrong.
// The same --seed repeats the same fault schedule (kinds, targets among followers, hold times, cut
// modes); client timing is not deterministic. See docs/fault-testing.md.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
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
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "proto/etcd/rpc.pb.h"
#include "tests/fault/linearizability.h"
#include "tests/fault/peer_proxy.h"
#include "tests/fault/watch_check.h"
#include "wire/client.h"

namespace {

using boost::asio::awaitable;
namespace wire = cairn::wire;
namespace lz = cairn::tests::fault;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kMembers = 3;
constexpr int kHeartbeatMs = 50;
constexpr int kElectionTimeoutMs = 500;
constexpr milliseconds kHealthWaitMax{60'000};
constexpr milliseconds kAdminTimeout{1'000};
constexpr int kFaultKinds = 13;
constexpr int kGenerationsMax = 8;  // member replacements per slot (each needs a fresh peer URL/port)

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
  bool etcd = false;                     // the members are etcd (--etcd PATH): no HELLO, no partitions
  std::vector<std::string> server_args;  // appended to every member's command line
  std::string faults;                    // comma-separated kinds; empty: the server's default set
  std::string scenario;                  // "" (random faults) or "stale-read"
  bool expect_violation = false;
  bool proxy = true;
  int watchers = 2;       // watch streams on the key prefix, each resumed across member failures
  int lease_clients = 1;  // coroutines granting, keeping alive and revoking leases (keys fault/lease/...)
  int tmpfs_mb = 256;     // size of each member's tmpfs data dir when disk-full is enabled
  bool tmpfs = false;     // set when the tmpfs data dirs are mounted (disk-full possible)
  int seeds = 0;          // soak mode (--seeds N): seeds seed .. seed+N-1, one run and one line each
  std::string io_shim = CAIRN_IO_FAULT_SHIM;  // LD_PRELOAD library for disk-error (io_fault_shim.cc)
  bool io_faults = false;  // set when disk-error is enabled: members start with the shim preloaded
};

enum FaultKind {
  kKillFollower = 0,
  kKillLeader = 1,
  kPauseLeader = 2,
  kKillAll = 3,
  kPartitionLeader = 4,    // leader cut off from both followers, both directions
  kPartitionFollower = 5,  // a follower (the minority) cut off, both directions
  kOneWay = 6,             // one direction of one leader-follower link dropped
  kTornWal = 7,            // a stopped follower's newest WAL segment gets a torn tail
  kMemberReplace = 8,      // MemberRemove a follower, MemberAdd a fresh member in its place
  kDiskFull = 9,           // a follower's data dir (a small tmpfs) is filled up, then freed
  kKillMajority = 10,      // the leader and one follower SIGKILLed at once (quorum lost), restarted
  kDiskError = 11,         // every write or fsync on one member's disk fails (EIO or ENOSPC), then heals
  kBitFlip = 12,           // a stopped follower's WAL or store file gets a flipped bit or a zeroed block
};
const char* fault_name(int k) {
  static const char* names[kFaultKinds] = {
      "kill-follower",      "kill-leader", "pause-leader", "kill-all",       "partition-leader",
      "partition-follower", "one-way",     "torn-wal",     "member-replace", "disk-full",
      "kill-majority",      "disk-error",  "bit-flip"};
  return names[k];
}
bool needs_proxy(int k) {
  return k == kPartitionLeader || k == kPartitionFollower || k == kOneWay;
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
  Cluster(const Options& opt, std::string dir) : opt_(opt), dir_(std::move(dir)), base_(opt.base_port) {
    pids_.fill(-1);
    gen_.fill(0);
    for (int j = 0; j < kMembers; ++j) {
      if (j) initial_cluster_ += ",";
      initial_cluster_ += name(j) + "=" + peer_url(j);
    }
    cluster_.fill(initial_cluster_);
    state_.fill("new");
  }
  ~Cluster() {
    for (int i = 0; i < kMembers; ++i)
      kill_member(i);
  }
  // Member slot i: client port P+10i; the member listens for peers on P+10i+1 and advertises the proxy's
  // port P+10i+2+generation (without the proxy it listens on that port itself). A replaced member (next
  // generation) needs a new peer URL, since member ids derive from peer URLs.
  int client_port(int i) const { return base_ + 10 * i; }
  int listen_peer_port(int i) const { return opt_.proxy ? base_ + 10 * i + 1 : advertised_peer_port(i); }
  int advertised_peer_port(int i) const { return base_ + 10 * i + 2 + gen_[i]; }
  std::string peer_url(int i) const { return "http://127.0.0.1:" + std::to_string(advertised_peer_port(i)); }
  std::string name(int i) const {
    return "m" + std::to_string(i + 1) + (gen_[i] ? "g" + std::to_string(gen_[i]) : "");
  }
  // With the disk-full fault, slot i's data dirs live on their own tmpfs mounted at <dir>/fs<i>.
  std::string fs_dir(int i) const { return dir_ + "/fs" + std::to_string(i + 1); }
  std::string data_dir(int i) const { return opt_.tmpfs ? fs_dir(i) + "/" + name(i) : dir_ + "/" + name(i); }
  bool reap(int i, int* status) {  // true if the member exited; it is then no longer running
    if (pids_[i] <= 0) return false;
    if (::waitpid(pids_[i], status, WNOHANG) != pids_[i]) return false;
    pids_[i] = -1;
    return true;
  }
  std::string log_path(int i) const { return dir_ + "/m" + std::to_string(i + 1) + ".log"; }
  // disk-error: the file slot i's io fault shim reads (empty or missing: no fault).
  std::string io_control(int i) const { return dir_ + "/io-fault-m" + std::to_string(i + 1); }
  // The member's environment: the harness's, plus the io fault shim when disk-error is enabled (an
  // ASan member must be told to accept a library loaded before its runtime).
  std::vector<std::string> member_env(int i) const {
    std::vector<std::string> env;
    std::string asan = "ASAN_OPTIONS=";
    for (char** e = environ; *e; ++e) {
      std::string v = *e;
      if (opt_.io_faults && v.rfind("ASAN_OPTIONS=", 0) == 0)
        asan = v + ":";
      else if (!opt_.io_faults || (v.rfind("LD_PRELOAD=", 0) != 0 && v.rfind("CAIRN_IO_FAULT_FILE=", 0) != 0))
        env.push_back(std::move(v));
    }
    if (opt_.io_faults) {
      env.push_back("LD_PRELOAD=" + opt_.io_shim);
      env.push_back("CAIRN_IO_FAULT_FILE=" + io_control(i));
      env.push_back(asan + "verify_asan_link_order=0");
    }
    return env;
  }
  bool running(int i) const { return pids_[i] > 0; }
  int generation(int i) const { return gen_[i]; }
  // The slot's next member: new name, data dir and peer URL, joining an existing cluster.
  void next_generation(int i) {
    ++gen_[i];
    state_[i] = "existing";
  }
  void set_initial_cluster(int i, std::string cluster) { cluster_[i] = std::move(cluster); }

  bool start(int i) {
    const std::string curl = "http://127.0.0.1:" + std::to_string(client_port(i));
    const std::string lurl = "http://127.0.0.1:" + std::to_string(listen_peer_port(i));
    std::vector<std::string> args = {opt_.cairn,
                                     "--name",
                                     name(i),
                                     "--data-dir",
                                     data_dir(i),
                                     "--listen-client-urls",
                                     curl,
                                     "--advertise-client-urls",
                                     curl,
                                     "--listen-peer-urls",
                                     lurl,
                                     "--initial-advertise-peer-urls",
                                     peer_url(i),
                                     "--initial-cluster",
                                     cluster_[i],
                                     "--initial-cluster-state",
                                     state_[i],
                                     "--initial-cluster-token",
                                     "fault",
                                     "--heartbeat-interval",
                                     std::to_string(kHeartbeatMs),
                                     "--election-timeout",
                                     std::to_string(kElectionTimeoutMs)};
    // The disk-full fault tests fail-stop on a file system that is really full, and a 256 MB tmpfs is
    // below the disk guard's default reserve from the start: the guard is off here (its own test is
    // tests/server/node_budget_test.cc).
    if (!opt_.etcd) {
      args.push_back("--disk-free-reserve-bytes");
      args.push_back("0");
    }
    for (const auto& a : opt_.server_args)
      args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = member_env(i);
    std::vector<char*> envp;
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
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
      ::execve(argv[0], argv.data(), envp.data());
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
  const Options& opt_;
  std::string dir_;
  int base_;
  std::string initial_cluster_;
  std::array<pid_t, kMembers> pids_{};
  std::array<bool, kMembers> paused_{};
  std::array<int, kMembers> gen_{};
  std::array<std::string, kMembers> cluster_;
  std::array<std::string, kMembers> state_;
};

// ---- shared state --------------------------------------------------------------------------------

struct FaultRecord {
  int kind;
  int target;  // member index, -1 for all
  double at_s;
  std::int64_t at_ns;
  double recovery_s = -1;  // follower restart (torn-wal, member-replace: new process) -> healthy
  std::string note;        // details printed with the summary (cut mode, torn-tail repair, ...)
};

struct Run {
  Options opt;
  Cluster* cluster = nullptr;
  lz::PeerProxy* proxy = nullptr;
  std::vector<lz::Op> history;
  std::vector<FaultRecord> faults;
  std::map<std::string, std::string> last_seen;  // key -> a value recently written or read
  std::vector<std::string> all_values;
  bool stop_clients = false;
  int clients_running = 0;
  bool faults_done = false;
  std::vector<std::string> anomalies;
  std::vector<std::uint64_t> member_ids;  // by index, from Status
  // Watchers.
  struct WatchEvent {
    std::int64_t revision;
    bool put;
    std::string key, value;
  };
  struct Watcher {
    std::int64_t start = 0;  // first revision it is responsible for (header revision of the first create + 1)
    std::int64_t next = 0;   // next revision it expects (resume point)
    std::vector<WatchEvent> events;
    int streams = 0;  // watch streams opened (1 + resumptions)
    std::vector<std::string> problems;
    bool done = false;
  };
  std::vector<Watcher> watchers;
  std::vector<lz::MultiRead> multi_reads;  // acknowledged two-key read txns
  int multi_reads_unacknowledged = 0;
  std::vector<wire::Channel*> watch_channels;
  bool stop_watchers = false;
  // Leases (lease_loop): puts of the lease keys, for the watch check only (not registers the
  // linearizability checker models), and the final lease check's figures.
  std::vector<lz::Op> lease_puts;
  int leases_granted = 0, leases_revoked = 0, leases_lapsed = 0, leases_checked_alive = 0,
      leases_checked_revoked = 0, leases_unverifiable = 0, lease_keepalives_acked = 0,
      lease_keepalives_failed = 0;
};

awaitable<void> sleep_for(milliseconds d) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
  co_await t.async_wait(boost::asio::use_awaitable);
}

awaitable<wire::UnaryResult> call(wire::Channel& ch, std::string method, std::string request,
                                  milliseconds timeout) {
  wire::CallOptions o;
  o.timeout = timeout;
  auto w = ch.unary(std::move(method), std::move(request), o);
  wire::UnaryResult r = co_await std::move(w);
  co_return r;
}

std::unique_ptr<wire::Channel> make_channel(boost::asio::any_io_executor ex, int port) {
  wire::ChannelOptions co;
  co.connect_timeout = milliseconds(1'000);
  co.backoff_initial = milliseconds(50);
  co.backoff_max = milliseconds(500);
  return std::make_unique<wire::Channel>(
      ex, std::vector<wire::Endpoint>{{"127.0.0.1", static_cast<std::uint16_t>(port)}}, co);
}

// Status of one member: (its id, the leader it knows), or nullopt.
awaitable<std::optional<std::pair<std::uint64_t, std::uint64_t>>> member_status(wire::Channel& ch) {
  etcdserverpb::StatusRequest req;
  wire::UnaryResult r =
      co_await call(ch, "/etcdserverpb.Maintenance/Status", req.SerializeAsString(), kAdminTimeout);
  etcdserverpb::StatusResponse resp;
  if (!r.status.is_ok() || !resp.ParseFromString(r.response)) co_return std::nullopt;
  co_return std::make_pair(static_cast<std::uint64_t>(resp.header().member_id()),
                           static_cast<std::uint64_t>(resp.leader()));
}

// Every running member answers Status and names the same leader; returns its index, or -1.
awaitable<int> leader_if_healthy(Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin) {
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

// What each member says (Status, MemberList): printed when the cluster does not become healthy.
awaitable<void> print_cluster_view(Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin) {
  for (int i = 0; i < kMembers; ++i) {
    wire::Channel& ch = *admin[static_cast<std::size_t>(i)];
    etcdserverpb::StatusRequest sreq;
    wire::UnaryResult sr =
        co_await call(ch, "/etcdserverpb.Maintenance/Status", sreq.SerializeAsString(), kAdminTimeout);
    etcdserverpb::StatusResponse st;
    if (!sr.status.is_ok() || !st.ParseFromString(sr.response)) {
      std::printf("  slot m%d (%s, running %d): Status failed: %s\n", i + 1, run.cluster->name(i).c_str(),
                  run.cluster->running(i), sr.status.message.c_str());
      continue;
    }
    std::printf(
        "  slot m%d (%s): id %016llx, leader %016llx, raft term %llu, raft index %llu, applied %llu, "
        "errors [",
        i + 1, run.cluster->name(i).c_str(), static_cast<unsigned long long>(st.header().member_id()),
        static_cast<unsigned long long>(st.leader()), static_cast<unsigned long long>(st.raftterm()),
        static_cast<unsigned long long>(st.raftindex()),
        static_cast<unsigned long long>(st.raftappliedindex()));
    for (const auto& e : st.errors())
      std::printf(" %s", e.c_str());
    std::printf(" ]\n    members:");
    etcdserverpb::MemberListRequest lreq;
    wire::UnaryResult lr =
        co_await call(ch, "/etcdserverpb.Cluster/MemberList", lreq.SerializeAsString(), kAdminTimeout);
    etcdserverpb::MemberListResponse ml;
    if (lr.status.is_ok() && ml.ParseFromString(lr.response))
      for (const auto& m : ml.members())
        std::printf(" %016llx=%s(%s)", static_cast<unsigned long long>(m.id()),
                    m.peerurls_size() ? m.peerurls(0).c_str() : "-", m.name().c_str());
    else
      std::printf(" (MemberList failed: %s)", lr.status.message.c_str());
    std::printf("\n");
  }
}

awaitable<int> wait_healthy(Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin) {
  const auto deadline = Clock::now() + kHealthWaitMax;
  while (Clock::now() < deadline) {
    int l = co_await leader_if_healthy(run, admin);
    if (l >= 0) co_return l;
    co_await sleep_for(milliseconds(100));
  }
  std::printf("[%8.3f s] not healthy after %lld s; what the members say:\n", now_s(),
              static_cast<long long>(kHealthWaitMax.count() / 1000));
  co_await print_cluster_view(run, admin);
  co_return -1;
}

// ---- clients -------------------------------------------------------------------------------------

std::string key_name(int k) {
  return "fault/k" + std::to_string(k);
}

void classify_error(lz::Op& op, const wire::Status& st) {
  // Only a call that never reached a member is known not to have happened; anything else (deadline,
  // connection lost, etcd errors such as a request timeout or leader change) may have been committed.
  op.outcome = st.message == "no endpoint reachable" ? lz::Outcome::kFailed : lz::Outcome::kUnknown;
}

// One operation against member `m`, recorded into the history.
awaitable<lz::Op> do_op(Run& run, wire::Channel& ch, int client, lz::OpKind kind, const std::string& key,
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
  wire::UnaryResult res = co_await call(ch, method, std::move(request), timeout);
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

// A Txn with no compares whose success branch reads each key: one revision for all of them.
awaitable<bool> do_multi_read(Run& run, wire::Channel& ch, int client, std::vector<std::string> keys) {
  etcdserverpb::TxnRequest req;
  for (const auto& k : keys)
    req.add_success()->mutable_request_range()->set_key(k);
  lz::MultiRead mr;
  mr.client = client;
  mr.keys = keys;
  mr.invoke_ns = now_ns();
  wire::UnaryResult res = co_await call(ch, "/etcdserverpb.KV/Txn", req.SerializeAsString(),
                                        milliseconds(run.opt.request_timeout_ms));
  mr.complete_ns = now_ns();
  etcdserverpb::TxnResponse resp;
  if (!res.status.is_ok() || !resp.ParseFromString(res.response) || !resp.succeeded() ||
      resp.responses_size() != static_cast<int>(keys.size())) {
    ++run.multi_reads_unacknowledged;
    co_return false;
  }
  mr.revision = resp.header().revision();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& rr = resp.responses(static_cast<int>(i)).response_range();
    mr.values.push_back(rr.kvs_size() > 0 ? std::optional<std::string>(rr.kvs(0).value()) : std::nullopt);
    lz::Op op;  // the projection on one key: a linearizable get at the same instant
    op.client = client;
    op.key = keys[i];
    op.kind = lz::OpKind::kGet;
    op.invoke_ns = mr.invoke_ns;
    op.complete_ns = mr.complete_ns;
    op.read = mr.values.back();
    run.history.push_back(std::move(op));
  }
  run.multi_reads.push_back(std::move(mr));
  co_return true;
}

awaitable<void> client_loop(Run& run, int client) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::unique_ptr<wire::Channel>> chans;
  for (int i = 0; i < kMembers; ++i)
    chans.push_back(make_channel(ex, run.cluster->client_port(i)));
  std::mt19937_64 rng(run.opt.seed * 1000003ULL + static_cast<std::uint64_t>(client));
  std::uint64_t seq = 0;
  while (!run.stop_clients) {
    const int member = static_cast<int>(rng() % kMembers);
    const std::string key = key_name(static_cast<int>(rng() % static_cast<std::uint64_t>(run.opt.keys)));
    const int dice = static_cast<int>(rng() % 100);
    if (dice >= 65 && dice < 70 && run.opt.keys > 1) {
      // A read of two keys in one Txn: its projections join the per-key histories as gets; its
      // snapshot atomicity is checked against the watchers' revisions (check_multi_reads).
      const int a = static_cast<int>(rng() % static_cast<std::uint64_t>(run.opt.keys));
      const int b =
          (a + 1 + static_cast<int>(rng() % static_cast<std::uint64_t>(run.opt.keys - 1))) % run.opt.keys;
      std::vector<std::string> pair;
      pair.push_back(key_name(a));
      pair.push_back(key_name(b));
      const bool ok = co_await do_multi_read(run, *chans[member], client, std::move(pair));
      if (!ok) co_await sleep_for(milliseconds(100 + static_cast<int>(rng() % 100)));
      continue;
    }
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

// ---- leases --------------------------------------------------------------------------------------

// One lease client: now and then grants a lease (TTL kLeaseTtlS) and puts a key of its own under
// "fault/lease/" attached to it, keeps its leases alive (one LeaseKeepAlive exchange per lease about
// every second, each at a random member) and sometimes revokes one. After the clients stop and the
// cluster is healthy, one more keep-alive round, then the check (only what etcd guarantees):
// * a lease whose latest acknowledged keep-alive (or grant) was *sent* at s must exist until s + TTL
//   (the leader renews after receiving it; a new leader restarts every lease's TTL): a LeaseTimeToLive
//   answered before s + TTL must report TTL > 0, and a linearizable read of its key (if the put was
//   acknowledged) answered before then must find it; a keep-alive answered "not found" (TTL <= 0)
//   before s + TTL is the same violation. Leases with no acknowledged keep-alive within the TTL lapse
//   (no claim).
// * a lease whose LeaseRevoke was acknowledged is gone (TTL -1) and its key absent.
constexpr int kLeaseTtlS = 5;
constexpr std::int64_t kLeaseTtlNs = std::int64_t{kLeaseTtlS} * 1'000'000'000;

struct LeaseRec {
  std::int64_t id = 0;
  std::string key, value;
  bool key_acked = false;
  std::int64_t last_ack_sent_ns = -1;  // send time of the latest acknowledged grant / keep-alive
};

// One LeaseKeepAlive exchange on a fresh stream; the TTL answered, or nullopt (no answer).
awaitable<std::optional<std::int64_t>> lease_keepalive(wire::Channel& ch, std::int64_t id,
                                                       milliseconds timeout) {
  wire::CallOptions o;
  o.timeout = timeout;
  wire::ClientCall c = co_await ch.start_call("/etcdserverpb.Lease/LeaseKeepAlive", o);
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(id);
  std::optional<std::int64_t> ttl;
  if (co_await c.write(req.SerializeAsString())) {
    auto msg = co_await c.read();
    etcdserverpb::LeaseKeepAliveResponse resp;
    if (msg && resp.ParseFromString(*msg)) ttl = resp.ttl();
  }
  c.cancel();
  co_return ttl;
}

// LeaseTimeToLive: the TTL answered (-1: no such lease), or nullopt.
awaitable<std::optional<std::int64_t>> lease_ttl(wire::Channel& ch, std::int64_t id, milliseconds timeout) {
  etcdserverpb::LeaseTimeToLiveRequest r;
  r.set_id(id);
  wire::UnaryResult res =
      co_await call(ch, "/etcdserverpb.Lease/LeaseTimeToLive", r.SerializeAsString(), timeout);
  etcdserverpb::LeaseTimeToLiveResponse resp;
  if (res.status.is_ok() && resp.ParseFromString(res.response)) co_return resp.ttl();
  if (!res.status.is_ok() && res.status.message.find("not found") != std::string::npos) co_return -1;
  co_return std::nullopt;
}

awaitable<void> lease_loop(Run& run, int lc) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::unique_ptr<wire::Channel>> chans;
  for (int i = 0; i < kMembers; ++i)
    chans.push_back(make_channel(ex, run.cluster->client_port(i)));
  std::mt19937_64 rng(run.opt.seed * 104729ULL + static_cast<std::uint64_t>(lc));
  const milliseconds timeout(run.opt.request_timeout_ms);
  std::vector<LeaseRec> active, revoked;
  std::uint64_t seq = 0;
  auto violation = [&](const std::string& what) { run.anomalies.push_back("lease: " + what); };
  auto hex = [](std::int64_t id) {
    char b[32];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(id));
    return std::string(b);
  };
  // Keep-alive of every active lease; drops those with no acknowledged keep-alive within the TTL.
  auto keepalive_round = [&]() -> awaitable<void> {
    for (auto& l : active) {
      // Up to three members in turn until one acknowledges (a member may be down or paused).
      const std::size_t first = rng() % kMembers;
      for (std::size_t attempt = 0; attempt < kMembers; ++attempt) {
        const std::int64_t sent = now_ns();
        auto ttl = co_await lease_keepalive(*chans[(first + attempt) % kMembers], l.id, timeout);
        const std::int64_t done = now_ns();
        if (ttl && *ttl > 0) {
          l.last_ack_sent_ns = sent;
          ++run.lease_keepalives_acked;
          break;
        }
        ++run.lease_keepalives_failed;
        if (ttl && done < l.last_ack_sent_ns + kLeaseTtlNs) {
          violation("lease " + hex(l.id) + " kept alive (keep-alive sent " +
                    std::to_string((done - l.last_ack_sent_ns) / 1'000'000) +
                    " ms before this answer) answered not found to a keep-alive");
          l.last_ack_sent_ns = -1;
        }
        if (ttl) break;  // an answer "not found": the lease is gone
      }
    }
    const std::int64_t t = now_ns();
    const auto before = active.size();
    std::erase_if(active, [&](const LeaseRec& l) { return l.last_ack_sent_ns + kLeaseTtlNs <= t; });
    run.leases_lapsed += static_cast<int>(before - active.size());
  };
  while (!run.stop_clients) {
    co_await sleep_for(milliseconds(700 + static_cast<int>(rng() % 600)));
    co_await keepalive_round();
    const int dice = static_cast<int>(rng() % 10);
    wire::Channel& ch = *chans[rng() % kMembers];
    if (dice < 3 && active.size() < 4) {
      etcdserverpb::LeaseGrantRequest g;
      g.set_ttl(kLeaseTtlS);
      const std::int64_t sent = now_ns();
      wire::UnaryResult res =
          co_await call(ch, "/etcdserverpb.Lease/LeaseGrant", g.SerializeAsString(), timeout);
      etcdserverpb::LeaseGrantResponse gr;
      if (!res.status.is_ok() || !gr.ParseFromString(res.response) || gr.id() == 0) continue;
      ++run.leases_granted;
      LeaseRec l;
      l.id = gr.id();
      l.last_ack_sent_ns = sent;
      l.key = "fault/lease/l" + std::to_string(lc) + "-" + std::to_string(seq);
      l.value = "l" + std::to_string(lc) + "-" + std::to_string(seq++);
      etcdserverpb::PutRequest p;
      p.set_key(l.key);
      p.set_value(l.value);
      p.set_lease(l.id);
      lz::Op op;
      op.client = run.opt.clients + 1 + lc;
      op.key = l.key;
      op.kind = lz::OpKind::kPut;
      op.value = l.value;
      op.invoke_ns = now_ns();
      res = co_await call(*chans[rng() % kMembers], "/etcdserverpb.KV/Put", p.SerializeAsString(), timeout);
      op.complete_ns = now_ns();
      if (res.status.is_ok()) {
        etcdserverpb::PutResponse pr;
        l.key_acked = pr.ParseFromString(res.response);
        if (!l.key_acked) op.outcome = lz::Outcome::kUnknown;
      } else {
        classify_error(op, res.status);
      }
      run.lease_puts.push_back(op);
      active.push_back(std::move(l));
    } else if (dice == 3 && !active.empty()) {
      const std::size_t i = rng() % active.size();
      etcdserverpb::LeaseRevokeRequest r;
      r.set_id(active[i].id);
      wire::UnaryResult res =
          co_await call(ch, "/etcdserverpb.Lease/LeaseRevoke", r.SerializeAsString(), timeout);
      etcdserverpb::LeaseRevokeResponse rr;
      if (res.status.is_ok() && rr.ParseFromString(res.response)) {
        ++run.leases_revoked;
        revoked.push_back(active[i]);
      }
      // Acknowledged or not, no more keep-alives: an unacknowledged revoke may have happened.
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  // The final check, on the healed cluster.
  if (co_await wait_healthy(run, chans) >= 0) {
    co_await keepalive_round();
    for (const auto& l : active) {
      auto ttl = co_await lease_ttl(*chans[rng() % kMembers], l.id, timeout);
      const std::int64_t ttl_done = now_ns();
      std::optional<lz::Op> read;
      if (l.key_acked)
        read =
            co_await do_op(run, *chans[rng() % kMembers], run.opt.clients, lz::OpKind::kGet, l.key, "", "");
      const std::int64_t deadline = l.last_ack_sent_ns + kLeaseTtlNs;
      if (!ttl || ttl_done >= deadline ||
          (read && (read->outcome != lz::Outcome::kOk || read->complete_ns >= deadline))) {
        ++run.leases_unverifiable;
        continue;
      }
      ++run.leases_checked_alive;
      if (*ttl <= 0)
        violation("lease " + hex(l.id) + " kept alive (keep-alive acknowledged, sent " +
                  std::to_string((ttl_done - l.last_ack_sent_ns) / 1'000'000) +
                  " ms before) is gone: LeaseTimeToLive TTL " + std::to_string(*ttl));
      if (read && read->read != std::optional<std::string>(l.value))
        violation("key " + l.key + " of kept-alive lease " + hex(l.id) + " reads " +
                  (read->read ? "\"" + *read->read + "\"" : std::string("absent")) + ", expected \"" +
                  l.value + "\"");
    }
    for (const auto& l : revoked) {
      auto ttl = co_await lease_ttl(*chans[rng() % kMembers], l.id, timeout);
      lz::Op read =
          co_await do_op(run, *chans[rng() % kMembers], run.opt.clients, lz::OpKind::kGet, l.key, "", "");
      if (!ttl || read.outcome != lz::Outcome::kOk) {
        ++run.leases_unverifiable;
        continue;
      }
      ++run.leases_checked_revoked;
      if (*ttl != -1)
        violation("revoked lease " + hex(l.id) + " still exists: LeaseTimeToLive TTL " +
                  std::to_string(*ttl));
      if (read.read)
        violation("key " + l.key + " of revoked lease " + hex(l.id) + " still present (\"" + *read.read +
                  "\")");
    }
  } else {
    violation("cluster not healthy for the final lease check");
  }
  for (auto& c : chans)
    c->close();
  --run.clients_running;
}

// ---- watchers ------------------------------------------------------------------------------------

// One watcher on the prefix "fault/": a Watch stream to a random member; when the stream breaks (member
// killed, replaced...) it resumes on another with start_revision = the next revision it expects, so over
// the run it must see every change from its start, in order, once.
awaitable<void> watcher_loop(Run& run, int w) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::unique_ptr<wire::Channel>> chans;
  for (int i = 0; i < kMembers; ++i) {
    chans.push_back(make_channel(ex, run.cluster->client_port(i)));
    run.watch_channels.push_back(chans.back().get());
  }
  std::mt19937_64 rng(run.opt.seed * 7919ULL + static_cast<std::uint64_t>(w));
  Run::Watcher& me = run.watchers[static_cast<std::size_t>(w)];
  while (!run.stop_watchers) {
    wire::Channel& ch = *chans[rng() % kMembers];
    wire::ClientCall call = co_await ch.start_call("/etcdserverpb.Watch/Watch", wire::CallOptions{});
    etcdserverpb::WatchRequest req;
    auto* c = req.mutable_create_request();
    c->set_key("fault/");
    c->set_range_end("fault0");  // the prefix "fault/"
    c->set_start_revision(me.next);
    bool ok = co_await call.write(req.SerializeAsString());
    ++me.streams;
    while (ok && !run.stop_watchers) {
      auto msg = co_await call.read();
      if (!msg) break;
      etcdserverpb::WatchResponse resp;
      if (!resp.ParseFromString(*msg)) {
        me.problems.push_back("unparsable WatchResponse");
        break;
      }
      if (resp.created() && me.start == 0) {
        me.start = resp.header().revision() + 1;
        me.next = me.start;
      }
      if (resp.canceled()) {
        me.problems.push_back("watch canceled: " + resp.cancel_reason() + " (compact revision " +
                              std::to_string(resp.compact_revision()) + ")");
        break;
      }
      for (const auto& e : resp.events()) {
        me.events.push_back(
            {e.kv().mod_revision(), e.type() == mvccpb::Event::PUT, e.kv().key(), e.kv().value()});
        me.next = std::max(me.next, e.kv().mod_revision() + 1);
      }
    }
    call.cancel();
    if (!run.stop_watchers) co_await sleep_for(milliseconds(100 + static_cast<int>(rng() % 100)));
  }
  for (auto& ch : chans) {
    ch->close();
    auto& list = run.watch_channels;  // they die with this frame: nobody may close them later
    list.erase(std::remove(list.begin(), list.end(), ch.get()), list.end());
  }
  me.done = true;
}

// The watch check (watch_check.h) over what the watchers saw.
void check_watchers(Run& run, std::int64_t final_revision) {
  std::vector<lz::WatcherLog> logs;
  for (const auto& w : run.watchers) {
    lz::WatcherLog l;
    l.start = w.start;
    l.problems = w.problems;
    for (const auto& e : w.events)
      l.events.push_back({e.revision, e.put, e.key, e.value});
    logs.push_back(std::move(l));
  }
  std::vector<lz::Op> writes = run.history;  // the lease keys' puts are seen by the watchers too
  writes.insert(writes.end(), run.lease_puts.begin(), run.lease_puts.end());
  const lz::WatchCheckResult r = lz::check_watch(logs, writes, final_revision);
  for (std::size_t w = 0; w < run.watchers.size(); ++w)
    std::printf("watcher %zu: revisions %lld..%lld, %zu events, %d streams\n", w,
                static_cast<long long>(run.watchers[w].start), static_cast<long long>(r.reached[w]),
                run.watchers[w].events.size(), run.watchers[w].streams);
  std::printf(
      "watch check: %zu events from %zu watchers, %zu revisions, %zu acknowledged writes placed by "
      "revision: %s\n",
      r.events, run.watchers.size(), r.revisions, r.writes_placed, r.anomalies.empty() ? "ok" : "FAILED");
  for (const auto& a : r.anomalies)
    run.anomalies.push_back("watch: " + a);
  const auto mr = lz::check_multi_reads(logs, run.multi_reads, run.history);
  std::printf("multi-key reads: %zu acknowledged (%d unacknowledged), snapshot check: %s\n",
              run.multi_reads.size(), run.multi_reads_unacknowledged, mr.empty() ? "ok" : "FAILED");
  for (std::size_t i = 0; i < mr.size() && i < 20; ++i)
    run.anomalies.push_back(mr[i]);
}

// ---- faults --------------------------------------------------------------------------------------

// Seconds from now until member i answers Status naming a leader, or -1 after kHealthWaitMax.
awaitable<double> time_to_healthy(wire::Channel& ch) {
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < kHealthWaitMax) {
    auto s = co_await member_status(ch);
    if (s && s->second != 0) co_return std::chrono::duration<double>(Clock::now() - t0).count();
    co_await sleep_for(milliseconds(50));
  }
  co_return -1.0;
}

// Cuts every link between `a` and the other members (both directions).
void isolate(lz::PeerProxy& p, int a, lz::CutMode mode) {
  for (int j = 0; j < kMembers; ++j) {
    if (j == a) continue;
    p.cut(a, j, mode);
    p.cut(j, a, mode);
  }
}

const char* mode_name(lz::CutMode m) {
  return m == lz::CutMode::kReset ? "reset" : "blackhole";
}

// A torn tail in the newest WAL segment of a stopped member's data dir. cairn's format (docs/wal.md):
// 40-byte segment header, then 8-aligned records `u32 len | u8 type | 3 zero | u32 crc | u32 zero |
// payload | pad`, then preallocated zeros. mode 0 ("torn append"): the first bytes of a record that was
// being appended after the last complete one (a valid-looking header, a wrong crc, part of the payload);
// mode 1 ("torn last record"): the file is truncated inside the last record. Returns a description, or
// an error text starting with "no ".
std::string tear_wal_tail(const std::string& data_dir, int mode, std::mt19937_64& rng) {
  namespace fs = std::filesystem;
  const fs::path wal = fs::path(data_dir) / "member" / "wal";
  std::error_code ec;
  std::vector<fs::path> segs;
  for (const auto& e : fs::directory_iterator(wal, ec))
    if (e.path().extension() == ".wal") segs.push_back(e.path());
  if (ec || segs.empty()) return "no WAL segment in " + wal.string();
  std::sort(segs.begin(), segs.end());  // <16 hex seq>-<16 hex index>.wal: name order is seq order
  const fs::path seg = segs.back();
  std::string data;
  {
    FILE* f = std::fopen(seg.c_str(), "rb");
    if (!f) return "no read access to " + seg.string();
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      data.append(buf, n);
    std::fclose(f);
  }
  auto get32 = [&](std::size_t off) {
    std::uint32_t v = 0;
    std::memcpy(&v, data.data() + off, 4);
    return v;
  };
  std::size_t off = 40, last = 0;
  int records = 0;
  while (off + 16 <= data.size()) {
    const std::uint32_t len = get32(off);
    if (len == 0 && get32(off + 4) == 0) break;  // preallocated zeros: end of records
    const std::size_t end = off + 16 + ((static_cast<std::size_t>(len) + 7) & ~std::size_t{7});
    if (end > data.size()) break;
    last = off;
    off = end;
    ++records;
  }
  // The first records of a segment are the carried metadata, snapshot marker and hard state: tear only
  // past them, in a record the member was appending when it was killed.
  if (records < 4) return "no entries past the carried state in " + seg.filename().string();
  const int fd = ::open(seg.c_str(), O_WRONLY);
  if (fd < 0) return "no write access to " + seg.string();
  std::string what;
  if (mode == 0) {
    std::string torn(16, '\0');
    const std::uint32_t len = 64 + static_cast<std::uint32_t>(rng() % 512);
    std::memcpy(torn.data(), &len, 4);
    torn[4] = 1;  // an entry
    const std::uint32_t bad_crc = static_cast<std::uint32_t>(rng()) | 1;
    std::memcpy(torn.data() + 8, &bad_crc, 4);
    const std::size_t part = 8 + rng() % (len - 8);
    for (std::size_t i = 0; i < part; ++i)
      torn.push_back(static_cast<char>(1 + rng() % 255));
    const bool ok =
        ::pwrite(fd, torn.data(), torn.size(), static_cast<off_t>(off)) == static_cast<ssize_t>(torn.size());
    what = "torn append: " + std::to_string(torn.size()) + " of " + std::to_string(16 + len) +
           " bytes of a record at offset " + std::to_string(off) + (ok ? "" : " (write failed)");
  } else {
    const std::size_t cut = last + 1 + rng() % (off - last - 1);
    const bool ok = ::ftruncate(fd, static_cast<off_t>(cut)) == 0;
    what = "torn last record: file truncated to " + std::to_string(cut) + " inside the record at " +
           std::to_string(last) + ".." + std::to_string(off) + (ok ? "" : " (truncate failed)");
  }
  ::fsync(fd);
  ::close(fd);
  return what + " of " + seg.filename().string();
}

// Whether recovery left a `.broken` copy of a repaired segment (docs/wal.md) in the member's WAL dir.
// With `remove`, deletes the copies once seen: up to a segment's size each, they would fill the slot's
// small tmpfs over many torn-wal faults.
bool wal_repaired(const std::string& data_dir, bool remove) {
  std::error_code ec;
  std::vector<std::filesystem::path> copies;
  for (const auto& e :
       std::filesystem::directory_iterator(std::filesystem::path(data_dir) / "member" / "wal", ec))
    if (e.path().extension() == ".broken") copies.push_back(e.path());
  if (remove)
    for (const auto& p : copies)
      std::filesystem::remove(p, ec);
  return !copies.empty();
}

// MemberRemove then MemberAdd through `via` (a member index); retried across leader changes. Returns the
// new --initial-cluster and the new member's id, or an error text.
awaitable<std::optional<std::pair<std::string, std::uint64_t>>> replace_member(
    Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin, int target, int via, std::string* error) {
  Cluster& c = *run.cluster;
  const std::uint64_t old_id = run.member_ids[static_cast<std::size_t>(target)];
  bool removed = false;
  for (int attempt = 0; attempt < 20 && !removed; ++attempt) {
    etcdserverpb::MemberRemoveRequest r;
    r.set_id(old_id);
    wire::UnaryResult res =
        co_await call(*admin[static_cast<std::size_t>((via + attempt) % kMembers)],
                      "/etcdserverpb.Cluster/MemberRemove", r.SerializeAsString(), milliseconds(3'000));
    // "member not found": an earlier attempt whose answer was lost did remove it.
    removed = res.status.is_ok() || res.status.message.find("member not found") != std::string::npos;
    if (!removed) {
      *error = "MemberRemove: " + res.status.message;
      co_await sleep_for(milliseconds(300));
    }
  }
  if (!removed) co_return std::nullopt;
  c.kill_member(target);
  // The removed member's data dir goes with it: on the slot's tmpfs (disk-full) the dirs of replaced
  // members took the room the next one needs (the third replacement of a slot found it full). Kept with
  // --keep when there is no tmpfs.
  if (!run.opt.keep || run.opt.tmpfs) {
    std::error_code ec;
    std::filesystem::remove_all(c.data_dir(target), ec);
  }
  if (run.proxy) run.proxy->remove_route(static_cast<std::uint16_t>(c.advertised_peer_port(target)));
  const std::string old_url = c.peer_url(target);
  c.next_generation(target);
  const std::string new_url = c.peer_url(target);
  for (int attempt = 0; attempt < 20; ++attempt) {
    wire::Channel& ch = *admin[static_cast<std::size_t>((via + attempt) % kMembers)];
    etcdserverpb::MemberAddRequest r;
    r.add_peerurls(new_url);
    wire::UnaryResult res =
        co_await call(ch, "/etcdserverpb.Cluster/MemberAdd", r.SerializeAsString(), milliseconds(3'000));
    etcdserverpb::MemberAddResponse resp;
    google::protobuf::RepeatedPtrField<etcdserverpb::Member> members;
    std::uint64_t id = 0;
    if (res.status.is_ok() && resp.ParseFromString(res.response)) {
      members = resp.members();
      id = resp.member().id();
    } else if (res.status.message.find("exist") != std::string::npos) {
      // An earlier attempt was applied: learn the member list instead.
      etcdserverpb::MemberListRequest lr;
      wire::UnaryResult lres =
          co_await call(ch, "/etcdserverpb.Cluster/MemberList", lr.SerializeAsString(), milliseconds(3'000));
      etcdserverpb::MemberListResponse lresp;
      if (lres.status.is_ok() && lresp.ParseFromString(lres.response)) members = lresp.members();
    } else {
      *error = "MemberAdd: " + res.status.message;
      co_await sleep_for(milliseconds(300));
      continue;
    }
    std::string cluster;
    for (const auto& m : members) {
      bool ours = false;
      for (const auto& u : m.peerurls())
        ours = ours || u == new_url;
      if (ours) id = m.id();
      for (const auto& u : m.peerurls()) {
        if (u == old_url) continue;
        if (!cluster.empty()) cluster += ",";
        cluster += (ours || m.name().empty() ? c.name(target) : m.name()) + "=" + u;
      }
    }
    if (id == 0 || cluster.find(new_url) == std::string::npos) {
      *error = "MemberAdd: the new member is missing from the member list";
      co_await sleep_for(milliseconds(300));
      continue;
    }
    co_return std::make_pair(cluster, id);
  }
  co_return std::nullopt;
}

// Fills the filesystem of `dir` with a file until writes fail with ENOSPC; returns the bytes written.
std::uint64_t fill_disk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return 0;
  std::string chunk(1 << 20, 'F');
  std::uint64_t total = 0;
  for (std::size_t size = chunk.size(); size >= 512; size /= 2)
    while (true) {
      const ssize_t n = ::write(fd, chunk.data(), size);
      if (n <= 0) break;
      total += static_cast<std::uint64_t>(n);
    }
  ::close(fd);
  return total;
}

// A private mount namespace (the mounts vanish with the harness and its members, whatever kills it) and
// a tmpfs per member slot. False if not permitted (not root, no CAP_SYS_ADMIN, no tmpfs).
bool mount_tmpfs_data_dirs(const std::string& dir, int size_mb, std::string* error) {
  if (::unshare(CLONE_NEWNS) != 0) {
    *error = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    return false;
  }
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *error = std::string("mount --make-rprivate /: ") + std::strerror(errno);
    return false;
  }
  const std::string opts = "size=" + std::to_string(size_mb) + "m";
  for (int i = 0; i < kMembers; ++i) {
    const std::string mp = dir + "/fs" + std::to_string(i + 1);
    ::mkdir(mp.c_str(), 0755);
    if (::mount("tmpfs", mp.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      *error = "mount tmpfs on " + mp + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

bool shim_usable(const Options& opt) {
  return !opt.io_shim.empty() && ::access(opt.io_shim.c_str(), R_OK) == 0;
}

std::vector<int> enabled_kinds(const Options& opt, std::string* error) {
  std::vector<int> kinds;
  if (opt.faults.empty()) {
    for (int k = 0; k < kFaultKinds; ++k)
      if (opt.etcd ? (k == kKillFollower || k == kKillLeader || k == kPauseLeader || k == kKillAll ||
                      k == kKillMajority)
                   : ((opt.proxy || !needs_proxy(k)) && (k != kDiskFull || opt.tmpfs) &&
                      (k != kDiskError || shim_usable(opt))))
        kinds.push_back(k);
    return kinds;
  }
  std::stringstream ss(opt.faults);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int found = -1;
    for (int k = 0; k < kFaultKinds; ++k)
      if (item == fault_name(k)) found = k;
    if (found < 0) {
      *error = "unknown fault kind \"" + item + "\"";
      return {};
    }
    if (needs_proxy(found) && (!opt.proxy || opt.etcd)) {
      *error = std::string(fault_name(found)) + " needs the peer proxy (cairn members, no --no-proxy)";
      return {};
    }
    if ((found == kTornWal || found == kBitFlip) && opt.etcd) {
      *error = std::string(fault_name(found)) + " knows cairn's file layout only";
      return {};
    }
    if (found == kDiskError && (opt.etcd || !shim_usable(opt))) {
      *error = "disk-error needs cairn members and the io fault shim (--io-shim PATH): " + opt.io_shim;
      return {};
    }
    if (found == kDiskFull && !opt.tmpfs) {
      *error = "disk-full needs tmpfs data dirs (root, a private mount namespace)";
      return {};
    }
    kinds.push_back(found);
  }
  return kinds;
}

// member-replace, and a member that refused to start on damaged data: MemberRemove the follower f.target,
// MemberAdd a fresh member in its slot (empty data dir), start it and time it to healthy.
awaitable<void> replace_follower(Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin, FaultRecord& f,
                                 int leader, std::size_t n) {
  Cluster& c = *run.cluster;
  const std::string old_name = c.name(f.target);
  std::string error;
  auto r = co_await replace_member(run, admin, f.target, leader, &error);
  if (!r) {
    run.anomalies.push_back("member replace of " + old_name + " failed: " + error);
    co_return;
  }
  run.member_ids[static_cast<std::size_t>(f.target)] = r->second;
  if (run.proxy)
    run.proxy->add_route(f.target, static_cast<std::uint16_t>(c.advertised_peer_port(f.target)),
                         static_cast<std::uint16_t>(c.listen_peer_port(f.target)));
  // The new member starts empty (the removed one's data dir is gone).
  c.set_initial_cluster(f.target, r->first);
  std::printf("[%8.3f s] fault %zu: removed follower %s (leader m%d), added %s (id %016llx), started\n",
              now_s(), n + 1, old_name.c_str(), leader + 1, c.name(f.target).c_str(),
              static_cast<unsigned long long>(r->second));
  c.start(f.target);
  f.recovery_s = co_await time_to_healthy(*admin[static_cast<std::size_t>(f.target)]);
  f.note += (f.note.empty() ? "" : "; ") + old_name + " -> " + c.name(f.target);
}

bool read_whole(const std::string& path, std::string* out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out->append(buf, n);
  std::fclose(f);
  return true;
}

// Damage at rest in a stopped member's data dir, as a failing disk leaves it: mode 0 flips one bit of a
// WAL segment, mode 1 one bit of a store table (a RocksDB .sst; a WAL segment while there is none yet),
// mode 2 zeroes one 4 KiB-aligned block of either. Only bytes the file holds are hit, not the
// preallocated zeros after a segment's records. Returns a description, or an error text starting "no ".
std::string damage_at_rest(const std::string& data_dir, int mode, std::mt19937_64& rng) {
  namespace fs = std::filesystem;
  auto files = [](const fs::path& dir, const char* ext) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ext) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  };
  const fs::path member = fs::path(data_dir) / "member";
  const auto wal = files(member / "wal", ".wal"), sst = files(member / "db", ".sst");
  const bool want_sst = mode == 1 || (mode == 2 && rng() % 2 == 0);
  const auto& pool = want_sst && !sst.empty() ? sst : wal;
  if (pool.empty()) return "no WAL segment or store table in " + member.string();
  const fs::path file = pool[rng() % pool.size()];
  std::string data;
  if (!read_whole(file.string(), &data)) return "no read access to " + file.string();
  const std::size_t extent = data.find_last_not_of('\0') + 1;  // npos + 1 == 0: all zeros
  if (extent == 0) return "no data in " + file.string();
  const int fd = ::open(file.c_str(), O_WRONLY);
  if (fd < 0) return "no write access to " + file.string();
  const std::string name = file.parent_path().filename().string() + "/" + file.filename().string();
  std::string what;
  if (mode < 2) {
    const std::size_t off = rng() % extent;
    const int bit = static_cast<int>(rng() % 8);
    const char b = static_cast<char>(data[off] ^ (1 << bit));
    const bool ok = ::pwrite(fd, &b, 1, static_cast<off_t>(off)) == 1;
    what = "bit " + std::to_string(bit) + " of byte " + std::to_string(off) + " of " + name + " flipped" +
           (ok ? "" : " (write failed)");
  } else {
    const std::size_t block = rng() % ((extent + 4095) / 4096);
    const std::size_t len = std::min<std::size_t>(4096, data.size() - block * 4096);
    const std::string zeros(len, '\0');
    const bool ok =
        ::pwrite(fd, zeros.data(), len, static_cast<off_t>(block * 4096)) == static_cast<ssize_t>(len);
    what = std::to_string(len) + " bytes at " + std::to_string(block * 4096) + " of " + name + " zeroed" +
           (ok ? "" : " (write failed)");
  }
  ::fsync(fd);
  ::close(fd);
  return what;
}

// The member's last log line past byte `from` when it names damage (a checksum, a crc, corruption), else "".
std::string damage_line(const std::string& log_path, std::size_t from) {
  std::string text;
  if (!read_whole(log_path, &text)) return "";
  text.erase(0, std::min(from, text.size()));
  static const std::regex kDamage("corrupt|checksum|crc|magic|damaged", std::regex::icase);
  // The last line is the member's reason for stopping; an earlier line (a WAL repair notice) is not.
  std::string last;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);)
    if (!line.empty()) last = line;
  if (!std::regex_search(last, kDamage)) return "";
  return last.size() > 300 ? last.substr(0, 300) + "..." : last;
}

// bit-flip: SIGKILL a follower, damage one of its files (damage_at_rest), restart it. It must either
// start and catch up (the damage was in a torn-looking WAL tail it repairs, or in bytes it never needs),
// or refuse to start with an error that names the damage, never crash (a signal) or serve what it
// misread (the final reads and HashKV judge that). A member that refused is replaced from a fresh data
// dir, as an operator would (docs/operations.md, replacing a member).
awaitable<void> bit_flip(Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin, FaultRecord& f,
                         int leader, int hold_ms, std::mt19937_64& rng, std::size_t n) {
  Cluster& c = *run.cluster;
  c.kill_member(f.target);
  const std::string what = damage_at_rest(c.data_dir(f.target), static_cast<int>(rng() % 3), rng);
  std::printf("[%8.3f s] fault %zu: SIGKILL follower m%d, %s, restart after %d ms\n", now_s(), n + 1,
              f.target + 1, what.c_str(), hold_ms);
  std::fflush(stdout);
  co_await sleep_for(milliseconds(hold_ms));
  std::error_code ec;
  const std::size_t log_before = std::filesystem::file_size(c.log_path(f.target), ec);
  c.start(f.target);
  int status = 0;
  bool exited = false;
  std::optional<double> healthy;
  const auto t0 = Clock::now();
  while (!exited && !healthy && Clock::now() - t0 < kHealthWaitMax) {
    exited = c.reap(f.target, &status);
    if (exited) break;
    auto st = co_await member_status(*admin[static_cast<std::size_t>(f.target)]);
    if (st && st->second != 0) healthy = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!healthy) co_await sleep_for(milliseconds(50));
  }
  f.note = what;
  if (healthy) {
    f.recovery_s = *healthy;
    f.note +=
        wal_repaired(c.data_dir(f.target), !run.opt.keep) ? "; WAL tail repaired, started" : "; started";
    co_return;
  }
  if (!exited) {
    run.anomalies.push_back("m" + std::to_string(f.target + 1) + " neither started nor stopped within " +
                            std::to_string(kHealthWaitMax.count() / 1000) + " s after " + what);
    co_return;
  }
  if (!WIFEXITED(status)) {
    run.anomalies.push_back("m" + std::to_string(f.target + 1) + " crashed (signal " +
                            std::to_string(WTERMSIG(status)) + ") after " + what);
    co_return;
  }
  const std::string why = damage_line(c.log_path(f.target), ec ? 0 : log_before);
  if (why.empty())
    run.anomalies.push_back("m" + std::to_string(f.target + 1) + " stopped (exit code " +
                            std::to_string(WEXITSTATUS(status)) + ") without naming the damage: " + what);
  std::printf("[%8.3f s]   m%d refused to start (exit code %d): %s\n", now_s(), f.target + 1,
              WEXITSTATUS(status), why.c_str());
  f.note += "; refused to start (exit code " + std::to_string(WEXITSTATUS(status)) + "), replaced";
  co_await replace_follower(run, admin, f, leader, n);
}

// disk-error: every write (EIO or ENOSPC) or every fsync (EIO) on the target's regular files fails for
// a while. The member must stop (fail-stop: it cannot make anything durable) rather than go on serving;
// the checker then shows it acknowledged nothing it lost. Once the disk heals it is restarted and must
// come back. A member that neither stopped nor lost its disk (it wrote nothing in the window) is noted.
awaitable<void> disk_error(Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin, FaultRecord& f,
                           int hold_ms, int mode, std::size_t n) {
  // The last two break only the store's files (RocksDB), not the raft WAL; a defragment makes the
  // member write them at once.
  static const char* const kModes[] = {
      "fsync", "write", "nospace", "write /member/db/", "fsync /member/db/", "nospace /member/db/"};
  static const char* const kWhat[] = {"fsync fails with EIO",       "writes fail with EIO",
                                      "writes fail with ENOSPC",    "store writes fail with EIO",
                                      "store fsync fails with EIO", "store writes fail with ENOSPC"};
  Cluster& c = *run.cluster;
  const std::string control = c.io_control(f.target);
  if (FILE* ctl = std::fopen(control.c_str(), "w")) {
    std::fputs(kModes[mode], ctl);
    std::fclose(ctl);
  }
  const int window_ms = 1'500 + hold_ms;
  std::printf("[%8.3f s] fault %zu: disk of m%d broken (%s) for up to %d ms\n", now_s(), n + 1, f.target + 1,
              kWhat[mode], window_ms);
  std::fflush(stdout);
  if (mode >= 3) {
    etcdserverpb::DefragmentRequest req;
    (void)co_await call(*admin[static_cast<std::size_t>(f.target)], "/etcdserverpb.Maintenance/Defragment",
                        req.SerializeAsString(), milliseconds(window_ms));
  }
  int status = 0;
  bool exited = false;
  const auto until = Clock::now() + milliseconds(window_ms);
  while (!exited && Clock::now() < until) {
    exited = c.reap(f.target, &status);
    if (!exited) co_await sleep_for(milliseconds(50));
  }
  ::unlink(control.c_str());
  f.note = kWhat[mode];
  if (exited) {
    f.note += std::string("; member stopped (") +
              (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                 : "signal " + std::to_string(WTERMSIG(status))) +
              "), restarted on the healed disk";
    c.start(f.target);
  } else {
    f.note += "; member kept running (wrote nothing while broken)";
  }
  std::printf("[%8.3f s]   disk healed: %s\n", now_s(), f.note.c_str());
  f.recovery_s = co_await time_to_healthy(*admin[static_cast<std::size_t>(f.target)]);
}

awaitable<void> fault_loop(Run& run, std::vector<int> kinds) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::unique_ptr<wire::Channel>> admin;
  for (int i = 0; i < kMembers; ++i)
    admin.push_back(make_channel(ex, run.cluster->client_port(i)));
  std::mt19937_64 rng(run.opt.seed);
  // The first faults are every enabled kind once, in a seeded order; then kinds are drawn at random.
  std::vector<int> schedule = kinds;
  std::shuffle(schedule.begin(), schedule.end(), rng);
  const double end_s = now_s() + run.opt.duration_s;
  Cluster& c = *run.cluster;
  for (std::size_t n = 0; n < schedule.size() || now_s() < end_s; ++n) {
    if (n >= schedule.size()) schedule.push_back(kinds[rng() % kinds.size()]);
    int kind = schedule[n];
    const int quiet_ms = 1'000 + static_cast<int>(rng() % 2'000);
    const int hold_ms = 500 + static_cast<int>(rng() % 1'500);
    const int pick = static_cast<int>(rng() % 2);
    const int pick2 = static_cast<int>(rng() % 2);
    const lz::CutMode mode = rng() % 2 ? lz::CutMode::kBlackhole : lz::CutMode::kReset;
    std::mt19937_64 fault_rng(rng());
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
    const int follower = followers[static_cast<std::size_t>(pick)];
    if ((kind == kMemberReplace || kind == kBitFlip) && c.generation(follower) + 1 >= kGenerationsMax)
      kind = kKillFollower;  // (a bit-flip may end in a replacement)
    FaultRecord f{kind, -1, now_s(), now_ns(), -1, ""};
    switch (kind) {
      case kKillFollower: {
        f.target = follower;
        std::printf("[%8.3f s] fault %zu: SIGKILL follower m%d (leader m%d), restart after %d ms\n", now_s(),
                    n + 1, f.target + 1, leader + 1, hold_ms);
        c.kill_member(f.target);
        co_await sleep_for(milliseconds(hold_ms));
        c.start(f.target);
        f.recovery_s = co_await time_to_healthy(*admin[static_cast<std::size_t>(f.target)]);
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
      case kKillMajority:
        // The leader and the seeded follower at once: the survivor has no quorum until they return.
        f.target = follower;
        f.note = "m" + std::to_string(leader + 1) + "+m" + std::to_string(follower + 1);
        std::printf("[%8.3f s] fault %zu: SIGKILL leader m%d and follower m%d, restart after %d ms\n",
                    now_s(), n + 1, leader + 1, follower + 1, hold_ms);
        c.kill_member(leader);
        c.kill_member(follower);
        co_await sleep_for(milliseconds(hold_ms));
        c.start(leader);
        c.start(follower);
        break;
      case kPartitionLeader:
      case kPartitionFollower: {
        f.target = kind == kPartitionLeader ? leader : follower;
        const int cut_ms = 2 * kElectionTimeoutMs + hold_ms;
        f.note = mode_name(mode);
        std::printf("[%8.3f s] fault %zu: partition %s m%d from the others (%s) for %d ms\n", now_s(), n + 1,
                    kind == kPartitionLeader ? "leader" : "follower", f.target + 1, mode_name(mode), cut_ms);
        isolate(*run.proxy, f.target, mode);
        co_await sleep_for(milliseconds(cut_ms));
        run.proxy->heal_all();
        break;
      }
      case kOneWay: {
        // pick2: 0 = the leader's messages to the follower are dropped (it stops hearing heartbeats),
        // 1 = the follower's messages to the leader are dropped (the leader hears no acks from it).
        const int from = pick2 == 0 ? leader : follower, to = pick2 == 0 ? follower : leader;
        f.target = follower;
        const int cut_ms = 2 * kElectionTimeoutMs + hold_ms;
        f.note = "m" + std::to_string(from + 1) + "->m" + std::to_string(to + 1) + " " + mode_name(mode);
        std::printf(
            "[%8.3f s] fault %zu: one-way cut, m%d's messages to m%d dropped (%s; leader m%d) for %d ms\n",
            now_s(), n + 1, from + 1, to + 1, mode_name(mode), leader + 1, cut_ms);
        run.proxy->cut(from, to, mode);
        co_await sleep_for(milliseconds(cut_ms));
        run.proxy->heal_all();
        break;
      }
      case kTornWal: {
        f.target = follower;
        c.kill_member(f.target);
        const std::string what = tear_wal_tail(c.data_dir(f.target), pick2, fault_rng);
        std::printf("[%8.3f s] fault %zu: SIGKILL follower m%d, %s, restart after %d ms\n", now_s(), n + 1,
                    f.target + 1, what.c_str(), hold_ms);
        const bool torn = what.rfind("no ", 0) != 0;
        co_await sleep_for(milliseconds(hold_ms));
        c.start(f.target);
        f.recovery_s = co_await time_to_healthy(*admin[static_cast<std::size_t>(f.target)]);
        if (torn && f.recovery_s >= 0 && !wal_repaired(c.data_dir(f.target), !run.opt.keep))
          run.anomalies.push_back("m" + std::to_string(f.target + 1) + " restarted after a torn WAL tail (" +
                                  what + ") without repairing it (no .broken copy)");
        f.note = torn ? (pick2 == 0 ? "torn append, repaired" : "torn last record, repaired") : what;
        break;
      }
      case kDiskFull: {
        f.target = follower;
        const std::string filler = c.fs_dir(f.target) + "/filler";
        const std::uint64_t filled = fill_disk(filler);
        // A restarted member gets longer (an ASan cairn takes 1-4 s to start and rejoin under load).
        const int full_ms = (pick2 ? 8'000 : 2'000) + hold_ms;
        // pick2 1: the member is also SIGKILLed and restarted on the full disk (recovery has to write:
        // WAL repair, a spare segment); 0: it keeps running (its appends go to preallocated segments).
        std::printf("[%8.3f s] fault %zu: disk of follower m%d full (%llu MB of filler) for %d ms%s\n",
                    now_s(), n + 1, f.target + 1, static_cast<unsigned long long>(filled >> 20), full_ms,
                    pick2 ? ", member restarted on it" : "");
        std::fflush(stdout);
        if (pick2) {
          c.kill_member(f.target);
          c.start(f.target);
        }
        int status = 0;
        bool exited = false, answered = false;
        const auto until = Clock::now() + milliseconds(full_ms);
        while (!exited && Clock::now() < until) {
          // Does it answer Status while its disk is full? (The clients' writes show in the history.)
          answered =
              answered || (co_await member_status(*admin[static_cast<std::size_t>(f.target)])).has_value();
          exited = c.reap(f.target, &status);
          if (!exited) co_await sleep_for(milliseconds(100));
        }
        ::unlink(filler.c_str());
        if (!exited) exited = c.reap(f.target, &status);
        f.note = pick2 ? "restarted on the full disk; " : "";
        if (exited) {
          f.note += "member exited (" +
                    (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                       : "signal " + std::to_string(WTERMSIG(status))) +
                    "), restarted after freeing the disk";
          c.start(f.target);
        } else {
          f.note += answered ? "member kept running, answered Status while full"
                             : "member kept running, never answered Status while full";
        }
        std::printf("[%8.3f s]   disk freed: %s\n", now_s(), f.note.c_str());
        f.recovery_s = co_await time_to_healthy(*admin[static_cast<std::size_t>(f.target)]);
        break;
      }
      case kBitFlip: {
        f.target = follower;
        co_await bit_flip(run, admin, f, leader, hold_ms, fault_rng, n);
        break;
      }
      case kDiskError: {
        f.target = pick ? leader : follower;
        co_await disk_error(run, admin, f, hold_ms, static_cast<int>(fault_rng() % 6), n);
        break;
      }
      case kMemberReplace: {
        f.target = follower;
        co_await replace_follower(run, admin, f, leader, n);
        break;
      }
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
  std::vector<std::unique_ptr<wire::Channel>> admin;
  for (int i = 0; i < kMembers; ++i)
    admin.push_back(make_channel(ex, run.cluster->client_port(i)));
  const int leader = co_await wait_healthy(run, admin);
  if (leader < 0) {
    run.anomalies.push_back("cluster not healthy within 60 s after the faults");
    co_return;
  }
  std::printf("[%8.3f s] final phase: cluster healthy, leader m%d\n", now_s(), leader + 1);
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
    wire::UnaryResult res =
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
      wire::UnaryResult res = co_await call(*admin[i], "/etcdserverpb.Maintenance/HashKV",
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
    std::printf("[%8.3f s] HashKV m%d at revision %lld: hash %08x, compact revision %lld\n", now_s(), i + 1,
                static_cast<long long>(revision), hashes[i]->first,
                static_cast<long long>(hashes[i]->second));
  }
  for (int i = 1; i < kMembers; ++i)
    if (hashes[i] && hashes[0] && hashes[i]->first != hashes[0]->first)
      run.anomalies.push_back("HashKV differs between m1 and m" + std::to_string(i + 1) + " at revision " +
                              std::to_string(revision));
  // No member may have found its state different from the leader's (the state check,
  // server/corrupt/chain_check.h, runs at its default interval on every member): no CORRUPT alarm.
  {
    etcdserverpb::AlarmRequest r;
    r.set_action(etcdserverpb::AlarmRequest::GET);
    wire::UnaryResult res = co_await call(*admin[leader], "/etcdserverpb.Maintenance/Alarm",
                                          r.SerializeAsString(), kAdminTimeout);
    etcdserverpb::AlarmResponse resp;
    if (!res.status.is_ok() || !resp.ParseFromString(res.response)) {
      run.anomalies.push_back("alarm list failed: " + res.status.message);
    } else {
      for (const auto& a : resp.alarms())
        if (a.alarm() == etcdserverpb::CORRUPT)
          run.anomalies.push_back("CORRUPT alarm raised for member " + std::to_string(a.memberid()));
    }
  }
  if (!run.watchers.empty()) {
    // Every watcher must reach the final revision (bounded), then they stop and are checked.
    const auto deadline = Clock::now() + milliseconds(20'000);
    auto behind = [&] {
      for (const auto& w : run.watchers)
        if (w.next <= revision) return true;
      return false;
    };
    while (behind() && Clock::now() < deadline)
      co_await sleep_for(milliseconds(100));
    run.stop_watchers = true;
    for (auto* ch : run.watch_channels)
      ch->close();
    for (int i = 0; i < 50; ++i) {
      bool all = true;
      for (const auto& w : run.watchers)
        all = all && w.done;
      if (all) break;
      co_await sleep_for(milliseconds(50));
    }
    check_watchers(run, revision);
  }
  for (auto& a : admin)
    a->close();
}

// The stale-read scenario (--scenario stale-read): a write acknowledged by the old leader L, then L is
// cut off (blackhole, both directions); once the other two members have elected a new leader, a newer
// value is written through it and acknowledged, and only then is L asked for linearizable reads. A
// correct member cannot answer them (no quorum for ReadIndex): they time out or fail. A member started
// with --debug-unsafe-skip-read-index answers from its local store, with the older value: a stale read
// the checker must reject. Every step waits for its precondition (bounded), so the outcome does not
// depend on timing.
awaitable<void> stale_read_flow(Run& run, std::vector<std::unique_ptr<wire::Channel>>& admin,
                                int old_leader) {
  const std::string key = key_name(0);
  auto put_until_ok = [&](int member, std::string value) -> awaitable<bool> {
    for (int attempt = 0; attempt < 40; ++attempt) {
      lz::Op op =
          co_await do_op(run, *admin[static_cast<std::size_t>(member)], 0, lz::OpKind::kPut, key, value, "");
      const bool ok = op.outcome == lz::Outcome::kOk;
      run.history.push_back(std::move(op));
      if (ok) co_return true;
      co_await sleep_for(milliseconds(250));
    }
    co_return false;
  };
  if (!co_await put_until_ok(old_leader, "before-partition")) {
    run.anomalies.push_back("stale-read: the first write through the leader never succeeded");
    co_return;
  }
  std::printf("[%8.3f s] stale-read: put(%s) acknowledged by leader m%d; isolating it (blackhole)\n", now_s(),
              key.c_str(), old_leader + 1);
  isolate(*run.proxy, old_leader, lz::CutMode::kBlackhole);
  FaultRecord f{kPartitionLeader, old_leader, now_s(), now_ns(), -1, ""};
  f.note = "blackhole (stale-read scenario)";
  run.faults.push_back(f);
  // The other two elect a leader among themselves.
  int new_leader = -1;
  const auto deadline = Clock::now() + milliseconds(30'000);
  while (new_leader < 0 && Clock::now() < deadline) {
    std::uint64_t seen = 0;
    bool agree = true;
    for (int i = 0; i < kMembers && agree; ++i) {
      if (i == old_leader) continue;
      auto st = co_await member_status(*admin[static_cast<std::size_t>(i)]);
      if (!st || st->second == 0 || st->second == run.member_ids[static_cast<std::size_t>(old_leader)] ||
          (seen != 0 && st->second != seen))
        agree = false;
      else
        seen = st->second;
    }
    if (agree)
      for (int i = 0; i < kMembers; ++i)
        if (run.member_ids[static_cast<std::size_t>(i)] == seen) new_leader = i;
    if (new_leader < 0) co_await sleep_for(milliseconds(100));
  }
  if (new_leader < 0) {
    run.anomalies.push_back("stale-read: the majority did not elect a new leader within 30 s");
    co_return;
  }
  if (!co_await put_until_ok(new_leader, "after-partition")) {
    run.anomalies.push_back("stale-read: no write acknowledged by the majority's leader m" +
                            std::to_string(new_leader + 1));
    co_return;
  }
  std::printf("[%8.3f s] stale-read: new leader m%d acknowledged put(%s); reading from isolated m%d\n",
              now_s(), new_leader + 1, key.c_str(), old_leader + 1);
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    lz::Op op =
        co_await do_op(run, *admin[static_cast<std::size_t>(old_leader)], 1, lz::OpKind::kGet, key, "", "");
    if (op.outcome == lz::Outcome::kOk) {
      ++answered;
      std::printf("[%8.3f s] stale-read: isolated m%d answered a linearizable get: %s\n", now_s(),
                  old_leader + 1, op.read ? op.read->c_str() : "(absent)");
    }
    run.history.push_back(std::move(op));
  }
  std::printf("[%8.3f s] stale-read: isolated m%d answered %d of 5 linearizable gets; healing\n", now_s(),
              old_leader + 1, answered);
  run.proxy->heal_all();
}

awaitable<void> main_flow(Run& run, std::vector<int> kinds, bool* finished) {
  auto ex = co_await boost::asio::this_coro::executor;
  for (int i = 0; i < kMembers; ++i)
    run.cluster->start(i);
  {
    std::vector<std::unique_ptr<wire::Channel>> admin;
    for (int i = 0; i < kMembers; ++i)
      admin.push_back(make_channel(ex, run.cluster->client_port(i)));
    const int leader = co_await wait_healthy(run, admin);
    if (leader < 0) {
      for (auto& a : admin)
        a->close();
      run.anomalies.push_back("cluster not healthy within 60 s of start");
      *finished = true;
      co_return;
    }
    std::printf("[%8.3f s] cluster healthy, leader m%d\n", now_s(), leader + 1);
    if (run.opt.scenario == "stale-read") {
      co_await stale_read_flow(run, admin, leader);
      for (auto& a : admin)
        a->close();
      if (run.anomalies.empty()) co_await final_phase(run);
      *finished = true;
      co_return;
    }
    for (auto& a : admin)
      a->close();
  }
  run.watchers.resize(static_cast<std::size_t>(run.opt.watchers));
  for (int w = 0; w < run.opt.watchers; ++w)
    boost::asio::co_spawn(ex, watcher_loop(run, w), boost::asio::detached);
  for (int i = 0; i < 100; ++i) {  // each watcher has its start revision before the load begins
    bool all = true;
    for (const auto& w : run.watchers)
      all = all && w.start != 0;
    if (all) break;
    co_await sleep_for(milliseconds(50));
  }
  run.clients_running = run.opt.clients + run.opt.lease_clients;
  for (int c = 0; c < run.opt.clients; ++c)
    boost::asio::co_spawn(ex, client_loop(run, c), boost::asio::detached);
  for (int c = 0; c < run.opt.lease_clients; ++c)
    boost::asio::co_spawn(ex, lease_loop(run, c), boost::asio::detached);
  boost::asio::co_spawn(ex, fault_loop(run, std::move(kinds)), boost::asio::detached);
  while (!run.faults_done)
    co_await sleep_for(milliseconds(100));
  // Let the clients run on the healed cluster for a moment, then stop them.
  co_await sleep_for(milliseconds(2'000));
  run.stop_clients = true;
  while (run.clients_running > 0)
    co_await sleep_for(milliseconds(50));
  std::printf("[%8.3f s] clients stopped\n", now_s());
  if (run.anomalies.empty()) co_await final_phase(run);
  // Watchers still running (the final phase was skipped or gave up): stop them, so nothing is left
  // pending when the io_context goes away.
  run.stop_watchers = true;
  for (auto* ch : run.watch_channels)
    ch->close();
  for (int i = 0; i < 100; ++i) {
    bool all = true;
    for (const auto& w : run.watchers)
      all = all && w.done;
    if (all) break;
    co_await sleep_for(milliseconds(50));
  }
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
    if (a == "--skip-read-index") {
      o.server_args.push_back("--debug-unsafe-skip-read-index");
      continue;
    }
    if (a == "--expect-violation") {
      o.expect_violation = true;
      continue;
    }
    if (a == "--no-proxy") {
      o.proxy = false;
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
    else if (a == "--etcd") {
      o.cairn = v;
      o.etcd = true;
    } else if (a == "--server-arg")
      o.server_args.push_back(v);
    else if (a == "--faults")
      o.faults = v;
    else if (a == "--scenario")
      o.scenario = v;
    else if (a == "--watchers")
      o.watchers = std::atoi(v);
    else if (a == "--lease-clients")
      o.lease_clients = std::atoi(v);
    else if (a == "--io-shim")
      o.io_shim = v;
    else if (a == "--tmpfs-mb")
      o.tmpfs_mb = std::atoi(v);
    else if (a == "--base-port")
      o.base_port = std::atoi(v);
    else if (a == "--seeds")
      o.seeds = std::atoi(v);
    else if (a == "--request-timeout-ms")
      o.request_timeout_ms = std::atoi(v);
    else
      return false;
  }
  if (o.etcd) o.proxy = false;  // etcd's peer links are HTTP streams without cairn's HELLO
  if (!o.scenario.empty() && (o.scenario != "stale-read" || !o.proxy)) return false;
  if (o.seeds < 0 || (o.seeds > 0 && (!o.scenario.empty() || o.expect_violation))) return false;
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

// A key the checker did not accept: its history goes next to the member logs, for
// `cairn_fault --check-history FILE` (the file format: linearizability.h, format_history).
void save_history(const std::string& dir, const std::string& key, const std::vector<lz::Op>& ops) {
  std::string name = key;
  std::replace(name.begin(), name.end(), '/', '_');
  const std::string path = dir + "/history-" + name + ".tsv";
  if (FILE* f = std::fopen(path.c_str(), "w")) {
    const std::string text = lz::format_history(ops);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    std::printf("  history of %s saved: %s (replay: cairn_fault --check-history %s)\n", key.c_str(),
                path.c_str(), path.c_str());
  }
}

// --check-history FILE: the checker alone on a saved history (exit 0 linearizable, 1 not, 3 inconclusive).
int check_saved_history(const std::string& path, std::uint64_t steps_max) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<lz::Op> ops;
  std::string error;
  if (!in || !lz::parse_history(text.str(), &ops, &error)) {
    std::fprintf(stderr, "cairn_fault: %s: %s\n", path.c_str(),
                 error.empty() ? "cannot read" : error.c_str());
    return 2;
  }
  lz::CheckOptions o;
  if (steps_max > 0) o.steps_max = steps_max;
  const auto t0 = Clock::now();
  int worst = 0;
  for (const auto& r : lz::check_history(ops, o)) {
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("key %s: %zu ops checked, %llu search steps (%.1f s): %s\n", r.key.c_str(), r.ops_checked,
                static_cast<unsigned long long>(r.steps), s,
                r.verdict == lz::Verdict::kLinearizable   ? "linearizable"
                : r.verdict == lz::Verdict::kInconclusive ? "INCONCLUSIVE (search bound reached)"
                                                          : "NOT LINEARIZABLE");
    worst = std::max(worst, r.verdict == lz::Verdict::kLinearizable   ? 0
                            : r.verdict == lz::Verdict::kInconclusive ? 3
                                                                      : 1);
  }
  return worst == 3 ? 3 : worst;
}

// One run of one seed, everything printed to stdout; returns the exit code (see the file comment).
int run_seed(Options opt) {
  g_start = Clock::now();
  char tmpl[] = "/tmp/cairn-fault.XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string dir = tmpl;
  {
    // disk-full: tmpfs data dirs, if wanted (explicitly, or by default for cairn) and permitted.
    const bool wanted = opt.faults.empty()
                            ? (!opt.etcd && opt.scenario.empty())
                            : ("," + opt.faults + ",").find(",disk-full,") != std::string::npos;
    std::string why;
    if (wanted) {
      opt.tmpfs = mount_tmpfs_data_dirs(dir, opt.tmpfs_mb, &why);
      if (!opt.tmpfs) std::printf("disk-full fault unavailable: %s\n", why.c_str());
    }
  }
  std::string kinds_error;
  const std::vector<int> kinds = enabled_kinds(opt, &kinds_error);
  opt.io_faults = std::find(kinds.begin(), kinds.end(), kDiskError) != kinds.end();
  if (kinds.empty() && opt.scenario.empty()) {
    std::fprintf(stderr, "cairn_fault: %s\n", kinds_error.empty() ? "no fault kinds" : kinds_error.c_str());
    return 2;
  }
  std::printf("cairn_fault: %s %s, seed %llu, duration %d s, %d clients, %d keys, ports %d-%d, dir %s\n",
              opt.etcd ? "etcd" : "cairn", opt.cairn.c_str(), static_cast<unsigned long long>(opt.seed),
              opt.duration_s, opt.clients, opt.keys, opt.base_port, opt.base_port + 10 * kMembers - 1,
              dir.c_str());
  if (!opt.server_args.empty()) {
    std::printf("member flags added:");
    for (const auto& a : opt.server_args)
      std::printf(" %s", a.c_str());
    std::printf("\n");
  }
  if (opt.scenario.empty()) {
    std::printf("fault kinds:");
    for (int k : kinds)
      std::printf(" %s", fault_name(k));
    std::printf("\n");
  } else {
    std::printf("scenario: %s\n", opt.scenario.c_str());
  }
  std::fflush(stdout);
  Run run;
  run.opt = opt;
  run.member_ids.assign(kMembers, 0);
  bool finished = false;
  {
    Cluster cluster(run.opt, dir);
    run.cluster = &cluster;
    boost::asio::io_context ioc;
    // Peer links go through the proxy: member i's advertised peer port forwards to its listening port.
    lz::PeerProxy proxy(ioc);
    if (opt.proxy) {
      proxy.set_resolver([&run](std::uint64_t id) {
        for (int i = 0; i < kMembers; ++i)
          if (id != 0 && run.member_ids[static_cast<std::size_t>(i)] == id) return i;
        return -1;
      });
      for (int i = 0; i < kMembers; ++i)
        if (!proxy.add_route(i, static_cast<std::uint16_t>(cluster.advertised_peer_port(i)),
                             static_cast<std::uint16_t>(cluster.listen_peer_port(i)))) {
          std::fprintf(stderr, "cairn_fault: cannot listen on proxy port %d\n",
                       cluster.advertised_peer_port(i));
          return 2;
        }
      run.proxy = &proxy;
    }
    boost::asio::co_spawn(ioc, main_flow(run, kinds, &finished), boost::asio::detached);
    // Hang guard: the run must end well within the faults' duration plus recovery allowances, and the
    // final checks of a long run's history (the watch check of a 300 s run took minutes under ASan on a
    // loaded machine): 240 s, plus half of what the duration has beyond a minute.
    const int guard_s = opt.duration_s + 240 + std::max(0, opt.duration_s - 60) / 2;
    boost::asio::steady_timer guard(ioc, std::chrono::seconds(guard_s));
    guard.async_wait([&](const boost::system::error_code& ec) {
      if (!ec && !finished) ioc.stop();
    });
    while (!finished && !ioc.stopped())
      ioc.run_one();
    guard.cancel();
    if (!finished) run.anomalies.push_back("harness did not finish in time (hang guard)");
    if (opt.proxy) {
      const auto& ps = proxy.stats();
      std::printf(
          "peer proxy: %llu connections, %llu reset by cuts, %llu blackholed, %llu bytes forwarded, "
          "%llu dropped\n",
          static_cast<unsigned long long>(ps.accepted), static_cast<unsigned long long>(ps.reset),
          static_cast<unsigned long long>(ps.blackholed), static_cast<unsigned long long>(ps.bytes_forwarded),
          static_cast<unsigned long long>(ps.bytes_dropped));
    }
    proxy.shutdown();
    run.proxy = nullptr;
    // The cluster's destructor kills every member still running; the proxy, the io_context (and the
    // clients' channels) go first.
  }
  if (opt.tmpfs) {
    // The members are gone: unmount the tmpfs data dirs (they would vanish with the namespace anyway).
    for (int i = 0; i < kMembers; ++i)
      ::umount2((dir + "/fs" + std::to_string(i + 1)).c_str(), MNT_DETACH);
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
  if (run.opt.lease_clients > 0)
    std::printf(
        "leases: %d granted, %d keep-alives acknowledged (%d not), %d revoked (acknowledged), %d lapsed "
        "(no acknowledged keep-alive within %d s); final check: %d kept alive exist with their key, %d "
        "revoked are gone with their key, %d unverifiable\n",
        run.leases_granted, run.lease_keepalives_acked, run.lease_keepalives_failed, run.leases_revoked,
        run.leases_lapsed, kLeaseTtlS, run.leases_checked_alive, run.leases_checked_revoked,
        run.leases_unverifiable);
  std::vector<double> leader_recovery, follower_recovery, isolated_recovery, torn_recovery, replace_recovery,
      disk_recovery, disk_error_recovery;
  for (const auto& f : run.faults) {
    if (f.kind == kKillFollower && f.recovery_s >= 0) follower_recovery.push_back(f.recovery_s);
    if (f.kind == kTornWal && f.recovery_s >= 0) torn_recovery.push_back(f.recovery_s);
    if (f.kind == kMemberReplace && f.recovery_s >= 0) replace_recovery.push_back(f.recovery_s);
    if (f.kind == kDiskFull && f.recovery_s >= 0) disk_recovery.push_back(f.recovery_s);
    if (f.kind == kDiskError && f.recovery_s >= 0) disk_error_recovery.push_back(f.recovery_s);
    if (f.kind != kKillLeader && f.kind != kPartitionLeader) continue;
    std::int64_t first = lz::kNeverCompleted;
    for (const auto& op : run.history) {
      const bool write = op.kind == lz::OpKind::kPut || op.kind == lz::OpKind::kDelete ||
                         (op.kind == lz::OpKind::kCas && op.cas_succeeded);
      if (write && op.outcome == lz::Outcome::kOk && op.invoke_ns >= f.at_ns)
        first = std::min(first, op.complete_ns);
    }
    if (first == lz::kNeverCompleted) continue;
    (f.kind == kKillLeader ? leader_recovery : isolated_recovery)
        .push_back(static_cast<double>(first - f.at_ns) / 1e9);
  }
  std::printf("recovery times:\n");
  print_recovery("leader SIGKILL -> first acknowledged write", leader_recovery);
  print_recovery("follower restart -> answers Status with a leader", follower_recovery);
  if (opt.proxy) print_recovery("leader partitioned -> first acknowledged write", isolated_recovery);
  if (!torn_recovery.empty()) print_recovery("restart after a torn WAL tail -> healthy", torn_recovery);
  if (!replace_recovery.empty()) print_recovery("replacement member started -> healthy", replace_recovery);
  if (!disk_recovery.empty()) print_recovery("disk freed -> member healthy", disk_recovery);
  if (!disk_error_recovery.empty()) print_recovery("disk healed -> member healthy", disk_error_recovery);

  // The checker.
  bool inconclusive = false;
  const std::size_t anomalies_before_check = run.anomalies.size();
  int rejected_keys = 0;
  const auto t0 = Clock::now();
  auto results = lz::check_history(run.history);
  for (const auto& r : results) {
    std::printf("key %s: %zu ops checked, %llu search steps: %s\n", r.key.c_str(), r.ops_checked,
                static_cast<unsigned long long>(r.steps),
                r.verdict == lz::Verdict::kLinearizable   ? "linearizable"
                : r.verdict == lz::Verdict::kInconclusive ? "INCONCLUSIVE (search bound reached)"
                                                          : "NOT LINEARIZABLE");
    if (r.verdict == lz::Verdict::kInconclusive) inconclusive = true;
    if (r.verdict == lz::Verdict::kLinearizable) continue;
    std::vector<lz::Op> key_ops;
    for (const auto& op : run.history)
      if (op.key == r.key) key_ops.push_back(op);
    save_history(dir, r.key, key_ops);
    if (r.verdict != lz::Verdict::kNotLinearizable) continue;
    lz::KeyResult m = lz::minimize(key_ops);
    std::printf("  smallest failing window found (%zu ops, %s):\n", m.counterexample.size(),
                m.window_from_start ? "from the start of the history" : "from any initial state");
    for (const auto& op : m.counterexample)
      std::printf("    %s\n", lz::describe(op).c_str());
    run.anomalies.push_back("history of key " + r.key + " is not linearizable");
    ++rejected_keys;
  }
  std::printf("checker time: %.3f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  for (const auto& f : run.faults)
    std::printf("  fault at %.3f s: %s %s%s%s%s\n", f.at_s, fault_name(f.kind),
                f.target < 0 ? "all" : ("m" + std::to_string(f.target + 1)).c_str(),
                f.note.empty() ? "" : " (", f.note.c_str(), f.note.empty() ? "" : ")");

  if (opt.expect_violation) {
    // Self-test mode: the run proves the checker catches a real bug only if it rejected a key and the
    // run was otherwise sound (healthy cluster, final reads, equal HashKV).
    for (const auto& a : run.anomalies)
      std::printf("%s: %s\n",
                  &a - run.anomalies.data() < static_cast<long>(anomalies_before_check)
                      ? "ANOMALY"
                      : "expected violation",
                  a.c_str());
    if (rejected_keys > 0 && anomalies_before_check == 0) {
      std::printf("PASSED: the checker rejected %d key(s) as expected (seed %llu)\n", rejected_keys,
                  static_cast<unsigned long long>(opt.seed));
      std::error_code ec;
      if (!opt.keep) std::filesystem::remove_all(dir, ec);
      return 0;
    }
    std::printf("member logs kept in %s\nFAILED: expected a linearizability violation%s (seed %llu)\n",
                dir.c_str(), rejected_keys > 0 ? " and no other anomaly" : ", the checker found none",
                static_cast<unsigned long long>(opt.seed));
    return 1;
  }

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
    std::printf(
        "FAILED: seed %llu (replay: cairn_fault --seed %llu --duration %d --clients %d --keys %d%s%s)\n",
        static_cast<unsigned long long>(opt.seed), static_cast<unsigned long long>(opt.seed), opt.duration_s,
        opt.clients, opt.keys, opt.faults.empty() ? "" : " --faults ", opt.faults.c_str());
    return 1;
  }
  if (inconclusive) {
    std::printf("INCONCLUSIVE: seed %llu\n", static_cast<unsigned long long>(opt.seed));
    return 3;
  }
  std::printf("PASSED: seed %llu\n", static_cast<unsigned long long>(opt.seed));
  return 0;
}

// The figures of a finished run, from its log (the lines run_seed prints), on one line.
std::string soak_summary(const std::string& log_path) {
  FILE* f = std::fopen(log_path.c_str(), "r");
  if (!f) return "(no log)";
  std::string ops, faults, recovery;
  char line[4096];
  while (std::fgets(line, sizeof line, f)) {
    std::string l(line);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    if (l.rfind("operations: ", 0) == 0) ops = l.substr(12);
    if (l.rfind("faults injected: ", 0) == 0) faults = l.substr(17);
    // "  restart after a torn WAL tail -> healthy: n=3 min 0.1 s, median 0.2 s, max 0.4 s" -> "torn 0.4 s"
    for (const char* what :
         {"torn WAL tail", "replacement member", "disk freed", "disk healed", "follower restart"}) {
      const auto at = l.find(" max ");
      if (l.find(what) == std::string::npos || at == std::string::npos) continue;
      recovery += std::string(recovery.empty() ? "" : ", ") + what + " -> healthy max " + l.substr(at + 5);
    }
  }
  std::fclose(f);
  std::string out = "faults " + faults + "; ops " + ops;
  if (!recovery.empty()) out += "; " + recovery;
  return out;
}

// Soak mode: seeds opt.seed .. opt.seed+opt.seeds-1, each a run of its own in a child process (its own
// mount namespace, members and ports, freed when it ends), its output in a log file; one line per seed.
int soak(const Options& opt) {
  char tmpl[] = "/tmp/cairn-fault-soak.XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string dir = tmpl;
  std::printf("cairn_fault soak: %d seeds from %llu, %d s each, logs in %s\n", opt.seeds,
              static_cast<unsigned long long>(opt.seed), opt.duration_s, dir.c_str());
  int passed = 0, failed = 0;
  for (int k = 0; k < opt.seeds; ++k) {
    Options one = opt;
    one.seeds = 0;
    one.seed = opt.seed + static_cast<std::uint64_t>(k);
    const std::string log = dir + "/seed-" + std::to_string(one.seed) + ".log";
    const auto t0 = Clock::now();
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      return 2;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the run (and its members) end with the soak
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) ::_exit(2);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::setvbuf(stdout, nullptr, _IOLBF, 0);
      std::fflush(stdout);
      ::_exit(run_seed(one));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const char* verdict = code == 0 ? "PASSED" : code == 3 ? "INCONCLUSIVE" : "FAILED";
    std::printf("seed %llu: %s in %.0f s (exit %d): %s\n", static_cast<unsigned long long>(one.seed), verdict,
                secs, code, soak_summary(log).c_str());
    if (code == 0) {
      ++passed;
      if (!opt.keep) ::unlink(log.c_str());
    } else {
      ++failed;
      std::printf("  log kept: %s\n", log.c_str());
    }
  }
  std::printf("soak: %d seeds, %d passed, %d failed\n", opt.seeds, passed, failed);
  std::error_code ec;
  if (failed == 0 && !opt.keep) std::filesystem::remove(dir, ec);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--check-history")
    return check_saved_history(argv[2], argc >= 5 && std::string(argv[3]) == "--steps-max"
                                            ? std::strtoull(argv[4], nullptr, 10)
                                            : 0);
  Options opt;
  if (!parse(argc, argv, opt)) {
    std::fprintf(
        stderr,
        "usage: cairn_fault (--cairn PATH | --etcd PATH) [--seed N] [--seeds N] [--duration S] [--faults "
        "K,...] "
        "[--clients N] [--keys N] [--base-port P] [--request-timeout-ms MS] [--keep] "
        "[--serializable-reads] [--server-arg ARG]... [--skip-read-index] [--no-proxy] "
        "[--scenario stale-read] [--expect-violation] [--tmpfs-mb MB] [--watchers N] [--lease-clients N] "
        "[--io-shim PATH]\n"
        "       cairn_fault --check-history FILE [--steps-max N]\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // no output lost if the process dies (ctest pipes stdout)
  return opt.seeds > 0 ? soak(opt) : run_seed(opt);
}
