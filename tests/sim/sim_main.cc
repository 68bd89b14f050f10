// cairn_sim: runs the deterministic Raft cluster simulator over a range of seeds (with --server, the
// whole-server simulator instead: server_sim_main.cc).
//   cairn_sim --seeds N [--first-seed S] [--steps M] [--nodes 3|5] [--verbose]
//   cairn_sim --seed S --verbose          replays one seed with a full trace
// Prints one line per failing seed with the command that replays it, then a summary line
// "N passed, M failed".
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/sim/cli.h"
#include "tests/sim/simulation.h"

namespace cairn::sim {
int server_sim_main(int argc, char** argv);  // server_sim_main.cc: cairn_sim --server
}

namespace {

// always | never | seed, for the options drawn per seed unless fixed (SimOptions::LostTail, AsyncWrites).
template <class Mode>
bool parse_mode(const std::string& v, Mode& out) {
  if (v == "always") {
    out = Mode::kAlways;
  } else if (v == "never") {
    out = Mode::kNever;
  } else if (v == "seed") {
    out = Mode::kSeed;
  } else {
    return false;
  }
  return true;
}

// The replay flag of a mode that is not the default (" --lost-tail always"), or "".
template <class Mode>
std::string mode_flag(const char* flag, Mode m) {
  if (m == Mode::kAlways) return std::string(" ") + flag + " always";
  if (m == Mode::kNever) return std::string(" ") + flag + " never";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a trace must survive an abort
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--server") return cairn::sim::server_sim_main(argc, argv);
  uint64_t first = 1, count = 100;
  cairn::sim::SimOptions opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return cairn::sim::cli_number(argc, argv, i); };
    if (cairn::sim::cli_seed_range(argc, argv, i, first, count)) {
    } else if (a == "--steps") {
      opts.safety_steps = static_cast<int>(next());
    } else if (a == "--nodes") {
      opts.nodes = static_cast<int>(next());
    } else if (a == "--verbose") {
      opts.verbose = true;
#if CAIRN_INVARIANTS
    } else if (a == "--break") {
      // 1: commit previous-term entries by count, 2: vote ignoring logs, 3: vote twice in a term,
      // 4: vote with a lost log tail, 5: leader ignores lost-tail reports, 6: acknowledge before the write
      opts.break_rule = static_cast<cairn::raft::TestingBreak>(next());
#endif
    } else if (a == "--no-membership") {
      opts.membership_changes = false;
    } else if (a == "--lost-tail" || a == "--async") {
      // always | never | seed (the default: drawn per seed, and for --async per member)
      std::string v = i + 1 < argc ? argv[++i] : "";
      const bool ok = a == "--lost-tail" ? parse_mode(v, opts.lost_tail) : parse_mode(v, opts.async_writes);
      if (!ok) {
        std::fprintf(stderr, "%s takes always, never or seed\n", a.c_str());
        return 2;
      }
    } else {
      std::fprintf(
          stderr,
          "usage: cairn_sim [--seeds N] [--first-seed S] [--seed S] [--steps M] [--nodes N] "
          "[--lost-tail always|never|seed] [--async always|never|seed] [--no-membership] [--break K] "
          "[--verbose]\n");
      return 2;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  uint64_t passed = 0, failed = 0, committed = 0, msgs = 0, crashes = 0, elections = 0, snaps = 0, confs = 0,
           reads = 0, lost_tails = 0, lost_tail_seeds = 0;
  for (uint64_t s = first; s < first + count; ++s) {
    if (std::getenv("CAIRN_SIM_PROGRESS")) std::fprintf(stderr, "seed %llu\n", (unsigned long long)s);
    auto r = cairn::sim::run_simulation(s, opts);
    committed += r.committed;
    msgs += r.messages;
    crashes += r.crashes;
    elections += r.elections;
    snaps += r.snapshots_sent;
    confs += r.conf_changes;
    reads += r.reads;
    lost_tails += r.lost_tails;
    if (r.fault_mix.find("lost-tail") != std::string::npos) ++lost_tail_seeds;
    if (r.ok) {
      ++passed;
      if (opts.verbose)
        std::printf("seed %llu ok hash=%016llx faults: %s\n", (unsigned long long)s,
                    (unsigned long long)r.state_hash, r.fault_mix.c_str());
    } else {
      ++failed;
      const std::string lost_tail = mode_flag("--lost-tail", opts.lost_tail);
      const std::string async = mode_flag("--async", opts.async_writes);
      std::printf(
          "seed %llu FAILED (faults: %s): %s\n  replay: cairn_sim --seed %llu --steps %d --nodes %d%s%s%s "
          "--verbose\n",
          (unsigned long long)s, r.fault_mix.c_str(), r.failure.c_str(), (unsigned long long)s,
          opts.safety_steps, opts.nodes, lost_tail.c_str(), async.c_str(),
          opts.membership_changes ? "" : " --no-membership");
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "simulated %llu seeds x %d steps in %.1fs: %llu entries committed, %llu messages, %llu crashes, "
      "%llu elections, %llu snapshots sent, %llu conf changes applied, %llu reads, %llu lost tails in %llu "
      "seeds\n",
      (unsigned long long)count, opts.safety_steps, secs, (unsigned long long)committed,
      (unsigned long long)msgs, (unsigned long long)crashes, (unsigned long long)elections,
      (unsigned long long)snaps, (unsigned long long)confs, (unsigned long long)reads,
      (unsigned long long)lost_tails, (unsigned long long)lost_tail_seeds);
  std::printf("%llu passed, %llu failed\n", (unsigned long long)passed, (unsigned long long)failed);
  return failed == 0 ? 0 : 1;
}
