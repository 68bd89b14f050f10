// OpenSSL contexts from certificate files, self-signed certificates (--auto-tls) and the TLS ByteStream.
#include "wire/tls.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>

namespace cairn::wire {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

// One built OpenSSL context and what its verify callback reads (an SSL_CTX ex data slot points here).
struct BuiltContext {
  explicit BuiltContext(asio::ssl::context::method m) : ssl(m) {}
  // Asio's ssl::stream takes a non-const context; the context is not changed after it is built.
  asio::ssl::context ssl;
  std::set<std::string> revoked_serials;              // upper-case hex, from the CRL file
  std::vector<std::string> allowed_client_hostnames;  // TlsServerConfig::allowed_client_hostnames
};
using Built = Expected<std::shared_ptr<BuiltContext>, std::string>;

// What identifies one version of a file: a rename over it (Kubernetes' secret volumes swap a symlink)
// changes the inode, an edit in place the size or modification time.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  FileStamp f;
  if (::stat(path.c_str(), &st) != 0) return f;
  f.exists = true;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.size = st.st_size;
  f.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return f;
}

std::vector<FileStamp> stamps_of(const std::vector<std::string>& files) {
  std::vector<FileStamp> out;
  for (const auto& f : files)
    out.push_back(stamp_of(f));
  return out;
}

constexpr std::chrono::seconds kReloadRetry{1};

}  // namespace

// The current BuiltContext and how to build it again from its files (tls.h: reloads).
class TlsContext {
 public:
  using Builder = std::function<Built()>;
  TlsContext(Builder build, std::vector<std::string> files)
      : build_(std::move(build)), files_(std::move(files)) {}

  // First build; the error is the caller's.
  std::optional<std::string> init() {
    stamps_ = stamps_of(files_);
    auto b = build_();
    if (!b) return b.error();
    current_ = *b;
    return std::nullopt;
  }

  // The context a new connection starts with: rebuilt first when one of its files changed.
  std::shared_ptr<BuiltContext> for_new_connection() const {
    std::vector<FileStamp> now = stamps_of(files_);
    std::lock_guard lock(mu_);
    if (now == stamps_) return current_;
    auto t = std::chrono::steady_clock::now();
    if (stats_.failures > 0 && t - last_failure_ < kReloadRetry) return current_;
    auto b = build_();
    if (!b) {
      ++stats_.failures;
      stats_.last_error = b.error();
      last_failure_ = t;
      return current_;
    }
    current_ = *b;
    stamps_ = std::move(now);
    ++stats_.reloads;
    return current_;
  }

  TlsReloadStats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

  bool insecure_skip_verify = false;

 private:
  Builder build_;
  std::vector<std::string> files_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<BuiltContext> current_;
  mutable std::vector<FileStamp> stamps_;
  mutable std::chrono::steady_clock::time_point last_failure_;
  mutable TlsReloadStats stats_;
};

TlsReloadStats tls_reload_stats(const TlsContext& context) {
  return context.stats();
}

namespace {

// Go's wording of an errno ("no such file or directory").
std::string errno_text(int e) {
  std::string s = std::strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::optional<std::string> read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "open " + path + ": " + errno_text(errno);
  out.clear();
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return "read " + path + ": " + errno_text(e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return std::nullopt;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr mem_bio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::vector<X509Ptr> parse_certs(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = mem_bio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(x);
  ERR_clear_error();  // the loop ends on "no start line"
  return out;
}

// Certificate chain + key into `ctx`, with Go's error texts (crypto/tls LoadX509KeyPair).
std::optional<std::string> load_key_pair(SSL_CTX* ctx, const std::string& cert_file,
                                         const std::string& key_file) {
  std::string cert_pem, key_pem;
  if (auto e = read_file(cert_file, cert_pem)) return e;
  if (auto e = read_file(key_file, key_pem)) return e;
  auto chain = parse_certs(cert_pem);
  if (chain.empty()) return std::string("tls: failed to find any PEM data in certificate input");
  BioPtr kb = mem_bio(key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return std::string("tls: failed to find any PEM data in key input");
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return std::string("tls: private key does not match public key");
  }
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    unsigned long err = ERR_get_error();
    ERR_clear_error();
    return "tls: cannot use " + cert_file + ": " + (err ? ERR_reason_error_string(err) : "unknown error");
  }
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      ERR_clear_error();
      return "tls: cannot use the chain in " + cert_file;
    }
  }
  return std::nullopt;
}

// Trust anchors from a PEM bundle; `client_ca_list` also tells clients which CAs are accepted.
std::optional<std::string> load_ca(SSL_CTX* ctx, const std::string& ca_file, bool client_ca_list) {
  std::string pem;
  if (auto e = read_file(ca_file, pem)) return e;
  auto certs = parse_certs(pem);
  if (certs.empty()) return "failed to load CA file " + ca_file + ": no PEM certificate found";
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = client_ca_list ? sk_X509_NAME_new_null() : nullptr;
  for (auto& c : certs) {
    X509_STORE_add_cert(store, c.get());
    if (names) sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(c.get())));
  }
  ERR_clear_error();  // duplicates are reported but harmless
  if (names) SSL_CTX_set_client_CA_list(ctx, names);
  return std::nullopt;
}

// Versions and TLS 1.2 ciphers (TlsProtocolPolicy); TLS 1.2 is the floor (etcd's; HTTP/2 needs it too).
std::optional<std::string> common_options(SSL_CTX* ctx, const TlsProtocolPolicy& p) {
  SSL_CTX_set_min_proto_version(ctx, p.min_version == "TLS1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, p.max_version == "TLS1.2"   ? TLS1_2_VERSION
                                     : p.max_version == "TLS1.3" ? TLS1_3_VERSION
                                                                 : 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!p.cipher_list.empty()) {
    if (SSL_CTX_set_cipher_list(ctx, p.cipher_list.c_str()) != 1) {
      ERR_clear_error();
      return "tls: none of --cipher-suites is available in this build's OpenSSL (" + p.cipher_list + ")";
    }
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);  // the order given is the preference
  }
  return std::nullopt;
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (bn == nullptr) return {};
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

// The revoked serial numbers of a CRL file, PEM or DER (Go's x509.ParseCRL takes both).
std::optional<std::string> load_crl(const std::string& path, std::set<std::string>& revoked) {
  std::string bytes;
  if (auto e = read_file(path, bytes)) return e;
  BioPtr bio = mem_bio(bytes);
  X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
  if (crl == nullptr) {
    bio = mem_bio(bytes);
    crl = d2i_X509_CRL_bio(bio.get(), nullptr);
  }
  ERR_clear_error();
  if (crl == nullptr) return "x509: malformed crl (" + path + ")";
  STACK_OF(X509_REVOKED)* list = X509_CRL_get_REVOKED(crl);
  for (int i = 0; list != nullptr && i < sk_X509_REVOKED_num(list); ++i)
    revoked.insert(serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i))));
  X509_CRL_free(crl);
  return std::nullopt;
}

// Where an SSL_CTX keeps its BuiltContext (Asio keeps its own verify callback in the app data slot).
int built_context_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Whether `cert` is valid for `host` as Go's VerifyHostname decides: an IP SAN for an address, else a
// DNS SAN (whole-label wildcards), never the subject CN.
bool certificate_valid_for(X509* cert, const std::string& host) {
  if (!cert || host.empty()) return false;
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) return X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
  return X509_check_host(cert, host.data(), host.size(), flags, nullptr) == 1;
}

// OpenSSL's chain verification, then etcd's CRL rule (no certificate of the chain may be revoked) and
// its allowed-hostname rule (the client's own certificate must be valid for one of the names).
int verify_client_certificate(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1) return preverify_ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* built =
      ssl ? static_cast<const BuiltContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), built_context_index()))
          : nullptr;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (!built || !cert) return 1;
  if (built->revoked_serials.count(serial_hex(X509_get0_serialNumber(cert)))) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) == 0 && !built->allowed_client_hostnames.empty()) {
    for (const auto& host : built->allowed_client_hostnames)
      if (certificate_valid_for(cert, host)) return 1;
    X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
    return 0;
  }
  return 1;
}

// ALPN on the client port (see tls.h): "http/1.1" when the client offers it, else "h2".
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  const unsigned char* h2 = nullptr;
  for (unsigned int i = 0; i < inlen;) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    std::string_view p(reinterpret_cast<const char*>(in + i + 1), n);
    if (p == "http/1.1") {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    if (p == "h2") h2 = in + i + 1;
    i += 1 + n;
  }
  if (h2 == nullptr) return SSL_TLSEXT_ERR_NOACK;
  *out = h2;
  *outlen = 2;
  return SSL_TLSEXT_ERR_OK;
}

// Go's words for the verification failures users meet (crypto/x509 errors).
std::string verify_error_text(long v, const std::string& name) {
  switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "x509: certificate signed by unknown authority";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "x509: certificate is not valid for " + name;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "x509: certificate has expired or is not yet valid";
    case X509_V_ERR_INVALID_PURPOSE:
      return "x509: certificate specifies an incompatible key usage";
    case X509_V_ERR_CERT_REVOKED:
      return "transport: certificate revoked (--client-crl-file / --peer-crl-file)";
    default:
      return std::string("x509: ") + X509_verify_cert_error_string(v);
  }
}

constexpr std::chrono::milliseconds kPlaintextLinger{1'000};
constexpr std::size_t kPlaintextLingerBytesMax = 64 * 1024;

class TlsStreamImpl final : public TlsStream {
 public:
  TlsStreamImpl(std::shared_ptr<const TlsContext> ctx, asio::ip::tcp::socket socket, bool server,
                std::string server_name)
      : ctx_(std::move(ctx)),
        built_(ctx_->for_new_connection()),
        stream_(std::move(socket), built_->ssl),
        server_(server),
        server_name_(std::move(server_name)) {
    boost::system::error_code ec;
    stream_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ec);
    auto ep = stream_.lowest_layer().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  asio::any_io_executor get_executor() override { return stream_.get_executor(); }

  awaitable<std::optional<std::string>> handshake() override {
    SSL* ssl = stream_.native_handle();
    if (!server_) {
      boost::system::error_code ec;
      asio::ip::make_address(server_name_, ec);
      bool is_address = !ec;
      // SNI carries names only (RFC 6066); Go does the same.
      if (!is_address && !server_name_.empty()) SSL_set_tlsext_host_name(ssl, server_name_.c_str());
      if (!ctx_->insecure_skip_verify && !server_name_.empty()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (is_address) {
          X509_VERIFY_PARAM_set1_ip_asc(param, server_name_.c_str());
        } else {
          SSL_set1_host(ssl, server_name_.c_str());
        }
      }
    }
    auto [ec] = co_await stream_.async_handshake(
        server_ ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
        asio::as_tuple(use_awaitable));
    if (!ec) {
      const unsigned char* p = nullptr;
      unsigned int n = 0;
      SSL_get0_alpn_selected(ssl, &p, &n);
      if (p != nullptr) alpn_.assign(reinterpret_cast<const char*>(p), n);
      co_return std::nullopt;
    }
    co_return describe(ec);
  }

  std::string alpn() const override { return alpn_; }

  awaitable<int> peek_first_byte() override {
    auto& sock = stream_.next_layer();
    auto [ec] = co_await sock.async_wait(asio::ip::tcp::socket::wait_read, asio::as_tuple(use_awaitable));
    if (ec) co_return -1;
    unsigned char b = 0;
    boost::system::error_code rec;
    std::size_t n = sock.receive(asio::buffer(&b, 1), asio::ip::tcp::socket::message_peek, rec);
    if (rec || n == 0) co_return -1;
    co_return b;
  }

  awaitable<void> write_plaintext(std::string_view bytes) override {
    auto& sock = stream_.next_layer();
    co_await asio::async_write(sock, asio::buffer(bytes.data(), bytes.size()), asio::as_tuple(use_awaitable));
    // Lingering close: send FIN, then read what the client still sends until it closes (bounded in time
    // and bytes). Closing with unread input would make the kernel send a reset, which can destroy the
    // reply before the client has read it.
    boost::system::error_code ec;
    sock.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    auto done = std::make_shared<bool>(false);
    asio::steady_timer linger(sock.get_executor());
    linger.expires_after(kPlaintextLinger);
    linger.async_wait([&sock, done](boost::system::error_code tec) {
      if (tec || *done) return;
      boost::system::error_code ignored;
      sock.close(ignored);
    });
    std::array<char, 4096> junk{};
    for (std::size_t total = 0; total < kPlaintextLingerBytesMax;) {
      auto [rec, n] = co_await sock.async_read_some(asio::buffer(junk), asio::as_tuple(use_awaitable));
      if (rec) break;
      total += n;
    }
    *done = true;
    linger.cancel();
  }

  awaitable<IoResult> read_some(asio::mutable_buffer buf) override {
    auto [ec, n] = co_await stream_.async_read_some(buf, asio::as_tuple(use_awaitable));
    co_return IoResult{ec, n};
  }

  awaitable<IoResult> write_all(asio::const_buffer buf) override {
    auto [ec, n] = co_await asio::async_write(stream_, buf, asio::as_tuple(use_awaitable));
    co_return IoResult{ec, n};
  }

  void close() override {
    boost::system::error_code ec;
    auto& sock = stream_.lowest_layer();
    if (sock.is_open()) {
      sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      sock.close(ec);
    }
  }

  bool is_open() const override { return stream_.lowest_layer().is_open(); }
  std::string remote_address() const override { return remote_; }

  // Read once per connection, after the handshake (the certificate cannot change afterwards: no
  // renegotiation in TLS 1.3, and OpenSSL refuses client-initiated renegotiation by default).
  std::string peer_common_name() const override {
    if (!peer_cn_) peer_cn_ = read_peer_common_name();
    return *peer_cn_;
  }

  bool peer_certificate_valid_for(const std::string& host) const override {
    X509Ptr cert = verified_peer_certificate();
    return certificate_valid_for(cert.get(), host);
  }

 private:
  // The other end's certificate when it was presented and verified (either side of the connection).
  X509Ptr verified_peer_certificate() const {
    SSL* ssl = const_cast<asio::ssl::stream<asio::ip::tcp::socket>&>(stream_).native_handle();
    if (SSL_get_verify_result(ssl) != X509_V_OK) return nullptr;
    if (!server_ && ctx_->insecure_skip_verify) return nullptr;
    return X509Ptr(SSL_get1_peer_certificate(ssl));
  }

  std::string read_peer_common_name() const {
    X509Ptr cert = verified_peer_certificate();
    if (!cert) return {};
    X509_NAME* name = X509_get_subject_name(cert.get());
    int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    if (i < 0) return {};
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0) return {};
    std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
    return cn;
  }

  std::string describe(const boost::system::error_code& ec) {
    long v = SSL_get_verify_result(stream_.native_handle());
    if (!server_ && v != X509_V_OK) return verify_error_text(v, server_name_);
    if (server_ && v != X509_V_OK) return "client certificate: " + verify_error_text(v, "");
    if (std::string t = tls_error_text(ec); !t.empty()) return t;
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
      return "EOF";  // the other side closed during the handshake (e.g. it refused our certificate)
    return ec.message();
  }

  std::shared_ptr<const TlsContext> ctx_;
  std::shared_ptr<BuiltContext> built_;  // this connection's certificates, whatever reloads come later
  asio::ssl::stream<asio::ip::tcp::socket> stream_;
  bool server_;
  std::string server_name_;
  std::string alpn_;
  std::string remote_;
  mutable std::optional<std::string> peer_cn_;
};

}  // namespace

std::string tls_error_text(const boost::system::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return {};
  const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  std::string reason = r ? r : ec.message();
  // "sslv3 alert bad certificate" -> Go's "remote error: tls: bad certificate".
  for (std::string_view prefix : {"sslv3 alert ", "tlsv1 alert ", "tlsv13 alert "}) {
    if (reason.rfind(prefix, 0) == 0) return "remote error: tls: " + reason.substr(prefix.size());
  }
  if (reason == "peer did not return a certificate") return "tls: client didn't provide a certificate";
  if (reason == "wrong version number" || reason == "packet length too long" || reason == "http request" ||
      reason == "record layer failure")
    return "tls: first record does not look like a TLS handshake";
  return "tls: " + reason;
}

namespace {

Built build_server(const TlsServerConfig& config) {
  auto ctx = std::make_shared<BuiltContext>(asio::ssl::context::tls_server);
  SSL_CTX* h = ctx->ssl.native_handle();
  if (auto e = common_options(h, config.policy)) return unexpected(*e);
  if (auto e = load_key_pair(h, config.cert_file, config.key_file)) return unexpected(*e);
  if (!config.trusted_ca_file.empty()) {
    if (auto e = load_ca(h, config.trusted_ca_file, true)) return unexpected(*e);
  } else if (config.client_cert_auth) {
    SSL_CTX_set_default_verify_paths(h);  // as Go with no ClientCAs: the system's roots
  }
  if (!config.crl_file.empty()) {
    if (auto e = load_crl(config.crl_file, ctx->revoked_serials)) return unexpected(*e);
  }
  ctx->allowed_client_hostnames = config.allowed_client_hostnames;
  SSL_CTX_set_ex_data(h, built_context_index(), ctx.get());
  if (config.client_cert_auth) {
    const bool extra_rules = !config.crl_file.empty() || !config.allowed_client_hostnames.empty();
    SSL_CTX_set_verify(h, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       extra_rules ? &verify_client_certificate : nullptr);
  } else {
    SSL_CTX_set_verify(h, SSL_VERIFY_NONE, nullptr);
  }
  // Session resumption with client certificates needs a context id.
  static constexpr unsigned char kSessionContext[] = "cairn";
  SSL_CTX_set_session_id_context(h, kSessionContext, sizeof kSessionContext - 1);
  if (config.alpn_http) SSL_CTX_set_alpn_select_cb(h, &select_alpn, nullptr);
  return ctx;
}

Built build_client(const TlsClientConfig& config) {
  auto ctx = std::make_shared<BuiltContext>(asio::ssl::context::tls_client);
  SSL_CTX* h = ctx->ssl.native_handle();
  if (auto e = common_options(h, config.policy)) return unexpected(*e);
  if (!config.cert_file.empty()) {
    if (auto e = load_key_pair(h, config.cert_file, config.key_file)) return unexpected(*e);
  }
  if (!config.ca_file.empty()) {
    if (auto e = load_ca(h, config.ca_file, false)) return unexpected(*e);
  } else {
    SSL_CTX_set_default_verify_paths(h);
  }
  SSL_CTX_set_verify(h, config.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  if (config.alpn_h2) {
    static constexpr unsigned char kH2[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(h, kH2, sizeof kH2);
  }
  return ctx;
}

std::vector<std::string> non_empty(std::initializer_list<std::string> files) {
  std::vector<std::string> out;
  for (const auto& f : files)
    if (!f.empty()) out.push_back(f);
  return out;
}

}  // namespace

Expected<ServerTls, std::string> make_server_tls(const TlsServerConfig& config) {
  if (config.cert_file.empty() || config.key_file.empty())
    return unexpected(std::string("TLS key/cert (--cert-file, --key-file) must both be given"));
  auto ctx = std::make_shared<TlsContext>(
      [config] { return build_server(config); },
      non_empty({config.cert_file, config.key_file, config.trusted_ca_file, config.crl_file}));
  if (auto e = ctx->init()) return unexpected(*e);

  TlsClientConfig loop;
  loop.cert_file = config.cert_file;
  loop.key_file = config.key_file;
  loop.insecure_skip_verify = true;
  loop.policy = config.policy;
  auto client = make_client_tls(loop);
  if (!client) return unexpected(client.error());
  return ServerTls{std::move(ctx), *client};
}

Expected<std::shared_ptr<const TlsContext>, std::string> make_client_tls(const TlsClientConfig& config) {
  if (config.cert_file.empty() != config.key_file.empty())
    return unexpected("KeyFile and CertFile must both be present[key: " + config.key_file +
                      ", cert: " + config.cert_file + "]");
  auto ctx = std::make_shared<TlsContext>([config] { return build_client(config); },
                                          non_empty({config.cert_file, config.key_file, config.ca_file}));
  if (auto e = ctx->init()) return unexpected(*e);
  ctx->insecure_skip_verify = config.insecure_skip_verify;
  return std::shared_ptr<const TlsContext>(std::move(ctx));
}

namespace {

// Go's crypto/tls names of the suites etcd accepts and OpenSSL's for the same suite (TLS 1.2 and
// older; "" for Go's TLS 1.3 names, which Go accepts but cannot restrict, and neither does cairn).
struct CipherName {
  std::string_view go, openssl;
};
constexpr CipherName kCipherNames[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"},
    {"TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA"},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA"},
    {"TLS_AES_128_GCM_SHA256", ""},
    {"TLS_AES_256_GCM_SHA384", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", ""},
};

}  // namespace

Expected<std::string, std::string> openssl_cipher_list(const std::vector<std::string>& go_names) {
  std::string out;
  for (const auto& name : go_names) {
    auto it = std::find_if(std::begin(kCipherNames), std::end(kCipherNames),
                           [&](const CipherName& c) { return c.go == name; });
    if (it == std::end(kCipherNames)) return unexpected("unexpected TLS cipher suite \"" + name + "\"");
    if (it->openssl.empty()) continue;
    if (!out.empty()) out += ":";
    out += it->openssl;
  }
  return out;
}

std::optional<std::string> check_tls_policy(const TlsProtocolPolicy& p, bool cipher_suites_given) {
  auto rank = [](const std::string& v) { return v == "TLS1.3" ? 13 : v == "TLS1.2" ? 12 : 0; };
  if (!p.max_version.empty() && rank(p.min_version) > rank(p.max_version))
    return "min version (" + p.min_version + ") is greater than max version (" + p.max_version + ")";
  if (p.min_version == "TLS1.3" && cipher_suites_given)
    return std::string("cipher suites cannot be configured when only TLS1.3 or greater is supported");
  return std::nullopt;
}

Expected<TlsServerConfig, std::string> make_self_signed_cert(const std::string& dir,
                                                             const std::vector<std::string>& hosts) {
  TlsServerConfig out;
  out.cert_file = dir + "/cert.pem";
  out.key_file = dir + "/key.pem";
  std::error_code fec;
  if (std::filesystem::exists(out.cert_file, fec) && std::filesystem::exists(out.key_file, fec)) return out;
  std::filesystem::create_directories(dir, fec);
  if (fec) return unexpected("cannot create " + dir + ": " + fec.message());

  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr x(X509_new());
  if (!key || !x) return unexpected(std::string("cannot generate a self-signed certificate"));
  X509_set_version(x.get(), 2);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("etcd"), -1, -1,
                             0);
  X509_set_issuer_name(x.get(), name);
  std::string san;
  for (const auto& host : hosts) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    if (!san.empty()) san += ",";
    san += (ec ? "DNS:" : "IP:") + host;
  }
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  auto add_ext = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (ext == nullptr) return false;
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
    return true;
  };
  bool ok = add_ext(NID_basic_constraints, "critical,CA:FALSE") &&
            add_ext(NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
            add_ext(NID_ext_key_usage, "serverAuth,clientAuth") &&
            (san.empty() || add_ext(NID_subject_alt_name, san));
  if (!ok || X509_sign(x.get(), key.get(), EVP_sha256()) == 0) {
    ERR_clear_error();
    return unexpected(std::string("cannot sign a self-signed certificate for ") + san);
  }
  auto write = [](const std::string& path, auto&& fn) -> std::optional<std::string> {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "open " + path + ": " + errno_text(errno);
    BioPtr bio(BIO_new(BIO_s_mem()));
    fn(bio.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    bool wrote = ::write(fd, data, static_cast<std::size_t>(n)) == n && ::fsync(fd) == 0;
    ::close(fd);
    if (!wrote) return "write " + path + ": " + errno_text(errno);
    return std::nullopt;
  };
  if (auto e = write(out.key_file, [&](BIO* b) {
        PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
      }))
    return unexpected(*e);
  if (auto e = write(out.cert_file, [&](BIO* b) { PEM_write_bio_X509(b, x.get()); })) return unexpected(*e);
  return out;
}

std::unique_ptr<TlsStream> make_tls_server_stream(std::shared_ptr<const TlsContext> context,
                                                  asio::ip::tcp::socket socket) {
  return std::make_unique<TlsStreamImpl>(std::move(context), std::move(socket), true, std::string());
}

std::unique_ptr<TlsStream> make_tls_client_stream(std::shared_ptr<const TlsContext> context,
                                                  asio::ip::tcp::socket socket,
                                                  const std::string& server_name) {
  return std::make_unique<TlsStreamImpl>(std::move(context), std::move(socket), false, server_name);
}

}  // namespace cairn::wire
