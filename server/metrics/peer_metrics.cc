#include "server/metrics/peer_metrics.h"

#include <cstdio>

namespace cairn::server::metrics {

PeerMetrics::Peer* PeerMetrics::of(std::uint64_t id) {
  if (id == 0) return nullptr;
  for (Peer& p : peers_) {
    std::uint64_t cur = p.id.load(std::memory_order_acquire);
    if (cur == id) return &p;
    if (cur == 0) {
      if (p.id.compare_exchange_strong(cur, id, std::memory_order_acq_rel)) return &p;
      if (cur == id) return &p;  // another thread claimed it for the same peer
    }
  }
  return nullptr;
}

void PeerMetrics::collect(Families& out) const {
  auto hex = [](std::uint64_t id) {
    char b[17];
    std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(id));
    return std::string(b);
  };
  out.declare("etcd_network_peer_sent_bytes_total", "The total number of bytes sent to peers.",
              prometheus::MetricType::Counter);
  for (const Peer& p : peers_)
    if (auto id = p.id.load(std::memory_order_acquire))
      out.counter("etcd_network_peer_sent_bytes_total", "", static_cast<double>(p.sent_bytes.load()),
                  {{"To", hex(id)}});
  out.declare("etcd_network_peer_received_bytes_total", "The total number of bytes received from peers.",
              prometheus::MetricType::Counter);
  for (const Peer& p : peers_)
    if (auto id = p.id.load(std::memory_order_acquire))
      out.counter("etcd_network_peer_received_bytes_total", "", static_cast<double>(p.received_bytes.load()),
                  {{"From", hex(id)}});
  out.declare("etcd_network_peer_round_trip_time_seconds", "Round-Trip-Time histogram between peers.",
              prometheus::MetricType::Histogram);
  for (const Peer& p : peers_)
    if (auto id = p.id.load(std::memory_order_acquire))
      if (p.round_trip.count() > 0)
        out.histogram("etcd_network_peer_round_trip_time_seconds", "", p.round_trip, {{"To", hex(id)}});
}

}  // namespace cairn::server::metrics
