// One size policy for client requests, from the client port to the WAL and the peer transport.
//
// A request becomes one raft entry: its body (at most --max-request-bytes) inside an envelope (entry kind,
// request id, origin member, the caller's user name and auth revision; request_codec.h), written to the
// WAL as one record and sent to followers in a MsgApp of its own (raft's append_bytes_max batches only
// entries that fit under it; a larger entry goes alone). So every accepted entry must fit in
//   - a WAL record: wal::WalOptions::record_bytes_max (16 MiB), and
//   - a peer frame: net::PeerTransportOptions::frame_bytes_max, raised here to a WAL record plus
//     kPeerFrameOverheadBytes for the MsgApp fields around the entry.
// Before this policy a Put between 8 and 16 MiB was dropped by the transport for good (replication stopped
// behind it) and a larger one failed the leader's WAL append (the member aborted).
//
// Enforced twice: at startup, --max-request-bytes above kMaxRequestBytesLimit is refused with a message
// naming the limit (server/app); at propose, an encoded entry above kEntryBytesMax (a huge user name on top
// of a body at the limit) gets etcd's "etcdserver: request is too large" instead of reaching the WAL.
#pragma once

#include <cstdint>

namespace cairn::server::node {

// wal::WalOptions{}.record_bytes_max, the WAL the node opens (node.cc static_asserts they agree).
inline constexpr uint64_t kWalRecordBytesMax = 16ull << 20;
// What raft's entry encoding adds around the payload in a WAL record (index, term, type, field tags).
inline constexpr uint64_t kEntryRecordOverheadBytes = 1024;
// Largest encoded entry payload (envelope + body) a member proposes.
inline constexpr uint64_t kEntryBytesMax = kWalRecordBytesMax - kEntryRecordOverheadBytes;
// Room left for the envelope when the body is at --max-request-bytes.
inline constexpr uint64_t kEntryEnvelopeBytes = 64 * 1024;
// The largest --max-request-bytes a member starts with: 16 MiB - 65 KiB = 16,710,656 bytes.
inline constexpr uint64_t kMaxRequestBytesLimit = kEntryBytesMax - kEntryEnvelopeBytes;
// Peer frames carry one WAL record's worth of entry plus the MsgApp around it.
inline constexpr uint64_t kPeerFrameOverheadBytes = 64 * 1024;
inline constexpr uint64_t kPeerFrameBytesMax = kWalRecordBytesMax + kPeerFrameOverheadBytes;

}  // namespace cairn::server::node
