// Command-line helpers shared by cairn_sim's two modes (sim_main.cc, server_sim_main.cc).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace cairn::sim {

// The number after argv[i] (i moves to it); a missing one ends the program with status 2.
inline uint64_t cli_number(int argc, char** argv, int& i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "missing value for %s\n", argv[i]);
    std::exit(2);
  }
  return std::strtoull(argv[++i], nullptr, 10);
}

// --seeds N, --first-seed S, --seed S (one seed): true when argv[i] was one of them (i moves past it).
inline bool cli_seed_range(int argc, char** argv, int& i, uint64_t& first, uint64_t& count) {
  const std::string a = argv[i];
  if (a == "--seeds") {
    count = cli_number(argc, argv, i);
  } else if (a == "--first-seed") {
    first = cli_number(argc, argv, i);
  } else if (a == "--seed") {
    first = cli_number(argc, argv, i);
    count = 1;
  } else {
    return false;
  }
  return true;
}

}  // namespace cairn::sim
