// Snapshot transfers in bounded memory (server/node/snapshot_stream.h): the sender's PackedDirSource
// produces exactly snapshot_files.h's packed directory, the receiver's PackedDirWriter rebuilds the files
// from pieces of any size, accepts exactly what validate_packed accepts and never leaves a directory
// behind when it refuses. No ports, no processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "base/crc32c.h"
#include "server/node/node.h"
#include "server/node/snapshot_files.h"
#include "server/node/snapshot_stream.h"

namespace cairn::server::node {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads a whole source in pieces of 1..max_piece bytes.
std::string drain(net::LargeSource& src, std::size_t max_piece, std::mt19937& rng) {
  std::string out;
  while (out.size() < src.size()) {
    std::size_t n = std::min<std::size_t>(rng() % max_piece + 1, src.size() - out.size());
    std::size_t before = out.size();
    EXPECT_TRUE(src.read(out, n));
    EXPECT_EQ(out.size(), before + n);
  }
  return out;
}

// Feeds `bytes` to a writer in pieces of 1..max_piece bytes; false at the first refusal.
bool feed(PackedDirWriter& w, std::string_view bytes, std::size_t max_piece, std::mt19937& rng) {
  while (!bytes.empty()) {
    std::size_t n = std::min<std::size_t>(rng() % max_piece + 1, bytes.size());
    if (!w.write(bytes.substr(0, n))) return false;
    bytes.remove_prefix(n);
  }
  return true;
}

class SnapshotStream : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("cairn-snapstream-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    make_store(dir_ + "/src");
    auto packed = pack_dir(dir_ + "/src");
    ASSERT_TRUE(packed) << packed.error();
    packed_ = *packed;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A checkpoint-like directory: a large file, a small one, an empty one.
  static void make_store(const std::string& d) {
    fs::create_directories(d);
    std::string big(300'000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
      big[i] = static_cast<char>(i * 131 % 251);
    std::ofstream(d + "/000001.sst", std::ios::binary) << big;
    std::ofstream(d + "/CURRENT") << "MANIFEST-000001\n";
    std::ofstream(d + "/LOCK");
  }
  std::string dir_, packed_;
  std::mt19937 rng_{7};
};

TEST_F(SnapshotStream, TheSourceReadsExactlyThePackedDirectoryAfterItsPrefixAndRemovesTheDirectory) {
  make_store(dir_ + "/out");
  const std::string prefix = snapshot_transfer_prefix("the header");
  auto src = PackedDirSource::open(dir_ + "/out", prefix);
  ASSERT_TRUE(src) << src.error();
  EXPECT_FALSE(fs::exists(dir_ + "/out"));  // the open descriptors keep the files
  EXPECT_EQ((*src)->size(), prefix.size() + packed_.size());
  std::string all = drain(**src, 70'000, rng_);
  EXPECT_EQ(all, prefix + packed_);
  EXPECT_EQ((*src)->crc32c(), base::crc32c(all));
  EXPECT_EQ(prefix.substr(0, 8), "CAIRNSN1");
}

TEST_F(SnapshotStream, TheSourceOfAMissingDirectoryIsAnError) {
  auto src = PackedDirSource::open(dir_ + "/nope", "");
  ASSERT_FALSE(src);
  EXPECT_NE(src.error().find("nope"), std::string::npos) << src.error();
}

TEST_F(SnapshotStream, TheWriterRebuildsTheFilesFromPiecesOfAnySize) {
  for (std::size_t piece : {1, 3, 13, 4096, 1 << 20}) {
    const std::string out = dir_ + "/in." + std::to_string(piece);
    {
      PackedDirWriter w(out);
      ASSERT_TRUE(feed(w, packed_, piece, rng_)) << piece << ": " << w.error();
      ASSERT_TRUE(w.complete()) << piece;
      EXPECT_EQ(w.release(), out);
    }
    ASSERT_TRUE(fs::exists(out)) << "release() keeps the directory";
    for (const char* name : {"000001.sst", "CURRENT", "LOCK"})
      EXPECT_EQ(read_file(out + "/" + name), read_file(dir_ + "/src/" + name)) << name << " piece " << piece;
    auto synced = sync_dir(out);
    EXPECT_TRUE(synced) << synced.error();
  }
}

TEST_F(SnapshotStream, AWriterThatIsNotCompleteOrNotReleasedRemovesItsDirectory) {
  const std::string out = dir_ + "/in";
  {
    PackedDirWriter w(out);
    ASSERT_TRUE(w.write(std::string_view(packed_).substr(0, packed_.size() / 2)));
    EXPECT_FALSE(w.complete());
    EXPECT_TRUE(fs::exists(out + "/000001.sst"));
  }
  EXPECT_FALSE(fs::exists(out));
  {
    PackedDirWriter w(out);
    ASSERT_TRUE(w.write(packed_));
    EXPECT_TRUE(w.complete());
  }
  EXPECT_FALSE(fs::exists(out)) << "complete but not released";
}

TEST_F(SnapshotStream, TheWriterRefusesMalformedDirectoriesWithAReason) {
  auto refusal = [&](std::string bytes) {
    PackedDirWriter w(dir_ + "/bad");
    bool ok = w.write(bytes) && w.complete();
    EXPECT_FALSE(ok);
    std::string why = w.error().empty() ? std::string(ok ? "accepted" : "incomplete") : w.error();
    if (!w.error().empty()) {
      EXPECT_FALSE(w.write("x")) << "a refused writer stays refused";
    }
    return why;
  };
  std::string flipped = packed_;
  flipped[packed_.size() - 100] ^= 0x01;
  EXPECT_EQ(refusal(flipped), "snapshot store: checksum mismatch");
  EXPECT_EQ(refusal("CAIRNDIX" + packed_.substr(8)), "snapshot store: bad header");
  EXPECT_EQ(refusal(packed_ + "z"), "snapshot store: trailing bytes");
  EXPECT_EQ(refusal(packed_.substr(0, packed_.size() - 1)), "incomplete");
  // One file whose name climbs out of the directory, with a correct checksum.
  std::string evil = std::string("CAIRNDIR") + std::string("\0\0\0\1\0\0\0\x05../ab", 12) +
                     std::string("\0\0\0\0\0\0\0\0", 8);
  std::string crc;
  for (int s = 24; s >= 0; s -= 8)
    crc.push_back(static_cast<char>(base::crc32c(evil) >> s));
  EXPECT_EQ(refusal(evil + crc), "snapshot store: bad file entry");
  EXPECT_FALSE(fs::exists(dir_ + "/ab"));
  EXPECT_FALSE(fs::exists(dir_ + "/bad"));
}

// The property the member relies on: the streaming writer accepts exactly what validate_packed (and so
// unpack_dir) accepts, for mutations of a good directory with and without their checksum repaired.
TEST_F(SnapshotStream, TheWriterAcceptsExactlyWhatValidatePackedAccepts) {
  int accepted = 0, refused = 0;
  for (int i = 0; i < 400; ++i) {
    std::string body = packed_.substr(0, packed_.size() - 4);
    const std::size_t head = std::min<std::size_t>(body.size(), 64);  // mutate the structure, not only data
    switch (i % 4) {
      case 0:
        body[rng_() % head] ^= static_cast<char>(1u << (rng_() % 8));
        break;
      case 1:
        body.erase(rng_() % body.size(), rng_() % 16 + 1);
        break;
      case 2:
        body.insert(rng_() % head, std::string(rng_() % 8 + 1, '\x01'));
        break;
      case 3:
        body[rng_() % body.size()] ^= 0x40;
        break;
    }
    std::string mutated = body;
    std::uint32_t c = (i / 4) % 2 ? base::crc32c(body) : static_cast<std::uint32_t>(rng_());
    for (int s = 24; s >= 0; s -= 8)
      mutated.push_back(static_cast<char>(c >> s));
    const bool valid = static_cast<bool>(validate_packed(mutated));
    PackedDirWriter w(dir_ + "/prop");
    const bool streamed = feed(w, mutated, 5000, rng_) && w.complete();
    EXPECT_EQ(streamed, valid) << "mutation " << i << ": " << w.error();
    (valid ? accepted : refused)++;
  }
  EXPECT_GT(refused, 100);
  EXPECT_GT(accepted, 10) << "the repaired-checksum data mutations must be accepted by both";
}

TEST_F(SnapshotStream, TheReceiverHandsOverTheHeaderAndTheDirectoryOfAWholeTransfer) {
  const std::string transfer = snapshot_transfer_prefix("header bytes") + packed_;
  std::string got_header, got_dir, failure;
  {
    SnapshotReceiver r(
        dir_ + "/snap.in.1", [&](std::string h, std::string d) { got_header = h, got_dir = d; },
        [&](const std::string& why) { failure = why; });
    std::string_view rest = transfer;
    while (!rest.empty()) {
      std::size_t n = std::min<std::size_t>(rng_() % 9 + 1, rest.size());
      ASSERT_TRUE(r.write(rest.substr(0, n)));
      rest.remove_prefix(n);
    }
    r.finish();
  }
  EXPECT_EQ(failure, "");
  EXPECT_EQ(got_header, "header bytes");
  EXPECT_EQ(got_dir, dir_ + "/snap.in.1");
  EXPECT_EQ(read_file(got_dir + "/CURRENT"), "MANIFEST-000001\n");
}

TEST_F(SnapshotStream, AReceiverThatFailsReportsOnceAndLeavesNoDirectory) {
  struct Case {
    std::string bytes;
    bool finish;
    std::string why;
  };
  const std::string good = snapshot_transfer_prefix("h") + packed_;
  std::string huge_header = "CAIRNSN1" + std::string("\x7f\0\0\0", 4);
  for (const Case& c :
       {Case{"CAIRNSN2" + good.substr(8), true, "not a snapshot transfer"},
        Case{huge_header, true, "a snapshot header of 2130706432 bytes"},
        Case{good.substr(0, good.size() - 3), true, "the snapshot store is truncated"},
        Case{good.substr(0, good.size() / 2), false, "the transfer ended before its last byte"},
        Case{good + "x", true, "snapshot store: trailing bytes"}}) {
    int done = 0, failed = 0;
    std::string why;
    {
      SnapshotReceiver r(
          dir_ + "/snap.in.2", [&](std::string, std::string) { ++done; },
          [&](const std::string& w) {
            ++failed;
            why = w;
          });
      if (r.write(c.bytes) && c.finish) r.finish();
    }
    EXPECT_EQ(done, 0) << c.why;
    EXPECT_EQ(failed, 1) << c.why;
    EXPECT_EQ(why, c.why);
    EXPECT_FALSE(fs::exists(dir_ + "/snap.in.2")) << c.why;
  }
}

TEST(SnapshotTransferDir, OnlyTheReceiversOwnNamesAreTransferDirectories) {
  EXPECT_TRUE(is_snapshot_transfer_dir("snap.in.1"));
  EXPECT_TRUE(is_snapshot_transfer_dir("snap.in.18446744073709551615"));
  EXPECT_FALSE(is_snapshot_transfer_dir("snap.in."));
  EXPECT_FALSE(is_snapshot_transfer_dir("snap.in.1/../../etc"));
  EXPECT_FALSE(is_snapshot_transfer_dir("db"));
  EXPECT_FALSE(is_snapshot_transfer_dir(""));
}

TEST(SnapshotSpace, ASnapshotNeedsItsSizeAndTheReserveFree) {
  EXPECT_EQ(snapshot_space_defect(1 << 20, std::nullopt), std::nullopt);
  EXPECT_EQ(snapshot_space_defect(1 << 20, (1 << 20) + kSnapshotSpaceReserveBytes), std::nullopt);
  EXPECT_NE(snapshot_space_defect(1 << 20, kSnapshotSpaceReserveBytes), std::nullopt);
}

}  // namespace
}  // namespace cairn::server::node
