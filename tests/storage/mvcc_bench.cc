// MVCC throughput on RocksDB: Put and Range ops/s over stores preloaded with 100k and 1M keys.
// Not a ctest test. Run (release build):
//   build-storage-rel/bin/mvcc_bench --benchmark_min_time=2
// Keys are "key/%08d" (16 bytes), values 100 bytes. Puts overwrite random existing keys, one
// apply() (= one engine batch, sync off unless the benchmark name says sync) per operation.
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>

#include "storage/mvcc_store.h"
#include "storage/rocksdb_engine.h"

namespace cairn::storage {
namespace {

constexpr size_t kValueBytes = 100;

std::string key_of(int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key/%08lld", static_cast<long long>(i));
  return buf;
}

struct Fixture {
  std::string dir;
  std::unique_ptr<MvccStore> store;
  uint64_t index = 0;
  int64_t keys = 0;

  explicit Fixture(int64_t n) : keys(n) {
    dir = (std::filesystem::temp_directory_path() /
           ("cairn-mvcc-bench-" + std::to_string(::getpid()) + "-" + std::to_string(n)))
              .string();
    std::filesystem::remove_all(dir);
    auto engine = RocksEngine::open(dir);
    if (!engine) std::abort();
    StoreOptions opts;
    opts.sync_writes = false;
    opts.quota_backend_bytes = 64ull << 30;
    auto s = MvccStore::open(std::move(engine).value(), opts);
    if (!s) std::abort();
    store = std::move(s).value();
    const std::string value(kValueBytes, 'v');
    // Preload 100 keys per txn entry to keep setup short.
    for (int64_t i = 0; i < n; i += 100) {
      TxnRequest t;
      for (int64_t j = i; j < std::min(n, i + 100); ++j) {
        PutRequest p;
        p.key = key_of(j);
        p.value = value;
        t.success.push_back(RequestOp{p});
      }
      auto r = store->apply(++index, 1, t);
      if (!r) std::abort();
    }
  }
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

// One preloaded store at a time; cleared before main() returns, because RocksDB must not be
// closed during static destruction (its own statics may already be gone).
std::map<int64_t, std::unique_ptr<Fixture>> cache;

Fixture& fixture(int64_t n) {
  auto it = cache.find(n);
  if (it == cache.end()) {
    cache.clear();  // keep one preloaded store at a time
    it = cache.emplace(n, std::make_unique<Fixture>(n)).first;
  }
  return *it->second;
}

void BM_Put(benchmark::State& state) {
  Fixture& f = fixture(state.range(0));
  std::mt19937_64 rng(1);
  const std::string value(kValueBytes, 'w');
  for (auto _ : state) {
    PutRequest p;
    p.key = key_of(static_cast<int64_t>(rng() % static_cast<uint64_t>(f.keys)));
    p.value = value;
    auto r = f.store->apply(++f.index, 1, p);
    if (!r) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RangeOneKey(benchmark::State& state) {
  Fixture& f = fixture(state.range(0));
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    RangeRequest r;
    r.key = key_of(static_cast<int64_t>(rng() % static_cast<uint64_t>(f.keys)));
    auto resp = f.store->range(r);
    if (!resp || resp->kvs.size() != 1) state.SkipWithError("range failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Range100Keys(benchmark::State& state) {
  Fixture& f = fixture(state.range(0));
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    const int64_t start = static_cast<int64_t>(rng() % static_cast<uint64_t>(f.keys - 100));
    RangeRequest r;
    r.key = key_of(start);
    r.range_end = key_of(start + 100);
    auto resp = f.store->range(r);
    if (!resp || resp->kvs.size() != 100) state.SkipWithError("range failed");
  }
  state.SetItemsProcessed(state.iterations());
}

// The apply of one CompactionRequest (what holds the node thread) over a store of range(0) keys, of
// which range(1) were overwritten since the last compaction; and the sweeper's deletions of what it
// dropped, in batches of 1,000 (counted apart: the node runs them between other work).
void BM_CompactionEntry(benchmark::State& state) {
  Fixture& f = fixture(state.range(0));
  const int64_t overwritten = state.range(1);
  const std::string value(kValueBytes, 'c');
  std::mt19937_64 rng(4);
  double sweep_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int64_t i = 0; i < overwritten; ++i) {
      PutRequest p;
      p.key = key_of(static_cast<int64_t>(rng() % static_cast<uint64_t>(f.keys)));
      p.value = value;
      if (!f.store->apply(++f.index, 1, p)) std::abort();
    }
    PutRequest fresh;  // a new key, so that there is a revision to compact to even with nothing overwritten
    fresh.key = "fresh/" + std::to_string(f.index);
    fresh.value = value;
    if (!f.store->apply(++f.index, 1, fresh)) std::abort();
    state.ResumeTiming();
    if (!f.store->apply(++f.index, 1, CompactionRequest{f.store->revision(), false}))
      state.SkipWithError("compaction failed");
    state.PauseTiming();
    const auto t0 = std::chrono::steady_clock::now();
    while (f.store->compaction_pending())
      if (!f.store->compact_step(1000)) std::abort();
    sweep_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.ResumeTiming();
  }
  state.counters["sweep_ms"] =
      benchmark::Counter(sweep_seconds * 1e3 / static_cast<double>(state.iterations()));
}

BENCHMARK(BM_Put)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CompactionEntry)
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 10'000})
    ->Args({1'000'000, 100'000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_RangeOneKey)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Range100Keys)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cairn::storage

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cairn::storage::cache.clear();
  return 0;
}
