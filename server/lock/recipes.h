// etcd's lock and election recipes, run by the server for its Lock and Election services.
//
// The algorithm is etcd's (clientv3/concurrency: mutex.go, election.go, key.go; the v3lock and
// v3election services run it for their callers), expressed over LocalClient calls:
//
//   * A contender writes the key "<name>/<lease id in hex>" in a Txn guarded by create_revision == 0,
//     carrying its lease. If the key already exists (same lease again), the contender reuses it.
//   * The owner is the key under "<name>/" with the lowest create revision. A contender with create
//     revision R waits until no key with a create revision below R is left: it reads the newest such key
//     (Range, max_create_revision R-1, sorted by create revision descending, limit 1), watches that key
//     from the Range's revision until its DELETE, and repeats. Waiting on the next older key only (not
//     on the owner) means each deletion wakes one waiter, not all of them.
//   * Releasing is deleting the key: Unlock, Resign, or the lease expiring when the holder dies.
//
// A recipe cancelled while waiting (its caller went away) deletes its key before it returns, so no
// abandoned contender blocks the others. Errors the election reports are etcd's plain Go errors, which
// reach clients with gRPC code Unknown; errors of the KV calls inside keep their own codes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "proto/etcd/v3election.pb.h"
#include "proto/etcd/v3lock.pb.h"
#include "server/lock/local_client.h"
#include "server/net/server.h"

namespace cairn::server::lock {

// When a Lock or Campaign request carries no lease, the server grants one with this TTL, as etcd's
// concurrency.Session does by default (and then, like etcd, never keeps it alive).
inline constexpr std::int64_t kSessionTtlSecondsDefault = 60;

net::Status err_election_not_leader();  // "election: not leader"
net::Status err_election_no_leader();   // "election: no leader"
net::Status err_missing_leader_key();   // "\"leader\" field must be provided"
net::Status err_cancelled();            // the caller went away

// "<name>/" and "<name>/<lease in lower-case hex>", as etcd names them.
std::string owner_prefix(std::string_view name);
std::string owner_key(std::string_view name, std::int64_t lease);
// The range end that makes [prefix, end) cover every key starting with prefix (etcd's GetPrefixRangeEnd).
std::string prefix_end(std::string_view prefix);

// Waits until no key under prefix has a create revision <= max_create_revision; returns the header of
// the last Range (the one that found none).
boost::asio::awaitable<Result<etcdserverpb::ResponseHeader>> wait_deletes(LocalClient& c,
                                                                          CancelSignal& cancel,
                                                                          std::string prefix,
                                                                          std::int64_t max_create_revision);

boost::asio::awaitable<Result<v3lockpb::LockResponse>> lock(LocalClient& c, CancelSignal& cancel,
                                                            v3lockpb::LockRequest req);
boost::asio::awaitable<Result<v3lockpb::UnlockResponse>> unlock(LocalClient& c, CancelSignal& cancel,
                                                                v3lockpb::UnlockRequest req);

boost::asio::awaitable<Result<v3electionpb::CampaignResponse>> campaign(LocalClient& c, CancelSignal& cancel,
                                                                        v3electionpb::CampaignRequest req);
boost::asio::awaitable<Result<v3electionpb::ProclaimResponse>> proclaim(LocalClient& c, CancelSignal& cancel,
                                                                        v3electionpb::ProclaimRequest req);
boost::asio::awaitable<Result<v3electionpb::LeaderResponse>> leader(LocalClient& c, CancelSignal& cancel,
                                                                    v3electionpb::LeaderRequest req);
boost::asio::awaitable<Result<v3electionpb::ResignResponse>> resign(LocalClient& c, CancelSignal& cancel,
                                                                    v3electionpb::ResignRequest req);
// Streams the current leader's key-value (waiting for one if there is none), then every change of it,
// then the next leader's, until the caller goes away (out fails) or a call fails.
// Writes one serialized LeaderResponse; false once the caller is gone.
using ObserveWrite = std::function<boost::asio::awaitable<bool>(std::string)>;
boost::asio::awaitable<net::Status> observe(LocalClient& c, v3electionpb::LeaderRequest req,
                                            ObserveWrite out);

}  // namespace cairn::server::lock
