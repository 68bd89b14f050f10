// A bad snapshot from the leader is refused before raft sees it (server/node/node.h snapshot_defect) and
// never half-written (snapshot_files.h validate_packed / unpack_dir). No ports, no processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/node/node.h"
#include "server/node/snapshot_files.h"

namespace cairn::server::node {
namespace {

class SnapshotDefect : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("cairn-snapdefect-" + std::to_string(::getpid())))
               .string();
    std::filesystem::create_directories(dir_ + "/src");
    std::ofstream(dir_ + "/src/000001.sst") << std::string(10'000, 'k');
    std::ofstream(dir_ + "/src/CURRENT") << "MANIFEST-000001\n";
    auto packed = pack_dir(dir_ + "/src");
    ASSERT_TRUE(packed) << packed.error();
    packed_ = *packed;
    raft::ConfState cs;
    cs.voters = {1, 2, 3};
    meta_ = encode_wal_metadata(cs, 7, 0xc1, 1, {MemberInfo{1, "m1", {"http://127.0.0.1:1"}, {}, false}});
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  raft::Snapshot snap(std::string data) {
    raft::Snapshot s;
    s.data = std::move(data);
    s.metadata.index = 10;
    s.metadata.term = 2;
    return s;
  }
  std::string dir_, packed_, meta_;
};

TEST_F(SnapshotDefect, AGoodSnapshotPasses) {
  EXPECT_EQ(snapshot_defect(snap(encode_snapshot_data(meta_, packed_))), std::nullopt);
}

TEST_F(SnapshotDefect, TruncatedCorruptOrMalformedSnapshotsAreRefusedWithAReason) {
  std::string good = encode_snapshot_data(meta_, packed_);
  EXPECT_EQ(snapshot_defect(snap("")).value_or(""), "its data does not decode");
  EXPECT_EQ(snapshot_defect(snap(good.substr(0, good.size() - 1))).value_or(""),
            "snapshot store: checksum mismatch");
  EXPECT_EQ(snapshot_defect(snap(good.substr(0, 4 + meta_.size() + 5))).value_or(""),
            "snapshot store: truncated");
  std::string flipped = good;
  flipped[good.size() - 100] ^= 0x01;  // inside the file bytes
  EXPECT_EQ(snapshot_defect(snap(flipped)).value_or(""), "snapshot store: checksum mismatch");
  EXPECT_EQ(snapshot_defect(snap(encode_snapshot_data("\xC2garbage", packed_))).value_or(""),
            "its membership does not decode");
}

TEST_F(SnapshotDefect, ABadArchiveWritesNothing) {
  std::string bad = packed_.substr(0, packed_.size() - 1);
  auto r = unpack_dir(bad, dir_ + "/incoming");
  ASSERT_FALSE(r);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/incoming"));
  auto ok = unpack_dir(packed_, dir_ + "/incoming");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/incoming/000001.sst"), 10'000u);
}

}  // namespace
}  // namespace cairn::server::node
