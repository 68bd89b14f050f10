// etcd 3.6's health probes: GET /livez and /readyz (Kubernetes' liveness and readiness semantics).
//
//   /livez   checks: serializable_read                       (the process serves local reads)
//   /readyz  checks: data_corruption, serializable_read, linearizable_read, non_learner
//                                                             (the member can serve the cluster's reads)
//
// Each check also has its own path (/readyz/linearizable_read) that runs that check alone; any other
// name under the prefix is Go's 404 "404 page not found", as etcd's mux answers. On the root path,
// `?exclude=NAME` (repeatable) skips a check; excluding a name that is not a check is ignored (etcd:
// "for version compatibility"). A pass is 200 "ok\n", preceded with `?verbose` (any value) by one
// "[+]NAME ok" line per check run; a failure is 503 and always lists the checks, failed ones as
// "[-]NAME failed: REASON", followed by an empty line (Go's http.Error). Checks run in the order above
// (etcd runs them in Go map order, so a parser must not depend on it). Other methods get 405.
//
// Every check is bounded: it runs on the node thread, and linearizable_read waits for ReadIndex at most
// the node's request timeout (5 s + 2 x election timeout, etcd's ReqTimeout); a node thread that does
// not answer within that bound fails the check with "etcdserver: request timed out".
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::api {

// The probe's query: `verbose` present (with any value), the non-empty `exclude` values (URL-decoded).
struct ProbeQuery {
  bool verbose = false;
  std::set<std::string> exclude;
};
ProbeQuery parse_probe_query(std::string_view target);

// One check's result: no error means it passed.
struct CheckOutcome {
  std::string name;
  std::optional<std::string> error;
};
// The response for the checks that ran (etcd's text shapes, see above).
net::HttpResponse probe_response(const std::vector<CheckOutcome>& outcomes, bool verbose);

// /livez, /readyz and their per-check paths. Both the client port and --listen-metrics-urls serve them.
void register_probes(net::Server& server, node::Node& node);

}  // namespace cairn::server::api
