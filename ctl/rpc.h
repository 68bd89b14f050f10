// Synchronous facade over the Asio gRPC client (server/net/client.h) for the command-line tool.
// One Connection owns an io_context, a thread that runs it and one Channel. Every method here blocks the
// calling thread (never the io thread) until the operation completes. Asio stays in rpc.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wire/framing.h"

namespace cairn::ctl {

using net_status = cairn::wire::Status;
using cairn::wire::StatusCode;

struct ConnectionOptions {
  std::vector<std::string> endpoints;  // host:port (a scheme prefix is stripped)
  std::chrono::milliseconds dial_timeout{2'000};
  std::chrono::milliseconds command_timeout{5'000};
  std::chrono::milliseconds keepalive_time{2'000};
  std::chrono::milliseconds keepalive_timeout{6'000};
  // Largest response message accepted (etcdctl's --max-recv-bytes; clientv3's default is MaxInt32).
  std::size_t recv_bytes_max = 2147483647;
  std::string token;  // etcd auth token, sent as metadata "token" on every call when not empty
  // TLS, decided per endpoint as etcdctl 3.4 does: "http://" is always plain text; "https://" is TLS
  // (with the files below, or the system's CAs when none is given); an endpoint without a scheme is TLS
  // when any of cacert/cert/key is given or insecure_transport is false. insecure_skip_tls_verify
  // applies only in those last cases (etcdctl ignores it for "https://" endpoints without other TLS
  // flags). The server's certificate must be valid for the endpoint's host (an IP SAN for an address).
  std::string cacert, cert, key;
  bool insecure_skip_tls_verify = false;
  bool insecure_transport = true;
};

// Loads the TLS files of `options` once to report what is wrong with them, in etcdctl's words ("open
// ca.pem: no such file or directory", "KeyFile and CertFile must both be present[key: , cert: c.pem]");
// nullopt when they are usable (or no TLS is asked for).
std::optional<std::string> check_tls_options(const ConnectionOptions& options);

struct RpcResult {
  net_status status;
  std::string response;
};

class Stream;

class Connection {
 public:
  explicit Connection(ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const ConnectionOptions& options() const { return options_; }

  // A unary call with the command timeout. Idempotent (read-only) calls are retried on UNAVAILABLE every
  // 25 ms until the deadline, as clientv3 does; mutations are not.
  RpcResult unary(const std::string& method, const std::string& request, bool idempotent,
                  std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // A streaming call without a deadline; `metadata_hasleader` adds etcd's "hasleader: true".
  std::unique_ptr<Stream> stream(const std::string& method, bool metadata_hasleader);

  // Keeps `lease_id` alive in the background (a LeaseKeepAlive stream, one request every ttl/3) until
  // the Connection is destroyed.
  void keep_alive_in_background(std::int64_t lease_id, std::int64_t ttl_seconds);

  struct Impl;

 private:
  ConnectionOptions options_;
  std::unique_ptr<Impl> impl_;
};

class Stream {
 public:
  struct State;
  Stream(Connection::Impl* impl, std::shared_ptr<State> state);
  ~Stream();
  bool write(std::string message);
  void writes_done();
  // Next message; nullopt once the call has ended. With a timeout: nullopt also when it elapses
  // (timed_out() tells which), and the call stays usable.
  std::optional<std::string> read(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  bool timed_out() const { return timed_out_; }
  net_status finish();
  void cancel();

 private:
  Connection::Impl* impl_;
  std::shared_ptr<State> state_;
  bool timed_out_ = false;
};

// Parses "host:port", "http://host:port" or "https://..." into host and port; false when malformed.
bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port);

}  // namespace cairn::ctl
