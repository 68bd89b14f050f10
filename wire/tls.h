// TLS for the client port, the gRPC client and the peer transport: OpenSSL contexts built from etcd's
// certificate flags, and TlsStream, the ByteStream over a TLS connection. Asio's ssl headers stay in
// tls.cc; callers see only what is declared here.
//
// ALPN on the client port: grpc-go and grpc C-core offer only "h2" (grpc-go 1.34+ refuses a server that
// does not select it); curl, Go's net/http and browsers offer "h2" and "http/1.1". The server selects
// "http/1.1" whenever it is offered and "h2" otherwise, so gRPC clients get HTTP/2 and HTTP clients get
// the HTTP/1.1 side (/health, /version, /metrics, the JSON gateway). After the handshake the server still
// tells the protocols apart by the HTTP/2 preface, so a client that negotiates nothing works too.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "wire/byte_stream.h"

namespace cairn::wire {

// An OpenSSL context (certificates, trust, verification mode, ALPN). Immutable once built; shared by
// every connection that uses it, from any thread.
class TlsContext;

// etcd's --cipher-suites, --tls-min-version and --tls-max-version, for both ports and both directions.
struct TlsProtocolPolicy {
  std::string cipher_list;             // OpenSSL's TLS 1.2 cipher list (openssl_cipher_list); empty: defaults
  std::string min_version = "TLS1.2";  // "TLS1.2" or "TLS1.3"
  std::string max_version;             // "", "TLS1.2" or "TLS1.3" (empty: the newest, TLS 1.3)
};

// etcd's --cipher-suites (Go's names, in order of preference) as an OpenSSL cipher list. Unknown names
// get etcd's error ("unexpected TLS cipher suite \"X\""). As in Go, the TLS 1.3 suites
// (TLS_AES_128_GCM_SHA256, ...) are accepted and TLS 1.3 always offers all three.
Expected<std::string, std::string> openssl_cipher_list(const std::vector<std::string>& go_names);
// etcd 3.5's checks of the version flags against each other and the cipher suites (its words).
std::optional<std::string> check_tls_policy(const TlsProtocolPolicy& policy, bool cipher_suites_given);

// Certificates are reloaded without a restart: before each new connection the context compares the
// modification time, size and inode of every file it was built from (certificate, key, CA bundle, CRL)
// and rebuilds itself when one changed, so a renewed certificate, an extended CA bundle or a new CRL is
// used from the next connection on (etcd re-reads certificates per handshake but never its CA). A
// rebuild that fails (a key not matching its certificate half-way through a rotation) keeps the old
// context and is retried at most once a second; existing connections keep the context they started with.

// etcd's --cert-file / --key-file / --trusted-ca-file / --client-cert-auth (and the --peer-* ones).
struct TlsServerConfig {
  std::string cert_file;  // PEM certificate (chain), presented to clients
  std::string key_file;   // PEM private key of cert_file
  // Client certificates are verified against these CAs (empty: the system's trust store).
  std::string trusted_ca_file;
  // Require a client certificate that verifies; without it no certificate is asked for.
  bool client_cert_auth = false;
  // ALPN: select "http/1.1" when offered, else "h2" (the client port). Off for the peer port.
  bool alpn_http = true;
  // etcd's --client-crl-file / --peer-crl-file (PEM or DER): a client certificate whose serial number
  // it lists is refused during the handshake (the client sees "certificate revoked"). As etcd, only
  // serial numbers are compared; the CRL's signature and dates are not checked.
  std::string crl_file;
  // etcd's --client-cert-allowed-hostname (with client_cert_auth): the client certificate must be valid
  // for one of these names (a DNS SAN, wildcards allowed, or an IP SAN; the subject CN is not looked at,
  // as Go's VerifyHostname), else the handshake fails ("bad certificate" at the client). Empty: any
  // certificate the CAs verify.
  std::vector<std::string> allowed_client_hostnames;
  TlsProtocolPolicy policy;
};

struct TlsClientConfig {
  std::string ca_file;  // server certificates are verified against these CAs (empty: system store)
  std::string cert_file, key_file;  // client certificate, optional (both or neither)
  bool insecure_skip_verify = false;
  bool alpn_h2 = true;  // offer "h2" (gRPC); off for the peer transport
  TlsProtocolPolicy policy;
};

// Counts of certificate reloads of one context (tests and logs).
struct TlsReloadStats {
  std::uint64_t reloads = 0;   // rebuilt after a file changed
  std::uint64_t failures = 0;  // a rebuild failed; the previous context stayed in use
  std::string last_error;
};
TlsReloadStats tls_reload_stats(const TlsContext& context);

// A server context, and the client context the same process uses to call its own port (the Lock and
// Election services): it presents the server's certificate as its client certificate (so it passes
// --client-cert-auth when the certificate allows client use) and does not verify the loopback peer,
// as etcd's own gateway does.
struct ServerTls {
  std::shared_ptr<const TlsContext> server;
  std::shared_ptr<const TlsContext> loopback_client;
};

// Errors are one line naming the file, worded as etcd's ("open x: no such file or directory",
// "tls: private key does not match public key").
Expected<ServerTls, std::string> make_server_tls(const TlsServerConfig& config);
Expected<std::shared_ptr<const TlsContext>, std::string> make_client_tls(const TlsClientConfig& config);

// etcd's --auto-tls / --peer-auto-tls: a self-signed ECDSA P-256 certificate valid for one year whose
// subject alternative names are `hosts` (IP addresses as IP SANs, names as DNS SANs), written as
// dir/cert.pem and dir/key.pem (0600; dir is created). Existing files there are reused, as etcd does.
Expected<TlsServerConfig, std::string> make_self_signed_cert(const std::string& dir,
                                                             const std::vector<std::string>& hosts);

// A TLS connection over a connected TCP socket. Full duplex: one read_some and one write_all may be
// pending at once (both on the stream's strand), as the HTTP/2 pump needs.
class TlsStream : public ByteStream {
 public:
  // Runs the handshake. nullopt on success, else a reason in Go's words where one exists
  // ("x509: certificate signed by unknown authority", "remote error: tls: bad certificate").
  virtual boost::asio::awaitable<std::optional<std::string>> handshake() = 0;
  // The protocol ALPN selected ("h2", "http/1.1"), empty when none.
  virtual std::string alpn() const = 0;
  // Server side, before the handshake: the first byte the client sent (without consuming it), or -1 on
  // EOF/error. 0x16 starts a TLS handshake record; anything else is plain text or garbage.
  virtual boost::asio::awaitable<int> peek_first_byte() = 0;
  // Writes bytes on the TCP connection itself, bypassing TLS (the plain-text HTTP refusal), then closes
  // the sending side and reads until the client closes (at most 1 s / 64 KiB), so the reply is not lost
  // to a reset.
  virtual boost::asio::awaitable<void> write_plaintext(std::string_view bytes) = 0;
  // After the handshake: whether the certificate the other end presented, and we verified, is valid for
  // `host` as Go's x509 VerifyHostname judges it: an address must be an IP SAN, a name must match a DNS
  // SAN (wildcards in the leftmost label only; the subject CN is never consulted). False when no
  // verified certificate was presented.
  virtual bool peer_certificate_valid_for(const std::string& host) const = 0;
};

// Server side of a TLS connection.
std::unique_ptr<TlsStream> make_tls_server_stream(std::shared_ptr<const TlsContext> context,
                                                  boost::asio::ip::tcp::socket socket);
// Client side. `server_name` is sent as SNI (when it is a name, not an address) and the server's
// certificate must be valid for it (a DNS SAN for a name, an IP SAN for an address) unless the context
// skips verification.
std::unique_ptr<TlsStream> make_tls_client_stream(std::shared_ptr<const TlsContext> context,
                                                  boost::asio::ip::tcp::socket socket,
                                                  const std::string& server_name);

// A TLS-level error from a TlsStream operation in Go's words ("remote error: tls: bad certificate" for
// an alert the other side sent); empty when `ec` is not a TLS error (EOF, reset, cancelled).
std::string tls_error_text(const boost::system::error_code& ec);

// Go's answer to a plain-text HTTP request on a TLS port (etcd sends the same).
inline constexpr std::string_view kPlainHttpOnTlsResponse =
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

}  // namespace cairn::wire
