#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace cairn::base {
namespace {

// Known answers from RFC 3720 appendix B.4 and the common "123456789" check value.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i)
    ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "the quick brown fox jumps over the lazy dog, twice over";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = crc32c_extend(0, s.data(), cut);
    EXPECT_EQ(crc32c_extend(a, s.data() + cut, s.size() - cut), crc32c(s)) << cut;
  }
}

TEST(Crc32c, PortableMatchesDispatchedOnRandomInputs) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string s(rng() % 2000, '\0');
    for (auto& c : s)
      c = static_cast<char>(rng());
    const size_t skew = rng() % 8;  // unaligned starts exercise the hardware path's prologue
    if (skew > s.size()) continue;
    EXPECT_EQ(crc32c_extend_portable(0x1234, s.data() + skew, s.size() - skew),
              crc32c_extend(0x1234, s.data() + skew, s.size() - skew));
  }
}

}  // namespace
}  // namespace cairn::base
