#include "storage/memory_engine.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "storage/codec.h"
#include "storage/crc32c.h"

namespace cairn::storage {
namespace {

constexpr std::string_view kDumpMagic = "CAIRNMEM";
// Version 1 had three spaces (no kAuth); it still loads, with kAuth empty.
constexpr uint32_t kDumpVersion = 2;
constexpr uint32_t kDumpVersionThreeSpaces = 1;

Error disk_down() {
  return make_error(Errc::kIo, "memory disk is down (simulated crash)");
}

class MemoryIterator final : public EngineIterator {
 public:
  MemoryIterator(const MemoryDisk::Table& t, std::string_view start, std::string_view end)
      : it_(t.lower_bound(start)), end_it_(end.empty() ? t.end() : t.lower_bound(end)) {}
  bool valid() const override { return it_ != end_it_; }
  void next() override { ++it_; }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  Expected<Unit, Error> status() const override { return Unit{}; }

 private:
  MemoryDisk::Table::const_iterator it_;
  MemoryDisk::Table::const_iterator end_it_;
};

// A copy of the range, so that writes while it is in use cannot touch it.
class CopiedIterator final : public EngineIterator {
 public:
  CopiedIterator(const MemoryDisk::Table& t, std::string_view start, std::string_view end)
      : rows_(t.lower_bound(start), end.empty() ? t.end() : t.lower_bound(end)) {}
  bool valid() const override { return pos_ < rows_.size(); }
  void next() override { ++pos_; }
  std::string_view key() const override { return rows_[pos_].first; }
  std::string_view value() const override { return rows_[pos_].second; }
  Expected<Unit, Error> status() const override { return Unit{}; }

 private:
  std::vector<std::pair<std::string, std::string>> rows_;
  size_t pos_ = 0;
};

class FailedIterator final : public EngineIterator {
 public:
  bool valid() const override { return false; }
  void next() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  Expected<Unit, Error> status() const override { return unexpected(disk_down()); }
};

}  // namespace

const char* space_name(Space s) {
  switch (s) {
    case Space::kKeys:
      return "keys";
    case Space::kLeases:
      return "leases";
    case Space::kMeta:
      return "meta";
    case Space::kAuth:
      return "auth";
  }
  return "?";
}

void MemoryDisk::crash_after_writes(uint64_t n) {
  std::lock_guard lock(mu_);
  writes_left_ = n;
}

void MemoryDisk::restart() {
  std::lock_guard lock(mu_);
  down_ = false;
  writes_left_.reset();
}

bool MemoryDisk::down() const {
  std::lock_guard lock(mu_);
  return down_;
}

std::shared_ptr<MemoryDisk> MemoryDisk::copy() const {
  auto d = std::make_shared<MemoryDisk>();
  std::lock_guard lk(mu_);
  d->tables_ = tables_;
  return d;
}

uint64_t MemoryDisk::writes_applied() const {
  std::lock_guard lock(mu_);
  return writes_applied_;
}

Expected<std::optional<std::string>, Error> MemoryEngine::get(Space space, std::string_view key) {
  std::lock_guard lock(disk_->mu_);
  if (disk_->down_) return unexpected(disk_down());
  const auto& t = disk_->tables_[static_cast<size_t>(space)];
  auto it = t.find(key);
  if (it == t.end()) return std::optional<std::string>{};
  return std::optional<std::string>{it->second};
}

std::unique_ptr<EngineIterator> MemoryEngine::scan(Space space, std::string_view start,
                                                   std::string_view end) {
  std::lock_guard lock(disk_->mu_);
  if (disk_->down_) return std::make_unique<FailedIterator>();
  // Only the apply thread mutates the tables, and it does not write while it iterates.
  return std::make_unique<MemoryIterator>(disk_->tables_[static_cast<size_t>(space)], start, end);
}

std::unique_ptr<EngineIterator> MemoryEngine::scan_snapshot(Space space, std::string_view start,
                                                            std::string_view end) {
  std::lock_guard lock(disk_->mu_);
  if (disk_->down_) return std::make_unique<FailedIterator>();
  return std::make_unique<CopiedIterator>(disk_->tables_[static_cast<size_t>(space)], start, end);
}

Expected<Unit, Error> MemoryEngine::write(const WriteBatch& batch, WriteOptions) {
  std::lock_guard lock(disk_->mu_);
  if (disk_->down_) return unexpected(disk_down());
  if (disk_->writes_left_.has_value()) {
    if (*disk_->writes_left_ == 0) {
      // The simulated power cut: this batch never reaches the disk.
      disk_->down_ = true;
      return unexpected(disk_down());
    }
    --*disk_->writes_left_;
  }
  for (const WriteBatch::Op& op : batch.ops()) {
    auto& t = disk_->tables_[static_cast<size_t>(op.space)];
    if (op.erase) {
      auto it = t.find(op.key);
      if (it != t.end()) t.erase(it);
    } else {
      t.insert_or_assign(op.key, op.value);
    }
  }
  ++disk_->writes_applied_;
  return Unit{};
}

Expected<Unit, Error> MemoryEngine::checkpoint(const std::string& dir) {
  std::string out;
  out.append(kDumpMagic);
  codec::put_u32(&out, kDumpVersion);
  {
    std::lock_guard lock(disk_->mu_);
    if (disk_->down_) return unexpected(disk_down());
    for (const auto& t : disk_->tables_) {
      codec::put_u64(&out, t.size());
      for (const auto& [k, v] : t) {
        codec::put_bytes(&out, k);
        codec::put_bytes(&out, v);
      }
    }
  }
  codec::put_u32(&out, crc32c(out));
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return unexpected(make_error(Errc::kInvalidArgument, "checkpoint directory exists: " + dir));
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return unexpected(make_error(Errc::kIo, "create " + dir + ": " + ec.message()));
  const std::string path = dir + "/" + kMemoryDumpFile;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  f.flush();
  if (!f) return unexpected(make_error(Errc::kIo, "write " + path));
  return Unit{};
}

Expected<std::unique_ptr<MemoryEngine>, Error> MemoryEngine::open_dir(const std::string& dir) {
  const std::string path = dir + "/" + kMemoryDumpFile;
  std::ifstream f(path, std::ios::binary);
  if (!f) return unexpected(make_error(Errc::kIo, "open " + path));
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string in = ss.str();
  if (in.size() < kDumpMagic.size() + 8 || std::string_view(in).substr(0, kDumpMagic.size()) != kDumpMagic) {
    return unexpected(make_error(Errc::kCorruption, "bad memory dump header in " + path));
  }
  const std::string_view body(in.data(), in.size() - 4);
  codec::Reader trailer(std::string_view(in).substr(in.size() - 4));
  uint32_t want = 0;
  if (!trailer.u32(&want) || want != crc32c(body)) {
    return unexpected(make_error(Errc::kCorruption, "memory dump checksum mismatch in " + path));
  }
  codec::Reader r(body.substr(kDumpMagic.size()));
  uint32_t version = 0;
  if (!r.u32(&version) || (version != kDumpVersion && version != kDumpVersionThreeSpaces)) {
    return unexpected(make_error(Errc::kCorruption, "unknown memory dump version in " + path));
  }
  auto engine = std::make_unique<MemoryEngine>();
  const size_t spaces = version == kDumpVersionThreeSpaces ? 3 : kSpaceCount;
  for (size_t si = 0; si < spaces; ++si) {
    auto& t = engine->disk_->tables_[si];
    uint64_t n = 0;
    if (!r.u64(&n)) return unexpected(make_error(Errc::kCorruption, "truncated memory dump " + path));
    for (uint64_t i = 0; i < n; ++i) {
      std::string k, v;
      if (!r.bytes(&k) || !r.bytes(&v)) {
        return unexpected(make_error(Errc::kCorruption, "truncated memory dump " + path));
      }
      t.emplace(std::move(k), std::move(v));
    }
  }
  if (!r.done()) return unexpected(make_error(Errc::kCorruption, "trailing bytes in memory dump " + path));
  return engine;
}

uint64_t MemoryEngine::size_bytes() {
  std::lock_guard lock(disk_->mu_);
  uint64_t n = 0;
  for (const auto& t : disk_->tables_) {
    for (const auto& [k, v] : t)
      n += k.size() + v.size();
  }
  return n;
}

}  // namespace cairn::storage
