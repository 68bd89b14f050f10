// Data-corruption detection (etcd's --experimental-initial-corrupt-check and
// --experimental-corrupt-check-time, etcdserver/corrupt.go): the comparison rules, as pure functions of
// the hashes collected, so they are unit-tested without a cluster (tests/server/corrupt_test.cc).
//
// A HashKV at revision R is a hash of every key record at or below R; two members that applied the same
// log agree on it as long as they compacted to the same revision (compaction drops history below it).
// So hashes are compared only between members whose compact revision is the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::server::corrupt {

// This member's HashKV at `revision` (its current revision when taken) and its compact revision.
struct LocalHash {
  uint32_t hash = 0;
  int64_t revision = 0;
  int64_t compact_revision = -1;
};

// A peer's answer to HashKV(local.revision): the hash at that revision, and the peer's own current and
// compact revisions (the response header's revision and compact_revision).
struct PeerHash {
  uint64_t member_id = 0;
  uint32_t hash = 0;
  int64_t revision = 0;
  int64_t compact_revision = -1;
};

struct InitialVerdict {
  std::vector<uint64_t> mismatched;  // peers whose hash differs at the same compaction
  std::vector<std::string> notes;    // hashes that could not be compared, for the log
};

// Before serving: a peer that compacted to the same revision must have the same hash. (Peers that did
// not answer, were behind (future revision) or compacted past the revision are skipped by the caller.)
InitialVerdict judge_initial(const LocalHash& local, const std::vector<PeerHash>& peers);

// The leader's periodic check. `before` and `after` are its own hash taken before and after asking the
// peers. Returns the members to raise CORRUPT for: the leader itself when its hash changed without a new
// revision or compaction; a peer ahead of the leader (higher revision or compact revision than the
// leader's, which a follower cannot be); a peer with the leader's compaction but another hash.
std::vector<uint64_t> judge_periodic(const LocalHash& before, const LocalHash& after, uint64_t leader_id,
                                     const std::vector<PeerHash>& peers);

}  // namespace cairn::server::corrupt
