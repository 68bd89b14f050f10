// Fixed-width integers in files and frames. Little-endian (the host's order on every platform cairn
// builds for) is what the WAL's formats document (wal/wal.h, wal/vote_record.h); big-endian is what the
// peer transport's frames and the snapshot formats use (server/net/peer_transport.h,
// server/node/snapshot_files.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace cairn::base {

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

// Writes at p (which has room).
inline void put32(char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
inline void put64(char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
}

// Appends to out.
inline void append32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), 4);
}
inline void append64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), 8);
}

// Big-endian: the low `bytes` bytes of v appended most significant first, and read back from
// s[off, off + bytes) (the caller checks the bounds).
inline void append_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t get_be(std::string_view s, std::size_t off, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<unsigned char>(s[off + static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace cairn::base
