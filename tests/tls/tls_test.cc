// TLS in the network layer: our gRPC client and server over TLS (ALPN, CA and hostname verification,
// client certificates), HTTP/1.1 and plain text on a TLS port, certificate loading errors, --auto-tls
// certificates, the loopback endpoint the Lock service dials, and the peer transport over TLS.
// Certificates come from gen_certs.sh (openssl CLI), generated once per run into a temporary directory.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "server/net/peer_transport.h"
#include "server/net/server.h"
#include "tests/net/net_test_util.h"
#include "tests/net/test_service.h"
#include "wire/client.h"
#include "wire/tls.h"

namespace cairn::server::net {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace std::chrono_literals;
using testing::ClientThread;
using testing::TestService;

std::string g_dir;  // certificates

std::string cert(const std::string& name) {
  return g_dir + "/" + name;
}

class TlsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_dir =
        (std::filesystem::temp_directory_path() / ("cairn-tls-test-" + std::to_string(::getpid()))).string();
    std::string cmd = std::string("bash ") + CAIRN_TLS_TEST_DIR + "/gen_certs.sh " + g_dir;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new TlsEnvironment);

ServerTls server_tls(bool client_cert_auth, const std::string& name = "server") {
  TlsServerConfig c;
  c.cert_file = cert(name + ".pem");
  c.key_file = cert(name + "-key.pem");
  c.trusted_ca_file = cert("ca.pem");
  c.client_cert_auth = client_cert_auth;
  auto t = make_server_tls(c);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error());
  return *t;
}

std::shared_ptr<const TlsContext> client_tls(const std::string& ca, const std::string& client = "",
                                             bool skip_verify = false) {
  TlsClientConfig c;
  c.ca_file = ca.empty() ? "" : cert(ca);
  if (!client.empty()) {
    c.cert_file = cert(client + ".pem");
    c.key_file = cert(client + "-key.pem");
  }
  c.insecure_skip_verify = skip_verify;
  auto t = make_client_tls(c);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error());
  return *t;
}

// The echo service on a TLS port of 127.0.0.1.
class TlsServer {
 public:
  explicit TlsServer(ServerTls tls, ServerLimits limits = {}) : server_(ioc_, limits) {
    service_.register_on(server_);
    server_.add_http("GET", "/health", [](const HttpRequest&) -> awaitable<HttpResponse> {
      co_return HttpResponse{200, "application/json", "{\"health\":\"true\"}", {}};
    });
    server_.set_tls(std::move(tls));
    auto ec = server_.listen("127.0.0.1", 0);
    EXPECT_FALSE(ec) << ec.message();
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this] { ioc_.run(); });
  }
  ~TlsServer() {
    server_.shutdown();
    for (auto& t : threads_)
      t.join();
  }
  std::uint16_t port() const { return server_.port(); }
  Server& server() { return server_; }

 private:
  asio::io_context ioc_;
  TestService service_;
  Server server_;
  std::vector<std::thread> threads_;
};

struct CallOutcome {
  UnaryResult result;
  std::string connect_error;
};

CallOutcome echo(ClientThread& ct, Endpoint ep, const std::string& msg = "hello over tls") {
  return ct.run<CallOutcome>([&]() -> awaitable<CallOutcome> {
    ChannelOptions o;
    o.connect_timeout = 3s;
    Channel ch(ct.executor(), {ep}, o);
    CallOptions co;
    co.timeout = 5s;
    auto r = co_await ch.unary("/cairn.test.Echo/Unary", msg, co);
    co_return CallOutcome{r, ch.last_connect_error()};
  });
}

Endpoint tls_endpoint(std::uint16_t port, std::shared_ptr<const TlsContext> ctx, std::string name = "") {
  Endpoint ep("127.0.0.1", port);
  ep.tls = std::move(ctx);
  ep.tls_server_name = std::move(name);
  return ep;
}

TEST(TlsGrpc, UnaryOverTlsWithCaVerification) {
  TlsServer s(server_tls(false));
  ClientThread ct;
  auto out = echo(ct, tls_endpoint(s.port(), client_tls("ca.pem")));
  ASSERT_TRUE(out.result.status.is_ok()) << out.result.status.message << " / " << out.connect_error;
  EXPECT_EQ(out.result.response, "hello over tls");
  // A 1 MiB message crosses many TLS records both ways.
  std::string big(1 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096)
    big[i] = static_cast<char>('a' + i % 26);
  auto large = echo(ct, tls_endpoint(s.port(), client_tls("ca.pem")), big);
  ASSERT_TRUE(large.result.status.is_ok()) << large.result.status.message;
  EXPECT_EQ(large.result.response, big);
  EXPECT_EQ(s.server().stats().h2_connections.load(), 2u);
  EXPECT_EQ(s.server().stats().tls_handshake_failures.load(), 0u);
}

TEST(TlsGrpc, UnknownAuthorityIsRefusedWithGoWording) {
  TlsServer s(server_tls(false));
  ClientThread ct;
  auto out = echo(ct, tls_endpoint(s.port(), client_tls("other-ca.pem")));
  EXPECT_EQ(out.result.status.code, StatusCode::kUnavailable);
  EXPECT_NE(out.connect_error.find(
                "authentication handshake failed: x509: certificate signed by unknown authority"),
            std::string::npos)
      << out.connect_error;
  // Skipping verification connects.
  auto skip = echo(ct, tls_endpoint(s.port(), client_tls("other-ca.pem", "", true)));
  EXPECT_TRUE(skip.result.status.is_ok()) << skip.result.status.message << " / " << skip.connect_error;
}

TEST(TlsGrpc, HostnameIsVerified) {
  TlsServer s(server_tls(false));
  ClientThread ct;
  // The certificate has IP:127.0.0.1 and DNS:localhost.
  EXPECT_TRUE(echo(ct, tls_endpoint(s.port(), client_tls("ca.pem"), "localhost")).result.status.is_ok());
  auto wrong = echo(ct, tls_endpoint(s.port(), client_tls("ca.pem"), "db.example.com"));
  EXPECT_EQ(wrong.result.status.code, StatusCode::kUnavailable);
  EXPECT_NE(wrong.connect_error.find("x509: certificate is not valid for db.example.com"), std::string::npos)
      << wrong.connect_error;
  auto wrong_ip = echo(ct, tls_endpoint(s.port(), client_tls("ca.pem"), "127.0.0.2"));
  EXPECT_NE(wrong_ip.connect_error.find("x509: certificate is not valid for 127.0.0.2"), std::string::npos)
      << wrong_ip.connect_error;
}

TEST(TlsGrpc, ClientCertAuthRequiresACertificateFromTheTrustedCa) {
  TlsServer s(server_tls(true));
  ClientThread ct;
  auto none = echo(ct, tls_endpoint(s.port(), client_tls("ca.pem")));
  EXPECT_EQ(none.result.status.code, StatusCode::kUnavailable) << none.result.status.message;
  // TLS 1.3: our side of the handshake completes, then the server's alert arrives instead of its preface.
  EXPECT_NE(none.connect_error.find("remote error: tls: "), std::string::npos) << none.connect_error;
  auto foreign = echo(ct, tls_endpoint(s.port(), client_tls("ca.pem", "other-client")));
  EXPECT_EQ(foreign.result.status.code, StatusCode::kUnavailable) << foreign.result.status.message;
  auto good = echo(ct, tls_endpoint(s.port(), client_tls("ca.pem", "client")));
  EXPECT_TRUE(good.result.status.is_ok()) << good.result.status.message << " / " << good.connect_error;
  EXPECT_TRUE(testing::eventually([&] { return s.server().stats().tls_handshake_failures.load() >= 2; }));
}

TEST(TlsGrpc, LoopbackEndpointReachesAClientCertAuthPort) {
  // What the Lock and Election services dial: the member's own port, with its own certificate.
  TlsServer s(server_tls(true));
  Endpoint self = s.server().self_endpoint();
  EXPECT_EQ(self.host, "127.0.0.1");
  EXPECT_EQ(self.port, s.port());
  ASSERT_TRUE(self.tls);
  ClientThread ct;
  auto out = echo(ct, self);
  EXPECT_TRUE(out.result.status.is_ok()) << out.result.status.message << " / " << out.connect_error;
}

// Writes `request` to the port without TLS and returns everything until the server closes.
std::string plain_exchange(std::uint16_t port, const std::string& request) {
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(sock, asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  std::array<char, 1024> buf{};
  while (true) {
    std::size_t n = sock.read_some(asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf.data(), n);
  }
  return out;
}

TEST(TlsRobustness, PlainTextAndGarbageAreClosedCleanly) {
  TlsServer s(server_tls(false));
  std::string http = plain_exchange(s.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(http.rfind("HTTP/1.0 400 Bad Request", 0), 0u) << http;
  EXPECT_NE(http.find("Client sent an HTTP request to an HTTPS server."), std::string::npos);
  // The HTTP/2 preface in clear: not TLS, so closed without a reply ('P' would be answered as HTTP, which
  // grpc clients ignore; what matters is that nothing is served in clear).
  EXPECT_EQ(plain_exchange(s.port(), "\x01\x02garbage\xff\xfe"), "");
  // A TLS record header followed by junk: the handshake fails and the connection closes.
  std::string alert = plain_exchange(s.port(), std::string("\x16\x03\x01\x00\x05hello", 10));
  EXPECT_LE(alert.size(), 7u) << "at most a TLS alert record";
  EXPECT_GE(s.server().stats().tls_handshake_failures.load(), 3u);
  // The server is still serving TLS.
  ClientThread ct;
  EXPECT_TRUE(echo(ct, tls_endpoint(s.port(), client_tls("ca.pem"))).result.status.is_ok());
}

TEST(TlsRobustness, SilentClientIsCutAtTheHandshakeTimeout) {
  ServerLimits limits;
  limits.handshake_timeout = 300ms;
  TlsServer s(server_tls(false), limits);
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  sock.connect({asio::ip::make_address("127.0.0.1"), s.port()});
  auto start = std::chrono::steady_clock::now();
  std::array<char, 16> buf{};
  boost::system::error_code ec;
  sock.read_some(asio::buffer(buf), ec);  // returns when the server closes
  EXPECT_TRUE(ec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(s.server().stats().handshake_timeouts.load(), 1u);
}

TEST(TlsConfig, LoadErrorsNameTheProblemAsEtcdDoes) {
  TlsServerConfig c;
  c.cert_file = cert("missing.pem");
  c.key_file = cert("server-key.pem");
  auto missing = make_server_tls(c);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "open " + cert("missing.pem") + ": no such file or directory");
  c.cert_file = cert("server.pem");
  c.key_file = cert("client-key.pem");
  auto mismatch = make_server_tls(c);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error(), "tls: private key does not match public key");
  { std::ofstream(cert("garbage.pem")) << "not a certificate\n"; }
  c.cert_file = cert("garbage.pem");
  auto garbage = make_server_tls(c);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error(), "tls: failed to find any PEM data in certificate input");
  c.cert_file = cert("server.pem");
  c.key_file = cert("server-key.pem");
  c.trusted_ca_file = cert("garbage.pem");
  EXPECT_FALSE(make_server_tls(c));
  TlsClientConfig cc;
  cc.cert_file = cert("client.pem");
  auto half = make_client_tls(cc);
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error(),
            "KeyFile and CertFile must both be present[key: , cert: " + cert("client.pem") + "]");
}

TEST(TlsConfig, SelfSignedCertificateServesAndIsReused) {
  std::string dir = cert("fixtures/client");
  auto self = make_self_signed_cert(dir, {"127.0.0.1", "localhost"});
  ASSERT_TRUE(self) << self.error();
  EXPECT_EQ(std::filesystem::status(self->key_file).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  std::string first = read(self->cert_file);
  EXPECT_NE(first.find("BEGIN CERTIFICATE"), std::string::npos);
  auto again = make_self_signed_cert(dir, {"127.0.0.1"});
  ASSERT_TRUE(again);
  EXPECT_EQ(read(again->cert_file), first) << "an existing certificate is reused";
  auto tls = make_server_tls(*self);
  ASSERT_TRUE(tls) << tls.error();
  TlsServer s(*tls);
  ClientThread ct;
  // The self-signed certificate is its own CA and is valid for 127.0.0.1.
  TlsClientConfig cc;
  cc.ca_file = self->cert_file;
  auto ctx = make_client_tls(cc);
  ASSERT_TRUE(ctx);
  auto out = echo(ct, tls_endpoint(s.port(), *ctx));
  EXPECT_TRUE(out.result.status.is_ok()) << out.result.status.message << " / " << out.connect_error;
  // Unverifiable with the test CA: clients of --auto-tls members use --insecure-skip-tls-verify.
  EXPECT_FALSE(echo(ct, tls_endpoint(s.port(), client_tls("ca.pem"))).result.status.is_ok());
}

// --- peer transport ---

class Member {
 public:
  Member(PeerId id, PeerTransportOptions options)
      : guard_(ioc_.get_executor()),
        transport_(ioc_, id, options,
                   PeerTransportCallbacks{[this](PeerId from, std::string m) {
                                            std::lock_guard lock(mu_);
                                            received_.emplace_back(from, std::move(m));
                                            cv_.notify_all();
                                          },
                                          nullptr, nullptr, nullptr, nullptr}) {
    auto ec = transport_.listen("127.0.0.1", 0);
    EXPECT_FALSE(ec) << ec.message();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Member() {
    transport_.shutdown();
    guard_.reset();
    thread_.join();
  }
  PeerTransport& transport() { return transport_; }
  std::uint16_t port() const { return transport_.port(); }
  bool wait_for(const std::string& m, std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] {
      for (auto& r : received_)
        if (r.second == m) return true;
      return false;
    });
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return received_.size();
  }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  PeerTransport transport_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<PeerId, std::string>> received_;
};

PeerTransportOptions peer_tls(const std::string& name, const std::string& ca) {
  TlsServerConfig s;
  s.cert_file = cert(name + ".pem");
  s.key_file = cert(name + "-key.pem");
  s.trusted_ca_file = cert(ca);
  s.client_cert_auth = true;
  s.alpn_http = false;
  auto st = make_server_tls(s);
  EXPECT_TRUE(st) << (st ? "" : st.error());
  TlsClientConfig c;
  c.cert_file = s.cert_file;
  c.key_file = s.key_file;
  c.ca_file = cert(ca);
  c.alpn_h2 = false;
  auto ct = make_client_tls(c);
  EXPECT_TRUE(ct) << (ct ? "" : ct.error());
  PeerTransportOptions o;
  o.tls_server = st->server;
  o.tls_client = *ct;
  o.backoff_max = 200ms;
  return o;
}

TEST(TlsPeer, MembersExchangeMessagesOverTls) {
  Member a(1, peer_tls("server", "ca.pem")), b(2, peer_tls("server", "ca.pem"));
  a.transport().add_peer(2, Endpoint("127.0.0.1", b.port()));
  b.transport().add_peer(1, Endpoint("127.0.0.1", a.port()));
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(a.transport().send(2, "m" + std::to_string(i)));
  ASSERT_TRUE(b.transport().send(1, "back"));
  std::string big(3 << 20, 's');
  ASSERT_TRUE(a.transport().send_large(2, big));
  EXPECT_TRUE(b.wait_for("m99", 20s));
  EXPECT_TRUE(a.wait_for("back", 20s));
  EXPECT_TRUE(b.wait_for(big, 20s));
  EXPECT_EQ(a.transport().stats().tls_handshake_failures.load(), 0u);
}

TEST(TlsPeer, MemberWithoutTheRightCertificateCannotDeliver) {
  Member a(1, peer_tls("server", "ca.pem"));
  // Signed by another CA (it trusts ours, so only a's check can stop it).
  PeerTransportOptions o = peer_tls("other-server", "ca.pem");
  Member intruder(3, o);
  // And one speaking plain TCP.
  PeerTransportOptions plain;
  plain.backoff_max = 200ms;
  Member clear(4, plain);
  intruder.transport().add_peer(1, Endpoint("127.0.0.1", a.port()));
  clear.transport().add_peer(1, Endpoint("127.0.0.1", a.port()));
  for (int i = 0; i < 10; ++i) {
    intruder.transport().send(1, "intrude");
    clear.transport().send(1, "clear");
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(testing::eventually([&] { return a.transport().stats().tls_handshake_failures.load() >= 2; }));
  EXPECT_FALSE(a.wait_for("intrude", 500ms));
  EXPECT_EQ(a.count(), 0u);
  // The outbound side reports its failures too: a's certificate is not trusted by someone who trusts only
  // the other CA.
  Member picky(5, peer_tls("other-server", "other-ca.pem"));
  a.transport().add_peer(5, Endpoint("127.0.0.1", picky.port()));
  a.transport().send(5, "x");
  EXPECT_TRUE(testing::eventually([&] { return a.transport().stats().tls_handshake_failures.load() >= 3; }));
  EXPECT_EQ(picky.count(), 0u);
}

// --- peer identity: the certificate must be the member the HELLO claims (peer_transport.h) ---

// Member 1 knows member 2 at 127.0.0.2 and member 3 at 127.0.0.3 (nobody listens there: only what the
// others send to member 1 matters). `dialer` says HELLO as `claims` with certificate `cert_name`.
struct IdentityCase {
  PeerTransportOptions first = peer_tls("server", "ca.pem");
  bool delivered(PeerId claims, const std::string& cert_name) {
    Member a(1, first);
    a.transport().add_peer(2, Endpoint("127.0.0.2", 1));
    a.transport().add_peer(3, Endpoint("127.0.0.3", 1));
    Member dialer(claims, peer_tls(cert_name, "ca.pem"));
    dialer.transport().add_peer(1, Endpoint("127.0.0.1", a.port()));
    const std::string m = "from " + cert_name;
    for (int i = 0; i < 40 && !a.wait_for(m, 50ms); ++i)
      dialer.transport().send(1, m);
    refusals = a.transport().stats().cert_rule_failures.load();
    return a.wait_for(m, 10ms);
  }
  std::uint64_t refusals = 0;
};

TEST(TlsPeerIdentity, MemberWithItsOwnCertificateDelivers) {
  IdentityCase c;
  EXPECT_TRUE(c.delivered(2, "member2"));
  EXPECT_EQ(c.refusals, 0u);
}

TEST(TlsPeerIdentity, PeerClaimingAnotherMembersIdIsRefused) {
  IdentityCase c;
  // member3's certificate is signed by the same CA but is not valid for member 2's peer URL host.
  EXPECT_FALSE(c.delivered(2, "member3"));
  EXPECT_GE(c.refusals, 1u);
}

TEST(TlsPeerIdentity, MemberUrlCheckCanBeTurnedOff) {  // --peer-skip-client-san-verification
  IdentityCase c;
  c.first.cert_rules.cert_must_match_member_url = false;
  EXPECT_TRUE(c.delivered(2, "member3"));
}

TEST(TlsPeerIdentity, AllowedCnIsEnforced) {  // --peer-cert-allowed-cn
  IdentityCase c;
  c.first.cert_rules.allowed_cn = "member2";
  EXPECT_TRUE(c.delivered(2, "member2"));
  EXPECT_FALSE(c.delivered(3, "member3"));  // its own id and URL, the wrong CN
  EXPECT_GE(c.refusals, 1u);
}

TEST(TlsPeerIdentity, AllowedHostnameIsEnforced) {  // --peer-cert-allowed-hostname
  IdentityCase c;
  c.first.cert_rules.allowed_hostname = "127.0.0.3";
  EXPECT_TRUE(c.delivered(3, "member3"));
  EXPECT_FALSE(c.delivered(2, "member2"));
  EXPECT_GE(c.refusals, 1u);
}

TEST(TlsPeerIdentity, AllowedCnIsCheckedOnTheDialingSideToo) {  // as etcd: both ends of a connection
  PeerTransportOptions picky = peer_tls("server", "ca.pem");
  picky.cert_rules.allowed_cn = "member2";
  picky.cert_rules.cert_must_match_member_url = false;
  Member a(1, picky);
  Member b(2, peer_tls("server", "ca.pem"));  // presents CN "server"
  a.transport().add_peer(2, Endpoint("127.0.0.1", b.port()));
  a.transport().send(2, "x");
  EXPECT_TRUE(testing::eventually([&] { return a.transport().stats().cert_rule_failures.load() >= 1; }));
  EXPECT_EQ(b.count(), 0u);
}

// --- --cipher-suites, --tls-min-version / --tls-max-version, CRLs, reloads ---

TEST(TlsOptions, CipherSuitesAreGoNamesAndAnUnknownOneIsEtcdsError) {
  auto l = openssl_cipher_list({"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"});
  ASSERT_TRUE(l) << l.error();
  EXPECT_EQ(*l, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305");  // TLS 1.3 names: no effect
  auto bad = openssl_cipher_list({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_NOPE"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "unexpected TLS cipher suite \"TLS_NOPE\"");
}

TEST(TlsOptions, VersionFlagsAreCheckedAsEtcdDoes) {
  TlsProtocolPolicy p;
  p.min_version = "TLS1.3";
  p.max_version = "TLS1.2";
  EXPECT_EQ(check_tls_policy(p, false).value_or(""),
            "min version (TLS1.3) is greater than max version (TLS1.2)");
  p.max_version = "";
  EXPECT_EQ(check_tls_policy(p, true).value_or(""),
            "cipher suites cannot be configured when only TLS1.3 or greater is supported");
  EXPECT_FALSE(check_tls_policy(p, false));
}

ServerTls server_tls_with(const TlsProtocolPolicy& policy, const std::string& crl = "") {
  TlsServerConfig c;
  c.cert_file = cert("server.pem");
  c.key_file = cert("server-key.pem");
  c.trusted_ca_file = cert("ca.pem");
  c.client_cert_auth = !crl.empty();
  c.crl_file = crl;
  c.policy = policy;
  auto t = make_server_tls(c);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error());
  return *t;
}

std::shared_ptr<const TlsContext> client_with(const TlsProtocolPolicy& policy,
                                              const std::string& client = "") {
  TlsClientConfig c;
  c.ca_file = cert("ca.pem");
  if (!client.empty()) {
    c.cert_file = cert(client + ".pem");
    c.key_file = cert(client + "-key.pem");
  }
  c.policy = policy;
  auto t = make_client_tls(c);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error());
  return *t;
}

TEST(TlsOptions, ServerOffersOnlyTheConfiguredTls12Suites) {
  TlsProtocolPolicy only;
  only.max_version = "TLS1.2";
  only.cipher_list = *openssl_cipher_list({"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"});
  TlsServer s(server_tls_with(only));
  ClientThread ct;
  TlsProtocolPolicy other = only;
  other.cipher_list = *openssl_cipher_list({"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"});
  EXPECT_FALSE(echo(ct, tls_endpoint(s.port(), client_with(other))).result.status.is_ok());
  auto same = echo(ct, tls_endpoint(s.port(), client_with(only)));
  EXPECT_TRUE(same.result.status.is_ok()) << same.connect_error;
}

TEST(TlsOptions, MinAndMaxVersionsAreEnforced) {
  TlsProtocolPolicy v13;
  v13.min_version = "TLS1.3";
  TlsServer s(server_tls_with(v13));
  ClientThread ct;
  TlsProtocolPolicy v12;
  v12.max_version = "TLS1.2";
  EXPECT_FALSE(echo(ct, tls_endpoint(s.port(), client_with(v12))).result.status.is_ok());
  EXPECT_TRUE(echo(ct, tls_endpoint(s.port(), client_with({}))).result.status.is_ok());
  TlsServer old(server_tls_with(v12));
  EXPECT_FALSE(echo(ct, tls_endpoint(old.port(), client_with(v13))).result.status.is_ok());
  EXPECT_TRUE(echo(ct, tls_endpoint(old.port(), client_with({}))).result.status.is_ok());
}

TEST(TlsOptions, RevokedClientCertificateIsRefused) {  // --client-crl-file
  TlsServer s(server_tls_with({}, cert("crl.pem")));
  ClientThread ct;
  auto revoked = echo(ct, tls_endpoint(s.port(), client_with({}, "revoked")));
  EXPECT_FALSE(revoked.result.status.is_ok());
  auto fine = echo(ct, tls_endpoint(s.port(), client_with({}, "client")));
  EXPECT_TRUE(fine.result.status.is_ok()) << fine.connect_error;
}

// --client-cert-allowed-hostname: the client certificate must be valid for one of the names (an IP or
// DNS SAN); a certificate from the trusted CA without a matching SAN is refused at the handshake.
TEST(TlsOptions, AllowedClientHostnames) {
  auto server_with = [](std::vector<std::string> names) {
    TlsServerConfig c;
    c.cert_file = cert("server.pem");
    c.key_file = cert("server-key.pem");
    c.trusted_ca_file = cert("ca.pem");
    c.client_cert_auth = true;
    c.allowed_client_hostnames = std::move(names);
    auto t = make_server_tls(c);
    EXPECT_TRUE(t.has_value()) << (t ? "" : t.error());
    return *t;
  };
  ClientThread ct;
  TlsServer by_ip(server_with({"127.0.0.9", "127.0.0.2"}));
  auto member2 = echo(ct, tls_endpoint(by_ip.port(), client_with({}, "member2")));  // IP SAN 127.0.0.2
  EXPECT_TRUE(member2.result.status.is_ok()) << member2.connect_error;
  auto member3 = echo(ct, tls_endpoint(by_ip.port(), client_with({}, "member3")));  // IP SAN 127.0.0.3
  EXPECT_FALSE(member3.result.status.is_ok());
  EXPECT_NE(member3.connect_error.find("remote error: tls: "), std::string::npos) << member3.connect_error;
  TlsServer by_dns(server_with({"localhost"}));
  auto server_cert = echo(ct, tls_endpoint(by_dns.port(), client_with({}, "server")));  // DNS SAN localhost
  EXPECT_TRUE(server_cert.result.status.is_ok()) << server_cert.connect_error;
  auto no_san = echo(ct, tls_endpoint(by_dns.port(), client_with({}, "client")));  // CN client, no SAN
  EXPECT_FALSE(no_san.result.status.is_ok());
  TlsServer by_cn(server_with({"client"}));  // the CN is never looked at
  EXPECT_FALSE(echo(ct, tls_endpoint(by_cn.port(), client_with({}, "client"))).result.status.is_ok());
  EXPECT_TRUE(testing::eventually([&] { return by_ip.server().stats().tls_handshake_failures.load() >= 1; }));
}

// Replaces `to` with a copy of `from` atomically (write, then rename), as certificate tools do.
void install(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to + ".new", to);
}

TEST(TlsReload, CertificateCaBundleAndCrlAreReloadedWithoutARestart) {
  const std::string dir = cert("reload");
  std::filesystem::create_directories(dir);
  install(cert("server.pem"), dir + "/cert.pem");
  install(cert("server-key.pem"), dir + "/key.pem");
  install(cert("ca.pem"), dir + "/ca.pem");
  install(cert("empty-crl.pem"), dir + "/crl.pem");
  TlsServerConfig c;
  c.cert_file = dir + "/cert.pem";
  c.key_file = dir + "/key.pem";
  c.trusted_ca_file = dir + "/ca.pem";
  c.client_cert_auth = true;
  c.crl_file = dir + "/crl.pem";
  auto tls = make_server_tls(c);
  ASSERT_TRUE(tls) << tls.error();
  TlsServer s(*tls);
  ClientThread ct;
  auto ok = [&](const std::string& ca, const std::string& client) {
    return echo(ct, tls_endpoint(s.port(), client_tls(ca, client))).result.status.is_ok();
  };
  // CRL: not revoked yet, then revoked.
  EXPECT_TRUE(ok("ca.pem", "revoked"));
  install(cert("crl.pem"), dir + "/crl.pem");
  EXPECT_FALSE(ok("ca.pem", "revoked"));
  EXPECT_TRUE(ok("ca.pem", "client"));
  // CA bundle: a client of the other CA gets in once that CA is added (etcd needs a restart for this).
  EXPECT_FALSE(ok("ca.pem", "other-client"));
  {
    std::ofstream both(dir + "/ca.pem.both");
    both << std::ifstream(cert("ca.pem")).rdbuf() << std::ifstream(cert("other-ca.pem")).rdbuf();
  }
  std::filesystem::rename(dir + "/ca.pem.both", dir + "/ca.pem");
  EXPECT_TRUE(ok("ca.pem", "other-client"));
  // Certificate and key: a client trusting only the other CA connects once the server presents its
  // certificate.
  EXPECT_FALSE(ok("other-ca.pem", "other-client"));
  install(cert("other-server.pem"), dir + "/cert.pem");
  install(cert("other-server-key.pem"), dir + "/key.pem");
  EXPECT_TRUE(ok("other-ca.pem", "other-client"));
  const TlsReloadStats st = tls_reload_stats(*tls->server);
  EXPECT_GE(st.reloads, 3u);
  // A broken file (the key of another certificate) keeps the previous context serving.
  install(cert("server-key.pem"), dir + "/key.pem");
  EXPECT_TRUE(ok("other-ca.pem", "other-client"));
  EXPECT_GE(tls_reload_stats(*tls->server).failures, 1u);
  EXPECT_EQ(tls_reload_stats(*tls->server).last_error, "tls: private key does not match public key");
}

}  // namespace
}  // namespace cairn::server::net
