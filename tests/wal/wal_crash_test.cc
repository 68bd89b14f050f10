// Crash and corruption tests on the simulated file system, one crash state at a time: before and after
// sync, torn records, zeroed sectors, every step of rollover, preallocation and repair; and the corruption
// that recovery must refuse, naming file and offset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "base/crc32c.h"
#include "tests/wal/wal_test_util.h"
#include "wal/wal.h"

namespace cairn::wal {
namespace {

using testing::describe;
using testing::make_entries;
using testing::make_entry;
using testing::open_ok;
using testing::small_segments;

const std::string kDir = "/data/wal";

// Every append is handed to the file at once, so unsynced records are exposed to tearing.
WalOptions unbuffered(uint64_t segment_bytes = 1 << 16) {
  WalOptions o = small_segments(segment_bytes);
  o.write_buffer_bytes_max = 0;
  return o;
}

// Offsets of the records in a segment's bytes, up to the first zero word.
std::vector<uint64_t> record_offsets(const std::string& data) {
  std::vector<uint64_t> out;
  uint64_t off = format::kSegmentHeaderBytes;
  while (off + format::kRecordHeaderBytes <= data.size()) {
    uint64_t word;
    std::memcpy(&word, data.data() + off, 8);
    if (word == 0) break;
    out.push_back(off);
    uint32_t len;
    std::memcpy(&len, data.data() + off, 4);
    off += format::kRecordHeaderBytes + ((len + 7) & ~7u);
  }
  return out;
}

std::string seg_path(Wal& w, size_t i) {
  return kDir + "/" + w.segments().at(i).name;
}

void overwrite(SimFileSystem& fs, const std::string& path, uint64_t offset, const std::string& bytes) {
  auto f = fs.open_file(path, false);
  ASSERT_TRUE(f.has_value());
  ASSERT_TRUE((*f)->write_at(offset, bytes).is_ok());
  ASSERT_TRUE((*f)->sync().is_ok());
}

std::string read(SimFileSystem& fs, const std::string& path) {
  auto d = fs.read_file(path);
  EXPECT_TRUE(d.has_value()) << path;
  return d ? *d : std::string();
}

TEST(WalCrash, CrashBeforeSyncKeepsOnlySyncedRecords) {
  SimFileSystem fs;
  {
    auto opened = open_ok(fs, kDir, unbuffered());
    ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 1), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    raft::HardState hs{1, 1, 15};
    ASSERT_TRUE(opened.wal->append(make_entries(11, 20, 1), &hs).is_ok());
  }
  fs.crash(1, CrashMode::kDropUnsynced);
  auto opened = open_ok(fs, kDir, unbuffered());
  EXPECT_EQ(opened.state.entries, make_entries(1, 10, 1));
  EXPECT_TRUE(opened.state.hard_state.empty());
  EXPECT_TRUE(opened.state.repaired.empty());  // only preallocated zeros after the last record
}

TEST(WalCrash, CrashAfterSyncLosesNothing) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SimFileSystem fs;
    raft::HardState hs{2, 1, 30};
    {
      auto opened = open_ok(fs, kDir, unbuffered(1024));
      ASSERT_TRUE(opened.wal->set_metadata("m").is_ok());
      ASSERT_TRUE(opened.wal->append(make_entries(1, 30, 2, 50), &hs).is_ok());
      ASSERT_TRUE(opened.wal->sync().has_value());
    }
    fs.crash(seed);
    auto opened = open_ok(fs, kDir, unbuffered(1024));
    EXPECT_EQ(opened.state.entries, make_entries(1, 30, 2, 50)) << seed;
    EXPECT_EQ(opened.state.hard_state, hs);
    EXPECT_EQ(opened.state.metadata, "m");
  }
}

TEST(WalCrash, TornUnsyncedRecordsAreTruncatedAndKeptAsBroken) {
  int repaired = 0;
  for (uint64_t seed = 0; seed < 120; ++seed) {
    SimFileSystem fs;
    {
      auto opened = open_ok(fs, kDir, unbuffered());
      ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 1, 300), nullptr).is_ok());
      ASSERT_TRUE(opened.wal->sync().has_value());
      // One write holding several records, so a tear can land anywhere inside it.
      ASSERT_TRUE(opened.wal->append(make_entries(11, 30, 1, 300), nullptr).is_ok());
    }
    fs.crash(seed);
    auto opened = open_ok(fs, kDir, unbuffered());
    const auto& got = opened.state.entries;
    ASSERT_GE(got.size(), 10u) << seed;
    ASSERT_LE(got.size(), 30u) << seed;
    EXPECT_EQ(got, make_entries(1, got.size(), 1, 300)) << seed;
    if (!opened.state.repaired.empty()) {
      ++repaired;
      EXPECT_TRUE(fs.exists(opened.state.repaired[0] + ".broken")) << seed;
    }
    // The repair is durable: a crash now and another open change nothing and repair nothing.
    opened.wal.reset();
    fs.crash(seed + 1000);
    auto again = open_ok(fs, kDir, unbuffered());
    EXPECT_EQ(again.state.entries, got) << seed;
    EXPECT_TRUE(again.state.repaired.empty()) << seed;
  }
  EXPECT_GT(repaired, 10);  // the seeds did produce torn tails
}

TEST(WalCrash, MidRecordTearByHandIsRepaired) {
  SimFileSystem fs;
  std::string path;
  {
    auto opened = open_ok(fs, kDir, unbuffered());
    ASSERT_TRUE(opened.wal->append(make_entries(1, 5, 1, 100), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    path = seg_path(*opened.wal, 0);
  }
  const std::string before = read(fs, path);
  const auto offs = record_offsets(before);
  ASSERT_EQ(offs.size(), 5u);
  // Cut the last record in the middle of its payload: the file ends there.
  auto f = fs.open_file(path, false);
  ASSERT_TRUE((*f)->truncate(offs[4] + 60).is_ok());
  ASSERT_TRUE((*f)->sync().is_ok());
  const std::string torn = read(fs, path);
  auto opened = open_ok(fs, kDir, unbuffered());
  EXPECT_EQ(opened.state.entries, make_entries(1, 4, 1, 100));
  ASSERT_EQ(opened.state.repaired, std::vector<std::string>{path});
  EXPECT_EQ(read(fs, path + ".broken"), torn);
  // Cut after the last good record, and preallocated again: zeros from there on.
  const std::string cut = read(fs, path);
  EXPECT_EQ(cut.substr(0, offs[4]), before.substr(0, offs[4]));
  EXPECT_EQ(cut.size(), unbuffered().segment_size_bytes_max);
  EXPECT_EQ(cut.find_first_not_of('\0', offs[4]), std::string::npos);
  // Appending continues the chain from the last good record.
  ASSERT_TRUE(opened.wal->append(make_entries(5, 6, 2, 100), nullptr).is_ok());
  ASSERT_TRUE(opened.wal->sync().has_value());
  opened.wal.reset();
  auto again = open_ok(fs, kDir, unbuffered());
  ASSERT_EQ(again.state.entries.size(), 6u);
  EXPECT_EQ(again.state.entries.back(), make_entry(6, 2, 100));
}

TEST(WalCrash, ZeroedSectorAtTailIsRepaired) {
  SimFileSystem fs;
  std::string path;
  {
    auto opened = open_ok(fs, kDir, unbuffered());
    ASSERT_TRUE(opened.wal->append(make_entries(1, 20, 1, 200), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    path = seg_path(*opened.wal, 0);
  }
  const auto offs = record_offsets(read(fs, path));
  ASSERT_EQ(offs.size(), 20u);
  // The sector holding the middle of record 18 reads as zeros (the disk lost it).
  const uint64_t sector = (offs[17] + 100) / 512 * 512;
  overwrite(fs, path, sector, std::string(512, '\0'));
  auto opened = open_ok(fs, kDir, unbuffered());
  ASSERT_EQ(opened.state.repaired.size(), 1u);
  // Everything from the first damaged record on is cut.
  size_t first_bad = 0;
  while (offs[first_bad] + format::kRecordHeaderBytes + 200 + 20 <= sector)
    ++first_bad;
  EXPECT_EQ(opened.state.entries, make_entries(1, first_bad, 1, 200)) << describe(opened.state);
  EXPECT_LE(first_bad, 17u);
}

TEST(WalCrash, FlippedBitBeforeTheTailRefusesNamingFileAndOffset) {
  SimFileSystem fs;
  std::string path;
  {
    auto opened = open_ok(fs, kDir, unbuffered());
    ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 1, 64), nullptr).is_ok());
    ASSERT_TRUE(opened.wal->sync().has_value());
    path = seg_path(*opened.wal, 0);
  }
  const std::string data = read(fs, path);
  const auto offs = record_offsets(data);
  std::string byte(1, static_cast<char>(data[offs[4] + 30] ^ 0x10));
  overwrite(fs, path, offs[4] + 30, byte);
  auto opened = Wal::open(fs, kDir, unbuffered());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), Code::kCorruption);
  EXPECT_EQ(opened.error().file(), path);
  EXPECT_EQ(opened.error().offset(), offs[4]);
  EXPECT_NE(opened.error().to_string().find(path + " at byte " + std::to_string(offs[4])), std::string::npos)
      << opened.error().to_string();
  EXPECT_NE(opened.error().message().find("crc mismatch"), std::string::npos);
  EXPECT_FALSE(fs.exists(path + ".broken"));  // refused, not repaired
}

// Builds a WAL with several segments; returns their paths.
std::vector<std::string> build_segments(SimFileSystem& fs, raft::Index last = 100) {
  auto opened = open_ok(fs, kDir, small_segments(1024));
  EXPECT_TRUE(opened.wal->append(make_entries(1, last, 1, 40), nullptr).is_ok());
  EXPECT_TRUE(opened.wal->sync().has_value());
  std::vector<std::string> paths;
  for (size_t i = 0; i < opened.wal->segments().size(); ++i)
    paths.push_back(seg_path(*opened.wal, i));
  EXPECT_GE(paths.size(), 4u);
  return paths;
}

TEST(WalCrash, DamageAtTheEndOfAnEarlierSegmentRefuses) {
  SimFileSystem fs;
  auto paths = build_segments(fs);
  const std::string data = read(fs, paths[1]);
  const auto offs = record_offsets(data);
  overwrite(fs, paths[1], offs.back() + 20, "\x01");
  auto opened = Wal::open(fs, kDir, small_segments(1024));
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), Code::kCorruption);
  EXPECT_EQ(opened.error().file(), paths[1]);
  EXPECT_EQ(opened.error().offset(), offs.back());
}

TEST(WalCrash, MissingMiddleSegmentRefuses) {
  SimFileSystem fs;
  auto paths = build_segments(fs);
  ASSERT_TRUE(fs.remove(paths[2]).is_ok());
  auto opened = Wal::open(fs, kDir, small_segments(1024));
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), Code::kCorruption);
  EXPECT_EQ(opened.error().file(), paths[3]);
  EXPECT_EQ(opened.error().offset(), 0u);
  EXPECT_NE(opened.error().message().find("missing"), std::string::npos) << opened.error().to_string();
}

TEST(WalCrash, MissingFirstSegmentWithoutSnapshotRefuses) {
  SimFileSystem fs;
  auto paths = build_segments(fs);
  ASSERT_TRUE(fs.remove(paths[0]).is_ok());
  auto opened = Wal::open(fs, kDir, small_segments(1024));
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), Code::kCorruption);
  EXPECT_EQ(opened.error().file(), paths[1]);
  EXPECT_NE(opened.error().message().find("no snapshot covers"), std::string::npos)
      << opened.error().to_string();
}

TEST(WalCrash, BadSegmentHeaderRefuses) {
  SimFileSystem fs;
  auto paths = build_segments(fs);
  overwrite(fs, paths.back(), 0, "X");  // magic, even in the last segment
  auto opened = Wal::open(fs, kDir, small_segments(1024));
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().file(), paths.back());
  EXPECT_EQ(opened.error().offset(), 0u);
  EXPECT_NE(opened.error().message().find("magic"), std::string::npos);
}

TEST(WalCrash, BrokenCrcChainBetweenSegmentsRefuses) {
  SimFileSystem fs;
  auto paths = build_segments(fs);
  // Give segment 3 a prev_crc that does not continue segment 2, with a correct header crc.
  std::string header = read(fs, paths[2]).substr(0, format::kSegmentHeaderBytes);
  header[32] ^= 0x5a;
  uint32_t crc = base::crc32c_extend(base::crc32c_extend(0, header.data(), 12), header.data() + 16, 24);
  std::memcpy(header.data() + 12, &crc, 4);
  overwrite(fs, paths[2], 0, header);
  auto opened = Wal::open(fs, kDir, small_segments(1024));
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().file(), paths[2]);
  EXPECT_EQ(opened.error().offset(), 32u);
}

// Appends batches with a hard state, syncing and preallocating now and then, snapshots and releases
// midway: the sequence every crash-point test below cuts short.
struct Workload {
  static constexpr raft::Index kLast = 60;
  Durable acked;  // what the last successful sync() reported
  bool failed = false;

  void run(Wal& w) {
    for (raft::Index first = w.last_index() + 1; first <= kLast; first += 5) {
      raft::HardState hs{1, 1, first - 1};
      if (!step(w.append(make_entries(first, std::min(first + 4, kLast), 1, 60), &hs))) return;
      if (first % 10 == 1) {
        auto d = w.sync();
        if (!step(d.has_value() ? Status::ok() : d.error())) return;
        acked = *d;
      }
      if (first % 15 == 1 && !step(w.preallocate_next())) return;
      if (first == 31) {
        if (!step(w.save_snapshot(raft::SnapshotMetadata{{}, 30, 1}))) return;
        auto d = w.sync();
        if (!step(d.has_value() ? Status::ok() : d.error())) return;
        acked = *d;
        if (!step(w.release_to(30))) return;
      }
    }
    auto d = w.sync();
    if (step(d.has_value() ? Status::ok() : d.error())) acked = *d;
  }

  bool step(const Status& s) {
    if (!s.is_ok()) failed = true;
    return s.is_ok();
  }
};

// Nothing acknowledged is lost and nothing half-written shows: the log is an exact prefix of what was
// appended, at least as long as the last acknowledged sync.
void check_recovered(const RecoveredState& got, const Durable& acked, const std::string& ctx) {
  const raft::Index snap = got.snapshot ? got.snapshot->index : 0;
  EXPECT_GE(snap, acked.snapshot_index) << ctx;
  const raft::Index last = got.entries.empty() ? snap : got.entries.back().index;
  EXPECT_GE(last, acked.last_index) << ctx << " " << describe(got);
  EXPECT_EQ(got.entries, make_entries(snap + 1, last, 1, 60)) << ctx;
  EXPECT_GE(got.hard_state.commit, acked.hard_state.commit) << ctx;
}

TEST(WalCrash, CrashAtEveryMutationOfRolloverPreallocationAndRelease) {
  const WalOptions options = small_segments(1024);
  // Count the mutations of an uninterrupted run.
  uint64_t total = 0;
  {
    SimFileSystem fs;
    auto opened = open_ok(fs, kDir, options);
    const uint64_t start = fs.mutation_count();
    Workload wl;
    wl.run(*opened.wal);
    ASSERT_FALSE(wl.failed);
    total = fs.mutation_count() - start;
    ASSERT_GT(opened.wal->segments().front().seq, 1u);  // release did delete segments
  }
  ASSERT_GT(total, 40u);
  for (uint64_t k = 0; k <= total; ++k) {
    SimFileSystem fs;
    Workload wl;
    {
      auto opened = open_ok(fs, kDir, options);
      fs.fail_after_mutations(k);
      wl.run(*opened.wal);
      EXPECT_EQ(wl.failed, k < total) << k;
    }
    for (CrashMode mode :
         {CrashMode::kDropUnsynced, CrashMode::kRandom, CrashMode::kKeepUnsynced, CrashMode::kReorder}) {
      SimFileSystem copy;  // replay the same history for each crash mode
      Workload again;
      {
        auto opened = open_ok(copy, kDir, options);
        copy.fail_after_mutations(k);
        again.run(*opened.wal);
      }
      copy.crash(k, mode);
      const std::string ctx = "crash point " + std::to_string(k) + " mode " + std::to_string(int(mode));
      auto opened = Wal::open(copy, kDir, options);
      ASSERT_TRUE(opened.has_value()) << ctx << ": " << opened.error().to_string();
      check_recovered(opened->state, again.acked, ctx);
      // A WAL recovered from a crash keeps working: finish the workload and check everything is there.
      Workload rest;
      rest.run(*opened->wal);
      ASSERT_FALSE(rest.failed) << ctx;
      EXPECT_EQ(opened->wal->last_index(), Workload::kLast) << ctx;
      EXPECT_FALSE(copy.exists(kDir + "/segment.tmp") && !opened->wal->spare_ready()) << ctx;
    }
  }
}

TEST(WalCrash, CrashDuringPreallocationLeavesNoTrace) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    SimFileSystem fs;
    {
      auto opened = open_ok(fs, kDir, small_segments(4096));
      ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 1), nullptr).is_ok());
      ASSERT_TRUE(opened.wal->sync().has_value());
      fs.set_fault_hook([](const SimOp& op) { return op.kind == SimOp::Kind::kAllocate; });
      EXPECT_EQ(opened.wal->preallocate_next().code(), Code::kIoError);
      EXPECT_FALSE(opened.wal->spare_ready());
      // The failure poisons the WAL: the kernel state is unknown after a failed I/O.
      EXPECT_EQ(opened.wal->append(make_entries(11, 11, 1), nullptr).code(), Code::kClosed);
    }
    fs.crash(seed);
    auto opened = open_ok(fs, kDir, small_segments(4096));
    EXPECT_EQ(opened.state.entries, make_entries(1, 10, 1));
    EXPECT_FALSE(fs.exists(kDir + "/segment.tmp"));
  }
}

TEST(WalCrash, CrashAtEachRolloverStepKeepsTheLogReadable) {
  for (SimOp::Kind kind :
       {SimOp::Kind::kTruncate, SimOp::Kind::kWrite, SimOp::Kind::kRename, SimOp::Kind::kSyncDir}) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      SimFileSystem fs;
      Durable acked;
      {
        auto opened = open_ok(fs, kDir, small_segments(1024));
        ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 1, 60), nullptr).is_ok());
        acked = opened.wal->sync().value();
        ASSERT_EQ(opened.wal->segments().size(), 1u);
        // The next records do not fit: the write that follows this hook's op is the rollover's.
        bool armed = true;
        fs.set_fault_hook([&armed, kind](const SimOp& op) {
          if (!armed || op.kind != kind) return false;
          // Writes to the current segment are not the rollover's; the spare's are.
          if (kind == SimOp::Kind::kWrite && op.path.find("segment.tmp") == std::string::npos) return false;
          armed = false;
          return true;
        });
        auto s = opened.wal->append(make_entries(11, 20, 1, 60), nullptr);
        auto d = s.is_ok() ? opened.wal->sync() : Expected<Durable, Status>(unexpected(s));
        ASSERT_FALSE(d.has_value()) << to_string(kind);
      }
      fs.crash(seed);
      auto opened = Wal::open(fs, kDir, small_segments(1024));
      ASSERT_TRUE(opened.has_value()) << to_string(kind) << " " << seed << ": " << opened.error().to_string();
      check_recovered(opened->state, acked, to_string(kind));
      EXPECT_FALSE(fs.exists(kDir + "/segment.tmp"));
    }
  }
}

TEST(WalCrash, CrashDuringRepairThenReopenStillWorks) {
  // A last segment with a torn record: header present, payload garbage, then zeros.
  auto build = [](SimFileSystem& fs) {
    {
      auto opened = open_ok(fs, kDir, unbuffered());
      ASSERT_TRUE(opened.wal->append(make_entries(1, 10, 1, 40), nullptr).is_ok());
      ASSERT_TRUE(opened.wal->sync().has_value());
    }
    const std::string path = kDir + "/" + format::segment_name(1, 1);
    const auto offs = record_offsets(read(fs, path));
    const std::string data = read(fs, path);
    uint32_t last_len;
    std::memcpy(&last_len, data.data() + offs.back(), 4);
    const uint64_t end = offs.back() + format::kRecordHeaderBytes + ((last_len + 7) & ~7u);
    std::string torn(16 + 40, '\x7f');
    const uint32_t len = 100;
    std::memcpy(torn.data(), &len, 4);
    torn[4] = 1;
    std::memset(torn.data() + 5, 0, 3);
    std::memset(torn.data() + 12, 0, 4);
    overwrite(fs, path, end, torn);
  };
  uint64_t repair_mutations = 0;
  {
    SimFileSystem fs;
    build(fs);
    const uint64_t start = fs.mutation_count();
    auto opened = open_ok(fs, kDir, unbuffered());
    ASSERT_EQ(opened.state.repaired.size(), 1u);
    repair_mutations = fs.mutation_count() - start;
  }
  ASSERT_GE(repair_mutations, 5u);
  for (uint64_t k = 0; k < repair_mutations; ++k) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
      SimFileSystem fs;
      build(fs);
      fs.fail_after_mutations(k);
      auto failed = Wal::open(fs, kDir, unbuffered());
      EXPECT_FALSE(failed.has_value()) << k;
      fs.crash(seed * 100 + k);
      auto opened = Wal::open(fs, kDir, unbuffered());
      ASSERT_TRUE(opened.has_value()) << k << ": " << opened.error().to_string();
      EXPECT_EQ(opened->state.entries, make_entries(1, 10, 1, 40)) << k;
      // Repaired again, or cut after the mark was durable: either way the member knows.
      EXPECT_TRUE(opened->state.hard_state.lost_tail) << k;
      opened->wal.reset();
      auto third = open_ok(fs, kDir, unbuffered());
      EXPECT_TRUE(third.state.repaired.empty()) << k;
      EXPECT_EQ(third.state.entries, make_entries(1, 10, 1, 40)) << k;
      EXPECT_TRUE(third.state.hard_state.lost_tail) << k;
    }
  }
}

}  // namespace
}  // namespace cairn::wal
