#include "tests/storage/harness.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <random>

namespace cairn::storage::testing {

const char* engine_name(EngineKind k) {
  return k == EngineKind::kMemory ? "Memory" : "Rocks";
}

TempDir::TempDir() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  path_ = (std::filesystem::temp_directory_path() /
           (numbered("cairn-storage-", ::getpid()) + "-" + std::to_string(counter++) + numbered("-", rd())))
              .string();
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::unique_ptr<KvEngine> make_engine(EngineKind kind, const std::string& dir,
                                      std::shared_ptr<MemoryDisk> disk) {
  if (kind == EngineKind::kMemory) {
    return std::make_unique<MemoryEngine>(disk ? std::move(disk) : std::make_shared<MemoryDisk>());
  }
  RocksOptions ro;
  ro.write_buffer_size_bytes = 4ull << 20;
  ro.block_cache_size_bytes = 8ull << 20;
  auto e = RocksEngine::open(dir, ro);
  if (!e) {
    ADD_FAILURE() << "open rocksdb: " << e.error().message();
    return nullptr;
  }
  return std::move(e).value();
}

Harness::Harness(EngineKind kind, StoreOptions options)
    : kind_(kind), options_(options), disk_(std::make_shared<MemoryDisk>()) {
  // Tests do not need fsync per batch; crash tests cover durability on the memory engine.
  options_.sync_writes = false;
  reopen();
}

void Harness::reopen() {
  store_.reset();
  auto s = MvccStore::open(make_engine(kind_, dir_.sub("db"), disk_), options_);
  if (!s) {
    ADD_FAILURE() << "open store: " << s.error().message();
    std::abort();
  }
  store_ = std::move(s).value();
  index_ = store_->applied().index;
}

std::string numbered(std::string_view prefix, int64_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

PutRequest put(std::string key, std::string value, int64_t lease) {
  PutRequest p;
  p.key = std::move(key);
  p.value = std::move(value);
  p.lease = lease;
  return p;
}

RangeRequest get(std::string key, std::string end) {
  RangeRequest r;
  r.key = std::move(key);
  r.range_end = std::move(end);
  return r;
}

DeleteRangeRequest del(std::string key, std::string end) {
  DeleteRangeRequest d;
  d.key = std::move(key);
  d.range_end = std::move(end);
  return d;
}

}  // namespace cairn::storage::testing
