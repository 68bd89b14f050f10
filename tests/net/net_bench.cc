// Loopback unary echo benchmark: calls per second and per-call latency (p50/p99) through our client
// (Channel) with N calls in flight, against
//   - our server (server/net/server.h) in this process, one io thread, serving tests/net/test_service.h,
//     in plain text and over TLS (a self-signed ECDSA P-256 certificate generated at start);
//   - a reference: python3-grpcio serving the same echo method (tests/net/grpcio_echo_server.py), started
//     as a child process on an OS-chosen port and killed by pid at exit.
// The client runs on the benchmark thread (its io_context is driven by the benchmark loop). Each
// iteration is kCallsPerIteration calls shared by N worker coroutines (closed loop: each worker starts its
// next call when its previous one returns). Built, not registered as a test; see docs/network.md.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/net/server.h"
#include "tests/net/test_service.h"
#include "wire/client.h"
#include "wire/tls.h"

extern char** environ;

namespace {

namespace asio = boost::asio;
using namespace cairn::server::net;
using Clock = std::chrono::steady_clock;

constexpr const char* kMethod = "/cairn.test.Echo/Unary";
constexpr int kCallsPerIteration = 1000;
constexpr std::size_t kPayloadBytes = 64;

// Our server, in process, one io thread (TLS when given a context).
class OurServer {
 public:
  explicit OurServer(std::optional<ServerTls> tls = std::nullopt) : server_(ioc_) {
    service_.register_on(server_);
    if (tls) server_.set_tls(*tls);
    if (auto ec = server_.listen("127.0.0.1", 0)) {
      std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
      std::abort();
    }
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~OurServer() {
    server_.shutdown();
    thread_.join();
  }
  std::uint16_t port() const { return server_.port(); }

 private:
  asio::io_context ioc_;
  testing::TestService service_;
  Server server_;
  std::thread thread_;
};

// python3-grpcio echo server as a child process: reads "PORT <n>" from its stdout; stopped by closing its
// stdin, then SIGKILL by pid if it has not exited.
class GrpcioServer {
 public:
  GrpcioServer() {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::string script = std::string(CAIRN_SOURCE_DIR) + "/tests/net/grpcio_echo_server.py";
    std::string python = "/usr/bin/python3";
    std::string port_arg = "--port", zero = "0";
    char* argv[] = {python.data(), script.data(), port_arg.data(), zero.data(), nullptr};
    int rc = posix_spawn(&pid_, python.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    stdin_fd_ = in[1];
    if (rc != 0) {
      pid_ = -1;
      close(out[0]);
      return;
    }
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n')
      line += c;
    close(out[0]);
    if (line.rfind("PORT ", 0) == 0) port_ = static_cast<std::uint16_t>(std::stoi(line.substr(5)));
  }
  ~GrpcioServer() {
    if (stdin_fd_ >= 0) close(stdin_fd_);
    if (pid_ <= 0) return;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::uint16_t port() const { return port_; }  // 0: did not start

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::uint16_t port_ = 0;
};

std::unique_ptr<OurServer> g_ours;
std::unique_ptr<OurServer> g_ours_tls;
std::shared_ptr<const TlsContext> g_client_tls;  // trusts g_ours_tls's certificate
std::unique_ptr<GrpcioServer> g_grpcio;

struct Round {
  int next = 0;
  int failures = 0;
  std::vector<double> latencies_us;
};

asio::awaitable<void> worker(Channel& channel, Round& round, const std::string& payload) {
  while (round.next < kCallsPerIteration) {
    ++round.next;
    auto t0 = Clock::now();
    UnaryResult r = co_await channel.unary(kMethod, payload);
    round.latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!r.status.is_ok() || r.response != payload) ++round.failures;
  }
}

// Runs `fn` on `ioc` from this thread until it finishes.
template <class Fn>
void run_here(asio::io_context& ioc, Fn fn) {
  bool done = false;
  asio::co_spawn(ioc, fn(), [&](std::exception_ptr e) {
    done = true;
    if (e) std::rethrow_exception(e);
  });
  while (!done)
    ioc.run_one();
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void run_unary(benchmark::State& state, std::uint16_t port, std::shared_ptr<const TlsContext> tls = nullptr) {
  if (port == 0) {
    state.SkipWithError("server did not start");
    return;
  }
  const int in_flight = static_cast<int>(state.range(0));
  const std::string payload(kPayloadBytes, 'p');
  asio::io_context ioc;
  Endpoint ep("127.0.0.1", port);
  ep.tls = std::move(tls);
  auto channel = std::make_unique<Channel>(ioc.get_executor(), std::vector<Endpoint>{ep});
  bool warm = false;
  run_here(ioc, [&]() -> asio::awaitable<void> {
    auto r = co_await channel->unary(kMethod, payload);
    warm = r.status.is_ok();
  });
  if (!warm) {
    state.SkipWithError("warm-up call failed");
    return;
  }
  std::vector<double> all;
  std::int64_t calls = 0, failures = 0;
  Clock::duration busy{};
  for (auto _ : state) {
    Round round;
    round.latencies_us.reserve(kCallsPerIteration);
    auto t0 = Clock::now();
    run_here(ioc, [&]() -> asio::awaitable<void> {
      int running = in_flight;
      asio::steady_timer all_done(ioc, asio::steady_timer::time_point::max());
      for (int i = 0; i < in_flight; ++i) {
        asio::co_spawn(ioc, worker(*channel, round, payload), [&](std::exception_ptr) {
          if (--running == 0) all_done.cancel();
        });
      }
      co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    });
    busy += Clock::now() - t0;
    calls += static_cast<std::int64_t>(round.latencies_us.size());
    failures += round.failures;
    all.insert(all.end(), round.latencies_us.begin(), round.latencies_us.end());
  }
  channel->close();
  channel.reset();
  ioc.poll();
  double seconds = std::chrono::duration<double>(busy).count();
  state.SetItemsProcessed(calls);
  state.counters["calls_per_s"] = seconds > 0 ? static_cast<double>(calls) / seconds : 0;
  state.counters["p50_us"] = percentile(all, 0.50);
  state.counters["p99_us"] = percentile(all, 0.99);
  state.counters["failures"] = static_cast<double>(failures);
  if (failures > 0) state.SkipWithError("some calls failed");
}

void BM_UnaryEcho_OurServer(benchmark::State& state) {
  run_unary(state, g_ours->port());
}
void BM_UnaryEcho_OurServerTls(benchmark::State& state) {
  run_unary(state, g_ours_tls ? g_ours_tls->port() : 0, g_client_tls);
}
void BM_UnaryEcho_GrpcioServer(benchmark::State& state) {
  run_unary(state, g_grpcio->port());
}

BENCHMARK(BM_UnaryEcho_OurServer)->Arg(1)->Arg(16)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_UnaryEcho_OurServerTls)->Arg(1)->Arg(16)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_UnaryEcho_GrpcioServer)->Arg(1)->Arg(16)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_ours = std::make_unique<OurServer>();
  // TLS: a throwaway self-signed certificate for 127.0.0.1, trusted by the client as its own CA.
  std::string dir = "/tmp/cairn-net-bench-tls-" + std::to_string(getpid());
  if (auto self = make_self_signed_cert(dir, {"127.0.0.1"})) {
    auto server_tls = make_server_tls(*self);
    TlsClientConfig cc;
    cc.ca_file = self->cert_file;
    auto client_tls = make_client_tls(cc);
    if (server_tls && client_tls) {
      g_ours_tls = std::make_unique<OurServer>(*server_tls);
      g_client_tls = *client_tls;
    }
    std::filesystem::remove_all(dir);
  }
  g_grpcio = std::make_unique<GrpcioServer>();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_grpcio.reset();  // closes its stdin, then kills it by pid if needed
  g_ours.reset();
  g_ours_tls.reset();
  return 0;
}
