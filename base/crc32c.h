// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every WAL record.
// Uses the SSE4.2 crc32 instruction when the CPU has it and an 8-way sliced table otherwise; both
// give identical results (tests check them against each other and against the RFC 3720 vectors).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cairn::base {

// Continues a CRC32C: crc32c_extend(crc32c(a), b) == crc32c(a + b). Start from 0.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n);
inline uint32_t crc32c(std::string_view s) {
  return crc32c_extend(0, s.data(), s.size());
}

// The portable path alone, so tests can compare it with the hardware path.
uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t n);
bool crc32c_hardware_available();

}  // namespace cairn::base
