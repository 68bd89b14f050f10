// CRC-32C (Castagnoli polynomial), the checksum behind Hash/HashKV and the memory engine's dump.
// Incremental: pass the previous result as `crc` to continue a running checksum.
#pragma once

#include <cstdint>
#include <string_view>

namespace cairn::storage {

uint32_t crc32c_extend(uint32_t crc, std::string_view data);
inline uint32_t crc32c(std::string_view data) {
  return crc32c_extend(0, data);
}

}  // namespace cairn::storage
