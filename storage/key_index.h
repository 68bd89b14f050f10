// The in-memory key index: for every user key, the revisions at which it was written, grouped into
// generations. It answers "which record holds key K as of revision R" without touching the engine,
// and it decides what compaction may drop. It is rebuilt from Space::kKeys on open.
//
// A generation is one life of a key: from the put that (re-)creates it to the delete that ends it.
// The last generation of a key is the open one; it is empty when the key is currently deleted.
// `version` counts every put of the generation plus its tombstone, so a put's version is
// `version - (number of revisions after it in the generation)`.
//
// Worked example (main revisions only; every sub is 0):
//
//   rev 2  put  foo     generations: {created 2, version 1, revs [2]}
//   rev 3  put  foo                  {created 2, version 2, revs [2, 3]}
//   rev 4  del  foo                  {created 2, version 3, revs [2, 3, 4(t)]}  {empty}
//   rev 6  put  foo                  {created 2, ..., revs [2, 3, 4(t)]}  {created 6, version 1, revs [6]}
//
//   get(foo, at 3) -> mod 3, create 2, version 2     (first generation, newest rev <= 3)
//   get(foo, at 4) -> not found                      (the tombstone 4 <= 4 ends that life)
//   get(foo, at 5) -> not found                      (no generation covers 5)
//   get(foo, at 7) -> mod 6, create 6, version 1     (delete then re-create starts over at version 1)
//
// Compaction at revision C keeps, per key, the newest revision <= C (so reads at C still work) and
// drops everything older. A generation whose tombstone is <= C is dropped entirely, tombstone
// included, because no read at >= C can see any of it:
//
//   compact(3): {revs [3, 4(t)]} {revs [6]}     (2 dropped; 3 is what a read at 3 returns)
//   compact(4): {revs [6]}                      (the first generation ended at 4 <= 4: all dropped)
//   compact(5): {revs [6]}                      (same; nothing <= 5 remains visible)
//   compact(7): {revs [6]}                      (6 is the newest <= 7 and must stay)
//
// A key whose only generation is the empty open one has no history left and is removed from the
// tree by the caller (TreeIndex::compact).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/revision.h"

namespace cairn::storage {

struct IndexHit {
  Revision modified;
  int64_t create_revision = 0;
  int64_t version = 0;
};

// One revision of a key, with the size of its kKeys record (engine key + value bytes), so that
// compaction knows how much logical size it frees without reading the records back.
struct IndexedRevision {
  Revision rev;
  uint32_t record_bytes = 0;
};

// A revision a compaction removed: whether it is a tombstone record (for its engine key) and the size
// of that record.
struct RemovedRevision {
  Revision rev;
  bool tombstone = false;
  uint32_t record_bytes = 0;
};

class KeyIndex {
 public:
  struct Generation {
    int64_t version = 0;
    int64_t created = 0;  // main revision of the put that started this life
    std::vector<IndexedRevision> revs;
  };

  // Records a put at `rev` whose record takes `record_bytes` (starting a new generation if the key is
  // currently deleted).
  void put(Revision rev, uint32_t record_bytes);
  // Like put(), but for rebuilding from a record whose older history may be compacted away:
  // a new generation starts at `created` with `version` as the put's version.
  void restore_put(Revision rev, uint32_t record_bytes, int64_t created, int64_t version);
  // Records a delete at `rev`. Precondition: the key is live.
  void tombstone(Revision rev, uint32_t record_bytes);

  std::optional<IndexHit> get(int64_t at_main) const;
  // Whether the key is live at the newest revision.
  bool live() const;
  // Whether `rev` is still in this key's history (false once compaction dropped it).
  bool holds(Revision rev) const;

  // Drops history as described in the header comment; appends removed revisions to `removed`.
  void compact(int64_t at_main, std::vector<RemovedRevision>* removed);
  // True when nothing but an empty open generation is left.
  bool empty() const;

  const std::vector<Generation>& generations() const { return generations_; }
  // More than one revision: a compaction may drop some of them.
  bool has_history() const { return generations_.size() > 1 || generations_[0].revs.size() > 1; }

 private:
  friend class TreeIndex;
  std::vector<Generation> generations_{Generation{}};
  bool listed_ = false;  // in TreeIndex::historied_
};

// All keys, ordered byte-wise. `end` follows etcd: empty means the single key `key`,
// "\0" means every key >= `key`.
//
// Compaction visits only the keys it can change: a key with a single revision (one put, never
// overwritten nor deleted) keeps it whatever the compaction revision, so only keys with two revisions
// or more are listed for the next compaction (`historied_`, 8 bytes each). A store of a million keys
// written once compacts without walking them; periodic compactions cost what was written since.
class TreeIndex {
 public:
  using Slot = std::map<std::string, KeyIndex, std::less<>>::iterator;
  // The key's entry, created empty if absent; stable until compaction removes the key.
  Slot slot(const std::string& key) { return keys_.try_emplace(key).first; }
  // KeyIndex's mutations, through the tree so that it knows which keys have history.
  void put(Slot s, Revision rev, uint32_t record_bytes);
  void restore_put(Slot s, Revision rev, uint32_t record_bytes, int64_t created, int64_t version);
  void tombstone(Slot s, Revision rev, uint32_t record_bytes);
  const KeyIndex* find(std::string_view key) const;

  // Visits keys in [key, end) that are live at `at_main`, in key order, until `fn` returns false.
  template <typename Fn>
  void range(const std::string& key, const std::string& end, int64_t at_main, Fn&& fn) const;

  // Compacts every key (KeyIndex::compact) and removes keys left without history. `removed` gets
  // the dropped revisions key by key, each key's oldest first.
  void compact(int64_t at_main, std::vector<RemovedRevision>* removed);

  size_t size() const { return keys_.size(); }
  // Keys the next compaction visits (two revisions or more).
  size_t historied() const { return historied_.size(); }

 private:
  void note_history(Slot s);

  std::map<std::string, KeyIndex, std::less<>> keys_;
  std::vector<Slot> historied_;  // keys with KeyIndex::listed_ set, each once
};

inline bool is_from_key(const std::string& end) {
  return end.size() == 1 && end[0] == '\0';
}

template <typename Fn>
void TreeIndex::range(const std::string& key, const std::string& end, int64_t at_main, Fn&& fn) const {
  if (end.empty()) {
    auto it = keys_.find(key);
    if (it == keys_.end()) return;
    if (auto hit = it->second.get(at_main)) fn(it->first, *hit);
    return;
  }
  const bool unbounded = is_from_key(end);
  if (!unbounded && end <= key) return;
  for (auto it = keys_.lower_bound(key); it != keys_.end(); ++it) {
    if (!unbounded && it->first >= end) break;
    if (auto hit = it->second.get(at_main)) {
      if (!fn(it->first, *hit)) return;
    }
  }
}

}  // namespace cairn::storage
