// The test service on 127.0.0.1 (OS-chosen port), for the grpcio interop test. Prints "PORT <n>" and
// serves until stdin reaches end of file, then shuts down gracefully and exits 0.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/net/test_service.h"

int main(int argc, char** argv) {
  using namespace cairn::server::net;
  ServerLimits limits;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--message-bytes-max") == 0) limits.message_bytes_max = std::stoul(argv[i + 1]);
  }
  limits.shutdown_grace = std::chrono::milliseconds(2000);
  boost::asio::io_context ioc;
  testing::TestService service;
  Server server(ioc, limits);
  service.register_on(server);
  // etcd-shaped stubs so a real grpc-go client (etcdctl 3.4, grpc-go 1.33) can be pointed at us. Empty
  // bytes are a valid (all-default) PutResponse.
  using boost::asio::awaitable;
  server.add_unary("/etcdserverpb.KV/Put",
                   [](ServerContext&, std::string_view) -> awaitable<Reply> { co_return std::string(); });
  // StatusResponse{header: {}, version: "3.4.23"} hand-encoded: etcdctl dereferences the header.
  server.add_unary("/etcdserverpb.Maintenance/Status",
                   [](ServerContext&, std::string_view) -> awaitable<Reply> {
                     co_return std::string(
                         "\x0a\x00\x12\x06"
                         "3.4.23",
                         10);
                   });
  server.add_unary("/etcdserverpb.KV/Range", [](ServerContext&, std::string_view) -> awaitable<Reply> {
    co_return Status{StatusCode::kOutOfRange, "etcdserver: mvcc: required revision is a future revision"};
  });
  if (auto ec = server.listen("127.0.0.1", 0)) {
    std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::printf("PORT %u\n", server.port());
  std::fflush(stdout);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&] { ioc.run(); });
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  server.shutdown();
  for (auto& t : threads)
    t.join();
  std::fprintf(stderr, "test server: calls_started=%llu\n",
               static_cast<unsigned long long>(server.stats().calls_started.load()));
  return 0;
}
