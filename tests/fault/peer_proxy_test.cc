// Unit tests of the fault-injecting peer proxy (peer_proxy.h): forwarding, and that cuts apply to one
// ordered pair of members only, in reset and blackhole modes, and heal.
#include "tests/fault/peer_proxy.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace cairn::tests::fault {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Ports from the fault range (tests/fault/CMakeLists.txt): 19400-19409.
constexpr std::uint16_t kUpstreamPort = 19400;  // stands in for member 1's real peer port
constexpr std::uint16_t kProxyPort = 19401;     // member 1's advertised peer port

// A HELLO frame as cairn's peer transport sends it: u32 len | u32 crc | u8 type=1 | "CAIRNPT1" | u64 id |
// u64 cluster id. The proxy does not check the crc.
std::string hello(std::uint64_t sender) {
  std::string s = {0, 0, 0, 24, 0, 0, 0, 0, 1};
  s += "CAIRNPT1";
  for (int i = 7; i >= 0; --i)
    s.push_back(static_cast<char>(sender >> (8 * i)));
  s.append(8, '\0');
  return s;
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_.open(tcp::v4());
    upstream_.set_option(tcp::acceptor::reuse_address(true));
    upstream_.bind({asio::ip::make_address("127.0.0.1"), kUpstreamPort});
    upstream_.listen();
    on_loop([&] {
      proxy_.set_resolver([](std::uint64_t id) { return id == 100 ? 0 : id == 300 ? 2 : -1; });
      ASSERT_TRUE(proxy_.add_route(1, kProxyPort, kUpstreamPort));
    });
  }
  void TearDown() override {
    on_loop([&] { proxy_.shutdown(); });
    guard_.reset();
    loop_.join();
  }
  template <typename F>
  void on_loop(F f) {
    std::promise<void> done;
    asio::post(ioc_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  // Dials the proxy as member `sender` and returns (dialer side, accepted upstream side or null).
  std::pair<std::unique_ptr<tcp::socket>, std::unique_ptr<tcp::socket>> dial(std::uint64_t sender,
                                                                             bool expect_forward = true) {
    auto out = std::make_unique<tcp::socket>(client_ctx_);
    out->connect({asio::ip::make_address("127.0.0.1"), kProxyPort});
    asio::write(*out, asio::buffer(hello(sender)));
    if (!expect_forward) return {std::move(out), nullptr};
    auto in = std::make_unique<tcp::socket>(client_ctx_);
    upstream_.accept(*in);
    std::string got(hello(sender).size(), '\0');
    asio::read(*in, asio::buffer(got));
    EXPECT_EQ(got, hello(sender));
    return {std::move(out), std::move(in)};
  }
  // Whether `s` delivers `n` bytes within the timeout (false on EOF, reset or timeout).
  static bool receives(tcp::socket& s, std::size_t n, int timeout_ms = 500) {
    s.non_blocking(true);
    std::string buf(n, '\0');
    std::size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got < n && std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      const std::size_t r = s.read_some(asio::buffer(buf.data() + got, n - got), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (ec) return false;
      got += r;
    }
    return got == n;
  }
  // Whether the peer closed `s` within the timeout.
  static bool closed(tcp::socket& s, int timeout_ms = 1000) {
    s.non_blocking(true);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char c;
    while (std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      s.read_some(asio::buffer(&c, 1), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      return static_cast<bool>(ec);
    }
    return false;
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
  PeerProxy proxy_{ioc_};
  std::thread loop_{[this] { ioc_.run(); }};
  asio::io_context client_ctx_;
  tcp::acceptor upstream_{client_ctx_};
};

TEST_F(ProxyTest, ForwardsBothWays) {
  auto [out, in] = dial(100);
  asio::write(*out, asio::buffer(std::string("ping")));
  EXPECT_TRUE(receives(*in, 4));
  asio::write(*in, asio::buffer(std::string("pong!")));
  EXPECT_TRUE(receives(*out, 5));
}

TEST_F(ProxyTest, ResetCutClosesOnlyThatPairAndRefusesNewConnections) {
  auto [a_out, a_in] = dial(100);  // member 0 -> member 1
  auto [c_out, c_in] = dial(300);  // member 2 -> member 1
  on_loop([&] { proxy_.cut(0, 1, CutMode::kReset); });
  EXPECT_TRUE(closed(*a_in));
  EXPECT_TRUE(closed(*a_out));
  asio::write(*c_out, asio::buffer(std::string("still")));
  EXPECT_TRUE(receives(*c_in, 5));  // the other pair is untouched
  // A new connection from member 0 is closed after its HELLO, never reaching the member.
  auto [n_out, none] = dial(100, false);
  EXPECT_TRUE(closed(*n_out));
  on_loop([&] { proxy_.heal(0, 1); });
  auto [h_out, h_in] = dial(100);
  asio::write(*h_out, asio::buffer(std::string("back")));
  EXPECT_TRUE(receives(*h_in, 4));
}

TEST_F(ProxyTest, BlackholeDropsSilentlyAndHealCloses) {
  auto [a_out, a_in] = dial(100);
  on_loop([&] { proxy_.cut(0, 1, CutMode::kBlackhole); });
  const std::string big(200'000, 'x');  // the sender never stalls: the proxy keeps reading
  asio::write(*a_out, asio::buffer(big));
  EXPECT_FALSE(receives(*a_in, 1, 300));
  EXPECT_FALSE(closed(*a_out, 200));  // the sender sees an open, silent connection
  on_loop([&] {
    EXPECT_TRUE(proxy_.is_cut(0, 1));
    EXPECT_FALSE(proxy_.is_cut(1, 0));
    proxy_.heal(0, 1);
  });
  EXPECT_TRUE(closed(*a_out));  // mid-stream bytes were lost: healing forces a fresh connection
  auto [h_out, h_in] = dial(100);
  asio::write(*h_out, asio::buffer(std::string("ok")));
  EXPECT_TRUE(receives(*h_in, 2));
}

TEST_F(ProxyTest, UnidentifiedSendersAreForwarded) {
  on_loop([&] {
    proxy_.cut(0, 1, CutMode::kReset);
    proxy_.cut(2, 1, CutMode::kReset);
  });
  auto [out, in] = dial(555);  // an id the resolver does not know
  asio::write(*out, asio::buffer(std::string("hi")));
  EXPECT_TRUE(receives(*in, 2));
}

}  // namespace
}  // namespace cairn::tests::fault
