// Conversion between the Raft core's plain types (raft/types.h) and their protobuf wire/disk form
// (proto/raftpb.proto). Decoding reports malformed input as nullopt, never throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proto/raftpb.pb.h"
#include "raft/types.h"

namespace cairn::proto {

raftpb::Entry to_pb(const raft::Entry& e);
raft::Entry from_pb(const raftpb::Entry& e);
raftpb::HardState to_pb(const raft::HardState& hs);
raft::HardState from_pb(const raftpb::HardState& hs);
raftpb::ConfState to_pb(const raft::ConfState& cs);
raft::ConfState from_pb(const raftpb::ConfState& cs);
raftpb::SnapshotMetadata to_pb(const raft::SnapshotMetadata& m);
raft::SnapshotMetadata from_pb(const raftpb::SnapshotMetadata& m);
raftpb::Snapshot to_pb(const raft::Snapshot& s);
raft::Snapshot from_pb(const raftpb::Snapshot& s);
raftpb::Message to_pb(const raft::Message& m);
raft::Message from_pb(const raftpb::Message& m);

// Serialized forms, for the WAL and the peer transport.
std::string encode(const raft::Entry& e);
std::optional<raft::Entry> decode_entry(std::string_view bytes);
std::string encode(const raft::HardState& hs);
std::optional<raft::HardState> decode_hard_state(std::string_view bytes);
std::string encode(const raft::SnapshotMetadata& m);
std::optional<raft::SnapshotMetadata> decode_snapshot_metadata(std::string_view bytes);
std::string encode(const raft::Message& m);
std::optional<raft::Message> decode_message(std::string_view bytes);

}  // namespace cairn::proto
