// A fault-injecting TCP proxy for cairn's peer links, run inside the fault harness (cairn_fault).
//
// Design (docs/fault-testing.md, "Network partitions"): every member advertises a peer URL whose port is
// a proxy port the harness listens on (that URL is also what --initial-cluster names, so member ids are
// derived from it and all members agree); the proxy forwards to the member's real --listen-peer-urls port.
// cairn's peer connections are one-way: the dialer sends its raft messages to the acceptor, which never
// writes back (server/net/peer_transport.h). The first frame on every connection is a HELLO naming the
// sender's member id, so a connection accepted at member B's proxy port that says HELLO from A carries
// exactly "A's messages to B". Cutting the ordered pair (A, B) therefore affects only those connections;
// cutting (B, A) as well makes a two-way partition.
//
// Cut modes:
//   kReset      existing A->B connections are closed (both sides); new ones are accepted, their HELLO
//               read, and closed at once (the sender sees a connection reset and backs off).
//   kBlackhole  existing connections stay open but nothing more is forwarded (bytes are read and thrown
//               away, so the sender never stalls); new connections are accepted and silently drained.
// Healing a pair closes its blackholed connections (a frame stream cannot resume mid-frame); the sender
// reconnects. A connection whose sender cannot be identified (no HELLO: not a cairn peer) is forwarded
// untouched, so `transparent` mode (no HELLO parsing at all) also serves other servers (etcd).
//
// Single-threaded: everything runs on the io_context given to the constructor.
#pragma once
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

namespace cairn::tests::fault {

enum class CutMode { kReset, kBlackhole };

struct ProxyStats {
  std::uint64_t accepted = 0;
  std::uint64_t reset = 0;       // connections closed by a cut (existing or new)
  std::uint64_t blackholed = 0;  // connections whose bytes were dropped
  std::uint64_t bytes_forwarded = 0;
  std::uint64_t bytes_dropped = 0;
};

class PeerProxy {
 public:
  explicit PeerProxy(boost::asio::io_context& ioc);
  ~PeerProxy();
  PeerProxy(const PeerProxy&) = delete;
  PeerProxy& operator=(const PeerProxy&) = delete;

  // Maps a member id (as sent in HELLO) to the harness's member index; unknown ids map to -1.
  void set_resolver(std::function<int(std::uint64_t)> resolve);
  // Listens on 127.0.0.1:listen_port and forwards to 127.0.0.1:target_port; connections there reach
  // member `target`. `parse_hello` false: forward blindly (cuts never apply). False if the bind failed.
  bool add_route(int target, std::uint16_t listen_port, std::uint16_t target_port, bool parse_hello = true);
  // Stops listening on a route's port and closes its connections.
  void remove_route(std::uint16_t listen_port);

  // from's messages to `to` are cut (one direction).
  void cut(int from, int to, CutMode mode);
  void heal(int from, int to);
  void heal_all();
  bool is_cut(int from, int to) const;

  const ProxyStats& stats() const;
  // Closes every listener and connection.
  void shutdown();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cairn::tests::fault
