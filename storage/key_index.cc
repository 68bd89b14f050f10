#include "storage/key_index.h"

#include <algorithm>

#include "base/assert.h"

namespace cairn::storage {

void KeyIndex::put(Revision rev, uint32_t record_bytes) {
  Generation& g = generations_.back();
  if (!g.revs.empty()) CAIRN_ASSERT(g.revs.back().rev < rev);
  if (g.revs.empty()) g.created = rev.main;
  g.revs.push_back(IndexedRevision{rev, record_bytes});
  ++g.version;
}

void KeyIndex::restore_put(Revision rev, uint32_t record_bytes, int64_t created, int64_t version) {
  Generation& g = generations_.back();
  if (g.revs.empty()) {
    g.created = created;
    g.version = version;
    g.revs.push_back(IndexedRevision{rev, record_bytes});
    return;
  }
  put(rev, record_bytes);
}

void KeyIndex::tombstone(Revision rev, uint32_t record_bytes) {
  CAIRN_ASSERT(live());
  put(rev, record_bytes);
  generations_.push_back(Generation{});
}

bool KeyIndex::holds(Revision rev) const {
  for (const Generation& g : generations_) {
    if (g.revs.empty() || g.revs.back().rev < rev) continue;
    auto it = std::lower_bound(g.revs.begin(), g.revs.end(), rev,
                               [](const IndexedRevision& r, Revision want) { return r.rev < want; });
    return it != g.revs.end() && it->rev == rev;
  }
  return false;
}

bool KeyIndex::live() const {
  return !generations_.back().revs.empty();
}

std::optional<IndexHit> KeyIndex::get(int64_t at_main) const {
  const int last = static_cast<int>(generations_.size()) - 1;
  for (int gi = last; gi >= 0; --gi) {
    const Generation& g = generations_[gi];
    if (g.revs.empty()) continue;
    // A closed generation whose tombstone is at or before at_main: the key is deleted there, and
    // no older generation can be visible either.
    if (gi != last && g.revs.back().rev.main <= at_main) return std::nullopt;
    if (g.revs.front().rev.main > at_main) continue;
    // Newest revision <= at_main inside this generation.
    size_t n = g.revs.size();
    while (n > 0 && g.revs[n - 1].rev.main > at_main)
      --n;
    CAIRN_ASSERT(n > 0);
    const size_t idx = n - 1;
    IndexHit hit;
    hit.modified = g.revs[idx].rev;
    hit.create_revision = g.created;
    hit.version = g.version - static_cast<int64_t>(g.revs.size() - 1 - idx);
    return hit;
  }
  return std::nullopt;
}

void KeyIndex::compact(int64_t at_main, std::vector<RemovedRevision>* removed) {
  const size_t last = generations_.size() - 1;
  size_t gi = 0;
  // Closed generations that ended at or before at_main are invisible to every read >= at_main.
  while (gi < last && !generations_[gi].revs.empty() && generations_[gi].revs.back().rev.main <= at_main) {
    const Generation& g = generations_[gi];
    for (size_t i = 0; i < g.revs.size(); ++i) {
      removed->push_back(RemovedRevision{g.revs[i].rev, i + 1 == g.revs.size(), g.revs[i].record_bytes});
    }
    ++gi;
  }
  generations_.erase(generations_.begin(), generations_.begin() + static_cast<std::ptrdiff_t>(gi));
  // In the first remaining generation keep the newest revision <= at_main, drop the older ones.
  Generation& g = generations_.front();
  size_t n = 0;
  while (n < g.revs.size() && g.revs[n].rev.main <= at_main)
    ++n;
  if (n > 1) {
    for (size_t i = 0; i + 1 < n; ++i)
      removed->push_back(RemovedRevision{g.revs[i].rev, false, g.revs[i].record_bytes});
    g.revs.erase(g.revs.begin(), g.revs.begin() + static_cast<std::ptrdiff_t>(n - 1));
  }
}

bool KeyIndex::empty() const {
  return generations_.size() == 1 && generations_[0].revs.empty();
}

const KeyIndex* TreeIndex::find(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

void TreeIndex::note_history(Slot s) {
  if (s->second.listed_ || !s->second.has_history()) return;
  s->second.listed_ = true;
  historied_.push_back(s);
}

void TreeIndex::put(Slot s, Revision rev, uint32_t record_bytes) {
  s->second.put(rev, record_bytes);
  note_history(s);
}

void TreeIndex::restore_put(Slot s, Revision rev, uint32_t record_bytes, int64_t created, int64_t version) {
  s->second.restore_put(rev, record_bytes, created, version);
  note_history(s);
}

void TreeIndex::tombstone(Slot s, Revision rev, uint32_t record_bytes) {
  s->second.tombstone(rev, record_bytes);
  note_history(s);
}

// Keys without history are not visited: a single revision is always kept, and only a key with history
// can end up empty (a generation closed by its tombstone).
void TreeIndex::compact(int64_t at_main, std::vector<RemovedRevision>* removed) {
  std::vector<Slot> still;
  for (Slot s : historied_) {
    s->second.compact(at_main, removed);
    if (s->second.empty()) {
      keys_.erase(s);
    } else if (s->second.has_history()) {
      still.push_back(s);
    } else {
      s->second.listed_ = false;
    }
  }
  historied_.swap(still);
}

}  // namespace cairn::storage
