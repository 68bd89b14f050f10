// Member-to-member transport for raft messages over TCP, optionally TLS. Payload-agnostic: bytes in, bytes
// out (the server wires it to proto/raft_codec.h). One outbound connection per peer carries that member's
// messages to the peer, in order; the peer's messages to us arrive on the connection it dialed.
//
// Frame layout (all integers big-endian):
//   u32 payload_length | u32 crc32c(type byte + payload) | u8 type | payload
//   type 1 HELLO        payload = "CAIRNPT1" + u64 sender id + u64 cluster id (0: not known yet)
//                       (first frame on every connection). A receiver that knows its cluster id closes
//                       a connection whose HELLO names another (non-zero) cluster: a member of a
//                       different cluster never gets to deliver a message (counted in cluster_mismatches).
//   type 2 MESSAGE      payload = one message
//   type 3 CHUNK_BEGIN  payload = u64 transfer id + u64 total bytes + u32 crc32c of the whole payload
//   type 4 CHUNK_DATA   payload = u64 transfer id + bytes               (in order, at most chunk_bytes)
//   type 5 CHUNK_END    payload = u64 transfer id                       (receiver verifies length + crc)
// A bad frame CRC, an oversized frame or a failed payload checksum closes the connection; the sender
// reconnects with backoff. Nothing is retransmitted: raft tolerates loss, and every drop is reported
// through on_unreachable so raft can fall back to probing (etcd's ReportUnreachable).
//
// Threading: all state lives on one strand; send()/send_large() are thread-safe and never block.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/net/byte_stream.h"
#include "server/net/client.h"

namespace cairn::server::net {

using PeerId = std::uint64_t;

struct PeerTransportOptions {
  std::size_t send_queue_messages_max = 4096;           // per peer
  std::size_t send_queue_bytes_max = 64 * 1024 * 1024;  // per peer, regular messages
  std::size_t large_transfers_queued_max = 1;           // per peer, send_large() payloads waiting
  std::size_t frame_bytes_max = 8 * 1024 * 1024;        // larger messages must go through send_large()
  std::size_t chunk_bytes = 1024 * 1024;                // large payloads are cut into chunks this big
  std::size_t large_payload_bytes_max = 4ull << 30;     // receiver refuses bigger transfers
  std::size_t write_batch_bytes_max = 1024 * 1024;      // frames coalesced into one socket write
  std::chrono::milliseconds connect_timeout{3'000};
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2'000};
  std::chrono::milliseconds handshake_timeout{5'000};  // accepted connection must say HELLO by then
  std::chrono::milliseconds write_stall_timeout{10'000};
  // Peer TLS (etcd's --peer-* flags). With tls_server, inbound connections must complete a TLS handshake
  // (within handshake_timeout) before HELLO; a context built with client_cert_auth refuses members
  // without a certificate the peer CA signed. With tls_client, every peer is dialed over TLS and its
  // certificate must be valid for the host of its peer URL (unless the context skips verification).
  std::shared_ptr<const TlsContext> tls_server;
  std::shared_ptr<const TlsContext> tls_client;
};

struct PeerTransportCallbacks {
  // A message (or a reassembled large payload) from `from`. Runs on the transport's strand: hand off fast.
  std::function<void(PeerId from, std::string payload)> on_message;
  // Messages to `to` were dropped (queue full, connection lost, peer unreachable). Any thread.
  std::function<void(PeerId to)> on_unreachable;
};

struct PeerTransportStats {
  std::atomic<std::uint64_t> messages_sent{0};
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> messages_dropped{0};
  std::atomic<std::uint64_t> large_payloads_received{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> bad_frames{0};
  std::atomic<std::uint64_t> cluster_mismatches{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};  // inbound and outbound
};

class PeerTransport {
 public:
  PeerTransport(boost::asio::io_context& ioc, PeerId self, PeerTransportOptions options,
                PeerTransportCallbacks callbacks);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  boost::system::error_code listen(const std::string& address, std::uint16_t port);
  // A unix domain socket listener (etcd's unix:// peer URLs; plain text only). Peers whose Endpoint has a
  // unix_path are dialed the same way.
  boost::system::error_code listen_unix(const std::string& path);
  std::uint16_t port() const;
  // Serves one already connected inbound stream exactly as an accepted connection (HELLO, frames,
  // limits; plain text), for in-memory transports: the fuzz targets feed hostile bytes through it.
  void serve_stream(std::unique_ptr<ByteStream> stream);

  // Thread-safe. Adding a known peer replaces its address (the connection is re-dialed).
  void add_peer(PeerId id, Endpoint endpoint);
  // Thread-safe. The cluster id sent in HELLO and checked on inbound connections (0: unknown, accept any).
  void set_cluster_id(std::uint64_t id);
  void remove_peer(PeerId id);

  // Thread-safe, non-blocking. False when the message was dropped (unknown peer, queue full, too large);
  // on_unreachable has then been called.
  bool send(PeerId to, std::string payload);
  // For snapshots: streamed in chunks with a whole-payload checksum.
  bool send_large(PeerId to, std::string payload);

  // Closes every connection and the listener; queued messages are dropped. Thread-safe.
  void shutdown();

  const PeerTransportStats& stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cairn::server::net
