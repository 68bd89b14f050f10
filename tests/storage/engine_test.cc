// KvEngine conformance: both engines must behave the same for everything the store relies on.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/storage/harness.h"

namespace cairn::storage::testing {
namespace {

class EngineTest : public ::testing::TestWithParam<EngineKind> {
 protected:
  void SetUp() override { engine_ = make_engine(GetParam(), dir_.sub("db")); }

  std::vector<std::string> keys(Space s, std::string_view start, std::string_view end) {
    std::vector<std::string> out;
    auto it = engine_->scan(s, start, end);
    for (; it->valid(); it->next())
      out.emplace_back(it->key());
    EXPECT_TRUE(it->status());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<KvEngine> engine_;
};

TEST_P(EngineTest, GetReturnsWhatTheBatchWrote) {
  auto missing = engine_->get(Space::kKeys, "a");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  WriteBatch b;
  b.put(Space::kKeys, "a", "1");
  b.put(Space::kMeta, "a", "meta");
  b.put(Space::kKeys, std::string("b\0c", 3), std::string("\0\xff", 2));
  ASSERT_TRUE(engine_->write(b, WriteOptions{}));
  EXPECT_EQ(**engine_->get(Space::kKeys, "a"), "1");
  EXPECT_EQ(**engine_->get(Space::kMeta, "a"), "meta");  // spaces are separate
  EXPECT_FALSE(engine_->get(Space::kLeases, "a")->has_value());
  EXPECT_EQ(**engine_->get(Space::kKeys, std::string("b\0c", 3)), std::string("\0\xff", 2));
}

TEST_P(EngineTest, MultiGetMatchesGet) {
  WriteBatch b;
  b.put(Space::kKeys, "a", "1");
  b.put(Space::kKeys, "c", "3");
  ASSERT_TRUE(engine_->write(b, WriteOptions{}));
  auto got = engine_->multi_get(Space::kKeys, {"c", "b", "a", "c"});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[0], std::optional<std::string>("3"));
  EXPECT_EQ((*got)[1], std::nullopt);
  EXPECT_EQ((*got)[2], std::optional<std::string>("1"));
  EXPECT_EQ((*got)[3], std::optional<std::string>("3"));
  EXPECT_TRUE(engine_->multi_get(Space::kKeys, {})->empty());
}

TEST_P(EngineTest, BatchAppliesPutsAndErasesInOrder) {
  WriteBatch b1;
  for (const char* k : {"a", "b", "c", "d"})
    b1.put(Space::kKeys, k, k);
  ASSERT_TRUE(engine_->write(b1, WriteOptions{false}));
  WriteBatch b2;
  b2.erase(Space::kKeys, "b");
  b2.put(Space::kKeys, "c", "new");
  b2.erase(Space::kKeys, "c");
  b2.put(Space::kKeys, "e", "e");
  b2.erase(Space::kKeys, "zz");  // erasing a missing key is fine
  ASSERT_TRUE(engine_->write(b2, WriteOptions{true}));
  EXPECT_EQ(keys(Space::kKeys, "", ""), (std::vector<std::string>{"a", "d", "e"}));
}

TEST_P(EngineTest, ScanIsOrderedAndBounded) {
  WriteBatch b;
  for (const char* k : {"b", "a", "c", "ab", "\xff"})
    b.put(Space::kKeys, k, "v");
  b.put(Space::kLeases, "x", "v");
  ASSERT_TRUE(engine_->write(b, WriteOptions{}));
  EXPECT_EQ(keys(Space::kKeys, "", ""), (std::vector<std::string>{"a", "ab", "b", "c", "\xff"}));
  EXPECT_EQ(keys(Space::kKeys, "ab", "c"), (std::vector<std::string>{"ab", "b"}));
  EXPECT_EQ(keys(Space::kKeys, "b", ""), (std::vector<std::string>{"b", "c", "\xff"}));
  EXPECT_EQ(keys(Space::kKeys, "d", "e"), (std::vector<std::string>{}));
  EXPECT_EQ(keys(Space::kLeases, "", ""), (std::vector<std::string>{"x"}));
}

TEST_P(EngineTest, CheckpointIsAnOpenableCopyUnaffectedByLaterWrites) {
  WriteBatch b;
  b.put(Space::kKeys, "a", "1");
  b.put(Space::kMeta, "m", "2");
  ASSERT_TRUE(engine_->write(b, WriteOptions{}));
  ASSERT_TRUE(engine_->checkpoint(dir_.sub("cp")));
  EXPECT_FALSE(engine_->checkpoint(dir_.sub("cp")));  // target must not exist
  WriteBatch later;
  later.put(Space::kKeys, "b", "3");
  ASSERT_TRUE(engine_->write(later, WriteOptions{}));
  EXPECT_GT(engine_->size_bytes(), 0u);
  ASSERT_TRUE(engine_->compact_storage());

  std::unique_ptr<KvEngine> copy;
  if (GetParam() == EngineKind::kMemory) {
    auto m = MemoryEngine::open_dir(dir_.sub("cp"));
    ASSERT_TRUE(m) << m.error().message();
    copy = std::move(m).value();
  } else {
    ASSERT_TRUE(RocksEngine::restore(dir_.sub("cp"), dir_.sub("restored")));
    EXPECT_FALSE(RocksEngine::restore(dir_.sub("cp"), dir_.sub("restored")));  // not empty any more
    copy = make_engine(EngineKind::kRocks, dir_.sub("restored"));
  }
  ASSERT_TRUE(copy);
  EXPECT_EQ(**copy->get(Space::kKeys, "a"), "1");
  EXPECT_EQ(**copy->get(Space::kMeta, "m"), "2");
  EXPECT_FALSE(copy->get(Space::kKeys, "b")->has_value());
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest, ::testing::Values(EngineKind::kMemory, EngineKind::kRocks),
                         [](const auto& info) { return std::string(engine_name(info.param)); });

TEST(MemoryEngineTest, CrashDropsTheWholeBatchAndStopsTheDisk) {
  auto disk = std::make_shared<MemoryDisk>();
  MemoryEngine e(disk);
  disk->crash_after_writes(1);
  WriteBatch ok;
  ok.put(Space::kKeys, "a", "1");
  ASSERT_TRUE(e.write(ok, WriteOptions{}));
  WriteBatch lost;
  lost.put(Space::kKeys, "b", "2");
  lost.put(Space::kKeys, "c", "3");
  auto r = e.write(lost, WriteOptions{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_TRUE(disk->down());
  EXPECT_FALSE(e.get(Space::kKeys, "a"));  // everything fails until the reboot
  disk->restart();
  MemoryEngine after(disk);
  EXPECT_EQ(**after.get(Space::kKeys, "a"), "1");
  EXPECT_FALSE(after.get(Space::kKeys, "b")->has_value());
  EXPECT_FALSE(after.get(Space::kKeys, "c")->has_value());
  EXPECT_EQ(disk->writes_applied(), 1u);
}

TEST(MemoryEngineTest, DumpRejectsCorruption) {
  TempDir dir;
  MemoryEngine e;
  WriteBatch b;
  b.put(Space::kKeys, "key", "value");
  ASSERT_TRUE(e.write(b, WriteOptions{}));
  ASSERT_TRUE(e.checkpoint(dir.sub("cp")));
  const std::string path = dir.sub("cp") + "/" + kMemoryDumpFile;
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  ASSERT_GT(bytes.size(), 20u);
  bytes[bytes.size() / 2] ^= 0x01;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  auto r = MemoryEngine::open_dir(dir.sub("cp"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  bytes.resize(10);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_FALSE(MemoryEngine::open_dir(dir.sub("cp")));
}

}  // namespace
}  // namespace cairn::storage::testing
