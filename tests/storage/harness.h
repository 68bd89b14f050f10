// Test harness: a store over a chosen engine with an auto-incrementing log index, temp dirs, and
// helpers to build requests tersely.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "storage/memory_engine.h"
#include "storage/mvcc_store.h"
#include "storage/rocksdb_engine.h"

namespace cairn::storage::testing {

enum class EngineKind { kMemory, kRocks };
const char* engine_name(EngineKind k);

// A directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Opens a fresh engine of the given kind (RocksDB in `dir`).
std::unique_ptr<KvEngine> make_engine(EngineKind kind, const std::string& dir,
                                      std::shared_ptr<MemoryDisk> disk = nullptr);

class Harness {
 public:
  explicit Harness(EngineKind kind, StoreOptions options = {});
  // Reopens the store over the same data (memory disk or RocksDB directory).
  void reopen();

  Expected<ApplyResponse, Error> apply(const ApplyRequest& r) { return store_->apply(++index_, 1, r); }
  // As an entry proposed by member `origin`.
  Expected<ApplyResponse, Error> apply_as(uint64_t origin, const ApplyRequest& r) {
    return store_->apply(++index_, 1, r, nullptr, origin);
  }
  Expected<RangeResponse, Error> range(const RangeRequest& r) { return store_->range(r); }
  MvccStore& store() { return *store_; }
  EngineKind kind() const { return kind_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  EngineKind kind_;
  StoreOptions options_;
  TempDir dir_;
  std::shared_ptr<MemoryDisk> disk_;
  std::unique_ptr<MvccStore> store_;
  uint64_t index_ = 0;
};

// prefix + decimal n. (Spelled out because g++ 12 -O3 raises a false -Wrestrict on
// `"literal" + std::to_string(n)`.)
std::string numbered(std::string_view prefix, int64_t n);

PutRequest put(std::string key, std::string value, int64_t lease = 0);
RangeRequest get(std::string key, std::string end = {});
DeleteRangeRequest del(std::string key, std::string end = {});

}  // namespace cairn::storage::testing
