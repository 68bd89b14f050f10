// The vote record (wal/vote_record.h) and what the WAL does with it: a synced tail the disk lost takes
// hard state records with it, but not the term, the vote or the lost-tail mark.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/wal/wal_test_util.h"
#include "wal/vote_record.h"
#include "wal/wal.h"

namespace cairn::wal {
namespace {

using testing::make_entries;
using testing::open_ok;

const std::string kDir = "/data/wal";
const std::string kPath = kDir + "/" + VoteRecord::kFileName;

VoteRecord::Value value(raft::Term t, raft::NodeId v, bool lost = false) {
  return VoteRecord::Value{t, v, lost};
}

std::unique_ptr<VoteRecord> open_record(SimFileSystem& fs) {
  auto r = VoteRecord::open(fs, kDir);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return r ? std::move(*r) : nullptr;
}

TEST(VoteRecord, StartsEmptyAndIsDurableOnceWritten) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/data").is_ok());
  ASSERT_TRUE(fs.create_dir(kDir).is_ok());
  {
    auto r = open_record(fs);
    EXPECT_EQ(r->value(), value(0, 0));
    ASSERT_TRUE(r->write(value(3, 2)).is_ok());
    ASSERT_TRUE(r->write(value(4, 0)).is_ok());
    ASSERT_TRUE(r->write(value(4, 1, true)).is_ok());
  }
  fs.crash(1, CrashMode::kDropUnsynced);
  EXPECT_EQ(open_record(fs)->value(), value(4, 1, true));
}

TEST(VoteRecord, ATornWriteLeavesThePreviousValue) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SimFileSystem fs;
    ASSERT_TRUE(fs.create_dir("/data").is_ok());
    ASSERT_TRUE(fs.create_dir(kDir).is_ok());
    {
      auto r = open_record(fs);
      ASSERT_TRUE(r->write(value(5, 3)).is_ok());
      // Power fails during the next write's fdatasync: the slot may hold any prefix or a zeroed sector.
      fs.set_fault_hook([](const SimOp& op) { return op.kind == SimOp::Kind::kSync; });
      EXPECT_FALSE(r->write(value(6, 2)).is_ok());
    }
    fs.crash(seed, CrashMode::kRandom);
    const auto got = open_record(fs)->value();
    EXPECT_TRUE(got == value(5, 3) || got == value(6, 2)) << seed << ": " << got.term << "/" << got.vote;
  }
}

TEST(VoteRecord, BothSlotsDamagedRefusesNamingTheFile) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/data").is_ok());
  ASSERT_TRUE(fs.create_dir(kDir).is_ok());
  {
    auto r = open_record(fs);
    ASSERT_TRUE(r->write(value(1, 1)).is_ok());
    ASSERT_TRUE(r->write(value(2, 1)).is_ok());
  }
  auto f = fs.open_file(kPath, false);
  ASSERT_TRUE(f.has_value());
  ASSERT_TRUE((*f)->write_at(30, "\x55").is_ok());
  ASSERT_TRUE((*f)->write_at(VoteRecord::kSlotBytes + 30, "\x55").is_ok());
  auto r = VoteRecord::open(fs, kDir);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kCorruption);
  EXPECT_EQ(r.error().file(), kPath);
  // One damaged slot is a torn write: the other one holds the value.
  ASSERT_TRUE((*f)->write_at(0, VoteRecord::encode_slot(7, value(9, 2))).is_ok());
  EXPECT_EQ(open_record(fs)->value(), value(9, 2));
}

// Cuts the newest segment inside its last record, as a disk that lost a synced write would (and as the
// fault harness's torn-wal fault does).
void lose_last_record(SimFileSystem& fs, const std::string& segment) {
  const std::string data = *fs.read_file(segment);
  uint64_t off = format::kSegmentHeaderBytes, last = 0;
  while (off + format::kRecordHeaderBytes <= data.size()) {
    uint32_t len;
    std::memcpy(&len, data.data() + off, 4);
    if (len == 0) break;
    last = off;
    off += format::kRecordHeaderBytes + ((len + 7) & ~7u);
  }
  auto f = fs.open_file(segment, false);
  ASSERT_TRUE((*f)->truncate(last + 9).is_ok());
  ASSERT_TRUE((*f)->sync().is_ok());
}

// Raft §5.2: "each server will vote for at most one candidate in a given term". The hard state record of
// a vote can sit in a tail the disk loses; the vote record keeps it.
TEST(WalVoteRecord, S5_2_AVoteSurvivesTheLossOfItsHardStateRecord) {
  SimFileSystem fs;
  std::string segment;
  {
    auto opened = open_ok(fs, kDir);
    raft::HardState hs{2, 3, 0};
    ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 1), &hs).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    // A vote in term 3: a hard state record alone, the last record of the segment.
    raft::HardState voted{3, 2, 8};
    ASSERT_TRUE(opened.wal->append({}, &voted).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    segment = kDir + "/" + opened.wal->segments().back().name;
  }
  lose_last_record(fs, segment);
  auto opened = open_ok(fs, kDir);
  ASSERT_EQ(opened.state.repaired.size(), 1u);
  EXPECT_EQ(opened.state.entries, make_entries(1, 10, 1));
  // Term and vote from the record; the commit index of the surviving hard state; the mark set.
  EXPECT_EQ(opened.state.hard_state, (raft::HardState{3, 2, 0, true}));
  ASSERT_TRUE(opened.state.tail_repair);
  EXPECT_EQ(opened.state.tail_repair->segment, segment);
  EXPECT_EQ(opened.state.tail_repair->last_index, 10u);
  EXPECT_GT(opened.state.tail_repair->bytes_cut, 0u);
  EXPECT_FALSE(opened.state.tail_repair->reason.empty());
  // The .broken copy is the damaged segment without its preallocated zeros.
  EXPECT_LT(fs.read_file(segment + ".broken")->size(), 4096u);
}

TEST(WalVoteRecord, TheLostTailMarkStaysUntilAHardStateClearsIt) {
  SimFileSystem fs;
  std::string segment;
  {
    auto opened = open_ok(fs, kDir);
    raft::HardState hs{2, 1, 5};
    ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 2), &hs).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    segment = kDir + "/" + opened.wal->segments().back().name;
  }
  lose_last_record(fs, segment);
  {
    auto opened = open_ok(fs, kDir);
    EXPECT_TRUE(opened.state.hard_state.lost_tail);
    // Entries alone do not clear it; and a crash with nothing synced keeps it (no repair this time).
    ASSERT_TRUE(opened.wal->append(make_entries(11, 12, 2), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
  }
  fs.crash(2, CrashMode::kDropUnsynced);
  {
    auto opened = open_ok(fs, kDir);
    EXPECT_TRUE(opened.state.repaired.empty());
    EXPECT_TRUE(opened.state.hard_state.lost_tail);
    raft::HardState caught_up{2, 1, 12, false};
    ASSERT_TRUE(opened.wal->append({}, &caught_up).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
  }
  fs.crash(3, CrashMode::kDropUnsynced);
  auto opened = open_ok(fs, kDir);
  EXPECT_EQ(opened.state.hard_state, (raft::HardState{2, 1, 12, false}));
}

TEST(WalVoteRecord, ATermIsNeverWrittenBack) {
  SimFileSystem fs;
  {
    auto opened = open_ok(fs, kDir);
    raft::HardState hs{5, 1, 0};
    ASSERT_TRUE(opened.wal->append({}, &hs).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    raft::HardState older{4, 2, 0};  // a caller bug; the record keeps the newer term
    ASSERT_TRUE(opened.wal->append({}, &older).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
  }
  EXPECT_EQ(open_record(fs)->value(), value(5, 1));
}

}  // namespace
}  // namespace cairn::wal
