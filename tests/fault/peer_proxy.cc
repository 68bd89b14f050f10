// The fault-injecting peer-link proxy; see peer_proxy.h.
#include "tests/fault/peer_proxy.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <vector>

namespace cairn::tests::fault {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {
// cairn's peer frame: u32 length | u32 crc | u8 type | payload; HELLO payload = "CAIRNPT1" + u64 sender.
constexpr std::size_t kHelloPrefix = 9 + 8 + 8;
constexpr char kMagic[] = "CAIRNPT1";
}  // namespace

struct Conn {
  int target = -1;
  std::uint16_t route_port = 0;
  bool identified = false;
  std::uint64_t sender = 0;
  bool blackholed = false;
  bool closed = false;
  tcp::socket down;  // accepted from the dialing member
  tcp::socket up;    // to the target member's real peer port
  explicit Conn(asio::any_io_executor ex) : down(ex), up(ex) {}
  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ec;
    down.shutdown(tcp::socket::shutdown_both, ec);
    up.shutdown(tcp::socket::shutdown_both, ec);
    down.close(ec);
    up.close(ec);
  }
};

struct Route {
  int target = -1;
  std::uint16_t target_port = 0;
  bool parse_hello = true;
  std::shared_ptr<tcp::acceptor> acceptor;  // shared with the accept loop
};

struct PeerProxy::Impl : std::enable_shared_from_this<PeerProxy::Impl> {
  asio::io_context& ioc;
  std::function<int(std::uint64_t)> resolve;
  std::map<std::uint16_t, Route> routes;
  std::set<std::shared_ptr<Conn>> conns;
  std::map<std::pair<int, int>, CutMode> cuts;
  ProxyStats stats;
  bool stopped = false;

  explicit Impl(asio::io_context& c) : ioc(c) {}

  int sender_index(const Conn& c) const {
    if (!c.identified || !resolve) return -1;
    return resolve(c.sender);
  }
  const CutMode* cut_for(const Conn& c) const {
    const int from = sender_index(c);
    if (from < 0) return nullptr;
    auto it = cuts.find({from, c.target});
    return it == cuts.end() ? nullptr : &it->second;
  }
  void drop(const std::shared_ptr<Conn>& c) {
    c->close();
    conns.erase(c);
  }

  static awaitable<void> accept_loop(std::shared_ptr<Impl> self, std::uint16_t port) {
    auto it = self->routes.find(port);
    if (it == self->routes.end()) co_return;
    std::shared_ptr<tcp::acceptor> acc = it->second.acceptor;
    while (!self->stopped) {
      auto [ec, sock] = co_await acc->async_accept(kTuple);
      if (self->stopped || !acc->is_open()) co_return;
      if (ec) continue;
      const Route& r = self->routes.at(port);
      auto c = std::make_shared<Conn>(self->ioc.get_executor());
      c->down = std::move(sock);
      c->target = r.target;
      c->route_port = port;
      boost::system::error_code ignored;
      c->down.set_option(tcp::no_delay(true), ignored);
      self->conns.insert(c);
      ++self->stats.accepted;
      asio::co_spawn(self->ioc, serve(self, c, r.target_port, r.parse_hello), asio::detached);
    }
  }

  // Reads and discards until the connection closes (a blackholed connection).
  static awaitable<void> drain(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c) {
    std::array<char, 16384> buf{};
    while (!c->closed) {
      auto [ec, n] = co_await c->down.async_read_some(asio::buffer(buf), kTuple);
      if (ec) break;
      self->stats.bytes_dropped += n;
    }
    self->drop(c);
  }

  static awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c, std::uint16_t target_port,
                               bool parse_hello) {
    std::vector<char> first;
    if (parse_hello) {
      first.resize(kHelloPrefix);
      auto [ec, n] = co_await asio::async_read(c->down, asio::buffer(first), kTuple);
      if (ec || c->closed) {
        self->drop(c);
        co_return;
      }
      if (std::memcmp(first.data() + 9, kMagic, 8) == 0) {
        c->identified = true;
        for (std::size_t i = 17; i < kHelloPrefix; ++i)
          c->sender = (c->sender << 8) | static_cast<unsigned char>(first[i]);
      }
      if (const CutMode* m = self->cut_for(*c)) {
        if (*m == CutMode::kReset) {
          ++self->stats.reset;
          self->drop(c);
        } else {
          ++self->stats.blackholed;
          c->blackholed = true;
          self->stats.bytes_dropped += first.size();
          co_await drain(self, c);
        }
        co_return;
      }
    }
    auto [cec] =
        co_await c->up.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), target_port), kTuple);
    if (cec || c->closed) {
      self->drop(c);
      co_return;
    }
    boost::system::error_code ignored;
    c->up.set_option(tcp::no_delay(true), ignored);
    if (!first.empty()) {
      if (c->blackholed) {  // cut while connecting
        self->stats.bytes_dropped += first.size();
      } else {
        auto [wec, wn] = co_await asio::async_write(c->up, asio::buffer(first), kTuple);
        if (wec) {
          self->drop(c);
          co_return;
        }
        self->stats.bytes_forwarded += wn;
      }
    }
    asio::co_spawn(self->ioc, pump(self, c, true), asio::detached);
    co_await pump(self, c, false);
  }

  // Copies one direction: dialer -> member (forward = true) or back. Blackholed bytes are dropped.
  static awaitable<void> pump(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c, bool forward) {
    std::array<char, 65536> buf{};
    tcp::socket& from = forward ? c->down : c->up;
    tcp::socket& to = forward ? c->up : c->down;
    while (!c->closed) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kTuple);
      if (ec || c->closed) break;
      if (c->blackholed) {
        self->stats.bytes_dropped += n;
        continue;
      }
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kTuple);
      if (wec) break;
      self->stats.bytes_forwarded += wn;
    }
    self->drop(c);
  }

  void apply_cut(int from, int to, CutMode mode) {
    std::vector<std::shared_ptr<Conn>> hit;
    for (const auto& c : conns)
      if (c->target == to && sender_index(*c) == from) hit.push_back(c);
    for (const auto& c : hit) {
      if (mode == CutMode::kReset) {
        ++stats.reset;
        drop(c);
      } else if (!c->blackholed) {
        ++stats.blackholed;
        c->blackholed = true;
      }
    }
  }
  void close_blackholed(int from, int to) {
    std::vector<std::shared_ptr<Conn>> hit;
    for (const auto& c : conns)
      if (c->blackholed && c->target == to && sender_index(*c) == from) hit.push_back(c);
    for (const auto& c : hit)
      drop(c);
  }
};

PeerProxy::PeerProxy(asio::io_context& ioc) : impl_(std::make_shared<Impl>(ioc)) {}
PeerProxy::~PeerProxy() {
  shutdown();
}

void PeerProxy::set_resolver(std::function<int(std::uint64_t)> resolve) {
  impl_->resolve = std::move(resolve);
}

bool PeerProxy::add_route(int target, std::uint16_t listen_port, std::uint16_t target_port,
                          bool parse_hello) {
  Route r;
  r.target = target;
  r.target_port = target_port;
  r.parse_hello = parse_hello;
  r.acceptor = std::make_shared<tcp::acceptor>(impl_->ioc);
  boost::system::error_code ec;
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), listen_port);
  r.acceptor->open(ep.protocol(), ec);
  if (!ec) r.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) r.acceptor->bind(ep, ec);
  if (!ec) r.acceptor->listen(64, ec);
  if (ec) return false;
  impl_->routes[listen_port] = std::move(r);
  asio::co_spawn(impl_->ioc, Impl::accept_loop(impl_, listen_port), asio::detached);
  return true;
}

void PeerProxy::remove_route(std::uint16_t listen_port) {
  auto it = impl_->routes.find(listen_port);
  if (it == impl_->routes.end()) return;
  boost::system::error_code ec;
  it->second.acceptor->close(ec);  // the accept loop (holding the acceptor) ends
  impl_->routes.erase(it);
  std::vector<std::shared_ptr<Conn>> hit;
  for (const auto& c : impl_->conns)
    if (c->route_port == listen_port) hit.push_back(c);
  for (const auto& c : hit)
    impl_->drop(c);
}

void PeerProxy::cut(int from, int to, CutMode mode) {
  impl_->cuts[{from, to}] = mode;
  impl_->apply_cut(from, to, mode);
}

void PeerProxy::heal(int from, int to) {
  impl_->cuts.erase({from, to});
  impl_->close_blackholed(from, to);
}

void PeerProxy::heal_all() {
  auto cuts = impl_->cuts;
  for (const auto& [pair, mode] : cuts)
    heal(pair.first, pair.second);
}

bool PeerProxy::is_cut(int from, int to) const {
  return impl_->cuts.count({from, to}) > 0;
}

const ProxyStats& PeerProxy::stats() const {
  return impl_->stats;
}

void PeerProxy::shutdown() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  std::vector<std::uint16_t> ports;
  for (const auto& [p, r] : impl_->routes)
    ports.push_back(p);
  for (auto p : ports)
    remove_route(p);
  auto conns = impl_->conns;
  for (const auto& c : conns)
    impl_->drop(c);
}

}  // namespace cairn::tests::fault
