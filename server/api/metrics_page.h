// GET /metrics: etcd's series with etcd's names, types, labels and histogram buckets (so the etcd
// mixin's alerts and Grafana dashboard read cairn unchanged), then cairn's own under cairn_, then
// process_*. Counters the request path updates are plain atomics and lock-free histograms; this page
// reads them when scraped and serializes with prometheus-cpp's text format. The values only the node
// thread may read (key count, cluster version, logical size) are fetched with one Node::run hop;
// when the node thread does not answer (stopped, queue full) those series are left out of the scrape.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::api {

boost::asio::awaitable<net::HttpResponse> metrics_page(node::Node* node, const net::Server* stats_of);

}  // namespace cairn::server::api
