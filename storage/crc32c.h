// CRC-32C for Hash/HashKV and the memory engine's dump: the project's one implementation lives in
// base/crc32c.h (hardware-accelerated, library cairn_base); these are the string_view forms.
// Incremental: pass the previous result as `crc` to continue a running checksum.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/crc32c.h"

namespace cairn::storage {

inline uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
  return base::crc32c_extend(crc, data.data(), data.size());
}
inline uint32_t crc32c(std::string_view data) {
  return crc32c_extend(0, data);
}

}  // namespace cairn::storage
