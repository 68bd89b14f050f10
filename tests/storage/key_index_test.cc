// The worked example of storage/key_index.h, checked step by step, plus compaction cases.
#include <gtest/gtest.h>

#include "storage/key_index.h"

namespace cairn::storage {
namespace {

KeyIndex example() {
  KeyIndex ki;
  ki.put({2, 0}, 20);  // record sizes: ten times the revision, to tell them apart
  ki.put({3, 0}, 30);
  ki.tombstone({4, 0}, 40);
  ki.put({6, 0}, 60);
  return ki;
}

void expect_hit(const KeyIndex& ki, int64_t at, int64_t mod, int64_t create, int64_t version) {
  auto hit = ki.get(at);
  ASSERT_TRUE(hit.has_value()) << "at " << at;
  EXPECT_EQ(hit->modified.main, mod) << "at " << at;
  EXPECT_EQ(hit->create_revision, create) << "at " << at;
  EXPECT_EQ(hit->version, version) << "at " << at;
}

TEST(KeyIndexTest, WorkedExampleGets) {
  const KeyIndex ki = example();
  EXPECT_FALSE(ki.get(1));
  expect_hit(ki, 2, 2, 2, 1);
  expect_hit(ki, 3, 3, 2, 2);
  EXPECT_FALSE(ki.get(4));
  EXPECT_FALSE(ki.get(5));
  expect_hit(ki, 6, 6, 6, 1);
  expect_hit(ki, 7, 6, 6, 1);
  ASSERT_EQ(ki.generations().size(), 2u);
  EXPECT_EQ(ki.generations()[0].version, 3);  // two puts and the tombstone
}

std::vector<int64_t> mains(const std::vector<RemovedRevision>& r) {
  std::vector<int64_t> out;
  for (const auto& x : r)
    out.push_back(x.rev.main);
  return out;
}

TEST(KeyIndexTest, WorkedExampleCompactions) {
  {
    KeyIndex ki = example();
    std::vector<RemovedRevision> removed;
    ki.compact(3, &removed);
    EXPECT_EQ(mains(removed), (std::vector<int64_t>{2}));
    expect_hit(ki, 3, 3, 2, 2);  // reads at the compaction revision still work
    EXPECT_FALSE(ki.holds({2, 0}));
    EXPECT_TRUE(ki.holds({3, 0}));
    EXPECT_TRUE(ki.holds({4, 0}));
    EXPECT_FALSE(ki.holds({5, 0}));
    EXPECT_FALSE(ki.get(4));
  }
  for (int64_t at : {4, 5}) {
    KeyIndex ki = example();
    std::vector<RemovedRevision> removed;
    ki.compact(at, &removed);
    EXPECT_EQ(mains(removed), (std::vector<int64_t>{2, 3, 4}));
    EXPECT_TRUE(removed.back().tombstone);
    EXPECT_FALSE(removed.front().tombstone);
    EXPECT_EQ(removed.back().record_bytes, 40u);  // what compaction frees, without reading records
    EXPECT_FALSE(ki.holds({3, 0}));
    EXPECT_TRUE(ki.holds({6, 0}));
    ASSERT_EQ(ki.generations().size(), 1u);
    expect_hit(ki, 6, 6, 6, 1);
  }
  {
    KeyIndex ki = example();
    std::vector<RemovedRevision> removed;
    ki.compact(7, &removed);
    EXPECT_EQ(mains(removed), (std::vector<int64_t>{2, 3, 4}));
    expect_hit(ki, 7, 6, 6, 1);
    EXPECT_FALSE(ki.empty());
  }
}

TEST(KeyIndexTest, CompactingPastTheLastTombstoneEmptiesTheKey) {
  KeyIndex ki;
  ki.put({2, 0}, 1);
  ki.tombstone({3, 1}, 1);
  std::vector<RemovedRevision> removed;
  ki.compact(2, &removed);
  EXPECT_TRUE(removed.empty());
  EXPECT_FALSE(ki.empty());
  ki.compact(3, &removed);
  EXPECT_EQ(mains(removed), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(ki.empty());
}

TEST(KeyIndexTest, RestoreKeepsVersionArithmeticAfterCompaction) {
  // A key whose older history was compacted away: the first surviving record carries version 5.
  KeyIndex ki;
  ki.restore_put({10, 0}, 1, 3, 5);
  ki.put({12, 0}, 1);
  expect_hit(ki, 11, 10, 3, 5);
  expect_hit(ki, 12, 12, 3, 6);
  EXPECT_FALSE(ki.get(9));
}

TEST(TreeIndexTest, RangeHonoursEndConventionsAndRemovesEmptyKeys) {
  TreeIndex t;
  t.put(t.slot("a"), {2, 0}, 1);
  t.put(t.slot("b"), {3, 0}, 1);
  t.put(t.slot("c"), {4, 0}, 1);
  t.tombstone(t.slot("b"), {5, 0}, 1);
  auto keys = [&](const std::string& k, const std::string& end, int64_t at) {
    std::string out;
    t.range(k, end, at, [&](const std::string& key, const IndexHit&) {
      out += key;
      return true;
    });
    return out;
  };
  EXPECT_EQ(keys("a", "", 9), "a");
  EXPECT_EQ(keys("a", "c", 9), "a");
  EXPECT_EQ(keys("a", "c", 4), "ab");
  EXPECT_EQ(keys("b", std::string(1, '\0'), 9), "c");
  EXPECT_EQ(keys("c", "a", 9), "");
  EXPECT_EQ(t.historied(), 1u);  // only b has more than one revision
  std::vector<RemovedRevision> removed;
  t.compact(5, &removed);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_EQ(t.historied(), 0u);
}

TEST(TreeIndexTest, CompactionVisitsOnlyKeysWithHistoryAndForgetsThemOnceTrimmed) {
  TreeIndex t;
  for (int i = 0; i < 100; ++i)
    t.put(t.slot("k" + std::to_string(i)), {2 + i, 0}, 1);  // written once: nothing to compact
  EXPECT_EQ(t.historied(), 0u);
  t.put(t.slot("k7"), {200, 0}, 1);
  t.put(t.slot("k7"), {201, 0}, 1);
  t.put(t.slot("k8"), {202, 0}, 1);
  EXPECT_EQ(t.historied(), 2u);  // k7 is listed once
  std::vector<RemovedRevision> removed;
  t.compact(200, &removed);  // k7 loses 9 (keeps 200, 201); k8 keeps 10 (the newest <= 200) and 202
  EXPECT_EQ(mains(removed), (std::vector<int64_t>{9}));
  EXPECT_EQ(t.historied(), 2u);
  removed.clear();
  t.compact(300, &removed);  // both are down to one revision: neither is visited again
  EXPECT_EQ(mains(removed), (std::vector<int64_t>{200, 10}));
  EXPECT_EQ(t.historied(), 0u);
  t.tombstone(t.slot("k8"), {301, 0}, 1);
  removed.clear();
  t.compact(301, &removed);  // the whole life of k8 goes, and the key with it
  EXPECT_EQ(mains(removed), (std::vector<int64_t>{202, 301}));
  EXPECT_EQ(t.find("k8"), nullptr);
  EXPECT_EQ(t.size(), 99u);
}

}  // namespace
}  // namespace cairn::storage
