#include "server/node/membership.h"

#include "base/bytes.h"
#include "proto/raft_codec.h"

namespace cairn::server::node {

namespace {
constexpr unsigned char kMetadataV2 = 0xC2;

}  // namespace

etcdserverpb::Member to_member_pb(const MemberInfo& m) {
  etcdserverpb::Member pb;
  pb.set_id(m.id);
  pb.set_name(m.name);
  for (const auto& u : m.peer_urls)
    pb.add_peerurls(u);
  for (const auto& u : m.client_urls)
    pb.add_clienturls(u);
  pb.set_islearner(m.learner);
  return pb;
}

MemberInfo from_member_pb(const etcdserverpb::Member& pb) {
  MemberInfo m;
  m.id = pb.id();
  m.name = pb.name();
  m.peer_urls.assign(pb.peerurls().begin(), pb.peerurls().end());
  m.client_urls.assign(pb.clienturls().begin(), pb.clienturls().end());
  m.learner = pb.islearner();
  return m;
}

void apply_member_change(std::map<uint64_t, MemberInfo>& members, const raft::ConfChange& cc,
                         const std::optional<MemberInfo>& added, const std::vector<MemberInfo>& directory) {
  auto named = [&]() -> MemberInfo {
    MemberInfo m;
    if (added) {
      m = *added;
    } else {
      for (const auto& d : directory)
        if (d.id == cc.node_id) m = d;
    }
    m.id = cc.node_id;
    return m;
  };
  switch (cc.type) {
    case raft::ConfChangeType::kAddNode: {
      auto it = members.find(cc.node_id);
      if (it != members.end()) {
        it->second.learner = false;
      } else {
        MemberInfo m = named();
        m.learner = false;
        members[m.id] = m;
      }
      break;
    }
    case raft::ConfChangeType::kAddLearnerNode:
      if (!members.count(cc.node_id)) {
        MemberInfo m = named();
        m.learner = true;
        members[m.id] = m;
      }
      break;
    case raft::ConfChangeType::kRemoveNode:
      members.erase(cc.node_id);
      break;
    case raft::ConfChangeType::kUpdateNode:
      if (added && members.count(cc.node_id)) members[cc.node_id].peer_urls = added->peer_urls;
      break;
  }
}

std::string encode_wal_metadata(const raft::ConfState& conf_state, uint64_t conf_index, uint64_t cluster_id,
                                uint64_t member_id, const std::vector<MemberInfo>& members) {
  std::string cs = proto::to_pb(conf_state).SerializeAsString();
  etcdserverpb::MemberListResponse ml;
  ml.mutable_header()->set_cluster_id(cluster_id);
  ml.mutable_header()->set_member_id(member_id);
  for (const auto& m : members)
    *ml.add_members() = to_member_pb(m);
  std::string blob;
  blob.push_back(static_cast<char>(kMetadataV2));
  base::append_be(blob, conf_index, 8);
  base::append_be(blob, cs.size(), 4);
  blob += cs;
  blob += ml.SerializeAsString();
  return blob;
}

std::optional<WalMetadata> decode_wal_metadata(std::string_view blob) {
  WalMetadata out;
  if (!blob.empty() && static_cast<unsigned char>(blob[0]) == kMetadataV2) {
    if (blob.size() < 9) return std::nullopt;
    out.conf_index = base::get_be(blob, 1, 8);
    blob.remove_prefix(9);
  }
  if (blob.size() < 4) return std::nullopt;
  const uint64_t n = base::get_be(blob, 0, 4);
  if (blob.size() - 4 < n) return std::nullopt;
  raftpb::ConfState cs;
  if (!cs.ParseFromArray(blob.data() + 4, static_cast<int>(n))) return std::nullopt;
  etcdserverpb::MemberListResponse ml;
  if (!ml.ParseFromArray(blob.data() + 4 + n, static_cast<int>(blob.size() - 4 - n))) return std::nullopt;
  out.conf_state = proto::from_pb(cs);
  out.cluster_id = ml.header().cluster_id();
  out.member_id = ml.header().member_id();
  for (const auto& m : ml.members())
    out.members.push_back(from_member_pb(m));
  return out;
}

}  // namespace cairn::server::node
