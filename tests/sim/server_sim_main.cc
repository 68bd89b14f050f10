// cairn_sim --server: the whole-server simulator (server_sim.h) over a range of seeds.
//   cairn_sim --server --seeds N [--first-seed S] [--members 3|5] [--clients C] [--duration-ms D]
//             [--async always|never|seed] [--no-faults] [--break-read-index] [--break-lessor] [--verbose]
//   cairn_sim --server --seed S --verbose     replays one seed with its faults and members' log
// Prints one line per failing seed with the command that replays it, what was checked, then
// "N passed, M failed". With --break-read-index most seeds are expected to fail (the checker's own test).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/sim/cli.h"
#include "tests/sim/server_sim.h"

namespace cairn::sim {

namespace {
// The replay flag of an --async mode that is not the default.
const char* async_flag(ServerSimOptions::AsyncWal a) {
  if (a == ServerSimOptions::AsyncWal::kAlways) return " --async always";
  if (a == ServerSimOptions::AsyncWal::kNever) return " --async never";
  return "";
}
}  // namespace

int server_sim_main(int argc, char** argv) {
  uint64_t first = 1, count = 100;
  ServerSimOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return cairn::sim::cli_number(argc, argv, i); };
    if (a == "--server" || cli_seed_range(argc, argv, i, first, count)) {
    } else if (a == "--members" || a == "--nodes") {
      o.members = static_cast<int>(next());
    } else if (a == "--clients") {
      o.clients = static_cast<int>(next());
    } else if (a == "--duration-ms") {
      o.duration = std::chrono::milliseconds(next());
    } else if (a == "--async" && i + 1 < argc) {
      const std::string v = argv[++i];
      using A = ServerSimOptions::AsyncWal;
      o.async_wal = v == "always" ? A::kAlways : v == "never" ? A::kNever : A::kSeed;
    } else if (a == "--no-faults") {
      o.faults = false;
    } else if (a == "--break-read-index") {
      o.break_read_index = true;
    } else if (a == "--break-lessor") {
      o.break_lessor = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else {
      std::fprintf(stderr,
                   "usage: cairn_sim --server [--seeds N] [--first-seed S] [--seed S] [--members 3|5] "
                   "[--clients C] [--duration-ms D] [--async always|never|seed] [--no-faults] "
                   "[--break-read-index] [--break-lessor] "
                   "[--verbose]\n");
      return 2;
    }
  }
  if (o.members < 1 || o.members > 7 || o.clients < 1) {
    std::fprintf(stderr, "--members takes 1-7 and --clients at least 1\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  ServerSimResult sum;
  uint64_t passed = 0, failed = 0;
  for (uint64_t s = first; s < first + count; ++s) {
    o.seed = s;
    ServerSimResult r = run_server_sim(o);
    sum.ops += r.ops;
    sum.ops_ok += r.ops_ok;
    sum.ops_unknown += r.ops_unknown;
    sum.ops_failed += r.ops_failed;
    sum.puts += r.puts;
    sum.cas += r.cas;
    sum.gets += r.gets;
    sum.lease_puts += r.lease_puts;
    sum.lease_puts_ok += r.lease_puts_ok;
    sum.crashes += r.crashes;
    sum.async_members += r.async_members;
    sum.store_losses += r.store_losses;
    sum.store_rollbacks += r.store_rollbacks;
    sum.partitions += r.partitions;
    sum.messages += r.messages;
    sum.dropped += r.dropped;
    sum.applied_index += r.applied_index;
    sum.watch_events += r.watch_events;
    if (r.ok) {
      ++passed;
      if (o.verbose)
        std::printf("seed %llu ok: %llu ops, applied index %llu, revision %lld, trace %016llx\n",
                    (unsigned long long)s, (unsigned long long)r.ops, (unsigned long long)r.applied_index,
                    (long long)r.revision, (unsigned long long)r.trace);
      continue;
    }
    ++failed;
    std::printf(
        "seed %llu FAILED: %s\n  replay: cairn_sim --server --seed %llu --members %d --clients %d "
        "--duration-ms %lld%s%s%s%s --verbose\n",
        (unsigned long long)s, r.failure.c_str(), (unsigned long long)s, o.members, o.clients,
        (long long)o.duration.count(), o.faults ? "" : " --no-faults", async_flag(o.async_wal),
        o.break_read_index ? " --break-read-index" : "", o.break_lessor ? " --break-lessor" : "");
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "server-simulated %llu seeds x %lld ms (%d members, %d clients) in %.1fs: %llu client ops (%llu puts, "
      "%llu cas, %llu linearizable gets, %llu leased puts (%llu acknowledged); %llu ok, "
      "%llu refused, %llu unknown) checked linearizable per key; "
      "%llu members with an async WAL; %llu crashes (%llu lost their store, %llu went back to a flush), %llu "
      "partitions, %llu messages "
      "delivered, %llu dropped; %llu watch events "
      "checked; members converged to equal HashKV, every lease revoked with its key, at %llu applied entries "
      "in all\n",
      (unsigned long long)count, (long long)o.duration.count(), o.members, o.clients, secs,
      (unsigned long long)sum.ops, (unsigned long long)sum.puts, (unsigned long long)sum.cas,
      (unsigned long long)sum.gets, (unsigned long long)sum.lease_puts, (unsigned long long)sum.lease_puts_ok,
      (unsigned long long)sum.ops_ok, (unsigned long long)sum.ops_failed, (unsigned long long)sum.ops_unknown,
      (unsigned long long)sum.async_members, (unsigned long long)sum.crashes,
      (unsigned long long)sum.store_losses, (unsigned long long)sum.store_rollbacks,
      (unsigned long long)sum.partitions, (unsigned long long)sum.messages, (unsigned long long)sum.dropped,
      (unsigned long long)sum.watch_events, (unsigned long long)sum.applied_index);
  std::printf("%llu passed, %llu failed\n", (unsigned long long)passed, (unsigned long long)failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace cairn::sim
