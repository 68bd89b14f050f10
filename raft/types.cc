#include "raft/types.h"

#include <cstring>

namespace cairn::raft {

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::kHup:
      return "MsgHup";
    case MessageType::kBeat:
      return "MsgBeat";
    case MessageType::kProp:
      return "MsgProp";
    case MessageType::kApp:
      return "MsgApp";
    case MessageType::kAppResp:
      return "MsgAppResp";
    case MessageType::kVote:
      return "MsgVote";
    case MessageType::kVoteResp:
      return "MsgVoteResp";
    case MessageType::kSnap:
      return "MsgSnap";
    case MessageType::kHeartbeat:
      return "MsgHeartbeat";
    case MessageType::kHeartbeatResp:
      return "MsgHeartbeatResp";
    case MessageType::kUnreachable:
      return "MsgUnreachable";
    case MessageType::kSnapStatus:
      return "MsgSnapStatus";
    case MessageType::kCheckQuorum:
      return "MsgCheckQuorum";
    case MessageType::kTransferLeader:
      return "MsgTransferLeader";
    case MessageType::kTimeoutNow:
      return "MsgTimeoutNow";
    case MessageType::kReadIndex:
      return "MsgReadIndex";
    case MessageType::kReadIndexResp:
      return "MsgReadIndexResp";
    case MessageType::kPreVote:
      return "MsgPreVote";
    case MessageType::kPreVoteResp:
      return "MsgPreVoteResp";
    case MessageType::kLostTail:
      return "MsgLostTail";
    case MessageType::kLostTailResp:
      return "MsgLostTailResp";
  }
  return "MsgUnknown";
}

const char* to_string(StateRole r) {
  switch (r) {
    case StateRole::kFollower:
      return "Follower";
    case StateRole::kPreCandidate:
      return "PreCandidate";
    case StateRole::kCandidate:
      return "Candidate";
    case StateRole::kLeader:
      return "Leader";
  }
  return "Unknown";
}

const char* to_string(Error e) {
  switch (e) {
    case Error::kProposalDropped:
      return "raft proposal dropped";
    case Error::kConfChangePending:
      return "raft: a configuration change is already pending";
    case Error::kCompacted:
      return "requested index is unavailable due to compaction";
    case Error::kUnavailable:
      return "requested entry at index is unavailable";
    case Error::kSnapshotTemporarilyUnavailable:
      return "snapshot is temporarily unavailable";
    case Error::kStepLocalMsg:
      return "raft: cannot step raft local message";
    case Error::kStepPeerNotFound:
      return "raft: cannot step as peer not found";
    case Error::kUncommittedBytesExceeded:
      return "raft proposal dropped: uncommitted entries over the byte budget";
    case Error::kInvalidConfChange:
      return "raft: invalid configuration change";
    case Error::kMalformedMessage:
      return "raft: malformed message from a peer";
  }
  return "raft: unknown error";
}

namespace {
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= uint64_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}
}  // namespace

std::string ConfChange::encode() const {
  std::string out;
  out.reserve(17 + context.size());
  out.push_back(static_cast<char>(type));
  put_u64(out, node_id);
  put_u64(out, id);
  out += context;
  return out;
}

std::optional<ConfChange> ConfChange::decode(std::string_view data) {
  if (data.size() < 17) return std::nullopt;
  auto t = static_cast<uint8_t>(data[0]);
  if (t > static_cast<uint8_t>(ConfChangeType::kAddLearnerNode)) return std::nullopt;
  ConfChange cc;
  cc.type = static_cast<ConfChangeType>(t);
  cc.node_id = get_u64(data, 1);
  cc.id = get_u64(data, 9);
  cc.context = std::string(data.substr(17));
  return cc;
}

std::string describe(const Entry& e) {
  std::string s = std::to_string(e.term) + "/" + std::to_string(e.index);
  if (e.type == EntryType::kConfChange) {
    auto cc = ConfChange::decode(e.data);
    if (cc) {
      static const char* names[] = {"add", "remove", "update", "learner"};
      s += std::string(" conf:") + names[static_cast<int>(cc->type)] + std::to_string(cc->node_id);
    } else {
      s += " conf:?";
    }
  } else if (e.data.empty()) {
    s += " EntryNormal";
  } else {
    s += " " + (e.data.size() <= 24 ? e.data : e.data.substr(0, 24) + "...");
  }
  return s;
}

std::string describe(const Message& m) {
  std::string s = std::to_string(m.from) + "->" + std::to_string(m.to) + " " + to_string(m.type) +
                  " Term:" + std::to_string(m.term) + " Log:" + std::to_string(m.log_term) + "/" +
                  std::to_string(m.index);
  if (m.commit != 0) s += " Commit:" + std::to_string(m.commit);
  if (m.reject) s += " Rejected (Hint: " + std::to_string(m.reject_hint) + ")";
  if (!m.entries.empty()) {
    s += " Entries:[";
    for (size_t i = 0; i < m.entries.size(); ++i) {
      if (i) s += ", ";
      s += describe(m.entries[i]);
    }
    s += "]";
  }
  if (!m.snapshot.empty()) {
    s += " Snapshot: Index:" + std::to_string(m.snapshot.metadata.index) +
         " Term:" + std::to_string(m.snapshot.metadata.term);
  }
  return s;
}

}  // namespace cairn::raft
