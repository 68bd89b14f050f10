#include "storage/key_index.h"

#include "base/assert.h"

namespace cairn::storage {

void KeyIndex::put(Revision rev) {
  Generation& g = generations_.back();
  if (!g.revs.empty()) CAIRN_ASSERT(g.revs.back() < rev);
  if (g.revs.empty()) g.created = rev.main;
  g.revs.push_back(rev);
  ++g.version;
}

void KeyIndex::restore_put(Revision rev, int64_t created, int64_t version) {
  Generation& g = generations_.back();
  if (g.revs.empty()) {
    g.created = created;
    g.version = version;
    g.revs.push_back(rev);
    return;
  }
  put(rev);
}

void KeyIndex::tombstone(Revision rev) {
  CAIRN_ASSERT(live());
  put(rev);
  generations_.push_back(Generation{});
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
    if (gi != last && g.revs.back().main <= at_main) return std::nullopt;
    if (g.revs.front().main > at_main) continue;
    // Newest revision <= at_main inside this generation.
    size_t n = g.revs.size();
    while (n > 0 && g.revs[n - 1].main > at_main)
      --n;
    CAIRN_ASSERT(n > 0);
    const size_t idx = n - 1;
    IndexHit hit;
    hit.modified = g.revs[idx];
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
  while (gi < last && !generations_[gi].revs.empty() && generations_[gi].revs.back().main <= at_main) {
    const Generation& g = generations_[gi];
    for (size_t i = 0; i < g.revs.size(); ++i) {
      removed->push_back(RemovedRevision{g.revs[i], i + 1 == g.revs.size()});
    }
    ++gi;
  }
  generations_.erase(generations_.begin(), generations_.begin() + static_cast<std::ptrdiff_t>(gi));
  // In the first remaining generation keep the newest revision <= at_main, drop the older ones.
  Generation& g = generations_.front();
  size_t n = 0;
  while (n < g.revs.size() && g.revs[n].main <= at_main)
    ++n;
  if (n > 1) {
    for (size_t i = 0; i + 1 < n; ++i)
      removed->push_back(RemovedRevision{g.revs[i], false});
    g.revs.erase(g.revs.begin(), g.revs.begin() + static_cast<std::ptrdiff_t>(n - 1));
  }
}

bool KeyIndex::empty() const {
  return generations_.size() == 1 && generations_[0].revs.empty();
}

const KeyIndex* TreeIndex::find(const std::string& key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

void TreeIndex::compact(int64_t at_main, std::vector<std::pair<std::string, RemovedRevision>>* removed) {
  std::vector<RemovedRevision> scratch;
  for (auto it = keys_.begin(); it != keys_.end();) {
    scratch.clear();
    it->second.compact(at_main, &scratch);
    for (const RemovedRevision& r : scratch)
      removed->emplace_back(it->first, r);
    if (it->second.empty()) {
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace cairn::storage
