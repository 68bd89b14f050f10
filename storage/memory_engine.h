// MemoryEngine: the deterministic in-memory KvEngine for simulation and tests.
//
// The data lives in a MemoryDisk that outlives engine instances, so a test can "crash" by dropping
// the engine and the store above it and reopen a new engine over the same disk. Every write that
// returned OK is durable (the disk models sync writes); a batch is applied all-or-nothing.
//
// Fault injection: MemoryDisk::crash_after_writes(n) lets n more batches land and makes the next
// one fail as if the process died before it reached the disk: the batch is discarded entirely and
// every later operation through any engine on this disk fails with Errc::kIo until
// MemoryDisk::restart() (the "reboot"). This compiles in all builds because the memory engine is
// itself a test/simulation component.
//
// Checkpoint format (file `memory-engine.dump` inside the checkpoint directory), all integers
// big-endian:
//   8 bytes  magic "CAIRNMEM"
//   4 bytes  format version (2; version 1 files, written before kAuth, hold three spaces)
//   per space in Space order: u64 record count, then per record: u32 key length, key,
//            u32 value length, value
//   4 bytes  CRC-32C of everything above
// open_dir() refuses a file with a bad magic, version, length or checksum.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "storage/kv_engine.h"

namespace cairn::storage {

class MemoryDisk {
 public:
  using Table = std::map<std::string, std::string, std::less<>>;

  // The next `n` writes succeed, then one fails and the disk is "down" until restart().
  void crash_after_writes(uint64_t n);
  void restart();
  bool down() const;
  uint64_t writes_applied() const;
  // A new disk holding what this one holds now (up and without a pending crash): the server simulator
  // keeps one as "what the engine had flushed" when the power goes later.
  std::shared_ptr<MemoryDisk> copy() const;

 private:
  friend class MemoryEngine;
  mutable std::mutex mu_;
  std::array<Table, kSpaceCount> tables_;
  std::optional<uint64_t> writes_left_;
  bool down_ = false;
  uint64_t writes_applied_ = 0;
};

class MemoryEngine final : public KvEngine {
 public:
  explicit MemoryEngine(std::shared_ptr<MemoryDisk> disk) : disk_(std::move(disk)) {}
  MemoryEngine() : disk_(std::make_shared<MemoryDisk>()) {}

  // Loads a checkpoint written by checkpoint() into a fresh disk.
  static Expected<std::unique_ptr<MemoryEngine>, Error> open_dir(const std::string& dir);

  Expected<std::optional<std::string>, Error> get(Space space, std::string_view key) override;
  std::unique_ptr<EngineIterator> scan(Space space, std::string_view start, std::string_view end) override;
  std::unique_ptr<EngineIterator> scan_snapshot(Space space, std::string_view start,
                                                std::string_view end) override;
  Expected<Unit, Error> write(const WriteBatch& batch, WriteOptions options) override;
  Expected<Unit, Error> checkpoint(const std::string& dir) override;
  uint64_t size_bytes() override;
  Expected<Unit, Error> compact_storage() override { return Unit{}; }

  const std::shared_ptr<MemoryDisk>& disk() const { return disk_; }

 private:
  std::shared_ptr<MemoryDisk> disk_;
};

inline constexpr const char* kMemoryDumpFile = "memory-engine.dump";

}  // namespace cairn::storage
