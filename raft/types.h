// The Raft core's data types: log entries, messages, hard state, snapshots and configuration.
// These are plain values with no dependency on protobuf; proto/raftpb.proto is their wire and disk
// form and proto/raft_codec.h converts between the two.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace cairn::raft {

using NodeId = uint64_t;
using Term = uint64_t;
using Index = uint64_t;

// NodeId 0 means "nobody": no vote cast, no leader known.
inline constexpr NodeId kNone = 0;

enum class EntryType : uint8_t { kNormal = 0, kConfChange = 1 };

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  // Bytes an entry counts for in size limits (payload plus a fixed per-entry overhead).
  uint64_t size_bytes() const { return data.size() + 24; }
  bool operator==(const Entry&) const = default;
};

struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  bool operator==(const ConfState&) const = default;
};

struct SnapshotMetadata {
  ConfState conf_state;
  Index index = 0;
  Term term = 0;
  bool operator==(const SnapshotMetadata&) const = default;
};

struct Snapshot {
  std::string data;
  SnapshotMetadata metadata;
  bool empty() const { return metadata.index == 0; }
  bool operator==(const Snapshot&) const = default;
};

// The state every member must make durable before it answers the messages of the same Ready.
struct HardState {
  Term term = 0;
  NodeId vote = kNone;
  Index commit = 0;
  // The member's log may lack entries it acknowledged: its storage lost a tail that had been synced
  // (found by WAL repair, or by a leader's commit index beyond the log). Until it has caught up from a
  // leader it neither votes nor campaigns (raft/lost_tail.h). Cleared by the core once caught up.
  bool lost_tail = false;
  bool empty() const { return term == 0 && vote == kNone && commit == 0 && !lost_tail; }
  bool operator==(const HardState&) const = default;
};

enum class MessageType : uint8_t {
  kHup = 0,      // local: start an election
  kBeat = 1,     // local: leader sends heartbeats
  kProp = 2,     // proposal (local, or forwarded by a follower)
  kApp = 3,      // AppendEntries
  kAppResp = 4,  // AppendEntries response
  kVote = 5,     // RequestVote
  kVoteResp = 6,
  kSnap = 7,  // InstallSnapshot
  kHeartbeat = 8,
  kHeartbeatResp = 9,
  kUnreachable = 10,     // local: transport could not reach a peer
  kSnapStatus = 11,      // local: result of sending a snapshot
  kCheckQuorum = 12,     // local: leader checks it still hears from a quorum
  kTransferLeader = 13,  // local or forwarded: move leadership
  kTimeoutNow = 14,      // leader tells the transferee to campaign now
  kReadIndex = 15,       // linearizable read request
  kReadIndexResp = 16,
  kPreVote = 17,
  kPreVoteResp = 18,
  // A member whose log lost its tail tells the leader where the log really ends (index, log_term):
  // acknowledgements it sent above that are void. Sent only once that log is durable.
  kLostTail = 19,
  // The leader's answer: the member has caught up once its log matches the leader's through index.
  kLostTailResp = 20,
};

const char* to_string(MessageType t);

struct Message {
  MessageType type = MessageType::kHup;
  NodeId to = kNone;
  NodeId from = kNone;
  Term term = 0;
  Term log_term = 0;
  Index index = 0;
  std::vector<Entry> entries;
  Index commit = 0;
  Snapshot snapshot;  // only for kSnap
  bool reject = false;
  Index reject_hint = 0;
  std::string context;
  bool operator==(const Message&) const = default;
};

enum class ConfChangeType : uint8_t {
  kAddNode = 0,
  kRemoveNode = 1,
  kUpdateNode = 2,
  kAddLearnerNode = 3,
};

struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddNode;
  NodeId node_id = kNone;
  std::string context;
  uint64_t id = 0;
  bool operator==(const ConfChange&) const = default;

  // The form a conf change takes inside an Entry of type kConfChange. Layout (little-endian):
  //   u8 type | u64 node_id | u64 id | context bytes (rest of the entry)
  // The core owns this encoding because it must read pending changes without a codec.
  std::string encode() const;
  static std::optional<ConfChange> decode(std::string_view data);
};

// Result of a ReadIndex request: once the applied index reaches `index`, a read that was requested
// with `request_ctx` may be served from the local state machine and is linearizable.
struct ReadState {
  Index index = 0;
  std::string request_ctx;
  bool operator==(const ReadState&) const = default;
};

enum class StateRole : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* to_string(StateRole r);

struct SoftState {
  NodeId lead = kNone;
  StateRole role = StateRole::kFollower;
  bool operator==(const SoftState&) const = default;
};

// Errors the core reports to callers as values.
enum class Error : uint8_t {
  kProposalDropped,    // no leader, leader transfer in progress, or proposal forwarding disabled
  kConfChangePending,  // a configuration change is already in flight
  kCompacted,          // requested index is below the first available index
  kUnavailable,        // requested entries are not (yet) in storage
  kSnapshotTemporarilyUnavailable,
  kStepLocalMsg,              // a network message carried a local-only type
  kStepPeerNotFound,          // a response came from a node that is not in the configuration
  kInvalidConfChange,         // change rejected by validation (e.g. removing the last voter)
  kUncommittedBytesExceeded,  // the leader's uncommitted entries are at Config::uncommitted_bytes_max
  // A peer's message that breaks the protocol's rules (a proposal without entries, an append with gaps
  // or rewriting committed entries, an acknowledgement past the leader's log, ...): dropped, state
  // untouched. Only a faulty or hostile peer sends one; the caller counts and reports it.
  kMalformedMessage,
};
const char* to_string(Error e);

// Describes entries as "term/index" lists in transcripts and failure messages.
std::string describe(const Entry& e);
std::string describe(const Message& m);

}  // namespace cairn::raft
