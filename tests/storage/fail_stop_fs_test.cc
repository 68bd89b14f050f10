// FailStopFileSystem (storage/fail_stop_fs.h): the first failed write to a RocksDB file stops the
// process with a message naming the operation and the file; a failure to create a file does not.
// Errors are injected by a file system under it that fails chosen operations on chosen file kinds.
#include <gtest/gtest.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <filesystem>

#include "storage/rocksdb_engine.h"
#include "tests/storage/harness.h"

namespace cairn::storage::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

// What the injecting file system fails; set by the test while the engine runs.
struct Injection {
  std::atomic<bool> append{false};  // Append on a matching file: out of space
  std::atomic<bool> sync{false};    // Sync/Fsync on a matching file: EIO
  std::atomic<bool> create{false};  // NewWritableFile of a matching file: EIO
  std::string suffix;               // ".log" (RocksDB's WAL) or ".sst"
  bool matches(const std::string& f) const { return f.ends_with(suffix); }
};

class InjectingFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  InjectingFile(std::unique_ptr<rocksdb::FSWritableFile> f, const Injection* inj)
      : FSWritableFileOwnerWrapper(std::move(f)), inj_(inj) {}
  IOStatus Append(const rocksdb::Slice& d, const IOOptions& o, IODebugContext* g) override {
    if (inj_->append) return IOStatus::NoSpace("injected");
    return target()->Append(d, o, g);
  }
  IOStatus Append(const rocksdb::Slice& d, const IOOptions& o, const rocksdb::DataVerificationInfo& v,
                  IODebugContext* g) override {
    if (inj_->append) return IOStatus::NoSpace("injected");
    return target()->Append(d, o, v, g);
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* g) override {
    if (inj_->sync) return IOStatus::IOError("injected EIO");
    return target()->Sync(o, g);
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* g) override {
    if (inj_->sync) return IOStatus::IOError("injected EIO");
    return target()->Fsync(o, g);
  }

 private:
  const Injection* inj_;
};

class InjectingFs final : public rocksdb::FileSystemWrapper {
 public:
  explicit InjectingFs(const Injection* inj) : FileSystemWrapper(rocksdb::FileSystem::Default()), inj_(inj) {}
  const char* Name() const override { return "InjectingFs"; }
  IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                           std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* g) override {
    if (!inj_->matches(f)) return target()->NewWritableFile(f, fo, r, g);
    if (inj_->create) return IOStatus::IOError("injected create failure");
    IOStatus s = target()->NewWritableFile(f, fo, r, g);
    if (s.ok()) *r = std::make_unique<InjectingFile>(std::move(*r), inj_);
    return s;
  }

 private:
  const Injection* inj_;
};

class FailStopFsTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }

  std::unique_ptr<RocksEngine> open(IoFailureHandler handler = nullptr) {
    RocksOptions o;
    o.file_system = std::make_shared<InjectingFs>(&inj_);
    o.on_io_failure = std::move(handler);
    auto e = RocksEngine::open(dir_.sub("db"), std::move(o));
    EXPECT_TRUE(e) << e.error().message();
    return e ? std::move(*e) : nullptr;
  }

  static WriteBatch one(const std::string& k) {
    WriteBatch b;
    b.put(Space::kKeys, k, "value-" + k);
    return b;
  }

  TempDir dir_;
  Injection inj_;
};

TEST_F(FailStopFsTest, WritesPassThroughWhileTheDiskIsHealthy) {
  inj_.suffix = ".log";
  auto e = open([](const std::string& what) { ADD_FAILURE() << "unexpected failure: " << what; });
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->write(one("a"), WriteOptions{}));
  ASSERT_TRUE(e->sync());
  EXPECT_EQ(**e->get(Space::kKeys, "a"), "value-a");
}

TEST_F(FailStopFsTest, AFailedWalAppendStopsTheProcessNamingTheFile) {
  inj_.suffix = ".log";
  auto e = open();
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->write(one("a"), WriteOptions{}));
  EXPECT_DEATH(
      {
        inj_.append = true;
        (void)e->write(one("b"), WriteOptions{});
      },
      "cairn: fatal: storage append failed on .*/db/[0-9]+\\.log: IO error: No space left");
}

TEST_F(FailStopFsTest, AFailedWalSyncStopsTheProcess) {
  inj_.suffix = ".log";
  auto e = open();
  ASSERT_TRUE(e);
  EXPECT_DEATH(
      {
        inj_.sync = true;
        (void)e->write(one("a"), WriteOptions{});
      },
      "cairn: fatal: storage (sync|fsync) failed on .*\\.log: IO error: injected EIO");
}

TEST_F(FailStopFsTest, AFailedFlushOfUnloggedBatchesStopsTheProcess) {
  inj_.suffix = ".sst";
  auto e = open();
  ASSERT_TRUE(e);
  WriteOptions unlogged;
  unlogged.log = false;
  ASSERT_TRUE(e->write(one("a"), unlogged));
  EXPECT_DEATH(
      {
        inj_.append = true;
        (void)e->sync();
      },
      "cairn: fatal: storage append failed on .*\\.sst: IO error: No space left");
}

TEST_F(FailStopFsTest, TheHandlerIsToldAndAFailedCreateIsOnlyAnError) {
  inj_.suffix = ".sst";
  std::vector<std::string> told;
  auto e = open([&](const std::string& what) { told.push_back(what); });
  ASSERT_TRUE(e);
  WriteOptions unlogged;
  unlogged.log = false;
  ASSERT_TRUE(e->write(one("a"), unlogged));
  inj_.create = true;
  auto r = e->sync();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("injected create failure"), std::string::npos) << r.error().message();
  // Nothing was half-written: the store reports the error and the process goes on.
  EXPECT_TRUE(told.empty()) << told.front();
}

TEST_F(FailStopFsTest, RocksDbsInfoLogIsCairnsAndKeepsOneGeneration) {
  // RocksDB's own info logger would reuse a failed writer (see storage/rocksdb_info_log.h): the engine
  // installs cairn's, which writes "LOG" with stdio and renames the previous run's to "LOG.old".
  inj_.suffix = ".log";
  for (int run = 0; run < 3; ++run) {
    auto e = open([](const std::string& what) { ADD_FAILURE() << what; });
    ASSERT_TRUE(e);
    ASSERT_TRUE(e->write(one("a"), WriteOptions{}));
  }
  namespace fs = std::filesystem;
  EXPECT_GT(fs::file_size(dir_.sub("db/LOG")), 0u);
  EXPECT_TRUE(fs::exists(dir_.sub("db/LOG.old")));
  int old_logs = 0;
  for (const auto& entry : fs::directory_iterator(dir_.sub("db")))
    old_logs += entry.path().filename().string().starts_with("LOG.old") ? 1 : 0;
  EXPECT_EQ(old_logs, 1);
}

}  // namespace
}  // namespace cairn::storage::testing
