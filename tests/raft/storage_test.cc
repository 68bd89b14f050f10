// MemoryStorage (raft/log_storage.h) and RaftLog (raft/raft_log.h): append, compaction, snapshots,
// size-limited reads, the stable/unstable split and conflict search.
#include <gtest/gtest.h>

#include "raft/log_storage.h"
#include "raft/raft_log.h"

namespace cairn::raft {
namespace {

Entry ent(Term t, Index i, std::string data = "") {
  return Entry{t, i, EntryType::kNormal, std::move(data)};
}

// A storage holding entries [first, last] (terms equal to their index unless given), compacted so that
// first-1 is the dummy.
MemoryStorage storage_with(Index first, Index last) {
  MemoryStorage s;
  if (first > 1) {
    Snapshot snap;
    snap.metadata.index = first - 1;
    snap.metadata.term = first - 1;
    EXPECT_TRUE(s.apply_snapshot(snap));
  }
  std::vector<Entry> ents;
  for (Index i = first; i <= last; ++i)
    ents.push_back(ent(i, i));
  s.append(ents);
  return s;
}

TEST(MemoryStorage, EmptyStorageBounds) {
  MemoryStorage s;
  EXPECT_EQ(s.first_index(), 1u);
  EXPECT_EQ(s.last_index(), 0u);
  ASSERT_TRUE(s.term(0).has_value());
  EXPECT_EQ(*s.term(0), 0u);
  EXPECT_FALSE(s.term(1).has_value());
}

TEST(MemoryStorage, TermAnswersForTheDummyButNotBeforeIt) {
  MemoryStorage s = storage_with(4, 6);
  EXPECT_EQ(s.first_index(), 4u);
  EXPECT_EQ(s.last_index(), 6u);
  ASSERT_TRUE(s.term(3).has_value());
  EXPECT_EQ(*s.term(3), 3u);
  ASSERT_FALSE(s.term(2).has_value());
  EXPECT_EQ(s.term(2).error(), Error::kCompacted);
  ASSERT_FALSE(s.term(7).has_value());
  EXPECT_EQ(s.term(7).error(), Error::kUnavailable);
}

TEST(MemoryStorage, EntriesAreRangeAndSizeLimitedButNeverEmpty) {
  MemoryStorage s = storage_with(4, 6);
  auto all = s.entries(4, 7, UINT64_MAX);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(all->front().index, 4u);
  auto compacted = s.entries(3, 7, UINT64_MAX);
  ASSERT_FALSE(compacted.has_value());
  EXPECT_EQ(compacted.error(), Error::kCompacted);
  const uint64_t one = ent(4, 4).size_bytes();
  EXPECT_EQ(s.entries(4, 7, one)->size(), 1u);
  EXPECT_EQ(s.entries(4, 7, 2 * one)->size(), 2u);
  EXPECT_EQ(s.entries(4, 7, 2 * one + 1)->size(), 2u);
  EXPECT_EQ(s.entries(4, 7, 0)->size(), 1u) << "at least one entry even if it exceeds the limit";
  EXPECT_EQ(s.entries(5, 6, UINT64_MAX)->size(), 1u);
}

TEST(MemoryStorage, AppendTruncatesOverlappingTailAndSkipsCompactedPrefix) {
  MemoryStorage s = storage_with(4, 6);
  s.append({ent(3, 3), ent(7, 4), ent(7, 5)});  // 3 is compacted, 4-5 replace, 6 is dropped
  EXPECT_EQ(s.first_index(), 4u);
  EXPECT_EQ(s.last_index(), 5u);
  EXPECT_EQ(*s.term(4), 7u);
  EXPECT_EQ(*s.term(5), 7u);
  s.append({ent(8, 6)});  // plain extension
  EXPECT_EQ(s.last_index(), 6u);
  s.append({ent(1, 1), ent(2, 2)});  // entirely compacted: no-op
  EXPECT_EQ(s.first_index(), 4u);
  EXPECT_EQ(s.last_index(), 6u);
  EXPECT_EQ(*s.term(4), 7u);
}

TEST(MemoryStorage, CompactKeepsTheCompactedIndexAsDummy) {
  MemoryStorage s = storage_with(1, 6);
  ASSERT_TRUE(s.compact(4).has_value());
  EXPECT_EQ(s.first_index(), 5u);
  EXPECT_EQ(s.last_index(), 6u);
  EXPECT_EQ(*s.term(4), 4u);
  EXPECT_FALSE(s.term(3).has_value());
  auto again = s.compact(4);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), Error::kCompacted);
  EXPECT_FALSE(s.compact(2).has_value());
  ASSERT_TRUE(s.compact(6).has_value());
  EXPECT_EQ(s.first_index(), 7u);
  EXPECT_EQ(s.last_index(), 6u);
}

TEST(MemoryStorage, CreateSnapshotRecordsTermConfAndData) {
  MemoryStorage s = storage_with(1, 6);
  ConfState cs{{1, 2, 3}, {4}};
  auto snap = s.create_snapshot(4, &cs, "state");
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->metadata.index, 4u);
  EXPECT_EQ(snap->metadata.term, 4u);
  EXPECT_EQ(snap->metadata.conf_state, cs);
  EXPECT_EQ(snap->data, "state");
  EXPECT_EQ(s.snapshot()->metadata.index, 4u);
  EXPECT_EQ(s.initial_state().conf_state, cs);
  // The snapshot does not compact by itself.
  EXPECT_EQ(s.first_index(), 1u);
  auto older = s.create_snapshot(3, nullptr, "");
  ASSERT_FALSE(older.has_value());
  EXPECT_EQ(older.error(), Error::kSnapshotTemporarilyUnavailable);
}

TEST(MemoryStorage, ApplySnapshotReplacesEverythingButRefusesOlderOnes) {
  MemoryStorage s = storage_with(1, 6);
  Snapshot snap;
  snap.metadata.index = 10;
  snap.metadata.term = 3;
  snap.metadata.conf_state = ConfState{{1, 2}, {}};
  ASSERT_TRUE(s.apply_snapshot(snap));
  EXPECT_EQ(s.first_index(), 11u);
  EXPECT_EQ(s.last_index(), 10u);
  EXPECT_EQ(*s.term(10), 3u);
  EXPECT_EQ(s.initial_state().conf_state, snap.metadata.conf_state);
  Snapshot older = snap;
  older.metadata.index = 8;
  EXPECT_FALSE(s.apply_snapshot(older));
  EXPECT_FALSE(s.apply_snapshot(snap)) << "same index is not newer";
  EXPECT_EQ(s.first_index(), 11u);
}

TEST(MemoryStorage, LimitSizeKeepsPrefixWithinBudget) {
  std::vector<Entry> ents = {ent(1, 1, std::string(10, 'a')), ent(1, 2, std::string(10, 'b')),
                             ent(1, 3, std::string(10, 'c'))};
  const uint64_t each = ents[0].size_bytes();
  auto v = ents;
  limit_size(v, 3 * each);
  EXPECT_EQ(v.size(), 3u);
  v = ents;
  limit_size(v, 3 * each - 1);
  EXPECT_EQ(v.size(), 2u);
  v = ents;
  limit_size(v, 1);
  EXPECT_EQ(v.size(), 1u);
}

// ---- RaftLog ----

// Every entry costs Entry::size_bytes() = data + 24 while it is held, through every way the log changes.
TEST(MemoryStorage, BytesFollowAppendTruncationCompactionAndSnapshots) {
  MemoryStorage s;
  s.append({ent(1, 1, std::string(100, 'a')), ent(1, 2, std::string(200, 'b')), ent(1, 3, "")});
  EXPECT_EQ(s.bytes(), 124u + 224u + 24u);
  EXPECT_EQ(s.bytes_through(0), 0u);
  EXPECT_EQ(s.bytes_through(2), 124u + 224u);
  s.append({ent(2, 3, std::string(10, 'c')), ent(2, 4, std::string(1000, 'd'))});  // replaces 3
  EXPECT_EQ(s.bytes(), 124u + 224u + 34u + 1024u);
  s.append({ent(3, 2, "")});  // truncates 2.. and appends one
  EXPECT_EQ(s.bytes(), 124u + 24u);
  ASSERT_TRUE(s.compact(1).has_value());
  EXPECT_EQ(s.bytes(), 24u);
  s.append({ent(3, 3, std::string(76, 'e'))});
  EXPECT_EQ(s.bytes(), 24u + 100u);
  Snapshot snap;
  snap.metadata.index = 10;
  snap.metadata.term = 3;
  ASSERT_TRUE(s.apply_snapshot(snap));
  EXPECT_EQ(s.bytes(), 0u);
  s.append({ent(3, 11, "xy")});
  EXPECT_EQ(s.bytes(), 26u);
}

TEST(MemoryStorage, CompactIndexKeepingLeavesAtMostThatManyBytesBehindTheIndex) {
  MemoryStorage s;
  std::vector<Entry> ents;
  for (Index i = 1; i <= 10; ++i)
    ents.push_back(ent(1, i, std::string(76, 'v')));  // 100 bytes each
  s.append(ents);
  EXPECT_EQ(s.compact_index_keeping(8, 300), 5u) << "keeps 6, 7, 8";
  EXPECT_EQ(s.compact_index_keeping(8, 350), 5u);
  EXPECT_EQ(s.compact_index_keeping(8, 99), 8u) << "keeps nothing behind 8";
  EXPECT_EQ(s.compact_index_keeping(8, 100000), 0u) << "everything fits: nothing to compact";
  ASSERT_TRUE(s.compact(s.compact_index_keeping(10, 250)).has_value());
  EXPECT_EQ(s.first_index(), 9u);
  EXPECT_EQ(s.bytes(), 200u);
  EXPECT_EQ(s.compact_index_keeping(10, 1000), 8u);
}

TEST(RaftLog, UnstableEntriesBecomeStableOnlyIfStillTheSame) {
  MemoryStorage s = storage_with(1, 2);
  RaftLog log(&s, UINT64_MAX);
  EXPECT_EQ(log.stable_last_index(), 2u);
  log.append({ent(3, 3), ent(3, 4)});
  EXPECT_EQ(log.last_index(), 4u);
  EXPECT_EQ(log.unstable_entries().size(), 2u);
  EXPECT_EQ(log.stable_last_index(), 2u);
  // A newer leader replaced index 4 while the write of (4, term 3) was in flight.
  log.append({ent(5, 4)});
  log.stable_to(4, 3);
  EXPECT_EQ(log.stable_last_index(), 2u) << "the replacement is not durable yet";
  log.stable_to(4, 5);
  EXPECT_EQ(log.stable_last_index(), 4u);
  EXPECT_TRUE(log.unstable_entries().empty());
}

TEST(RaftLog, CommittedEntriesAreHandedOutOnlyOnceDurable) {
  MemoryStorage s = storage_with(1, 2);
  RaftLog log(&s, UINT64_MAX);
  log.append({ent(3, 3), ent(3, 4)});
  log.commit_to(4);
  auto ents = log.next_committed_entries();
  ASSERT_EQ(ents.size(), 2u) << "only 1..2 are durable";
  EXPECT_EQ(ents.back().index, 2u);
  log.applied_to(2);
  EXPECT_FALSE(log.has_next_committed_entries());
  s.append(log.unstable_entries());
  log.stable_to(4, 3);
  ASSERT_TRUE(log.has_next_committed_entries());
  EXPECT_EQ(log.next_committed_entries().size(), 2u);
}

TEST(RaftLog, CommittedEntriesPerReadyAreSizeBounded) {
  MemoryStorage s = storage_with(1, 10);
  const uint64_t each = ent(1, 1).size_bytes();
  RaftLog log(&s, 3 * each);
  log.commit_to(10);
  EXPECT_EQ(log.next_committed_entries().size(), 3u);
  log.applied_to(3);
  EXPECT_EQ(log.next_committed_entries().front().index, 4u);
}

TEST(RaftLog, MaybeAppendChecksPrevAndCommitsOnlyUpToLastNewEntry) {
  MemoryStorage s = storage_with(1, 3);  // terms 1,2,3
  RaftLog log(&s, UINT64_MAX);
  EXPECT_FALSE(log.maybe_append(3, 2, 3, {ent(4, 4)}).has_value()) << "term mismatch at 3";
  EXPECT_FALSE(log.maybe_append(4, 3, 3, {}).has_value()) << "index beyond the log";
  auto li = log.maybe_append(2, 2, 10, {ent(4, 3)});
  ASSERT_TRUE(li.has_value());
  EXPECT_EQ(*li, 3u);
  EXPECT_EQ(log.committed(), 3u) << "min(leader commit, last new entry)";
  EXPECT_EQ(log.zero_term_on_error(3), 4u);
}

TEST(RaftLog, FindConflictByTermSkipsWholeTerms) {
  MemoryStorage s;
  std::vector<Entry> ents;
  const Term terms[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  for (Index i = 1; i <= 10; ++i)
    ents.push_back(ent(terms[i - 1], i));
  s.append(ents);
  RaftLog log(&s, UINT64_MAX);
  EXPECT_EQ(log.find_conflict_by_term(10, 6), (std::pair<Index, Term>{10, 6}));
  EXPECT_EQ(log.find_conflict_by_term(10, 5), (std::pair<Index, Term>{7, 5}));
  EXPECT_EQ(log.find_conflict_by_term(10, 3), (std::pair<Index, Term>{3, 1}));
  EXPECT_EQ(log.find_conflict_by_term(10, 0), (std::pair<Index, Term>{0, 0}));
  EXPECT_EQ(log.find_conflict_by_term(5, 4), (std::pair<Index, Term>{5, 4}));
}

TEST(RaftLog, SliceStitchesStorageAndUnstableAndReportsCompaction) {
  MemoryStorage s = storage_with(3, 5);
  RaftLog log(&s, UINT64_MAX);
  log.append({ent(6, 6), ent(7, 7)});
  auto all = log.slice(3, 8, UINT64_MAX);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 5u);
  for (Index i = 0; i < 5; ++i)
    EXPECT_EQ((*all)[i].index, 3 + i);
  auto limited = log.slice(3, 8, 2 * ent(1, 1).size_bytes());
  EXPECT_EQ(limited->size(), 2u);
  auto gone = log.slice(2, 8, UINT64_MAX);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error(), Error::kCompacted);
  EXPECT_EQ(log.zero_term_on_error(1), 0u) << "before the dummy";
  EXPECT_EQ(log.zero_term_on_error(2), 2u) << "the dummy still answers";
}

TEST(RaftLog, RestoreFromSnapshotResetsBoundsAndCommit) {
  MemoryStorage s = storage_with(1, 3);
  RaftLog log(&s, UINT64_MAX);
  Snapshot snap;
  snap.metadata.index = 20;
  snap.metadata.term = 4;
  log.restore(snap);
  EXPECT_EQ(log.first_index(), 21u);
  EXPECT_EQ(log.last_index(), 20u);
  EXPECT_EQ(log.last_term(), 4u);
  EXPECT_EQ(log.committed(), 20u);
  ASSERT_TRUE(log.unstable_snapshot().has_value());
  EXPECT_FALSE(log.has_next_committed_entries()) << "the snapshot is installed, not applied entry by entry";
}

}  // namespace
}  // namespace cairn::raft
