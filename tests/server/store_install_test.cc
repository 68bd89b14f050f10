// The store directory's install protocol (server/node/store_install.h): what recover() leaves after a
// crash at each step, and what stage() refuses. Real files under a temporary directory; no processes.
#include "server/node/store_install.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cairn::server::node {
namespace {

namespace fs = std::filesystem;

class StoreInstall : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("cairn-storedir-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/db");
    write(dir_ + "/db/data", "old store");
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(const std::string& path, const std::string& bytes) { std::ofstream(path) << bytes; }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // A received transfer directory snap.in.<n> holding a new store.
  std::string received(uint64_t n) {
    StoreDir d(dir_);
    fs::create_directories(d.transfer_dir(n));
    write(d.transfer_dir(n) + "/data", "new store");
    return "snap.in." + std::to_string(n);
  }
  static std::optional<raft::SnapshotMetadata> marker(uint64_t index) {
    raft::SnapshotMetadata m;
    m.index = index;
    return m;
  }

  std::string dir_;
};

TEST_F(StoreInstall, StagedAndFinishedTheNewStoreReplacesTheOld) {
  StoreDir d(dir_);
  ASSERT_TRUE(d.stage(received(1), 42));
  EXPECT_TRUE(fs::exists(dir_ + "/db.incoming/data"));
  EXPECT_EQ(read(dir_ + "/db.incoming.index"), "42\n");
  EXPECT_FALSE(fs::exists(dir_ + "/snap.in.1"));
  ASSERT_TRUE(d.finish(42));
  EXPECT_EQ(read(dir_ + "/db/data"), "new store");
  for (const char* gone : {"/db.incoming", "/db.incoming.index", "/db.old"})
    EXPECT_FALSE(fs::exists(dir_ + gone)) << gone;
}

// A crash after stage() and before the WAL recorded the marker: the WAL still names an older snapshot
// (or none), so the staged store is dropped and the old one stays.
TEST_F(StoreInstall, ACrashBeforeTheWalAdoptedItKeepsTheOldStore) {
  ASSERT_TRUE(StoreDir(dir_).stage(received(1), 42));
  for (auto wal : {std::optional<raft::SnapshotMetadata>{}, marker(7)}) {
    ASSERT_TRUE(StoreDir(dir_).recover(wal));
    EXPECT_EQ(read(dir_ + "/db/data"), "old store");
    EXPECT_FALSE(fs::exists(dir_ + "/db.incoming"));
    EXPECT_FALSE(fs::exists(dir_ + "/db.incoming.index"));
  }
}

// A crash after the WAL recorded the marker, before or during the swap: recover() finishes it.
TEST_F(StoreInstall, ACrashAfterTheWalAdoptedItFinishesTheSwap) {
  ASSERT_TRUE(StoreDir(dir_).stage(received(1), 42));
  ASSERT_TRUE(StoreDir(dir_).recover(marker(42)));
  EXPECT_EQ(read(dir_ + "/db/data"), "new store");
  // The swap's first rename done (db is db.old), the second not: the new store still arrives.
  ASSERT_TRUE(StoreDir(dir_).stage(received(2), 43));
  fs::rename(dir_ + "/db", dir_ + "/db.old");
  ASSERT_TRUE(StoreDir(dir_).recover(marker(43)));
  EXPECT_EQ(read(dir_ + "/db/data"), "new store");
  EXPECT_FALSE(fs::exists(dir_ + "/db.old"));
}

TEST_F(StoreInstall, TransfersARestartEndedAreRemovedAndNothingElse) {
  StoreDir d(dir_);
  received(3);
  fs::create_directories(d.checkpoint_dir(2));
  fs::create_directories(dir_ + "/snap.in.x");  // not a transfer name: left alone
  ASSERT_TRUE(d.recover(std::nullopt));
  EXPECT_FALSE(fs::exists(d.transfer_dir(3)));
  EXPECT_FALSE(fs::exists(d.checkpoint_dir(2)));
  EXPECT_TRUE(fs::exists(dir_ + "/snap.in.x"));
  EXPECT_EQ(read(dir_ + "/db/data"), "old store");
}

TEST_F(StoreInstall, StageRefusesWhatIsNotATransferDirectory) {
  StoreDir d(dir_);
  for (const char* name : {"db", "snap.in.", "snap.in.1/../../db", "../db"}) {
    auto r = d.stage(name, 5);
    ASSERT_FALSE(r) << name;
    EXPECT_NE(r.error().find("not a snapshot transfer"), std::string::npos) << r.error();
  }
  EXPECT_EQ(read(dir_ + "/db/data"), "old store");
  auto missing = d.stage("snap.in.9", 5);  // a transfer that is not there
  EXPECT_FALSE(missing);
}

}  // namespace
}  // namespace cairn::server::node
