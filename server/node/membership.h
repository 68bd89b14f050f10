// The member table: MemberInfo, how an applied conf change changes it, and its record in the WAL.
//
// The membership record a member keeps in its WAL's metadata (wal/wal.h: one blob, replaced whole and
// synced with every membership change), and that travels in raft snapshots (snapshot_files.h) and is
// written by an offline restore (restore.cc) for a new member.
//
// Layout (current): 0xC2 | u64 BE conf index | u32 BE n | n bytes raftpb.ConfState |
// etcdserverpb.MemberListResponse (header.cluster_id and header.member_id: whose membership; members: id,
// name, peer and client URLs, learner flag). The first layout has no marker and no conf index (it begins
// with the length, whose first byte is 0 for any ConfState under 16 MiB) and decodes with conf index 0.
// The conf index is the last conf-change entry the conf state and members reflect: a replay of older
// entries after a crash must not apply them again (node.h, apply_conf_entry).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/etcd/rpc.pb.h"
#include "raft/types.h"

namespace cairn::server::node {

struct MemberInfo {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool learner = false;
};

etcdserverpb::Member to_member_pb(const MemberInfo& m);
MemberInfo from_member_pb(const etcdserverpb::Member& pb);

// The member table after an applied conf change (raft's configuration changes beside it). `added`: the
// member the change's context names (nullopt: none; then `directory` has it when it is one of
// --initial-cluster, else it gets only its id). Add promotes a learner already in the table; AddLearner
// of a member already there changes nothing; Remove drops it; Update takes the context's peer URLs.
void apply_member_change(std::map<uint64_t, MemberInfo>& members, const raft::ConfChange& cc,
                         const std::optional<MemberInfo>& added, const std::vector<MemberInfo>& directory);

struct WalMetadata {
  raft::ConfState conf_state;
  uint64_t conf_index = 0;
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;  // 0 in a blob that names no member
  std::vector<MemberInfo> members;
};

std::string encode_wal_metadata(const raft::ConfState& conf_state, uint64_t conf_index, uint64_t cluster_id,
                                uint64_t member_id, const std::vector<MemberInfo>& members);
// nullopt: the blob does not decode (cut, or not protobuf where the layout says so).
std::optional<WalMetadata> decode_wal_metadata(std::string_view blob);

}  // namespace cairn::server::node
