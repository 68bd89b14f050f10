// Hostile and broken clients against the server (raw sockets and a raw nghttp2 client), HTTP/1.1 on the
// gRPC port, and the server's limits. Each test also checks that a well-behaved client is still served.
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <map>

#include "tests/net/net_test_util.h"

namespace cairn::server::net::testing {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace std::chrono_literals;

// A blocking socket with a receive timeout, for byte-level tests.
class RawConn {
 public:
  explicit RawConn(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{0, 100'000};  // reads wake up every 100 ms to check the hang guard
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(std::string_view bytes) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), ec);
  }
  // Reads whatever arrives; returns false on EOF/error. Appends to `out`.
  bool read_some(std::string& out) {
    char buf[16384];
    ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    return false;
  }
  // Reads until the server closes the connection. False if the hang guard passed first.
  bool read_until_eof(std::string& out) {
    auto end = std::chrono::steady_clock::now() + kHangGuard;
    while (std::chrono::steady_clock::now() < end) {
      if (!read_some(out)) return true;
    }
    return false;
  }
  // Reads one HTTP/1.1 response (headers + Content-Length body).
  std::string read_http_response() {
    std::string buf;
    auto end = std::chrono::steady_clock::now() + kHangGuard;
    while (std::chrono::steady_clock::now() < end) {
      auto hdr_end = buf.find("\r\n\r\n");
      if (hdr_end != std::string::npos) {
        std::size_t len = 0;
        auto cl = buf.find("Content-Length: ");
        if (cl != std::string::npos && cl < hdr_end) len = std::stoul(buf.substr(cl + 16));
        if (buf.size() >= hdr_end + 4 + len) {
          std::string r = buf.substr(0, hdr_end + 4 + len);
          pending_ = buf.substr(r.size());
          return r;
        }
      }
      if (!read_some(buf)) break;
    }
    return buf;
  }
  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  asio::io_context ioc_;
  asio::ip::tcp::socket socket_;
  std::string pending_;
};

// Frames of an HTTP/2 byte stream (server side output), for inspection.
struct Frame {
  std::uint8_t type;
  std::uint8_t flags;
  std::uint32_t stream;
  std::string payload;
};
std::vector<Frame> parse_frames(std::string_view b) {
  std::vector<Frame> frames;
  while (b.size() >= 9) {
    std::uint32_t len = (std::uint32_t(std::uint8_t(b[0])) << 16) | (std::uint32_t(std::uint8_t(b[1])) << 8) |
                        std::uint8_t(b[2]);
    if (b.size() < 9 + len) break;
    Frame f{std::uint8_t(b[3]), std::uint8_t(b[4]),
            ((std::uint32_t(std::uint8_t(b[5])) << 24) | (std::uint32_t(std::uint8_t(b[6])) << 16) |
             (std::uint32_t(std::uint8_t(b[7])) << 8) | std::uint8_t(b[8])) &
                0x7fffffffu,
            std::string(b.substr(9, len))};
    frames.push_back(std::move(f));
    b.remove_prefix(9 + len);
  }
  return frames;
}
std::optional<std::uint32_t> goaway_code(const std::vector<Frame>& frames) {
  for (const auto& f : frames) {
    if (f.type == NGHTTP2_GOAWAY && f.payload.size() >= 8) {
      const auto* p = reinterpret_cast<const unsigned char*>(f.payload.data()) + 4;
      return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
    }
  }
  return std::nullopt;
}

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const std::string kEmptySettings("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);

// A well-behaved client still gets answers (the server is not stalled by the hostile one).
void expect_server_still_serves(std::uint16_t port) {
  ClientThread client;
  auto r = client.run<UnaryResult>([&]() -> awaitable<UnaryResult> {
    Channel ch(client.executor(), {{"127.0.0.1", port}});
    co_return co_await ch.unary("/cairn.test.Echo/Unary", "alive", CallOptions{10s, {}, false});
  });
  EXPECT_TRUE(r.status.is_ok()) << r.status.message;
  EXPECT_EQ(r.response, "alive");
}

// A raw nghttp2 client over RawConn that lets a test break the rules (ignore limits, never read).
class RawH2 {
 public:
  struct StreamResult {
    bool closed = false;
    std::uint32_t close_code = 0;
    std::string grpc_status;
    std::size_t data_bytes = 0;
  };

  explicit RawH2(std::uint16_t port, std::uint32_t window = 65535) : conn_(port) {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs,
        [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
           uint8_t, void* ud) -> int {
          if (std::string_view(reinterpret_cast<const char*>(n), nl) == "grpc-status")
            static_cast<RawH2*>(ud)->streams_[f->hd.stream_id].grpc_status.assign(
                reinterpret_cast<const char*>(v), vl);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, int32_t id, uint32_t code, void* ud) -> int {
          auto& s = static_cast<RawH2*>(ud)->streams_[id];
          s.closed = true;
          s.close_code = code;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t*, size_t len, void* ud) -> int {
          static_cast<RawH2*>(ud)->streams_[id].data_bytes += len;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, void* ud) -> int {
          if (f->hd.type == NGHTTP2_GOAWAY) static_cast<RawH2*>(ud)->goaway_code_ = f->goaway.error_code;
          return 0;
        });
    nghttp2_session_client_new(&ng_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, 1);
    if (window > 65535)
      nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(window));
  }
  ~RawH2() { nghttp2_session_del(ng_); }

  int32_t submit(const std::string& path, std::string message,
                 std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> h = {
        {":method", "POST"},
        {":scheme", "http"},
        {":path", path},
        {":authority", "http://127.0.0.1:1"},  // etcdctl-style
        {"content-type", "application/grpc"},
        {"te", "trailers"}};
    for (auto& e : extra)
      h.push_back(e);
    std::vector<nghttp2_nv> nv;
    for (auto& [k, v] : h)
      nv.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(),
                    v.size(), NGHTTP2_NV_FLAG_NONE});
    auto body = std::make_unique<std::string>(frame_message(message));
    nghttp2_data_provider prd;
    prd.source.ptr = body.get();
    prd.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                           nghttp2_data_source* src, void*) -> ssize_t {
      auto* b = static_cast<std::string*>(src->ptr);
      size_t n = std::min(len, b->size());
      std::copy_n(b->data(), n, buf);
      b->erase(0, n);
      if (b->empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    int32_t id = nghttp2_submit_request(ng_, nullptr, nv.data(), nv.size(), &prd, nullptr);
    bodies_.push_back(std::move(body));
    return id;
  }

  void flush() {
    std::string out;
    const uint8_t* p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(ng_, &p)) > 0)
      out.append(reinterpret_cast<const char*>(p), n);
    conn_.send(out);
  }

  // Reads and processes frames until pred() holds, the connection ends, or the hang guard passes.
  bool pump_until(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + kHangGuard;
    while (!pred() && std::chrono::steady_clock::now() < end) {
      std::string in;
      bool open = conn_.read_some(in);
      if (!in.empty() &&
          nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(in.data()), in.size()) < 0)
        return pred();
      flush();
      if (!open) break;
    }
    return pred();
  }

  StreamResult& stream(int32_t id) { return streams_[id]; }
  std::optional<uint32_t> goaway() const { return goaway_code_; }
  RawConn& conn() { return conn_; }

 private:
  RawConn conn_;
  nghttp2_session* ng_ = nullptr;
  std::map<int32_t, StreamResult> streams_;
  std::vector<std::unique_ptr<std::string>> bodies_;
  std::optional<uint32_t> goaway_code_;
};

TEST(Robustness, GarbageInsteadOfPrefaceGets400AndClose) {
  TestServer server;
  RawConn c(server.port());
  static constexpr char kGarbage[] = "\x16\x03\x01\x02\x00garbage\x00\xff\r\n\r\n";
  c.send(std::string(kGarbage, sizeof kGarbage - 1));
  std::string out;
  ASSERT_TRUE(c.read_until_eof(out));
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  expect_server_still_serves(server.port());
}

TEST(Robustness, GarbageAfterPrefaceGetsGoawayAndClose) {
  TestServer server;
  RawConn c(server.port());
  c.send(std::string(kPreface) + kEmptySettings + std::string(64, '\xff'));
  std::string out;
  ASSERT_TRUE(c.read_until_eof(out));
  auto frames = parse_frames(out);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].type, NGHTTP2_SETTINGS);  // the server speaks first with SETTINGS
  EXPECT_TRUE(goaway_code(frames).has_value());
  EXPECT_EQ(server.stats().protocol_errors.load(), 1u);
  expect_server_still_serves(server.port());
}

TEST(Robustness, OversizedFrameIsFrameSizeError) {
  TestServer server;
  RawConn c(server.port());
  // A HEADERS frame header announcing 1 MiB (> SETTINGS_MAX_FRAME_SIZE 16384), then some of it.
  std::string hdr("\x10\x00\x00\x01\x04\x00\x00\x00\x01", 9);
  c.send(std::string(kPreface) + kEmptySettings + hdr + std::string(20000, 'a'));
  std::string out;
  ASSERT_TRUE(c.read_until_eof(out));
  EXPECT_EQ(goaway_code(parse_frames(out)), std::optional<std::uint32_t>(NGHTTP2_FRAME_SIZE_ERROR));
  expect_server_still_serves(server.port());
}

TEST(Robustness, SlowlorisPrefaceIsCutAtHandshakeTimeout) {
  ServerLimits limits;
  limits.handshake_timeout = 300ms;
  TestServer server(limits);
  RawConn h2(server.port());
  h2.send("PRI * HTTP/2.0\r\n");  // and nothing more
  RawConn h1(server.port());
  h1.send("GET /health HTTP/1.1\r\nHost: a\r\n");  // headers never finished
  expect_server_still_serves(server.port());
  std::string out;
  ASSERT_TRUE(h2.read_until_eof(out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(h1.read_until_eof(out));
  EXPECT_TRUE(out.empty()) << out;
  EXPECT_GE(server.stats().handshake_timeouts.load(), 1u);
}

TEST(Robustness, NeverReadingClientIsDroppedAndOthersAreServed) {
  ServerLimits limits;
  limits.write_stall_timeout = 500ms;
  limits.stream_pending_write_bytes_max = 256 * 1024;
  TestServer server(limits);
  RawH2 bad(server.port(), 0x7fffffff);  // opens every window, then never reads
  int rcvbuf = 4096;
  ::setsockopt(bad.conn().socket().native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  bad.submit("/cairn.test.Echo/Flood", "");
  bad.flush();
  expect_server_still_serves(server.port());
  // The flood handler's writes block on the bounded queue; the stalled socket write then drops the
  // connection, which cancels the handler.
  EXPECT_TRUE(eventually([&] { return server.service().flood_writes_blocked_or_done.load() == 1; }));
  EXPECT_TRUE(eventually([&] { return server.stats().connections_open.load() == 0; }));
  // Memory stayed bounded: the queue never held more than its limit plus one 64 KiB message (+ prefix).
  EXPECT_LE(server.stats().pending_write_bytes_peak.load(),
            limits.stream_pending_write_bytes_max + 64 * 1024 + 5);
  EXPECT_EQ(server.stats().pending_write_bytes.load(), 0u);
  expect_server_still_serves(server.port());
}

TEST(Robustness, ShutdownIsATwoPhaseGoaway) {
  auto server = std::make_unique<TestServer>();
  RawConn c(server->port());
  c.send(std::string(kPreface) + kEmptySettings);
  std::string out;
  while (parse_frames(out).empty())
    ASSERT_TRUE(c.read_some(out));  // server SETTINGS arrived
  std::thread stopper([&] { server->stop(); });
  // Read until the shutdown PING, answer it, then read to the end.
  std::optional<Frame> ping;
  auto end = std::chrono::steady_clock::now() + kHangGuard;
  while (!ping && std::chrono::steady_clock::now() < end) {
    ASSERT_TRUE(c.read_some(out));
    for (auto& f : parse_frames(out))
      if (f.type == NGHTTP2_PING && !(f.flags & NGHTTP2_FLAG_ACK)) ping = f;
  }
  ASSERT_TRUE(ping);
  c.send(std::string("\x00\x00\x08\x06\x01\x00\x00\x00\x00", 9) + ping->payload);
  ASSERT_TRUE(c.read_until_eof(out));
  stopper.join();
  std::vector<std::uint32_t> goaway_last_ids;
  for (auto& f : parse_frames(out)) {
    if (f.type != NGHTTP2_GOAWAY) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(f.payload.data());
    goaway_last_ids.push_back(
        ((std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3]) &
        0x7fffffffu);
  }
  EXPECT_EQ(goaway_last_ids, (std::vector<std::uint32_t>{0x7fffffffu, 0u}));
}

TEST(Robustness, IdleHttp2ConnectionGetsGoawayAndClose) {
  ServerLimits limits;
  limits.idle_timeout = 200ms;
  TestServer server(limits);
  RawConn c(server.port());
  c.send(std::string(kPreface) + kEmptySettings);
  std::string out;
  ASSERT_TRUE(c.read_until_eof(out));
  EXPECT_EQ(goaway_code(parse_frames(out)), std::optional<std::uint32_t>(NGHTTP2_NO_ERROR));
}

TEST(Robustness, StreamsAboveTheLimitAreRefused) {
  ServerLimits limits;
  limits.concurrent_streams_max = 4;
  TestServer server(limits);
  RawH2 c(server.port());
  std::vector<int32_t> ids;
  // All ten HEADERS leave before we have even read the server's SETTINGS: a client ignoring the limit.
  for (int i = 0; i < 10; ++i)
    ids.push_back(c.submit("/cairn.test.Echo/Sleep", "100"));
  c.flush();
  ASSERT_TRUE(c.pump_until([&] {
    for (auto id : ids)
      if (!c.stream(id).closed) return false;
    return true;
  }));
  int refused = 0, ok = 0;
  for (auto id : ids) {
    if (c.stream(id).close_code == NGHTTP2_REFUSED_STREAM) ++refused;
    if (c.stream(id).grpc_status == "0") ++ok;
  }
  EXPECT_EQ(refused, 6);
  EXPECT_EQ(ok, 4);
  // The same connection can continue within the limit.
  auto more = c.submit("/cairn.test.Echo/Unary", "x");
  c.flush();
  ASSERT_TRUE(c.pump_until([&] { return c.stream(more).closed; }));
  EXPECT_EQ(c.stream(more).grpc_status, "0");
}

TEST(Robustness, OversizedHeaderListIsRejected) {
  TestServer server;
  RawH2 c(server.port());
  auto id = c.submit("/cairn.test.Echo/Unary", "x", {{"x-big", std::string(20000, 'h')}});
  c.flush();
  ASSERT_TRUE(c.pump_until([&] { return c.stream(id).closed; }));
  EXPECT_EQ(c.stream(id).grpc_status, "8");
  // And the etcdctl-style ":authority: http://host:port" is accepted (no HTTP messaging checks).
  auto ok = c.submit("/cairn.test.Echo/Unary", "x");
  c.flush();
  ASSERT_TRUE(c.pump_until([&] { return c.stream(ok).closed; }));
  EXPECT_EQ(c.stream(ok).grpc_status, "0");
}

TEST(Robustness, ConnectionsAboveTheLimitAreClosed) {
  ServerLimits limits;
  limits.connections_max = 2;
  TestServer server(limits);
  RawConn a(server.port());
  RawConn b(server.port());
  ASSERT_TRUE(eventually([&] { return server.stats().connections_open.load() == 2; }));
  RawConn c(server.port());
  std::string out;
  ASSERT_TRUE(c.read_until_eof(out));
  EXPECT_EQ(server.stats().connections_rejected.load(), 1u);
}

TEST(Http1, HealthVersionKeepAliveAndErrorsOnTheGrpcPort) {
  TestServer server;
  RawConn c(server.port());
  c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r1 = c.read_http_response();
  EXPECT_EQ(r1.rfind("HTTP/1.1 200 OK", 0), 0u) << r1;
  EXPECT_NE(r1.find(R"({"health":"true"})"), std::string::npos);
  EXPECT_EQ(r1.find("Access-Control-Allow-Origin"), std::string::npos) << r1;  // no --cors: no CORS
  c.send("GET /version HTTP/1.1\r\nHost: x\r\n\r\n");                          // same connection (keep-alive)
  std::string r2 = c.read_http_response();
  EXPECT_NE(r2.find("etcdserver"), std::string::npos) << r2;
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string m = c.read_http_response();
  EXPECT_NE(m.find("cairn_net_http1_connections_total 1"), std::string::npos) << m;
  c.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_http_response().rfind("HTTP/1.1 404", 0), 0u);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  std::string cont = c.read_http_response();
  EXPECT_EQ(cont.rfind("HTTP/1.1 100 Continue", 0), 0u) << cont;
  c.send("hello");
  std::string r3 = c.read_http_response();
  EXPECT_EQ(r3.rfind("HTTP/1.1 200", 0), 0u) << r3;
  EXPECT_EQ(r3.substr(r3.size() - 5), "hello");
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  std::string r4 = c.read_http_response();
  EXPECT_EQ(r4.substr(r4.size() - 3), "abc") << r4;
  c.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string out;
  ASSERT_TRUE(c.read_until_eof(out));
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u);
}

// --cors and --host-whitelist (server/net/http_access.h).
std::string http_get(TestServer& server, const std::string& method, const std::string& headers) {
  RawConn c(server.port());
  c.send(method + " /health HTTP/1.1\r\n" + headers + "Connection: close\r\n\r\n");
  return c.read_http_response();
}

TEST(HttpAccess, CrossOriginRequestGetsNoCorsHeaderByDefault) {
  TestServer server;
  std::string r = http_get(server, "GET", "Host: localhost\r\nOrigin: http://evil.example\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_EQ(r.find("Access-Control-"), std::string::npos) << r;  // the page cannot read the answer
  std::string pre = http_get(server, "OPTIONS",
                             "Host: localhost\r\nOrigin: http://evil.example\r\n"
                             "Access-Control-Request-Method: POST\r\n");
  EXPECT_EQ(pre.rfind("HTTP/1.1 200", 0), 0u) << pre;
  EXPECT_EQ(pre.find("Access-Control-"), std::string::npos) << pre;  // preflight refused: no POST follows
}

TEST(HttpAccess, AnAllowedOriginIsEchoedAndOthersGetNothing) {
  TestServer server({}, HttpAccess::from_flags("http://good.example,https://other.example", ""));
  std::string ok = http_get(server, "GET", "Host: localhost\r\nOrigin: http://good.example\r\n");
  EXPECT_NE(ok.find("Access-Control-Allow-Origin: http://good.example\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n"), std::string::npos);
  EXPECT_NE(ok.find("Access-Control-Allow-Headers: accept, content-type, authorization\r\n"),
            std::string::npos);
  std::string pre = http_get(server, "OPTIONS", "Host: localhost\r\nOrigin: https://other.example\r\n");
  EXPECT_EQ(pre.rfind("HTTP/1.1 200", 0), 0u) << pre;
  EXPECT_NE(pre.find("Access-Control-Allow-Origin: https://other.example\r\n"), std::string::npos) << pre;
  std::string bad = http_get(server, "GET", "Host: localhost\r\nOrigin: http://evil.example\r\n");
  EXPECT_EQ(bad.find("Access-Control-"), std::string::npos) << bad;
  EXPECT_EQ(http_get(server, "GET", "Host: localhost\r\n").find("Access-Control-"), std::string::npos);
}

TEST(HttpAccess, CorsStarRestoresEtcdsDefault) {
  TestServer server({}, HttpAccess::from_flags("*", "*"));
  std::string r = http_get(server, "GET", "Host: anything:1\r\n");
  EXPECT_NE(r.find("Access-Control-Allow-Origin: *\r\n"), std::string::npos) << r;
  r = http_get(server, "GET", "Host: x\r\nOrigin: http://evil.example\r\n");
  EXPECT_NE(r.find("Access-Control-Allow-Origin: *\r\n"), std::string::npos) << r;
}

TEST(HttpAccess, HostWhitelistRefusesOtherHostsWith421) {
  TestServer server({}, HttpAccess::from_flags("", "localhost,127.0.0.1,::1"));
  std::string bad = http_get(server, "GET", "Host: rebind.evil.example:2379\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 421", 0), 0u) << bad;
  EXPECT_NE(bad.find("rebind.evil.example"), std::string::npos) << bad;
  EXPECT_NE(bad.find("--host-whitelist"), std::string::npos) << bad;
  EXPECT_EQ(http_get(server, "GET", "").rfind("HTTP/1.1 421", 0), 0u);  // no Host at all
  EXPECT_EQ(http_get(server, "OPTIONS", "Host: evil.example\r\n").rfind("HTTP/1.1 421", 0), 0u);
  for (const char* host : {"localhost:2379", "localhost", "127.0.0.1:1", "[::1]:2379"}) {
    std::string ok = http_get(server, "GET", std::string("Host: ") + host + "\r\n");
    EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << host << "\n" << ok;
  }
}

TEST(HttpAccess, HostWithoutPort) {
  EXPECT_EQ(host_without_port("example.com:80"), "example.com");
  EXPECT_EQ(host_without_port("example.com"), "example.com");
  EXPECT_EQ(host_without_port("[::1]:2379"), "::1");
  EXPECT_EQ(host_without_port("[::1]"), "::1");
  EXPECT_EQ(host_without_port("::1"), "::1");
  EXPECT_EQ(host_without_port(""), "");
  HttpAccess any = HttpAccess::from_flags("", "");
  EXPECT_TRUE(any.host_allowed("whatever:1"));
  EXPECT_FALSE(any.allow_origin(std::string("http://x")).has_value());
}

TEST(Http1, BodyAndHeaderLimits) {
  ServerLimits limits;
  limits.http_body_bytes_max = 1000;
  TestServer server(limits);
  {
    RawConn c(server.port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    std::string out;
    ASSERT_TRUE(c.read_until_eof(out));
    EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
  }
  {
    RawConn c(server.port());
    c.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n");
    std::string out;
    ASSERT_TRUE(c.read_until_eof(out));
    EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 40);
  }
  expect_server_still_serves(server.port());
}

// Server keepalive (etcd's --grpc-keepalive-interval / --grpc-keepalive-timeout): an idle connection is
// pinged; one that never answers is closed after the timeout, one that answers (nghttp2 acknowledges
// pings by itself) stays up.
TEST(Keepalive, SilentConnectionIsClosedAnsweringOneStays) {
  ServerLimits limits;
  limits.keepalive_time = 100ms;
  limits.keepalive_timeout = 100ms;
  TestServer server(limits);
  {
    RawConn c(server.port());
    c.send(kPreface);
    c.send(kEmptySettings);  // and then silence: no SETTINGS ACK, no PING ACK
    std::string out;
    ASSERT_TRUE(c.read_until_eof(out));
    bool pinged = false;
    for (const auto& f : parse_frames(out))
      pinged = pinged || (f.type == NGHTTP2_PING && !(f.flags & NGHTTP2_FLAG_ACK) && f.payload == "cairnka1");
    EXPECT_TRUE(pinged);
  }
  EXPECT_EQ(server.stats().keepalive_timeouts.load(), 1u);
  ClientThread client;
  auto r = client.run<std::vector<UnaryResult>>([&]() -> awaitable<std::vector<UnaryResult>> {
    Channel ch(client.executor(), {{"127.0.0.1", server.port()}});
    std::vector<UnaryResult> v;
    v.push_back(co_await ch.unary("/cairn.test.Echo/Unary", "one"));
    asio::steady_timer t(client.executor());
    t.expires_after(500ms);  // idle for several ping periods
    co_await t.async_wait(asio::use_awaitable);
    v.push_back(co_await ch.unary("/cairn.test.Echo/Unary", "two"));
    EXPECT_EQ(ch.connects(), 1u);  // the same connection: the answered pings kept it
    co_return v;
  });
  EXPECT_TRUE(r[0].status.is_ok() && r[1].status.is_ok()) << r[1].status.message;
  EXPECT_GE(server.stats().keepalive_pings_sent.load(), 2u);  // the silent one's and at least one more
  EXPECT_EQ(server.stats().keepalive_timeouts.load(), 1u);
}

}  // namespace
}  // namespace cairn::server::net::testing
