// Functional tests of the WAL on the simulated file system (and one on the real one): round trip,
// rollover, release, overwrite on a new term, latest-wins state, metadata, validation, group commit.
#include "wal/wal.h"
#include "wal/vote_record.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "tests/wal/wal_test_util.h"
#include "wal/posix_file_system.h"

namespace cairn::wal {
namespace {

using testing::make_entries;
using testing::make_entry;
using testing::open_ok;
using testing::small_segments;

const std::string kDir = "/data/wal";

// Production segments are 64 MiB; the simulated file system would materialize every preallocated byte.
WalOptions test_options() {
  return small_segments(1 << 20);
}

TEST(Wal, OpenEmptyDirectoryCreatesFirstSegment) {
  SimFileSystem fs;
  auto opened = open_ok(fs, kDir, test_options());
  ASSERT_TRUE(opened.wal);
  EXPECT_FALSE(opened.state.snapshot);
  EXPECT_TRUE(opened.state.hard_state.empty());
  EXPECT_TRUE(opened.state.entries.empty());
  EXPECT_FALSE(opened.state.metadata);
  ASSERT_EQ(opened.wal->segments().size(), 1u);
  EXPECT_EQ(opened.wal->segments()[0].name, "0000000000000001-0000000000000001.wal");
  EXPECT_EQ(opened.wal->last_index(), 0u);
  // The first segment is durable at once: a crash right after open still finds it.
  fs.crash(1, CrashMode::kDropUnsynced);
  auto again = open_ok(fs, kDir, test_options());
  EXPECT_EQ(testing::wal_files(fs, kDir),
            (std::vector<std::string>{"0000000000000001-0000000000000001.wal", VoteRecord::kFileName}));
}

TEST(Wal, RoundTrip) {
  SimFileSystem fs;
  auto entries = make_entries(1, 50, 3, 100);
  raft::HardState hs{3, 2, 40};
  {
    auto opened = open_ok(fs, kDir, test_options());
    ASSERT_TRUE(opened.wal->set_metadata("cluster=7,member=2").is_ok());
    ASSERT_TRUE(opened.wal->append(entries, &hs).is_ok());
    auto d = opened.wal->sync();
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->last_index, 50u);
    EXPECT_EQ(d->hard_state, hs);
    EXPECT_EQ(d->snapshot_index, 0u);
    ASSERT_TRUE(opened.wal->close().is_ok());
    EXPECT_EQ(opened.wal->append(entries, nullptr).code(), Code::kClosed);
  }
  auto opened = open_ok(fs, kDir, test_options());
  EXPECT_EQ(opened.state.entries, entries);
  EXPECT_EQ(opened.state.hard_state, hs);
  EXPECT_EQ(opened.state.metadata, "cluster=7,member=2");
  EXPECT_TRUE(opened.state.repaired.empty());
  EXPECT_EQ(opened.wal->last_index(), 50u);
  EXPECT_EQ(opened.wal->durable().last_index, 50u);
  // And it keeps appending where it left off.
  ASSERT_TRUE(opened.wal->append(make_entries(51, 52, 3), nullptr).is_ok());
  ASSERT_TRUE(opened.wal->sync().has_value());
  auto again = open_ok(fs, kDir, test_options());
  ASSERT_EQ(again.state.entries.size(), 52u);
  EXPECT_EQ(again.state.entries.back(), make_entry(52, 3));
}

TEST(Wal, GroupCommitIssuesOneSyncPerBurst) {
  SimFileSystem fs;
  auto opened = open_ok(fs, kDir, test_options());
  // A new term and vote cost one more fdatasync, of the vote record (wal/vote_record.h).
  raft::HardState first{1, 1, 0};
  uint64_t before = fs.sync_count();
  ASSERT_TRUE(opened.wal->append({}, &first).is_ok());
  ASSERT_TRUE(opened.wal->sync().has_value());
  EXPECT_EQ(fs.sync_count() - before, 2u);
  before = fs.sync_count();
  for (raft::Index i = 1; i <= 256; ++i) {
    raft::HardState hs{1, 1, i - 1};
    ASSERT_TRUE(opened.wal->append(std::vector<raft::Entry>{make_entry(i, 1, 256)}, &hs).is_ok());
  }
  auto d = opened.wal->sync();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(fs.sync_count() - before, 1u);
  EXPECT_EQ(d->last_index, 256u);
  EXPECT_EQ(d->hard_state, (raft::HardState{1, 1, 255}));
  // A sync with nothing new costs nothing.
  ASSERT_TRUE(opened.wal->sync().has_value());
  EXPECT_EQ(fs.sync_count() - before, 1u);
}

TEST(Wal, RolloverAcrossManySegments) {
  SimFileSystem fs;
  const auto options = small_segments(1024);
  auto entries = make_entries(1, 200, 1, 40);
  {
    auto opened = open_ok(fs, kDir, options);
    for (size_t k = 0; k < entries.size(); k += 10) {
      ASSERT_TRUE(opened.wal->append(std::span(entries).subspan(k, 10), nullptr).is_ok());
      ASSERT_TRUE(opened.wal->sync().has_value());
      ASSERT_TRUE(opened.wal->preallocate_next().is_ok());
      EXPECT_TRUE(opened.wal->spare_ready());
    }
    const auto& segs = opened.wal->segments();
    ASSERT_GT(segs.size(), 10u);
    for (size_t i = 0; i < segs.size(); ++i) {
      EXPECT_EQ(segs[i].seq, i + 1);
      if (i > 0) {
        EXPECT_GT(segs[i].first_index, segs[i - 1].first_index);
      }
      auto size = fs.open_file(kDir + "/" + segs[i].name, false).value()->size();
      // Closed segments were cut to their used size; the current one is preallocated.
      if (i + 1 < segs.size()) {
        EXPECT_LE(*size, 1024u);
      } else {
        EXPECT_EQ(*size, 1024u);
      }
    }
  }
  auto opened = open_ok(fs, kDir, options);
  EXPECT_EQ(opened.state.entries, entries);
  EXPECT_TRUE(opened.state.repaired.empty());
}

TEST(Wal, RecordLargerThanSegmentGetsItsOwnSegment) {
  SimFileSystem fs;
  auto options = small_segments(512);
  auto big = make_entries(1, 3, 1, 2000);
  {
    auto opened = open_ok(fs, kDir, options);
    ASSERT_TRUE(opened.wal->append(big, nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    EXPECT_EQ(opened.wal->segments().size(), 3u);
  }
  EXPECT_EQ(open_ok(fs, kDir, options).state.entries, big);
}

TEST(Wal, OverwriteOnNewTermTruncatesTail) {
  SimFileSystem fs;
  const auto options = small_segments(1024);
  {
    auto opened = open_ok(fs, kDir, options);
    ASSERT_TRUE(opened.wal->append(make_entries(1, 30, 1, 40), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    // A new leader overwrites from 21, after a rollover, so the overwrite lands in a later segment.
    ASSERT_GT(opened.wal->segments().size(), 1u);
    ASSERT_TRUE(opened.wal->append(make_entries(21, 24, 2, 40), nullptr).is_ok());
    EXPECT_EQ(opened.wal->last_index(), 24u);
    auto d = opened.wal->sync();
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->last_index, 24u);
    // And once more within the same segment.
    ASSERT_TRUE(opened.wal->append(make_entries(23, 25, 3, 40), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
  }
  auto opened = open_ok(fs, kDir, options);
  auto want = make_entries(1, 20, 1, 40);
  for (auto& e : make_entries(21, 22, 2, 40))
    want.push_back(e);
  for (auto& e : make_entries(23, 25, 3, 40))
    want.push_back(e);
  EXPECT_EQ(opened.state.entries, want);
  EXPECT_EQ(opened.wal->last_index(), 25u);
}

TEST(Wal, HardStateLatestWinsAcrossSegments) {
  SimFileSystem fs;
  const auto options = small_segments(1024);
  raft::HardState last;
  {
    auto opened = open_ok(fs, kDir, options);
    for (raft::Index i = 1; i <= 60; ++i) {
      last = raft::HardState{i / 10 + 1, i % 3, i - 1};
      ASSERT_TRUE(opened.wal->append(std::vector<raft::Entry>{make_entry(i, i / 10 + 1, 30)}, &last).is_ok());
    }
    // A hard state alone (a vote, no entries).
    last = raft::HardState{99, 3, 59};
    ASSERT_TRUE(opened.wal->append({}, &last).is_ok());
    auto d = opened.wal->sync();
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->hard_state, last);
  }
  auto opened = open_ok(fs, kDir, options);
  EXPECT_EQ(opened.state.hard_state, last);
  EXPECT_EQ(opened.state.entries.size(), 60u);
}

TEST(Wal, ReleaseDeletesSegmentsCoveredBySnapshot) {
  SimFileSystem fs;
  const auto options = small_segments(1024);
  raft::HardState hs{4, 1, 100};
  raft::SnapshotMetadata snap{raft::ConfState{{1, 2, 3}, {4}}, 100, 4};
  {
    auto opened = open_ok(fs, kDir, options);
    Wal& w = *opened.wal;
    ASSERT_TRUE(w.set_metadata("member=1").is_ok());
    ASSERT_TRUE(w.append(make_entries(1, 120, 4, 40), &hs).is_ok());
    ASSERT_TRUE(w.sync().has_value());
    // Not before the marker is durable.
    EXPECT_EQ(w.release_to(100).code(), Code::kInvalidArgument);
    ASSERT_TRUE(w.save_snapshot(snap).is_ok());
    auto d = w.sync();
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->snapshot_index, 100u);
    const size_t before = w.segments().size();
    ASSERT_TRUE(w.release_to(100).is_ok());
    EXPECT_LT(w.segments().size(), before);
    // The oldest survivor may start at or below 101 (it holds 101), its successor must not.
    EXPECT_LE(w.segments().front().first_index, 101u);
    if (w.segments().size() > 1) {
      EXPECT_GT(w.segments()[1].first_index, 101u);
    }
    EXPECT_GT(w.segments().front().seq, 1u);
    ASSERT_TRUE(w.append(make_entries(121, 160, 4, 40), nullptr).is_ok());
    ASSERT_TRUE(w.sync().has_value());
    EXPECT_EQ(testing::wal_files(fs, kDir).size(),
              w.segments().size() + (w.spare_ready() ? 1 : 0) + 1);  // + vote
  }
  fs.crash(3, CrashMode::kDropUnsynced);
  auto opened = open_ok(fs, kDir, options);
  ASSERT_TRUE(opened.state.snapshot);
  EXPECT_EQ(*opened.state.snapshot, snap);
  EXPECT_EQ(opened.state.entries, make_entries(101, 160, 4, 40));
  EXPECT_EQ(opened.state.hard_state, hs);
  EXPECT_EQ(opened.state.metadata, "member=1");
}

TEST(Wal, MetadataLatestWinsAndSurvivesRelease) {
  SimFileSystem fs;
  const auto options = small_segments(1024);
  {
    auto opened = open_ok(fs, kDir, options);
    Wal& w = *opened.wal;
    ASSERT_TRUE(w.set_metadata("v1").is_ok());
    ASSERT_TRUE(w.append(make_entries(1, 40, 1, 40), nullptr).is_ok());
    ASSERT_TRUE(w.set_metadata(std::string("v2\0with nul", 11)).is_ok());
    ASSERT_TRUE(w.save_snapshot(raft::SnapshotMetadata{{}, 40, 1}).is_ok());
    ASSERT_TRUE(w.append(make_entries(41, 80, 1, 40), nullptr).is_ok());
    ASSERT_TRUE(w.sync().has_value());
    ASSERT_TRUE(w.release_to(40).is_ok());
    ASSERT_GT(w.segments().front().seq, 1u);
  }
  auto opened = open_ok(fs, kDir, options);
  EXPECT_EQ(opened.state.metadata, std::string("v2\0with nul", 11));
  EXPECT_EQ(opened.state.entries, make_entries(41, 80, 1, 40));
}

TEST(Wal, SnapshotKeepsMatchingLogAndDropsConflictingLog) {
  SimFileSystem fs;
  {
    auto opened = open_ok(fs, kDir, test_options());
    Wal& w = *opened.wal;
    ASSERT_TRUE(w.append(make_entries(1, 10, 1), nullptr).is_ok());
    // (5, 1) is in the log: entries after it stay.
    ASSERT_TRUE(w.save_snapshot(raft::SnapshotMetadata{{}, 5, 1}).is_ok());
    EXPECT_EQ(w.last_index(), 10u);
    ASSERT_TRUE(w.sync().has_value());
  }
  {
    auto opened = open_ok(fs, kDir, test_options());
    EXPECT_EQ(opened.state.entries, make_entries(6, 10, 1));
    // (8, 2) conflicts with the log's (8, 1): the whole log goes, as Raft's InstallSnapshot says.
    ASSERT_TRUE(opened.wal->save_snapshot(raft::SnapshotMetadata{{}, 8, 2}).is_ok());
    EXPECT_EQ(opened.wal->last_index(), 8u);
    EXPECT_EQ(opened.wal->append(make_entries(10, 10, 2), nullptr).code(), Code::kInvalidArgument);
    ASSERT_TRUE(opened.wal->append(make_entries(9, 9, 2), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
  }
  auto opened = open_ok(fs, kDir, test_options());
  ASSERT_TRUE(opened.state.snapshot);
  EXPECT_EQ(opened.state.snapshot->index, 8u);
  EXPECT_EQ(opened.state.entries, make_entries(9, 9, 2));
}

TEST(Wal, RejectsAppendsRecoveryCouldNotReplay) {
  SimFileSystem fs;
  auto opened = open_ok(fs, kDir, small_segments());
  Wal& w = *opened.wal;
  EXPECT_EQ(w.append(make_entries(2, 3, 1), nullptr).code(), Code::kInvalidArgument);  // gap after 0
  std::vector<raft::Entry> holes{make_entry(1, 1), make_entry(3, 1)};
  EXPECT_EQ(w.append(holes, nullptr).code(), Code::kInvalidArgument);
  EXPECT_EQ(w.append(std::vector<raft::Entry>{make_entry(1, 1, 5000)}, nullptr).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(w.set_metadata(std::string(5000, 'm')).code(), Code::kInvalidArgument);
  EXPECT_EQ(w.save_snapshot(raft::SnapshotMetadata{{}, 0, 0}).code(), Code::kInvalidArgument);
  ASSERT_TRUE(w.append(make_entries(1, 5, 1), nullptr).is_ok());
  ASSERT_TRUE(w.save_snapshot(raft::SnapshotMetadata{{}, 4, 1}).is_ok());
  EXPECT_EQ(w.save_snapshot(raft::SnapshotMetadata{{}, 3, 1}).code(), Code::kInvalidArgument);
  EXPECT_EQ(w.append(make_entries(4, 6, 2), nullptr).code(), Code::kInvalidArgument);  // below snapshot
  EXPECT_EQ(w.last_index(), 5u);  // rejected calls changed nothing
  auto d = w.sync();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->last_index, 5u);
}

TEST(Wal, WriteBufferIsHandedToTheFileWhenFullButNotSynced) {
  SimFileSystem fs;
  WalOptions options = test_options();
  options.write_buffer_bytes_max = 1000;
  auto opened = open_ok(fs, kDir, options);
  const std::string path = kDir + "/" + opened.wal->segments()[0].name;
  auto used = [&] {
    const std::string d = fs.read_file(path).value();
    return d.find_last_not_of('\0') + 1;
  };
  const size_t empty = used();
  ASSERT_TRUE(opened.wal->append(make_entries(1, 1, 1, 100), nullptr).is_ok());
  EXPECT_EQ(used(), empty);  // still in memory
  ASSERT_TRUE(opened.wal->append(make_entries(2, 10, 1, 100), nullptr).is_ok());
  EXPECT_GT(used(), empty + 1000);  // past the limit: written...
  fs.crash(1, CrashMode::kDropUnsynced);
  auto after = open_ok(fs, kDir, options);
  EXPECT_TRUE(after.state.entries.empty());  // ...but not durable
}

TEST(Wal, OpenMakesWhatItReadDurable) {
  SimFileSystem fs;
  {
    auto opened = open_ok(fs, kDir, test_options());
    ASSERT_TRUE(opened.wal->append(make_entries(1, 5, 1), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    ASSERT_TRUE(opened.wal->append(make_entries(6, 8, 1), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->close().is_ok());  // synced: to make the next point, undo it by hand
  }
  {
    // The process dies after writing 9..10 but before syncing: the bytes sit in the page cache.
    WalOptions unbuffered = test_options();
    unbuffered.write_buffer_bytes_max = 0;
    auto opened = open_ok(fs, kDir, unbuffered);
    ASSERT_TRUE(opened.wal->append(make_entries(9, 10, 1), nullptr).is_ok());
  }
  {
    // The restarted process reads 1..10; Raft will act on 9..10, so they must survive a power loss now.
    auto opened = open_ok(fs, kDir, test_options());
    EXPECT_EQ(opened.state.entries, make_entries(1, 10, 1));
  }
  fs.crash(2, CrashMode::kDropUnsynced);
  EXPECT_EQ(open_ok(fs, kDir, test_options()).state.entries, make_entries(1, 10, 1));
}

TEST(Wal, OverwriteBelowTheFirstIndexOfTheOldestSurvivingSegment) {
  SimFileSystem fs;
  const auto options = small_segments(1024);
  {
    auto opened = open_ok(fs, kDir, options);
    Wal& w = *opened.wal;
    // 15 records of 64 bytes fill the first segment; 16..20 start the second (first_index 16).
    ASSERT_TRUE(w.append(make_entries(1, 20, 1, 40), nullptr).is_ok());
    ASSERT_EQ(w.segments().size(), 2u);
    ASSERT_EQ(w.segments()[1].first_index, 16u);
    // A new leader overwrites from 12: the records land in the segment that starts at 16.
    ASSERT_TRUE(w.append(make_entries(12, 18, 2, 40), nullptr).is_ok());
    ASSERT_TRUE(w.save_snapshot(raft::SnapshotMetadata{{}, 17, 2}).is_ok());
    ASSERT_TRUE(w.sync().has_value());
    ASSERT_TRUE(w.release_to(17).is_ok());
    ASSERT_EQ(w.segments().size(), 1u);
    ASSERT_EQ(w.segments().front().first_index, 16u);
  }
  // Replay starts at 16 knowing nothing before it, meets the overwrite at 12, then the marker at 17.
  auto opened = open_ok(fs, kDir, options);
  ASSERT_TRUE(opened.state.snapshot);
  EXPECT_EQ(opened.state.snapshot->index, 17u);
  EXPECT_EQ(opened.state.entries, make_entries(18, 18, 2, 40));
}

TEST(Wal, RejectsUnusableOptions) {
  SimFileSystem fs;
  WalOptions tiny = test_options();
  tiny.segment_size_bytes_max = 16;
  auto a = Wal::open(fs, kDir, tiny);
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code(), Code::kInvalidArgument);
  WalOptions no_records = test_options();
  no_records.record_bytes_max = 0;
  auto b = Wal::open(fs, kDir, no_records);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code(), Code::kInvalidArgument);
}

TEST(Wal, SegmentNamesRoundTrip) {
  EXPECT_EQ(format::segment_name(1, 1), "0000000000000001-0000000000000001.wal");
  EXPECT_EQ(format::segment_name(0x1f, 0xabc), "000000000000001f-0000000000000abc.wal");
  auto p = format::parse_segment_name("000000000000001f-0000000000000abc.wal");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->seq, 0x1fu);
  EXPECT_EQ(p->first_index, 0xabcu);
  EXPECT_FALSE(format::parse_segment_name("000000000000001f-0000000000000abc.wal.broken"));
  EXPECT_FALSE(format::parse_segment_name("000000000000001F-0000000000000abc.wal"));
  EXPECT_FALSE(format::parse_segment_name("segment.tmp"));
}

TEST(Wal, PosixRoundTripWithRolloverAndRepair) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-wal-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string dir = tmpl + "/wal";
  PosixFileSystem fs;
  const auto options = small_segments(4096);
  auto entries = make_entries(1, 300, 2, 64);
  raft::HardState hs{2, 1, 290};
  {
    auto opened = open_ok(fs, dir, options);
    ASSERT_TRUE(opened.wal);
    ASSERT_TRUE(opened.wal->set_metadata("posix").is_ok());
    ASSERT_TRUE(opened.wal->append(entries, &hs).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    ASSERT_TRUE(opened.wal->preallocate_next().is_ok());
    EXPECT_GT(opened.wal->segments().size(), 3u);
  }
  std::string last_segment;
  {
    auto opened = open_ok(fs, dir, options);
    EXPECT_EQ(opened.state.entries, entries);
    EXPECT_EQ(opened.state.hard_state, hs);
    EXPECT_EQ(opened.state.metadata, "posix");
    EXPECT_FALSE(fs.exists(dir + "/segment.tmp"));
    last_segment = dir + "/" + opened.wal->segments().back().name;
    ASSERT_TRUE(opened.wal->append(make_entries(301, 301, 2, 64), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
  }
  // Tear the last record by hand: keep its header, garble the rest of its payload.
  auto f = fs.open_file(last_segment, false);
  ASSERT_TRUE(f.has_value());
  auto data = fs.read_file(last_segment);
  ASSERT_TRUE(data.has_value());
  const size_t end = data->find_last_not_of('\0') + 1;
  ASSERT_TRUE((*f)->write_at(end - 20, std::string(20, '\0')).is_ok());
  {
    auto opened = open_ok(fs, dir, options);
    EXPECT_EQ(opened.state.entries, entries);
    ASSERT_EQ(opened.state.repaired.size(), 1u);
    EXPECT_TRUE(fs.exists(last_segment + ".broken"));
  }
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace cairn::wal
