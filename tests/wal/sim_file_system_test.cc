// The simulated file system must model crashes faithfully, or the WAL crash tests prove nothing.
#include "tests/lib/sim_file_system.h"

#include <gtest/gtest.h>

#include <set>

namespace cairn::wal {
namespace {

std::unique_ptr<File> must_open(SimFileSystem& fs, const std::string& path) {
  auto f = fs.open_file(path, true);
  EXPECT_TRUE(f.has_value());
  return f ? std::move(*f) : nullptr;
}

std::string contents(SimFileSystem& fs, const std::string& path) {
  auto d = fs.read_file(path);
  return d ? *d : "<missing>";
}

TEST(SimFileSystem, SyncedDataSurvivesUnsyncedDataDoesNot) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").is_ok());
  auto f = must_open(fs, "/d/f");
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  ASSERT_TRUE(f->write_at(0, "durable").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(f->write_at(7, "-volatile").is_ok());
  EXPECT_EQ(contents(fs, "/d/f"), "durable-volatile");  // reads see the page cache
  fs.crash(1, CrashMode::kDropUnsynced);
  EXPECT_EQ(contents(fs, "/d/f"), "durable");
  // The old handle belongs to the machine before the crash.
  EXPECT_EQ(f->write_at(0, "x").code(), Code::kIoError);
}

TEST(SimFileSystem, KeepUnsyncedKeepsEverything) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").is_ok());
  auto f = must_open(fs, "/d/f");
  ASSERT_TRUE(f->write_at(0, "abc").is_ok());
  ASSERT_TRUE(f->truncate(2).is_ok());
  fs.crash(1, CrashMode::kKeepUnsynced);
  EXPECT_EQ(contents(fs, "/d/f"), "ab");
}

TEST(SimFileSystem, NamesNeedDirectorySync) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").is_ok());
  auto f = must_open(fs, "/d/new");
  ASSERT_TRUE(f->write_at(0, "data").is_ok());
  ASSERT_TRUE(f->sync().is_ok());  // data synced, name not
  fs.crash(1, CrashMode::kDropUnsynced);
  EXPECT_FALSE(fs.exists("/d/new"));

  f = must_open(fs, "/d/a");
  ASSERT_TRUE(f->write_at(0, "A").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  ASSERT_TRUE(fs.rename("/d/a", "/d/b").is_ok());
  EXPECT_TRUE(fs.exists("/d/b"));
  fs.crash(1, CrashMode::kDropUnsynced);
  EXPECT_TRUE(fs.exists("/d/a"));
  EXPECT_FALSE(fs.exists("/d/b"));

  ASSERT_TRUE(fs.rename("/d/a", "/d/b").is_ok());
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  ASSERT_TRUE(fs.remove("/d/b").is_ok());
  fs.crash(1, CrashMode::kDropUnsynced);
  EXPECT_EQ(contents(fs, "/d/b"), "A");
  EXPECT_EQ(fs.list_dir("/d").value(), std::vector<std::string>{"b"});
}

TEST(SimFileSystem, RandomCrashKeepsDurablePrefixAndTearsOnlyTheUnsyncedWrite) {
  std::set<std::string> outcomes;
  const std::string synced(700, 's');
  const std::string write1(1000, 'x');
  const std::string write2(300, 'y');
  for (uint64_t seed = 0; seed < 300; ++seed) {
    SimFileSystem fs;
    ASSERT_TRUE(fs.create_dir("/d").is_ok());
    auto f = must_open(fs, "/d/f");
    ASSERT_TRUE(fs.sync_dir("/d").is_ok());
    ASSERT_TRUE(f->write_at(0, synced).is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    ASSERT_TRUE(f->write_at(700, write1).is_ok());
    ASSERT_TRUE(f->write_at(1700, write2).is_ok());
    fs.crash(seed);
    const std::string got = contents(fs, "/d/f");
    ASSERT_GE(got.size(), 700u) << seed;
    ASSERT_EQ(got.substr(0, 700), synced) << seed;  // a tear never reaches synced bytes
    const std::string rest = got.substr(700);
    // Whatever follows is write1 (maybe torn), then write2 only if write1 is whole.
    size_t zeros = 0;
    for (size_t i = 0; i < rest.size() && i < 1000; ++i) {
      ASSERT_TRUE(rest[i] == 'x' || rest[i] == '\0') << seed << " at " << i;
      zeros += rest[i] == '\0';
    }
    if (rest.size() > 1000) {
      ASSERT_EQ(rest.substr(0, 1000), write1) << seed;
    }
    if (rest.empty())
      outcomes.insert("dropped");
    else if (rest.size() < 1000)
      outcomes.insert("prefix");
    else if (zeros > 0)
      outcomes.insert("zeroed-sector");
    else if (rest.size() == 1000)
      outcomes.insert("first-write");
    else
      outcomes.insert("both-writes");
    if (zeros > 0) {
      EXPECT_LE(zeros, 512u);  // one sector at most
    }
  }
  EXPECT_EQ(outcomes,
            (std::set<std::string>{"dropped", "prefix", "zeroed-sector", "first-write", "both-writes"}));
}

TEST(SimFileSystem, ReorderCrashCanKeepALaterWriteWithoutAnEarlierOne) {
  bool hole = false;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SimFileSystem fs;
    ASSERT_TRUE(fs.create_dir("/d").is_ok());
    auto f = must_open(fs, "/d/f");
    ASSERT_TRUE(fs.sync_dir("/d").is_ok());
    ASSERT_TRUE(f->write_at(0, "synced").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    ASSERT_TRUE(f->write_at(6, "AAAA").is_ok());
    ASSERT_TRUE(f->write_at(10, "BBBB").is_ok());
    fs.crash(seed, CrashMode::kReorder);
    const std::string got = contents(fs, "/d/f");
    ASSERT_EQ(got.substr(0, 6), "synced") << seed;
    if (got == std::string("synced\0\0\0\0BBBB", 14)) hole = true;
  }
  EXPECT_TRUE(hole);
}

TEST(SimFileSystem, CrashIsDeterministicPerSeed) {
  auto run = [](uint64_t seed) {
    SimFileSystem fs;
    EXPECT_TRUE(fs.create_dir("/d").is_ok());
    for (int i = 0; i < 5; ++i) {
      auto f = must_open(fs, "/d/f" + std::to_string(i));
      EXPECT_TRUE(f->write_at(0, std::string(900 + i, static_cast<char>('a' + i))).is_ok());
      if (i % 2 == 0) {
        EXPECT_TRUE(f->sync().is_ok());
      }
      EXPECT_TRUE(f->write_at(50, std::string(800, 'z')).is_ok());
    }
    fs.crash(seed);
    std::string all;
    const auto names = fs.list_dir("/d").value();
    for (const auto& n : names)
      all += n + ":" + contents(fs, "/d/" + n) + ";";
    return all;
  };
  for (uint64_t seed = 0; seed < 20; ++seed)
    EXPECT_EQ(run(seed), run(seed));
  EXPECT_NE(run(1), run(2));
}

TEST(SimFileSystem, FaultHookKillsTheMachineUntilCrash) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").is_ok());
  auto f = must_open(fs, "/d/f");
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  const uint64_t before = fs.mutation_count();
  std::vector<std::string> seen;
  fs.set_fault_hook([&seen](const SimOp& op) {
    seen.push_back(std::string(to_string(op.kind)) + " " + op.path);
    return op.kind == SimOp::Kind::kSync;
  });
  ASSERT_TRUE(f->write_at(0, "abc").is_ok());
  EXPECT_EQ(f->sync().code(), Code::kIoError);
  EXPECT_TRUE(fs.dead());
  EXPECT_EQ(f->write_at(3, "d").code(), Code::kIoError);
  EXPECT_FALSE(fs.read_file("/d/f").has_value());
  EXPECT_EQ(seen, (std::vector<std::string>{"write /d/f", "sync /d/f"}));
  EXPECT_EQ(fs.mutation_count() - before, 3u);
  fs.crash(5, CrashMode::kDropUnsynced);
  EXPECT_FALSE(fs.dead());
  EXPECT_EQ(contents(fs, "/d/f"), "");

  fs.fail_after_mutations(1);
  auto g = must_open(fs, "/d/f");
  EXPECT_TRUE(g->write_at(0, "1").is_ok());
  EXPECT_EQ(g->write_at(1, "2").code(), Code::kIoError);
}

TEST(SimFileSystem, RemovedFilesAreFreedOnceNothingReachesThem) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.create_dir("/d").is_ok());
  for (int i = 0; i < 50; ++i) {
    const std::string path = "/d/f" + std::to_string(i);
    {
      auto f = must_open(fs, path);
      ASSERT_TRUE(f->write_at(0, std::string(1000, 'x')).is_ok());
      ASSERT_TRUE(f->sync().is_ok());
      ASSERT_TRUE(fs.sync_dir("/d").is_ok());
      ASSERT_TRUE(fs.remove(path).is_ok());
      // Unlinked but open, and its name is still durable: it must stay.
      EXPECT_TRUE(f->write_at(1000, "y").is_ok());
    }
    ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  }
  EXPECT_EQ(fs.inode_count(), 0u);
  // A removal that is not durable yet keeps the file reachable across a crash.
  {
    auto f = must_open(fs, "/d/keep");
    ASSERT_TRUE(f->write_at(0, "k").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
  }
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  ASSERT_TRUE(fs.remove("/d/keep").is_ok());
  EXPECT_EQ(fs.inode_count(), 1u);
  fs.crash(1, CrashMode::kDropUnsynced);
  EXPECT_EQ(contents(fs, "/d/keep"), "k");
}

}  // namespace
}  // namespace cairn::wal
