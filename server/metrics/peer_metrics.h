// etcd's per-peer network series (rafthttp/metrics.go):
//   etcd_network_peer_sent_bytes_total{To}        raft messages sent, encoded bytes
//   etcd_network_peer_received_bytes_total{From}  raft messages received, encoded bytes
//   etcd_network_peer_round_trip_time_seconds{To} histogram, etcd's buckets 0.0001 s x2, 14 buckets
// Member ids are labels in etcd's form (lowercase hex). The table has a fixed number of slots claimed
// lock-free on first use, so the hot path never locks or allocates; peers beyond kPeersMax (far more
// than any sane cluster's members over its lifetime) are not broken out.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "server/metrics/families.h"
#include "server/metrics/histogram.h"

namespace cairn::server::metrics {

class PeerMetrics {
 public:
  static constexpr size_t kPeersMax = 64;
  struct Peer {
    std::atomic<std::uint64_t> id{0};
    std::atomic<std::uint64_t> sent_bytes{0};
    std::atomic<std::uint64_t> received_bytes{0};
    Histogram round_trip{exponential_buckets(0.0001, 2, 14)};
  };

  // The slot of `id` (claimed now if new); nullptr for id 0 or a full table. Any thread.
  Peer* of(std::uint64_t id);
  void collect(Families& out) const;

 private:
  std::array<Peer, kPeersMax> peers_;
};

}  // namespace cairn::server::metrics
