#include "proto/raft_codec.h"

namespace cairn::proto {

raftpb::Entry to_pb(const raft::Entry& e) {
  raftpb::Entry out;
  out.set_term(e.term);
  out.set_index(e.index);
  out.set_type(static_cast<raftpb::EntryType>(e.type));
  out.set_data(e.data);
  return out;
}

raft::Entry from_pb(const raftpb::Entry& e) {
  return raft::Entry{e.term(), e.index(), static_cast<raft::EntryType>(e.type()), e.data()};
}

raftpb::HardState to_pb(const raft::HardState& hs) {
  raftpb::HardState out;
  out.set_term(hs.term);
  out.set_vote(hs.vote);
  out.set_commit(hs.commit);
  out.set_lost_tail(hs.lost_tail);
  return out;
}

raft::HardState from_pb(const raftpb::HardState& hs) {
  return {hs.term(), hs.vote(), hs.commit(), hs.lost_tail()};
}

raftpb::ConfState to_pb(const raft::ConfState& cs) {
  raftpb::ConfState out;
  for (auto v : cs.voters)
    out.add_voters(v);
  for (auto l : cs.learners)
    out.add_learners(l);
  return out;
}

raft::ConfState from_pb(const raftpb::ConfState& cs) {
  raft::ConfState out;
  out.voters.assign(cs.voters().begin(), cs.voters().end());
  out.learners.assign(cs.learners().begin(), cs.learners().end());
  return out;
}

raftpb::SnapshotMetadata to_pb(const raft::SnapshotMetadata& m) {
  raftpb::SnapshotMetadata out;
  *out.mutable_conf_state() = to_pb(m.conf_state);
  out.set_index(m.index);
  out.set_term(m.term);
  return out;
}

raft::SnapshotMetadata from_pb(const raftpb::SnapshotMetadata& m) {
  return {from_pb(m.conf_state()), m.index(), m.term()};
}

raftpb::Snapshot to_pb(const raft::Snapshot& s) {
  raftpb::Snapshot out;
  out.set_data(s.data);
  *out.mutable_metadata() = to_pb(s.metadata);
  return out;
}

raft::Snapshot from_pb(const raftpb::Snapshot& s) {
  return {s.data(), from_pb(s.metadata())};
}

raftpb::Message to_pb(const raft::Message& m) {
  raftpb::Message out;
  out.set_type(static_cast<raftpb::MessageType>(m.type));
  out.set_to(m.to);
  out.set_from(m.from);
  out.set_term(m.term);
  out.set_log_term(m.log_term);
  out.set_index(m.index);
  for (const auto& e : m.entries)
    *out.add_entries() = to_pb(e);
  out.set_commit(m.commit);
  if (!m.snapshot.empty()) *out.mutable_snapshot() = to_pb(m.snapshot);
  out.set_reject(m.reject);
  out.set_reject_hint(m.reject_hint);
  out.set_context(m.context);
  return out;
}

raft::Message from_pb(const raftpb::Message& m) {
  raft::Message out;
  out.type = static_cast<raft::MessageType>(m.type());
  out.to = m.to();
  out.from = m.from();
  out.term = m.term();
  out.log_term = m.log_term();
  out.index = m.index();
  out.entries.reserve(m.entries_size());
  for (const auto& e : m.entries())
    out.entries.push_back(from_pb(e));
  out.commit = m.commit();
  if (m.has_snapshot()) out.snapshot = from_pb(m.snapshot());
  out.reject = m.reject();
  out.reject_hint = m.reject_hint();
  out.context = m.context();
  return out;
}

namespace {
template <typename Pb>
std::optional<Pb> parse(std::string_view bytes) {
  Pb pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  return pb;
}
}  // namespace

std::string encode(const raft::Entry& e) {
  return to_pb(e).SerializeAsString();
}
std::optional<raft::Entry> decode_entry(std::string_view bytes) {
  auto pb = parse<raftpb::Entry>(bytes);
  if (!pb || !raftpb::EntryType_IsValid(pb->type())) return std::nullopt;
  return from_pb(*pb);
}
std::string encode(const raft::HardState& hs) {
  return to_pb(hs).SerializeAsString();
}
std::optional<raft::HardState> decode_hard_state(std::string_view bytes) {
  auto pb = parse<raftpb::HardState>(bytes);
  if (!pb) return std::nullopt;
  return from_pb(*pb);
}
std::string encode(const raft::SnapshotMetadata& m) {
  return to_pb(m).SerializeAsString();
}
std::optional<raft::SnapshotMetadata> decode_snapshot_metadata(std::string_view bytes) {
  auto pb = parse<raftpb::SnapshotMetadata>(bytes);
  if (!pb) return std::nullopt;
  return from_pb(*pb);
}
std::string encode(const raft::Message& m) {
  return to_pb(m).SerializeAsString();
}
std::optional<raft::Message> decode_message(std::string_view bytes) {
  auto pb = parse<raftpb::Message>(bytes);
  if (!pb || !raftpb::MessageType_IsValid(pb->type())) return std::nullopt;
  return from_pb(*pb);
}

}  // namespace cairn::proto
