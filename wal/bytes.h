// Fixed-width integers read from the WAL's files (segments, the vote record): the host's byte order,
// which the WAL's format documents as little-endian (wal/wal.h).
#pragma once

#include <cstdint>
#include <cstring>

namespace cairn::wal {

inline uint32_t get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint64_t get64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace cairn::wal
