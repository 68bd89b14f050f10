#include "raft/log_storage.h"

#include <algorithm>

#include "base/assert.h"

namespace cairn::raft {

void limit_size(std::vector<Entry>& entries, uint64_t max_bytes) {
  if (entries.empty()) return;
  uint64_t total = entries[0].size_bytes();
  size_t keep = 1;
  for (; keep < entries.size(); ++keep) {
    total += entries[keep].size_bytes();
    if (total > max_bytes) break;
  }
  entries.resize(keep);
}

MemoryStorage::MemoryStorage() {
  entries_.push_back(Entry{});
}

InitialState MemoryStorage::initial_state() const {
  return {hard_state_, snapshot_.metadata.conf_state};
}

Index MemoryStorage::first_index() const {
  return entries_[0].index + 1;
}
Index MemoryStorage::last_index() const {
  return entries_[0].index + entries_.size() - 1;
}

Expected<std::vector<Entry>, Error> MemoryStorage::entries(Index lo, Index hi, uint64_t max_bytes) const {
  Index offset = entries_[0].index;
  if (lo <= offset) return unexpected(Error::kCompacted);
  CAIRN_ASSERT_MSG(hi <= last_index() + 1, "entries() past the last index");
  if (entries_.size() == 1) return unexpected(Error::kUnavailable);
  // Copies only what max_bytes lets through (at least one entry): a lagging follower's append must
  // not copy the whole log behind it to keep 1 MiB of it.
  auto first = entries_.begin() + (lo - offset), end = entries_.begin() + (hi - offset);
  auto last = first + 1;
  for (uint64_t total = first->size_bytes(); last != end; ++last) {
    total += last->size_bytes();
    if (total > max_bytes) break;
  }
  return std::vector<Entry>(first, last);
}

Expected<Term, Error> MemoryStorage::term(Index i) const {
  Index offset = entries_[0].index;
  if (i < offset) return unexpected(Error::kCompacted);
  if (i - offset >= entries_.size()) return unexpected(Error::kUnavailable);
  return entries_[i - offset].term;
}

Expected<Snapshot, Error> MemoryStorage::snapshot() const {
  return snapshot_;
}

bool MemoryStorage::apply_snapshot(const Snapshot& snap) {
  if (snap.metadata.index <= snapshot_.metadata.index) return false;
  snapshot_ = snap;
  entries_.assign(1, Entry{snap.metadata.term, snap.metadata.index, EntryType::kNormal, {}});
  bytes_ = 0;
  return true;
}

uint64_t MemoryStorage::bytes_through(Index i) const {
  Index offset = entries_[0].index;
  CAIRN_ASSERT_MSG(i >= offset && i <= last_index(), "bytes_through() outside the log");
  uint64_t total = 0;
  for (size_t k = 1; k <= i - offset; ++k)
    total += entries_[k].size_bytes();
  return total;
}

Index MemoryStorage::compact_index_keeping(Index i, uint64_t keep) const {
  Index offset = entries_[0].index;
  CAIRN_ASSERT_MSG(i >= offset && i <= last_index(), "compact_index_keeping() outside the log");
  uint64_t kept = 0;
  Index c = i;
  for (; c > offset; --c) {
    kept += entries_[c - offset].size_bytes();
    if (kept > keep) break;
  }
  return c;
}

Expected<Snapshot, Error> MemoryStorage::create_snapshot(Index i, const ConfState* cs, std::string data) {
  if (i <= snapshot_.metadata.index) return unexpected(Error::kSnapshotTemporarilyUnavailable);
  Index offset = entries_[0].index;
  CAIRN_ASSERT_MSG(i <= last_index(), "snapshot index past the last index");
  snapshot_.metadata.index = i;
  snapshot_.metadata.term = entries_[i - offset].term;
  if (cs) snapshot_.metadata.conf_state = *cs;
  snapshot_.data = std::move(data);
  return snapshot_;
}

Expected<bool, Error> MemoryStorage::compact(Index compact_index) {
  Index offset = entries_[0].index;
  if (compact_index <= offset) return unexpected(Error::kCompacted);
  CAIRN_ASSERT_MSG(compact_index <= last_index(), "compact past the last index");
  size_t i = compact_index - offset;
  std::vector<Entry> rest;
  rest.reserve(entries_.size() - i);
  rest.push_back(Entry{entries_[i].term, entries_[i].index, EntryType::kNormal, {}});
  for (size_t k = 1; k <= i; ++k)
    bytes_ -= entries_[k].size_bytes();
  for (size_t k = i + 1; k < entries_.size(); ++k)
    rest.push_back(std::move(entries_[k]));
  entries_ = std::move(rest);
  return true;
}

void MemoryStorage::append(const std::vector<Entry>& ents) {
  if (ents.empty()) return;
  Index first = first_index();
  Index last = ents.back().index;
  if (last < first) return;  // all already compacted
  size_t skip = first > ents[0].index ? first - ents[0].index : 0;
  Index offset = ents[skip].index - entries_[0].index;
  CAIRN_ASSERT_MSG(offset <= entries_.size(), "append leaves a gap in the log");
  for (size_t k = std::max<size_t>(offset, 1); k < entries_.size(); ++k)
    bytes_ -= entries_[k].size_bytes();
  entries_.resize(offset);
  for (auto it = ents.begin() + skip; it != ents.end(); ++it)
    bytes_ += it->size_bytes();
  entries_.insert(entries_.end(), ents.begin() + skip, ents.end());
}

}  // namespace cairn::raft
