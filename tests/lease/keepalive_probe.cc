// keepalive_probe HOST:PORT ROUNDS ID...: opens ONE /etcdserverpb.Lease/LeaseKeepAlive stream to the
// member and, ROUNDS times, sends a keep-alive for every ID in turn and reads its answer, printing
// "<id hex> <ttl> <header member id hex>" per answer. Used by e2e_lease.sh to check many leases per
// stream (what clientv3 does for a process holding several leases), also through a follower.
// Exit status: 0 if every request got an answer, 1 otherwise.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "proto/etcd/rpc.pb.h"
#include "wire/client.h"

namespace {

using boost::asio::awaitable;
namespace wire = cairn::wire;

awaitable<void> probe(wire::Endpoint ep, int rounds, std::vector<int64_t> ids, int* rc) {
  auto ex = co_await boost::asio::this_coro::executor;
  wire::Channel ch(ex, {ep});
  wire::CallOptions o;
  o.timeout = std::chrono::seconds(20);
  auto sw = ch.start_call("/etcdserverpb.Lease/LeaseKeepAlive", o);
  wire::ClientCall call = co_await std::move(sw);
  int answered = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int64_t id : ids) {
      etcdserverpb::LeaseKeepAliveRequest req;
      req.set_id(id);
      auto ww = call.write(req.SerializeAsString());
      if (!co_await std::move(ww)) break;
      auto rw = call.read();
      std::optional<std::string> msg = co_await std::move(rw);
      if (!msg) break;
      etcdserverpb::LeaseKeepAliveResponse resp;
      if (!resp.ParseFromString(*msg)) break;
      std::printf("%llx %lld %llx\n", static_cast<unsigned long long>(resp.id()),
                  static_cast<long long>(resp.ttl()),
                  static_cast<unsigned long long>(resp.header().member_id()));
      ++answered;
    }
  }
  call.writes_done();
  auto fw = call.finish();
  wire::Status st = co_await std::move(fw);
  if (!st.is_ok()) std::fprintf(stderr, "status %d: %s\n", static_cast<int>(st.code), st.message.c_str());
  ch.close();
  *rc = answered == rounds * static_cast<int>(ids.size()) && st.is_ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: keepalive_probe HOST:PORT ROUNDS ID(hex)...\n");
    return 2;
  }
  std::string hp = argv[1];
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) return 2;
  wire::Endpoint ep{hp.substr(0, colon), static_cast<std::uint16_t>(std::atoi(hp.c_str() + colon + 1))};
  const int rounds = std::atoi(argv[2]);
  std::vector<int64_t> ids;
  for (int i = 3; i < argc; ++i)
    ids.push_back(static_cast<int64_t>(std::strtoull(argv[i], nullptr, 16)));
  boost::asio::io_context ioc;
  int rc = 1;
  boost::asio::co_spawn(ioc, probe(ep, rounds, ids, &rc), boost::asio::detached);
  ioc.run();
  return rc;
}
