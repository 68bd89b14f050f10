#include "raft/raft_log.h"

#include <algorithm>

#include "base/assert.h"

namespace cairn::raft {

// ---- Unstable ----

std::optional<Index> Unstable::maybe_first_index() const {
  if (snapshot) return snapshot->metadata.index + 1;
  return std::nullopt;
}

std::optional<Index> Unstable::maybe_last_index() const {
  if (!entries.empty()) return offset + entries.size() - 1;
  if (snapshot) return snapshot->metadata.index;
  return std::nullopt;
}

std::optional<Term> Unstable::maybe_term(Index i) const {
  if (i < offset) {
    if (snapshot && snapshot->metadata.index == i) return snapshot->metadata.term;
    return std::nullopt;
  }
  auto last = maybe_last_index();
  if (!last || i > *last) return std::nullopt;
  return entries[i - offset].term;
}

void Unstable::stable_to(Index i, Term t) {
  auto gt = maybe_term(i);
  if (!gt) return;
  // Only if the entry persisted is still the one we hold: a newer leader may have replaced it while
  // the write was in flight, in which case the replacement is still unstable.
  if (*gt == t && i >= offset) {
    entries.erase(entries.begin(), entries.begin() + (i + 1 - offset));
    offset = i + 1;
    in_progress_end = std::max(in_progress_end, offset);
  }
}

void Unstable::stable_snap_to(Index i) {
  if (snapshot && snapshot->metadata.index == i) {
    snapshot.reset();
    snapshot_in_progress = false;
  }
}

void Unstable::restore(const Snapshot& s) {
  offset = s.metadata.index + 1;
  in_progress_end = offset;
  entries.clear();
  snapshot = s;
  snapshot_in_progress = false;
}

void Unstable::truncate_and_append(const std::vector<Entry>& ents) {
  Index after = ents[0].index;
  in_progress_end = std::min(in_progress_end, after);
  if (after == offset + entries.size()) {
    entries.insert(entries.end(), ents.begin(), ents.end());
  } else if (after <= offset) {
    // Replaces the whole unstable tail.
    offset = after;
    entries = ents;
  } else {
    entries = slice(offset, after);
    entries.insert(entries.end(), ents.begin(), ents.end());
  }
}

std::vector<Entry> Unstable::slice(Index lo, Index hi) const {
  CAIRN_ASSERT(lo <= hi && lo >= offset && hi <= offset + entries.size());
  return std::vector<Entry>(entries.begin() + (lo - offset), entries.begin() + (hi - offset));
}

// ---- RaftLog ----

RaftLog::RaftLog(const LogStorage* storage, uint64_t max_next_ents_size_bytes)
    : storage_(storage), max_next_ents_size_bytes_(max_next_ents_size_bytes) {
  Index first = storage_->first_index();
  Index last = storage_->last_index();
  unstable_.offset = last + 1;
  unstable_.in_progress_end = last + 1;
  committed_ = first - 1;
  applied_ = first - 1;
}

Index RaftLog::first_index() const {
  if (auto i = unstable_.maybe_first_index()) return *i;
  return storage_->first_index();
}

Index RaftLog::last_index() const {
  if (auto i = unstable_.maybe_last_index()) return *i;
  return storage_->last_index();
}

Index RaftLog::stable_last_index() const {
  return unstable_.offset - 1;
}

Term RaftLog::last_term() const {
  auto t = term(last_index());
  CAIRN_ASSERT_MSG(t.has_value(), "term of last index unavailable");
  return *t;
}

Expected<Term, Error> RaftLog::term(Index i) const {
  Index dummy = first_index() - 1;
  if (i < dummy || i > last_index()) return Term{0};
  if (auto t = unstable_.maybe_term(i)) return *t;
  auto t = storage_->term(i);
  if (t) return *t;
  return unexpected(t.error());
}

Term RaftLog::zero_term_on_error(Index i) const {
  auto t = term(i);
  return t ? *t : 0;
}

bool RaftLog::match_term(Index i, Term t) const {
  auto got = term(i);
  return got && *got == t;
}

bool RaftLog::is_up_to_date(Index last_i, Term t) const {
  return t > last_term() || (t == last_term() && last_i >= last_index());
}

std::optional<Index> RaftLog::maybe_append(Index index, Term log_term, Index committed,
                                           const std::vector<Entry>& ents) {
  if (!match_term(index, log_term)) return std::nullopt;
  Index last_new = index + ents.size();
  Index ci = find_conflict(ents);
  if (ci != 0) {
    CAIRN_ASSERT_MSG(ci > committed_, "an append conflicts with a committed entry");
    std::vector<Entry> rest(ents.begin() + (ci - index - 1), ents.end());
    append(rest);
  }
  commit_to(std::min(committed, last_new));
  return last_new;
}

Index RaftLog::append(const std::vector<Entry>& ents) {
  if (ents.empty()) return last_index();
  CAIRN_ASSERT_MSG(ents[0].index - 1 >= committed_, "append would overwrite committed entries");
  unstable_.truncate_and_append(ents);
  return last_index();
}

Index RaftLog::find_conflict(const std::vector<Entry>& ents) const {
  for (const auto& e : ents) {
    if (!match_term(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<Index, Term> RaftLog::find_conflict_by_term(Index index, Term t) const {
  for (;;) {
    auto our = term(index);
    if (!our) return {index, 0};
    if (*our <= t) return {index, *our};
    if (index == 0) return {0, 0};
    --index;
  }
}

Expected<std::vector<Entry>, Error> RaftLog::slice(Index lo, Index hi, uint64_t max_bytes) const {
  CAIRN_ASSERT(lo <= hi);
  if (lo < first_index()) return unexpected(Error::kCompacted);
  CAIRN_ASSERT_MSG(hi <= last_index() + 1, "slice out of bounds");
  std::vector<Entry> out;
  if (lo == hi) return out;
  if (lo < unstable_.offset) {
    auto stored = storage_->entries(lo, std::min(hi, unstable_.offset), max_bytes);
    if (!stored) {
      if (stored.error() == Error::kCompacted) return unexpected(Error::kCompacted);
      CAIRN_ASSERT_MSG(false, "entries missing from storage");
    }
    out = std::move(stored.value());
    // Storage limited the result by size: do not add unstable entries after a gap.
    if (out.size() < std::min(hi, unstable_.offset) - lo) return out;
  }
  if (hi > unstable_.offset) {  // the unstable tail, as far as max_bytes lets it (at least one entry)
    uint64_t total = 0;
    for (const Entry& e : out)
      total += e.size_bytes();
    for (Index i = std::max(lo, unstable_.offset); i < hi; ++i) {
      const Entry& e = unstable_.entries[i - unstable_.offset];
      total += e.size_bytes();
      if (!out.empty() && total > max_bytes) break;
      out.push_back(e);
    }
  }
  return out;
}

Expected<std::vector<Entry>, Error> RaftLog::entries(Index lo, uint64_t max_bytes) const {
  if (lo > last_index()) return std::vector<Entry>{};
  return slice(lo, last_index() + 1, max_bytes);
}

std::vector<Entry> RaftLog::all_entries() const {
  auto r = entries(first_index(), UINT64_MAX);
  CAIRN_ASSERT(r.has_value());
  return std::move(r).value();
}

bool RaftLog::maybe_commit(Index max_index, Term t) {
  if (max_index > committed_ && zero_term_on_error(max_index) == t) {
    commit_to(max_index);
    return true;
  }
  return false;
}

void RaftLog::commit_to(Index to_commit) {
  if (committed_ < to_commit) {
    CAIRN_ASSERT_MSG(to_commit <= last_index(), "commit index beyond the log (corrupt or truncated log?)");
    committed_ = to_commit;
  }
}

void RaftLog::applied_to(Index i) {
  if (i == 0) return;
  CAIRN_ASSERT_MSG(committed_ >= i && i >= applied_, "applied index out of range");
  applied_ = i;
}

void RaftLog::restore(const Snapshot& s) {
  committed_ = s.metadata.index;
  unstable_.restore(s);
}

bool RaftLog::has_entries_to_write() const {
  return unstable_.in_progress_end < unstable_.offset + unstable_.entries.size();
}

std::vector<Entry> RaftLog::entries_to_write() const {
  Index end = unstable_.offset + unstable_.entries.size();
  Index lo = std::max(unstable_.in_progress_end, unstable_.offset);
  return lo < end ? unstable_.slice(lo, end) : std::vector<Entry>{};
}

void RaftLog::mark_entries_in_progress() {
  unstable_.in_progress_end = unstable_.offset + unstable_.entries.size();
}

bool RaftLog::has_next_committed_entries() const {
  Index lo = std::max(applied_ + 1, first_index());
  Index hi = std::min(committed_, stable_last_index());
  return hi >= lo;
}

std::vector<Entry> RaftLog::next_committed_entries() const {
  Index lo = std::max(applied_ + 1, first_index());
  Index hi = std::min(committed_, stable_last_index());
  if (hi < lo) return {};
  auto r = slice(lo, hi + 1, max_next_ents_size_bytes_);
  CAIRN_ASSERT_MSG(r.has_value(), "committed entries unavailable");
  return std::move(r).value();
}

Expected<Snapshot, Error> RaftLog::snapshot() const {
  if (unstable_.snapshot) return *unstable_.snapshot;
  return storage_->snapshot();
}

}  // namespace cairn::raft
