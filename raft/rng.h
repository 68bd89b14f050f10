// The core's only source of randomness: a seeded SplitMix64 generator, owned by each Raft instance.
// Seeded from Config so a simulation run replays exactly.
#pragma once

#include <cstdint>

namespace cairn::raft {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n must be > 0. The modulo bias is negligible for the small n used here.
  uint64_t uniform(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

}  // namespace cairn::raft
