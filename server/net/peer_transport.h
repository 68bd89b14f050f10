// Member-to-member transport for raft messages over TCP, optionally TLS. Payload-agnostic: bytes in, bytes
// out (the server wires it to proto/raft_codec.h). One outbound connection per peer carries that member's
// messages to the peer, in order; the peer's messages to us arrive on the connection it dialed.
//
// Frame layout (all integers big-endian):
//   u32 payload_length | u32 crc32c(type byte + payload) | u8 type | payload
//   type 1 HELLO        payload = "CAIRNPT1" + u64 sender id + u64 cluster id (0: not known yet)
//                       + the sender's peer URL (0-1024 bytes; set_self_url)
//                       (first frame on every connection; the layout without the cluster id is accepted
//                       too). The URL is sent only on a redial after a connection the peer closed
//                       within a second, and then on every other one while that goes on: builds before
//                       the URL refuse a HELLO that carries one. A receiver that knows
//                       its cluster id closes a connection whose HELLO names another (non-zero) cluster:
//                       a member of a different cluster never gets to deliver a message (counted in
//                       cluster_mismatches). With refuse_unknown_senders, a HELLO naming this member or
//                       an id that is not a known peer is refused too (unknown_senders), unless it names
//                       a cluster (this member's; any while it knows none) and a peer URL and
//                       admit_unknown returns where to answer
//                       it: then the sender becomes a peer (unknown_members_admitted). That is a member
//                       added by a conf change this member's log lacks (it was down, or a WAL repair cut
//                       it): refused, it could never send this member the entries that name it.
//   type 2 MESSAGE      payload = one message
//   type 3 CHUNK_BEGIN  payload = u64 transfer id + u64 total bytes + u32 crc32c of the whole payload
//   type 4 CHUNK_DATA   payload = u64 transfer id + bytes               (in order, at most chunk_bytes)
//   type 5 CHUNK_END    payload = u64 transfer id                       (receiver verifies length + crc)
// Who may connect (inbound; every refusal is counted and reported through on_refused with its reason):
//   - at most inbound_pending_max connections that have not said HELLO yet; one more closes the oldest
//     of them, so a flood of idle connections cannot keep a real member's redial out for long, and each
//     must say HELLO within handshake_timeout;
//   - at most inbound_per_peer_max connections per member once it said HELLO; one more closes that
//     member's oldest (a member redials after losing a connection we may not have noticed is dead).
//     Without peer TLS anyone can claim any id, and so close that member's connection: use peer TLS.
//   So at most inbound_per_peer_max * peers + inbound_pending_max inbound connections exist at once.
//   - with peer TLS, the certificate must satisfy PeerCertRules (etcd's --peer-cert-allowed-cn /
//     --peer-cert-allowed-hostname, checked on both ends of a connection) and, inbound, be valid for the
//     host of the peer URL of the member its HELLO claims (cert_must_match_member_url).
// Buffered bytes: per inbound connection one frame of at most frame_bytes_max (+ a chunk's overhead).
// Large transfers are streamed: a sender's LargeSource is read one chunk at a time as the connection
// drains, and a receiver with an open_large callback hands each chunk to the LargeSink it returns (a
// file, for snapshots), so neither end holds a whole payload. Without open_large, payloads are
// reassembled in memory and delivered through on_message; those being received on all connections
// together announce at most large_payload_bytes_max (a CHUNK_BEGIN beyond that budget closes its
// connection). A sink's writes run on the strand: they must be short (page-cache writes, no fsync).
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
#include <optional>
#include <string>

#include "server/net/vocabulary.h"
#include "wire/byte_stream.h"
#include "wire/client.h"

namespace cairn::server::net {

using PeerId = std::uint64_t;

// Identity rules for peer certificates (peer TLS only).
struct PeerCertRules {
  std::string allowed_cn;        // --peer-cert-allowed-cn: the certificate's subject CN must equal it
  std::string allowed_hostname;  // --peer-cert-allowed-hostname: the certificate must be valid for it
  // cairn, beyond etcd: a member claiming id X in its HELLO must present a certificate valid for the host
  // of X's peer URL as this member knows it (--peer-cert-verify-member-url=false turns it off).
  bool cert_must_match_member_url = true;
};

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
  std::size_t inbound_pending_max = 8;  // accepted connections that have not said HELLO yet
  // Connections one member may hold open to us. A member dials each peer over one connection at a time
  // and redials only after losing it, so its newest connection supersedes the others (which may be
  // half-open and never noticed: we never write on an inbound connection) and frees what they buffered.
  std::size_t inbound_per_peer_max = 1;
  // Refuse a HELLO naming this member or an id that add_peer() never named (the node sets it: only
  // members of the cluster may deliver messages). Off by default for tests that dial one way.
  bool refuse_unknown_senders = false;
  PeerCertRules cert_rules;
  // Peer TLS (etcd's --peer-* flags). With tls_server, inbound connections must complete a TLS handshake
  // (within handshake_timeout) before HELLO; a context built with client_cert_auth refuses members
  // without a certificate the peer CA signed. With tls_client, every peer is dialed over TLS and its
  // certificate must be valid for the host of its peer URL (unless the context skips verification).
  std::shared_ptr<const TlsContext> tls_server;
  std::shared_ptr<const TlsContext> tls_client;
};

// A payload for send_large(), read in order, one chunk at a time, on the transport's strand. Destroyed
// on the strand (or by the sending thread if refused) once sent or dropped.
class LargeSource {
 public:
  virtual ~LargeSource() = default;
  virtual std::uint64_t size() const = 0;
  virtual std::uint32_t crc32c() const = 0;  // of all size() bytes
  // Appends the next n bytes to `out` (n never goes past size()); false on a read error, which drops
  // the transfer and the connection it was on.
  virtual bool read(std::string& out, std::size_t n) = 0;
};

// Where one received large payload goes (open_large), fed in order on the strand. Destroyed without
// finish() when the transfer fails (connection lost, bad checksum, refused write): it must then remove
// whatever it wrote.
class LargeSink {
 public:
  virtual ~LargeSink() = default;
  virtual bool write(std::string_view bytes) = 0;  // false: refuse the transfer (closes the connection)
  virtual void finish() = 0;                       // every byte arrived and the checksum matched
};

struct PeerTransportCallbacks {
  // A message (or a reassembled large payload) from `from`. Runs on the transport's strand: hand off fast.
  std::function<void(PeerId from, std::string payload)> on_message;
  // Messages to `to` were dropped (queue full, connection lost, peer unreachable). Any thread.
  std::function<void(PeerId to)> on_unreachable;
  // An inbound connection (or, for a certificate rule, an outbound one) was refused; `reason` names the
  // remote address and why, for the log. Runs on the transport's strand; optional.
  std::function<void(const std::string& reason)> on_refused;
  // A large transfer of `total` bytes from `from` begins: where its bytes go (nullptr refuses it and
  // closes the connection; the sender reports the drop). Unset: reassembled in memory, on_message.
  std::function<std::unique_ptr<LargeSink>(PeerId from, std::uint64_t total)> open_large;
  // With refuse_unknown_senders: an unknown sender's HELLO names this member's cluster (any cluster while
  // this member knows none) and its peer URL.
  // The endpoint to answer it at admits it as a peer (with peer TLS its certificate must then be valid
  // for that endpoint's host); nullopt refuses it. Runs on the strand; optional (unset: refused).
  std::function<std::optional<Endpoint>(PeerId from, const std::string& peer_url)> admit_unknown;
};

struct PeerTransportStats {
  std::atomic<std::uint64_t> messages_sent{0};
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> messages_dropped{0};
  std::atomic<std::uint64_t> large_payloads_received{0};
  std::atomic<std::uint64_t> large_payloads_refused{0};  // open_large said no, or a sink write failed
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> bad_frames{0};
  std::atomic<std::uint64_t> cluster_mismatches{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};    // inbound and outbound
  std::atomic<std::uint64_t> unknown_senders{0};           // HELLO from self or a member we do not know
  std::atomic<std::uint64_t> unknown_members_admitted{0};  // unknown senders admit_unknown admitted
  std::atomic<std::uint64_t> cert_rule_failures{0};        // a certificate broke PeerCertRules
  std::atomic<std::uint64_t> connections_evicted{0};       // closed by inbound_pending/per_peer_max
};

// What a member needs of the peer network: the node (server/node) holds one of these. PeerTransport is
// production's; the server simulator's SimNetwork (tests/sim/server_sim.cc) is its deterministic twin,
// which hands the same callbacks their messages in an order a seed decides.
class PeerNetwork {
 public:
  virtual ~PeerNetwork() = default;
  // Thread-safe. Adding a known peer with another endpoint replaces it; the same endpoint changes nothing.
  virtual void add_peer(PeerId id, Endpoint endpoint) = 0;
  // Thread-safe. This member's peer URL, sent in HELLO (empty: none).
  virtual void set_self_url(std::string url) = 0;
  // Thread-safe. The cluster id sent in HELLO and checked on inbound connections (0: unknown, accept any).
  virtual void set_cluster_id(std::uint64_t id) = 0;
  // Thread-safe, non-blocking. False when the message was dropped; on_unreachable has then been called.
  virtual bool send(PeerId to, std::string payload) = 0;
  // A snapshot, streamed with a whole-payload checksum to the peer's open_large. False (and
  // on_unreachable) when it cannot be queued.
  virtual bool send_large(PeerId to, std::unique_ptr<LargeSource> payload) = 0;
  // Closes every connection; queued messages are dropped. Thread-safe.
  virtual void shutdown() = 0;
};

class PeerTransport final : public PeerNetwork {
 public:
  PeerTransport(boost::asio::io_context& ioc, PeerId self, PeerTransportOptions options,
                PeerTransportCallbacks callbacks);
  ~PeerTransport() override;
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

  // Thread-safe. Adding a known peer with another endpoint replaces it (the connection is re-dialed);
  // the same endpoint again changes nothing.
  void add_peer(PeerId id, Endpoint endpoint) override;
  // Thread-safe. This member's peer URL, sent in HELLO (empty: none; one over 1024 bytes is not sent).
  void set_self_url(std::string url) override;
  // Thread-safe. The cluster id sent in HELLO and checked on inbound connections (0: unknown, accept any).
  void set_cluster_id(std::uint64_t id) override;
  void remove_peer(PeerId id);

  // Thread-safe, non-blocking. False when the message was dropped (unknown peer, queue full, too large);
  // on_unreachable has then been called.
  bool send(PeerId to, std::string payload) override;
  // For snapshots: streamed in chunks with a whole-payload checksum. Thread-safe, non-blocking; false
  // (and on_unreachable) when large_transfers_queued_max transfers already wait for this peer.
  bool send_large(PeerId to, std::unique_ptr<LargeSource> payload) override;
  bool send_large(PeerId to, std::string payload);  // an in-memory payload

  // Closes every connection and the listener; queued messages are dropped. Thread-safe.
  void shutdown() override;

  const PeerTransportStats& stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cairn::server::net
