// The versions a member reports, and the downgrade state of the cluster (etcd 3.5+'s Downgrade API).
//
// Versions (etcd's three, docs/compatibility.md "Which etcd version cairn reports" says why 3.6):
//   * server version (Maintenance.Status version, /version "etcdserver", `cairn --version`): the newest
//     etcd release whose API cairn implements completely. kube-apiserver and other clients enable
//     features from it (RequestWatchProgress needs >= 3.4.31 and not [3.5.0, 3.5.13)), so it must never
//     name a release whose behaviour cairn lacks.
//   * cluster version (/version "etcdcluster", DowngradeResponse.version): major.minor.0 of the server
//     version, or the downgrade target while a downgrade is enabled (etcd lowers it the same way once
//     the downgrade is enabled).
//   * storage version (StatusResponse.storageVersion, /version "storage"): the schema level the data is
//     served at. cairn's data directory has one format for every etcd API level, so there is nothing
//     to migrate: it follows the cluster version at once, where etcd migrates its schema after it.
//
// Downgrade (VALIDATE / ENABLE / CANCEL): etcd's rules and errors. The only allowed target is one
// minor version below the cluster version; ENABLE records {enabled, target} through raft on every
// member (a DowngradeInfo record applied in log order, kept in the store's kMeta space under
// kDowngradeMetaKey so that it survives restarts and travels with store snapshots); CANCEL clears it.
// etcd ends a downgrade by itself once every member runs a binary of the target version; a cairn
// binary never reports an older version than its own, so here the downgrade stays until it is
// cancelled (the state is informational: cairn serves the same API whatever the cluster version).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/node/errors.h"

namespace cairn::server::node {

inline constexpr const char* kCairnVersion = "0.1.0";
inline constexpr int kEtcdMajor = 3;
inline constexpr int kEtcdMinor = 6;
inline constexpr const char* kEtcdServerVersion = "3.6.0";

// The store key (Space::kMeta) holding the encoded DowngradeInfo; absent: no downgrade.
inline constexpr const char* kDowngradeMetaKey = "cluster/downgrade";

struct DowngradeInfo {
  bool enabled = false;
  std::string target_version;  // "3.5.0" while enabled, else empty
  bool operator==(const DowngradeInfo&) const = default;
};

// "3.6.0", or the target while a downgrade is enabled.
std::string cluster_version(const DowngradeInfo& d);
// The same, as etcd 3.6 puts it in DowngradeResponse.version: major.minor ("3.6").
std::string cluster_version_short(const DowngradeInfo& d);
std::string storage_version(const DowngradeInfo& d);

// etcd's reading of a downgrade target: a semantic version "X.Y.Z[-pre][+build]", or "X.Y"; the patch
// is dropped. Returns "X.Y.0", or nullopt for anything else.
std::optional<std::string> parse_downgrade_target(std::string_view v);
// VALIDATE's checks, in etcd's order: the format, the target (one minor below the cluster version),
// no downgrade already enabled. On success returns nullopt and sets *target to "X.Y.0".
std::optional<EtcdError> validate_downgrade(const DowngradeInfo& current, std::string_view version,
                                            std::string* target);

// The record under kDowngradeMetaKey and in kDowngrade entries: u8 enabled (0/1), then the target.
std::string encode_downgrade(const DowngradeInfo& d);
std::optional<DowngradeInfo> decode_downgrade(std::string_view bytes);

inline EtcdError err_wrong_downgrade_version_format() {
  return {net::StatusCode::kInvalidArgument, "etcdserver: wrong downgrade target version format"};
}
inline EtcdError err_invalid_downgrade_target_version() {
  return {net::StatusCode::kInvalidArgument, "etcdserver: invalid downgrade target version"};
}
inline EtcdError err_downgrade_in_process() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: cluster has a downgrade job in progress"};
}
inline EtcdError err_no_inflight_downgrade() {
  return {net::StatusCode::kFailedPrecondition, "etcdserver: no inflight downgrade job"};
}

}  // namespace cairn::server::node
