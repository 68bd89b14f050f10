#include "server/corrupt/verdict.h"

#include <algorithm>

namespace cairn::server::corrupt {

InitialVerdict judge_initial(const LocalHash& local, const std::vector<PeerHash>& peers) {
  InitialVerdict v;
  for (const auto& p : peers) {
    if (p.hash == local.hash) continue;
    if (p.compact_revision == local.compact_revision) {
      v.mismatched.push_back(p.member_id);
    } else {
      v.notes.push_back("cannot compare hashes with member " + std::to_string(p.member_id) +
                        ": different compact revisions (" + std::to_string(local.compact_revision) +
                        " here, " + std::to_string(p.compact_revision) + " there)");
    }
  }
  return v;
}

std::vector<uint64_t> judge_periodic(const LocalHash& before, const LocalHash& after, uint64_t leader_id,
                                     const std::vector<PeerHash>& peers) {
  std::vector<uint64_t> out;
  auto add = [&](uint64_t id) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  };
  if (after.hash != before.hash && after.revision == before.revision &&
      after.compact_revision == before.compact_revision)
    add(leader_id);
  for (const auto& p : peers) {
    if (p.revision > after.revision || p.compact_revision > after.compact_revision) add(p.member_id);
    if (p.compact_revision == before.compact_revision && p.hash != before.hash) add(p.member_id);
  }
  return out;
}

}  // namespace cairn::server::corrupt
