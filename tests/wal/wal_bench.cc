// WAL throughput on the real file system: group commit at 1, 16 and 256 entries of 256 bytes per
// fdatasync, against the raw rate of 256-byte pwrite + fdatasync on a plain preallocated file on the same
// disk. The directory is $CAIRN_BENCH_DIR if set, else a fresh one under the system temp directory
// (make sure it is a real disk, not tmpfs, or fdatasync costs nothing).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/assert.h"
#include "wal/posix_file_system.h"
#include "wal/wal.h"

namespace cairn::wal {
namespace {

constexpr size_t kEntryDataBytes = 256;

std::string fresh_dir() {
  const char* env = std::getenv("CAIRN_BENCH_DIR");
  std::string base = env != nullptr ? env : std::filesystem::temp_directory_path().string();
  std::string tmpl = base + "/cairn-wal-bench-XXXXXX";
  CAIRN_ASSERT(::mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

void BM_WalAppendSync(benchmark::State& state) {
  const auto entries_per_sync = static_cast<size_t>(state.range(0));
  const std::string root = fresh_dir();
  PosixFileSystem fs;
  auto opened = Wal::open(fs, root + "/wal", WalOptions{});
  CAIRN_ASSERT(opened.has_value());
  Wal& w = *opened->wal;
  CAIRN_ASSERT(w.preallocate_next().is_ok());
  std::vector<raft::Entry> batch(entries_per_sync);
  for (auto& e : batch)
    e = raft::Entry{1, 0, raft::EntryType::kNormal, std::string(kEntryDataBytes, 'x')};
  raft::Index next = 1;
  for (auto _ : state) {
    for (auto& e : batch)
      e.index = next++;
    raft::HardState hs{1, 1, next - 1};
    CAIRN_ASSERT(w.append(batch, &hs).is_ok());
    auto d = w.sync();
    CAIRN_ASSERT(d.has_value() && d->last_index == next - 1);
    // The owner's off-the-hot-path step; a no-op unless the spare was used by a rollover.
    if (!w.spare_ready()) CAIRN_ASSERT(w.preallocate_next().is_ok());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries_per_sync));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * entries_per_sync * kEntryDataBytes));
  state.counters["syncs/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  CAIRN_ASSERT(w.close().is_ok());
  opened->wal.reset();
  std::filesystem::remove_all(root);
}
BENCHMARK(BM_WalAppendSync)->Arg(1)->Arg(16)->Arg(256)->UseRealTime()->MinTime(3.0);

void BM_RawPwriteFdatasync(benchmark::State& state) {
  const std::string root = fresh_dir();
  const std::string path = root + "/plain";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  CAIRN_ASSERT(fd >= 0);
  constexpr off_t kFileBytes = 64 << 20;
  CAIRN_ASSERT(::fallocate(fd, 0, 0, kFileBytes) == 0);
  CAIRN_ASSERT(::fsync(fd) == 0);
  const std::string block(kEntryDataBytes, 'y');
  off_t off = 0;
  for (auto _ : state) {
    CAIRN_ASSERT(::pwrite(fd, block.data(), block.size(), off) == static_cast<ssize_t>(block.size()));
    CAIRN_ASSERT(::fdatasync(fd) == 0);
    off = (off + static_cast<off_t>(block.size())) % kFileBytes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kEntryDataBytes));
  state.counters["syncs/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  ::close(fd);
  std::filesystem::remove_all(root);
}
BENCHMARK(BM_RawPwriteFdatasync)->UseRealTime()->MinTime(3.0);

}  // namespace
}  // namespace cairn::wal

BENCHMARK_MAIN();
