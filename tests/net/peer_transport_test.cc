#include "server/net/peer_transport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "wire/framing.h"

namespace cairn::server::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto kHangGuard = 30s;

// One member: its own io_context thread and a transport listening on 127.0.0.1.
class Node {
 public:
  using OpenLarge = std::function<std::unique_ptr<LargeSink>(PeerId, std::uint64_t)>;
  using AdmitUnknown = std::function<std::optional<Endpoint>(PeerId, const std::string&)>;
  Node(PeerId id, std::uint16_t port = 0, PeerTransportOptions options = {}, OpenLarge open_large = nullptr,
       AdmitUnknown admit_unknown = nullptr)
      : guard_(ioc_.get_executor()),
        transport_(
            ioc_, id, options,
            PeerTransportCallbacks{[this](PeerId from, std::string m) { on_message(from, std::move(m)); },
                                   [this](PeerId) { unreachable_.fetch_add(1); }, nullptr,
                                   std::move(open_large), std::move(admit_unknown)}) {
    auto ec = transport_.listen("127.0.0.1", port);
    EXPECT_FALSE(ec) << ec.message();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Node() {
    transport_.shutdown();
    guard_.reset();
    thread_.join();
  }

  PeerTransport& transport() { return transport_; }
  std::uint16_t port() const { return transport_.port(); }
  int unreachable() const { return unreachable_.load(); }

  // Waits until at least n messages have arrived; returns them all.
  std::vector<std::pair<PeerId, std::string>> wait_for(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kHangGuard, [&] { return received_.size() >= n; });
    return received_;
  }
  // Waits until a message equal to `m` has arrived; returns everything received so far.
  std::vector<std::pair<PeerId, std::string>> wait_for_message(const std::string& m) {
    return wait_for_message_within(m, kHangGuard);
  }
  // The same, waiting at most `limit`.
  std::vector<std::pair<PeerId, std::string>> wait_for_message_within(const std::string& m,
                                                                      std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] {
      for (auto& r : received_)
        if (r.second == m) return true;
      return false;
    });
    return received_;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return received_.size();
  }

 private:
  void on_message(PeerId from, std::string m) {
    std::lock_guard lock(mu_);
    received_.emplace_back(from, std::move(m));
    cv_.notify_all();
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  PeerTransport transport_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<PeerId, std::string>> received_;
  std::atomic<int> unreachable_{0};
};

bool eventually_true(const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + kHangGuard;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

Endpoint local(std::uint16_t port) {
  return {"127.0.0.1", port};
}

TEST(PeerTransport, MessagesArriveInOrderBothWays) {
  Node a(1), b(2);
  a.transport().add_peer(2, local(b.port()));
  b.transport().add_peer(1, local(a.port()));
  constexpr int kN = 2000;
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(a.transport().send(2, "m" + std::to_string(i)));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(b.transport().send(1, "r" + std::to_string(i)));
  auto got = b.wait_for(kN);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(got[i].first, 1u);
    EXPECT_EQ(got[i].second, "m" + std::to_string(i));
  }
  auto back = a.wait_for(10);
  ASSERT_EQ(back.size(), 10u);
  EXPECT_EQ(back[9], std::make_pair(PeerId{2}, std::string("r9")));
}

TEST(PeerTransport, MembersOfAnotherClusterAreRefused) {
  Node a(1), b(2), c(3);
  a.transport().set_cluster_id(0xAAAA);
  b.transport().set_cluster_id(0xBBBB);  // another cluster
  c.transport().set_cluster_id(0);       // a joining member that does not know the cluster yet
  b.transport().add_peer(1, local(a.port()));
  c.transport().add_peer(1, local(a.port()));
  for (int i = 0; i < 20; ++i)
    b.transport().send(1, "from-b");
  ASSERT_TRUE(c.transport().send(1, "from-c"));
  auto got = a.wait_for_message("from-c");
  for (auto& [from, m] : got)
    EXPECT_NE(from, 2u) << "a member of another cluster delivered " << m;
  for (int i = 0; i < 200 && a.transport().stats().cluster_mismatches.load() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_GE(a.transport().stats().cluster_mismatches.load(), 1u);
  // Once b belongs to a's cluster, its messages arrive.
  b.transport().set_cluster_id(0xAAAA);
  // b redials (backing off) while a refuses it; what it sends on a connection a refuses is lost.
  EXPECT_TRUE(eventually_true([&] {
    b.transport().send(1, "b-joined");
    got = a.wait_for_message_within("b-joined", 20ms);
    return std::any_of(got.begin(), got.end(), [](auto& r) { return r.second == "b-joined"; });
  }));
}

TEST(PeerTransport, ReconnectsAfterThePeerRestarts) {
  PeerTransportOptions fast;
  fast.backoff_initial = 5ms;
  fast.backoff_max = 50ms;
  Node a(1, 0, fast);
  auto b = std::make_unique<Node>(2);
  std::uint16_t port = b->port();
  a.transport().add_peer(2, local(port));
  ASSERT_TRUE(a.transport().send(2, "before"));
  ASSERT_EQ(b->wait_for(1).at(0).second, "before");
  b.reset();                            // the peer goes away...
  b = std::make_unique<Node>(2, port);  // ...and comes back on the same address
  // Messages sent while the old connection dies may be lost (and reported); keep sending until one lands.
  auto end = std::chrono::steady_clock::now() + kHangGuard;
  int i = 0;
  while (b->count() == 0 && std::chrono::steady_clock::now() < end) {
    a.transport().send(2, "after" + std::to_string(i++));
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GT(b->count(), 0u);
  ASSERT_TRUE(a.transport().send(2, "last"));
  auto got = b->wait_for_message("last");
  // In order: "afterK" ... then "last".
  EXPECT_EQ(got.back().second, "last");
  for (std::size_t k = 1; k + 1 < got.size(); ++k) {
    EXPECT_LT(std::stoi(got[k - 1].second.substr(5)), std::stoi(got[k].second.substr(5)));
  }
  EXPECT_GE(a.transport().stats().connects.load(), 2u);
}

TEST(PeerTransport, BoundedQueueDropsAndReportsUnreachable) {
  std::uint16_t dead;
  {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acc(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    dead = acc.local_endpoint().port();
  }
  PeerTransportOptions small;
  small.send_queue_messages_max = 10;
  small.backoff_initial = 1s;  // stays disconnected for the whole test: nothing drains the queue
  Node a(1, 0, small);
  a.transport().add_peer(2, local(dead));
  int accepted = 0;
  for (int i = 0; i < 100; ++i)
    accepted += a.transport().send(2, "x") ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  EXPECT_GE(a.unreachable(), 90);
  EXPECT_FALSE(a.transport().send(99, "unknown peer"));
  EXPECT_FALSE(a.transport().send(2, std::string(small.frame_bytes_max + 1, 'b')));  // needs send_large
}

TEST(PeerTransport, LargePayloadIsChunkedAndVerified) {
  PeerTransportOptions opts;
  opts.chunk_bytes = 256 * 1024;
  Node a(1, 0, opts), b(2, 0, opts);
  a.transport().add_peer(2, local(b.port()));
  std::string big(8 * 1024 * 1024 + 12345, '\0');  // 33 chunks, the last one partial
  std::mt19937_64 rng(42);
  for (std::size_t i = 0; i + 8 <= big.size(); i += 8) {
    std::uint64_t v = rng();
    std::memcpy(big.data() + i, &v, 8);
  }
  ASSERT_TRUE(a.transport().send(2, "head"));
  ASSERT_TRUE(a.transport().send_large(2, big));
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(a.transport().send(2, "small" + std::to_string(i)));
  auto got = b.wait_for(52);
  ASSERT_EQ(got.size(), 52u);
  EXPECT_EQ(got[0].second, "head");
  std::size_t large_at = 0;
  int next_small = 0;
  for (std::size_t i = 1; i < got.size(); ++i) {
    if (got[i].second.size() == big.size()) {
      large_at = i;
      EXPECT_TRUE(got[i].second == big);
      EXPECT_EQ(crc32c(got[i].second), crc32c(big));
    } else {
      EXPECT_EQ(got[i].second, "small" + std::to_string(next_small++));  // small ones stay in order
    }
  }
  EXPECT_GT(large_at, 0u);
  EXPECT_EQ(b.transport().stats().large_payloads_received.load(), 1u);
}

TEST(PeerTransport, CorruptFrameClosesTheConnectionOnly) {
  Node b(2);
  {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), b.port()});
    // HELLO with a wrong CRC.
    std::string frame("\x00\x00\x00\x10\xde\xad\xbe\xef\x01", 9);
    frame += "CAIRNPT1";
    frame += std::string(8, '\x01');
    boost::system::error_code ec;
    asio::write(s, asio::buffer(frame), ec);
    char c;
    s.read_some(asio::buffer(&c, 1), ec);  // the transport closes on us
    EXPECT_TRUE(ec);
  }
  EXPECT_EQ(b.transport().stats().bad_frames.load(), 1u);
  Node a(1);
  a.transport().add_peer(2, local(b.port()));
  ASSERT_TRUE(a.transport().send(2, "fine"));
  EXPECT_EQ(b.wait_for(1).at(0).second, "fine");
}

// Raw bytes of one frame (peer_transport.h).
std::string frame(char type_byte, const std::string& payload) {
  std::string type(1, type_byte);
  std::uint32_t crc = crc32c(payload, crc32c(type));
  std::string f;
  for (std::uint32_t v : {static_cast<std::uint32_t>(payload.size()), crc})
    for (int i = 3; i >= 0; --i)
      f.push_back(static_cast<char>(v >> (8 * i)));
  return f + type + payload;
}

// A HELLO claiming `sender` in cluster `cluster`, naming `url` as its peer URL.
std::string hello_frame(std::uint64_t sender, std::uint64_t cluster, const std::string& url = "") {
  std::string payload = "CAIRNPT1";
  for (std::uint64_t v : {sender, cluster})
    for (int i = 7; i >= 0; --i)
      payload.push_back(static_cast<char>(v >> (8 * i)));
  return frame('\x01', payload + url);
}

// True when the other end closes `s` within the hang guard (a read ends with an error).
bool closed_by_peer(asio::ip::tcp::socket& s) {
  boost::system::error_code ec;
  char c;
  s.read_some(asio::buffer(&c, 1), ec);
  return static_cast<bool>(ec);
}

TEST(PeerTransport, HelloFromAnUnknownMemberOrOurOwnIdIsRefused) {
  PeerTransportOptions o;
  o.refuse_unknown_senders = true;
  Node b(2, 0, o);
  b.transport().add_peer(1, local(1));  // member 1 is known; 7 and 2 (b itself) are not peers
  for (std::uint64_t claims : {7u, 2u}) {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), b.port()});
    asio::write(s, asio::buffer(hello_frame(claims, 0)));
    EXPECT_TRUE(closed_by_peer(s)) << claims;
  }
  EXPECT_EQ(b.transport().stats().unknown_senders.load(), 2u);
  Node a(1);
  a.transport().add_peer(2, local(b.port()));
  ASSERT_TRUE(a.transport().send(2, "member"));
  EXPECT_EQ(b.wait_for(1).at(0), std::make_pair(PeerId{1}, std::string("member")));
}

// A member added by a conf change the receiver's log lacks: it names its cluster and peer URL, the
// receiver admits it and can answer it there. Without the cluster, the URL or the callback's consent
// the sender stays refused.
TEST(PeerTransport, UnknownSenderOfOurClusterNamingItsUrlIsAdmittedAndAnswered) {
  PeerTransportOptions o;
  o.refuse_unknown_senders = true;
  Node a(1, 0, o);
  const std::string a_url = "http://127.0.0.1:" + std::to_string(a.port());
  std::mutex asked_mu;
  std::vector<std::pair<PeerId, std::string>> asked;
  Node b(2, 0, o, nullptr, [&](PeerId from, const std::string& url) -> std::optional<Endpoint> {
    std::lock_guard lock(asked_mu);
    asked.emplace_back(from, url);
    if (url != a_url) return std::nullopt;
    return local(a.port());
  });
  b.transport().set_cluster_id(42);
  for (auto [claims, cluster, url] :
       {std::tuple<std::uint64_t, std::uint64_t, std::string>{7, 42, "http://x:1"},
        {8, 0, a_url},
        {9, 42, ""}}) {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), b.port()});
    asio::write(s, asio::buffer(hello_frame(claims, cluster, url)));
    EXPECT_TRUE(closed_by_peer(s)) << claims;
  }
  EXPECT_EQ(b.transport().stats().unknown_senders.load(), 3u);
  {
    std::lock_guard lock(asked_mu);
    ASSERT_EQ(asked.size(), 1u);  // only 7 named both the cluster and a URL
    EXPECT_EQ(asked[0], std::make_pair(PeerId{7}, std::string("http://x:1")));
  }
  a.transport().set_cluster_id(42);
  a.transport().set_self_url(a_url);
  a.transport().add_peer(2, local(b.port()));
  // a's first HELLO carries no URL (an older build would refuse one): refused, a redials with its URL.
  // What it sent on the refused connection is lost, as on any lost connection; raft resends.
  EXPECT_TRUE(eventually_true([&] {
    a.transport().send(2, "from a member b does not know");
    return b.count() > 0;
  }));
  EXPECT_EQ(b.wait_for(1).at(0), std::make_pair(PeerId{1}, std::string("from a member b does not know")));
  EXPECT_EQ(b.transport().stats().unknown_members_admitted.load(), 1u);
  EXPECT_EQ(b.transport().stats().unknown_senders.load(), 4u);  // the three above and a's first HELLO
  // A member that does not know its cluster yet (joining, or its WAL metadata was cut) cannot tell
  // its own cluster's members from others: it admits a sender naming any cluster and a URL.
  Node c(3, 0, o, nullptr,
         [&](PeerId, const std::string&) -> std::optional<Endpoint> { return local(a.port()); });
  a.transport().add_peer(3, local(c.port()));
  EXPECT_TRUE(eventually_true([&] {
    a.transport().send(3, "to a member that knows no cluster");
    return c.count() > 0;
  }));
  EXPECT_EQ(c.transport().stats().unknown_members_admitted.load(), 1u);
  ASSERT_TRUE(b.transport().send(1, "answer"));
  EXPECT_EQ(a.wait_for(1).at(0), std::make_pair(PeerId{2}, std::string("answer")));
}

TEST(PeerTransport, IdleConnectionsBeyondThePendingBoundCloseTheOldest) {
  PeerTransportOptions o;
  o.inbound_pending_max = 3;
  Node b(2, 0, o);
  asio::io_context ioc;
  std::vector<asio::ip::tcp::socket> idle;
  for (int i = 0; i < 4; ++i) {
    idle.emplace_back(ioc);
    idle.back().connect({asio::ip::make_address("127.0.0.1"), b.port()});
  }
  EXPECT_TRUE(closed_by_peer(idle[0]));  // the 4th connection pushed out the oldest idle one
  EXPECT_TRUE(eventually_true([&] { return b.transport().stats().connections_evicted.load() == 1; }));
  // A real member still gets in (its HELLO arrives long before the next idle connection would evict it).
  Node a(1);
  a.transport().add_peer(2, local(b.port()));
  ASSERT_TRUE(a.transport().send(2, "through"));
  EXPECT_EQ(b.wait_for(1).at(0).second, "through");
}

TEST(PeerTransport, ConnectionThatSaysNothingIsClosedAtTheHandshakeTimeout) {
  PeerTransportOptions o;
  o.handshake_timeout = 200ms;
  Node b(2, 0, o);
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), b.port()});
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_by_peer(s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
}

TEST(PeerTransport, OversizedFrameIsRefusedBeforeItIsBuffered) {
  PeerTransportOptions o;
  o.frame_bytes_max = 64 * 1024;
  o.chunk_bytes = 16 * 1024;
  Node b(2, 0, o);
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), b.port()});
  // A valid HELLO, then a MESSAGE header announcing 1 GiB: closed on the header, nothing buffered.
  std::string f = hello_frame(1, 0) + std::string("\x40\x00\x00\x00\x00\x00\x00\x00\x02", 9);
  asio::write(s, asio::buffer(f));
  EXPECT_TRUE(closed_by_peer(s));
  EXPECT_TRUE(eventually_true([&] { return b.transport().stats().bad_frames.load() == 1; }));
  Node a(1);
  a.transport().add_peer(2, local(b.port()));
  ASSERT_TRUE(a.transport().send(2, std::string(60 * 1024, 'x')));  // the largest legitimate size passes
  EXPECT_EQ(b.wait_for(1).at(0).second.size(), 60u * 1024);
}

TEST(PeerTransport, AMembersExtraConnectionReplacesItsOldest) {
  PeerTransportOptions o;
  o.inbound_per_peer_max = 2;
  Node b(2, 0, o);
  asio::io_context ioc;
  std::vector<asio::ip::tcp::socket> conns;
  for (int i = 0; i < 3; ++i) {
    conns.emplace_back(ioc);
    conns.back().connect({asio::ip::make_address("127.0.0.1"), b.port()});
    // In order: each connection's message arrives (so its HELLO was handled) before the next one starts.
    asio::write(conns.back(), asio::buffer(hello_frame(1, 0) + frame('\x02', "c" + std::to_string(i))));
    EXPECT_EQ(b.wait_for(i + 1).size(), static_cast<std::size_t>(i + 1));
  }
  EXPECT_EQ(b.transport().stats().connections_evicted.load(), 1u);
  EXPECT_TRUE(closed_by_peer(conns[0]));
}

// A TCP relay between two members that forwards the sender's bytes to the receiver and, on its first
// connection only, closes both sides once `cut_after` bytes have passed: to both members this is the
// receiving side hanging up in the middle of a chunked transfer. Later connections are relayed whole.
class CuttingRelay {
 public:
  CuttingRelay(std::uint16_t target, std::size_t cut_after)
      : acceptor_(ioc_), target_(target), cut_after_(cut_after) {
    // A fixed, small receive buffer (inherited by accepted sockets) turns off the kernel's autotuning,
    // which may grow a loopback buffer to tcp_rmem's maximum (32 MiB on some machines): the sender could
    // then hand the whole transfer to the kernel before the cut and never learn it was lost.
    asio::ip::tcp::endpoint at{asio::ip::make_address("127.0.0.1"), 0};
    acceptor_.open(at.protocol());
    acceptor_.set_option(asio::socket_base::receive_buffer_size(64 * 1024));
    acceptor_.bind(at);
    acceptor_.listen();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~CuttingRelay() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool cut() const { return cut_.load(); }
  int connections() const { return connections_.load(); }

 private:
  using Socket = asio::ip::tcp::socket;

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, s] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto in = std::make_shared<Socket>(std::move(s));
      auto out = std::make_shared<Socket>(ioc_);
      auto [cec] = co_await out->async_connect({asio::ip::make_address("127.0.0.1"), target_},
                                               asio::as_tuple(asio::use_awaitable));
      if (cec) continue;
      bool first = connections_.fetch_add(1) == 0;
      asio::co_spawn(ioc_, pump(in, out, first ? cut_after_ : SIZE_MAX), asio::detached);
    }
  }

  asio::awaitable<void> pump(std::shared_ptr<Socket> in, std::shared_ptr<Socket> out, std::size_t cut_after) {
    std::vector<char> buf(64 * 1024);
    std::size_t passed = 0;
    while (true) {
      // Never read past the cut point, so the receiver gets exactly cut_after bytes.
      std::size_t want = std::min(buf.size(), cut_after - passed);
      auto [ec, n] =
          co_await in->async_read_some(asio::buffer(buf.data(), want), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      auto [wec, w] =
          co_await asio::async_write(*out, asio::buffer(buf.data(), n), asio::as_tuple(asio::use_awaitable));
      if (wec) break;
      passed += w;
      if (passed >= cut_after) {
        cut_.store(true);
        break;
      }
    }
    boost::system::error_code ignored;
    in->close(ignored);
    out->close(ignored);
  }

  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t target_;
  std::size_t cut_after_;
  std::thread thread_;
  std::atomic<bool> cut_{false};
  std::atomic<int> connections_{0};
};

std::string random_payload(std::size_t size, std::uint64_t seed) {
  std::string s(size, '\0');
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i + 8 <= s.size(); i += 8) {
    std::uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

// The most a TCP send buffer may autotune to (the third field of tcp_wmem); 4 MiB when unknown.
std::size_t tcp_send_buffer_max() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t lo = 0, def = 0, hi = 0;
  if (f >> lo >> def >> hi) return hi;
  return 4 << 20;
}

TEST(PeerTransport, PeerDisconnectingMidSnapshotGetsNoPartialPayloadAndTheNextOneIntact) {
  PeerTransportOptions opts;
  opts.chunk_bytes = 256 * 1024;
  opts.backoff_initial = 5ms;
  opts.backoff_max = 50ms;
  Node b(2, 0, opts);
  // 32 MiB: the half left unsent when the connection drops is larger than what the sender's socket
  // buffer (tcp_wmem's maximum, 4 MiB by default) and the relay's fixed one can hold, so the sender is
  // still writing the transfer when it notices the drop.
  const std::size_t kSize = std::max<std::size_t>(32 << 20, 4 * tcp_send_buffer_max());
  CuttingRelay relay(b.port(), kSize / 2 + 12345);  // cut in the middle of a CHUNK_DATA frame
  Node a(1, 0, opts);
  a.transport().add_peer(2, local(relay.port()));
  const std::string first = random_payload(kSize, 1);
  ASSERT_TRUE(a.transport().send(2, "before"));
  ASSERT_TRUE(a.transport().send_large(2, first));

  // The sender reports the lost transfer through on_unreachable.
  ASSERT_TRUE(eventually_true([&] { return relay.cut() && a.unreachable() >= 1; }))
      << "cut " << relay.cut() << ", unreachable " << a.unreachable() << ", relayed connections "
      << relay.connections() << ", sender connects " << a.transport().stats().connects.load();
  EXPECT_GE(a.transport().stats().messages_dropped.load(), 1u);
  // The receiver delivered the message sent before the transfer and nothing of the transfer.
  auto got = b.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, "before");
  EXPECT_EQ(b.transport().stats().large_payloads_received.load(), 0u);

  // After the sender reconnects (through the relay, which now passes everything), a new payload lands whole.
  const std::string second = random_payload(kSize - 777, 2);
  ASSERT_TRUE(a.transport().send_large(2, second));
  ASSERT_TRUE(a.transport().send(2, "after"));
  // "after" may overtake the transfer (regular messages keep flowing between chunks).
  got = b.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  std::vector<std::string> small;
  int large = 0;
  for (auto& [from, m] : got) {
    EXPECT_EQ(from, 1u);
    if (m.size() == second.size()) {
      ++large;
      EXPECT_TRUE(m == second);
      EXPECT_EQ(crc32c(m), crc32c(second));
    } else {
      EXPECT_LT(m.size(), 16u) << "a piece of the interrupted transfer was delivered";
      small.push_back(m);
    }
  }
  EXPECT_EQ(large, 1);
  EXPECT_EQ(small, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(b.transport().stats().large_payloads_received.load(), 1u);
  EXPECT_GE(relay.connections(), 2);
  EXPECT_GE(a.transport().stats().connects.load(), 2u);
}

// A synthetic payload of any size that is never held whole: one random block repeated (and cut short
// at the end), read a chunk at a time. Optionally fails its read at `fail_at`.
class RepeatedBlockSource final : public LargeSource {
 public:
  RepeatedBlockSource(std::shared_ptr<const std::string> block, std::uint64_t size,
                      std::uint64_t fail_at = UINT64_MAX)
      : block_(std::move(block)), size_(size), fail_at_(fail_at) {
    for (std::uint64_t at = 0; at < size_; at += block_->size())
      crc_ = wire::crc32c(
          std::string_view(*block_).substr(0, std::min<std::uint64_t>(block_->size(), size_ - at)), crc_);
  }
  std::uint64_t size() const override { return size_; }
  std::uint32_t crc32c() const override { return crc_; }
  bool read(std::string& out, std::size_t n) override {
    std::size_t seen = largest_read_.load();
    while (seen < n && !largest_read_.compare_exchange_weak(seen, n)) {
    }
    if (at_ + n > fail_at_) return false;
    for (std::size_t done = 0; done < n;) {
      std::size_t off = static_cast<std::size_t>((at_ + done) % block_->size());
      std::size_t take = std::min(n - done, block_->size() - off);
      out.append(*block_, off, take);
      done += take;
    }
    at_ += n;
    return true;
  }
  static inline std::atomic<std::size_t> largest_read_{0};

 private:
  std::shared_ptr<const std::string> block_;
  std::uint64_t size_, fail_at_, at_ = 0;
  std::uint32_t crc_ = 0;
};

// What a sink saw, shared with the test (the transport owns and destroys the sink).
struct SinkLog {
  std::mutex mu;
  std::uint64_t bytes = 0;
  std::size_t largest_write = 0;
  bool matches = true;  // every byte equals the source's
  int finished = 0, destroyed = 0;
  std::size_t rss_growth_max = 0;
};

std::size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Checks each byte against the repeated block, keeps nothing; fails its write at `fail_at`.
class CheckingSink final : public LargeSink {
 public:
  CheckingSink(std::shared_ptr<SinkLog> log, std::shared_ptr<const std::string> block, std::uint64_t fail_at)
      : log_(std::move(log)), block_(std::move(block)), fail_at_(fail_at), rss_at_start_(rss_bytes()) {}
  ~CheckingSink() override {
    std::lock_guard lock(log_->mu);
    log_->destroyed++;
  }
  bool write(std::string_view bytes) override {
    std::lock_guard lock(log_->mu);
    if (log_->bytes + bytes.size() > fail_at_) return false;
    for (std::size_t done = 0; done < bytes.size();) {
      std::size_t off = static_cast<std::size_t>((log_->bytes + done) % block_->size());
      std::size_t take = std::min(bytes.size() - done, block_->size() - off);
      if (bytes.substr(done, take) != std::string_view(*block_).substr(off, take)) log_->matches = false;
      done += take;
    }
    log_->bytes += bytes.size();
    log_->largest_write = std::max(log_->largest_write, bytes.size());
    if ((log_->bytes >> 24) != ((log_->bytes - bytes.size()) >> 24)) {  // every 16 MiB
      std::size_t rss = rss_bytes();
      if (rss > rss_at_start_) log_->rss_growth_max = std::max(log_->rss_growth_max, rss - rss_at_start_);
    }
    return true;
  }
  void finish() override {
    std::lock_guard lock(log_->mu);
    log_->finished++;
  }

 private:
  std::shared_ptr<SinkLog> log_;
  std::shared_ptr<const std::string> block_;
  std::uint64_t fail_at_;
  std::size_t rss_at_start_;
};

Node::OpenLarge checking_sinks(std::shared_ptr<SinkLog> log, std::shared_ptr<const std::string> block,
                               std::uint64_t fail_at = UINT64_MAX) {
  return [=](PeerId, std::uint64_t) -> std::unique_ptr<LargeSink> {
    return std::make_unique<CheckingSink>(log, block, fail_at);
  };
}

// The "a 2 GiB snapshot (synthetic) is sent in bounded memory": a payload past 2^31 bytes goes
// from a source read a chunk at a time to a sink that keeps nothing, whole and verified, while neither
// process side grows by more than a small part of it (ASan's quarantine of freed frames included).
TEST(PeerTransport, TwoGiBTransferStreamsFromSourceToSinkInBoundedMemory) {
  auto block = std::make_shared<const std::string>(random_payload(1 << 20, 7));
  auto log = std::make_shared<SinkLog>();
  PeerTransportOptions opts;
  Node b(2, 0, opts, checking_sinks(log, block));
  Node a(1, 0, opts);
  a.transport().add_peer(2, local(b.port()));
  const std::uint64_t kSize = (2ull << 30) + 4321;
  const std::size_t rss_before = rss_bytes();
  ASSERT_TRUE(a.transport().send_large(2, std::make_unique<RepeatedBlockSource>(block, kSize)));
  ASSERT_TRUE(a.transport().send(2, "after"));
  auto finished = [&] {
    std::lock_guard lock(log->mu);
    return log->finished == 1;
  };
  auto end = std::chrono::steady_clock::now() + 10 * kHangGuard;
  while (!finished() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(20ms);
  std::lock_guard lock(log->mu);
  EXPECT_EQ(log->finished, 1);
  EXPECT_EQ(log->bytes, kSize);
  EXPECT_TRUE(log->matches);
  EXPECT_LE(log->largest_write, opts.chunk_bytes);
  EXPECT_LE(RepeatedBlockSource::largest_read_.load(), opts.chunk_bytes);
  EXPECT_LT(log->rss_growth_max, 512u << 20) << "the receiving side grew by that much";
  const std::size_t rss_after = rss_bytes();
  EXPECT_LT(rss_after > rss_before ? rss_after - rss_before : 0, 512u << 20);
  EXPECT_EQ(b.wait_for_message("after").size(), 1u) << "a streamed payload never reaches on_message";
  EXPECT_EQ(b.transport().stats().large_payloads_received.load(), 1u);
}

// 64 KiB chunks (a 1 MiB transfer is 16 of them) and a quick reconnect after the failed one.
PeerTransportOptions failing_transfer_options() {
  PeerTransportOptions opts;
  opts.chunk_bytes = 64 * 1024;
  opts.backoff_initial = 5ms;
  opts.backoff_max = 50ms;
  return opts;
}

TEST(PeerTransport, ARefusedTransferClosesItsConnectionAndLaterMessagesStillArrive) {
  auto block = std::make_shared<const std::string>(random_payload(4096, 8));
  const PeerTransportOptions opts = failing_transfer_options();
  Node b(2, 0, opts, [](PeerId, std::uint64_t) -> std::unique_ptr<LargeSink> { return nullptr; });
  Node a(1, 0, opts);
  a.transport().add_peer(2, local(b.port()));
  ASSERT_TRUE(a.transport().send_large(2, std::make_unique<RepeatedBlockSource>(block, 1 << 20)));
  // Whether the sender notices depends on how much the kernel buffered before the close (no ack).
  ASSERT_TRUE(eventually_true([&] { return b.transport().stats().large_payloads_refused.load() == 1; }));
  ASSERT_TRUE(eventually_true([&] { return a.transport().send(2, "later") && b.count() >= 1; }));
  for (auto& [from, m] : b.wait_for_message("later"))
    EXPECT_EQ(m, "later") << "only the retried message, never part of the refused transfer";
  EXPECT_EQ(b.transport().stats().large_payloads_received.load(), 0u);
}

TEST(PeerTransport, ASinkThatFailsMidTransferIsDestroyedWithoutFinish) {
  auto block = std::make_shared<const std::string>(random_payload(4096, 9));
  auto log = std::make_shared<SinkLog>();
  const PeerTransportOptions opts = failing_transfer_options();
  Node b(2, 0, opts, checking_sinks(log, block, 300 * 1024));
  Node a(1, 0, opts);
  a.transport().add_peer(2, local(b.port()));
  ASSERT_TRUE(a.transport().send_large(2, std::make_unique<RepeatedBlockSource>(block, 1 << 20)));
  ASSERT_TRUE(eventually_true([&] {
    std::lock_guard lock(log->mu);
    return log->destroyed == 1;
  }));
  // The sender is not asserted to notice: the whole megabyte may already sit in the kernel's socket
  // buffers when the receiver closes (there is no end-of-transfer ack; raft resends a snapshot it never
  // hears back about).
  {
    std::lock_guard lock(log->mu);
    EXPECT_EQ(log->finished, 0);
    EXPECT_LE(log->bytes, 300u * 1024);
  }
  EXPECT_EQ(b.transport().stats().large_payloads_refused.load(), 1u);
  ASSERT_TRUE(eventually_true([&] { return a.transport().send(2, "later") && b.count() >= 1; }));
  for (auto& [from, m] : b.wait_for_message("later"))
    EXPECT_EQ(m, "later") << "only the retried message, never part of the failed transfer";
}

TEST(PeerTransport, ASourceThatFailsToReadDropsItsTransferAndConnection) {
  auto block = std::make_shared<const std::string>(random_payload(4096, 10));
  auto log = std::make_shared<SinkLog>();
  const PeerTransportOptions opts = failing_transfer_options();
  Node b(2, 0, opts, checking_sinks(log, block));
  Node a(1, 0, opts);
  a.transport().add_peer(2, local(b.port()));
  ASSERT_TRUE(a.transport().send_large(2, std::make_unique<RepeatedBlockSource>(block, 1 << 20, 500 * 1024)));
  ASSERT_TRUE(eventually_true([&] { return a.unreachable() >= 1; }));
  ASSERT_TRUE(eventually_true([&] {
    std::lock_guard lock(log->mu);
    return log->destroyed == 1;
  })) << "the receiver forgets the part it got when the connection goes";
  {
    std::lock_guard lock(log->mu);
    EXPECT_EQ(log->finished, 0);
    EXPECT_TRUE(log->matches);
  }
  // The next transfer, on a new connection, lands whole.
  ASSERT_TRUE(eventually_true(
      [&] { return a.transport().send_large(2, std::make_unique<RepeatedBlockSource>(block, 1 << 20)); }));
  ASSERT_TRUE(eventually_true([&] {
    std::lock_guard lock(log->mu);
    return log->finished == 1;
  }));
  EXPECT_EQ(b.transport().stats().large_payloads_received.load(), 1u);
}

}  // namespace
}  // namespace cairn::server::net
