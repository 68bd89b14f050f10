#include <gtest/gtest.h>

#include <random>

#include "storage/crc32c.h"
#include "storage/revision.h"

namespace cairn::storage {
namespace {

TEST(RevisionTest, EncodingPreservesOrder) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> main_dist(0, 1'000'000'000'000);
  std::uniform_int_distribution<int64_t> sub_dist(0, 300);
  for (int i = 0; i < 5000; ++i) {
    Revision a{main_dist(rng) % (i % 3 == 0 ? 5 : 1'000'000'000'000), sub_dist(rng)};
    Revision b{main_dist(rng) % (i % 3 == 0 ? 5 : 1'000'000'000'000), sub_dist(rng)};
    const std::string ea = encode_revision_key(a, i % 2 == 0);
    const std::string eb = encode_revision_key(b, i % 5 == 0);
    if (a != b) {
      EXPECT_EQ(a < b, ea < eb) << a.main << "." << a.sub << " vs " << b.main << "." << b.sub;
    }
  }
}

TEST(RevisionTest, RoundTripsAndMarksTombstones) {
  const Revision r{0x0102030405060708, 9};
  const std::string put = encode_revision_key(r, false);
  const std::string tomb = encode_revision_key(r, true);
  ASSERT_EQ(put.size(), kRevisionKeyBytes);
  EXPECT_EQ(put.substr(0, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(put.back(), kMarkPut);
  EXPECT_EQ(tomb.back(), kMarkTombstone);
  auto dp = decode_revision_key(put);
  auto dt = decode_revision_key(tomb);
  ASSERT_TRUE(dp && dt);
  EXPECT_EQ(dp->rev, r);
  EXPECT_FALSE(dp->tombstone);
  EXPECT_TRUE(dt->tombstone);
}

TEST(RevisionTest, DecodeRejectsMalformedKeys) {
  EXPECT_FALSE(decode_revision_key(""));
  EXPECT_FALSE(decode_revision_key(std::string(16, '\0')));
  std::string bad_mark = encode_revision_key({3, 0}, false);
  bad_mark.back() = 'x';
  EXPECT_FALSE(decode_revision_key(bad_mark));
  std::string negative = encode_revision_key({3, 0}, false);
  negative[0] = static_cast<char>(0x80);
  EXPECT_FALSE(decode_revision_key(negative));
}

TEST(RevisionTest, PrefixSortsBeforeEveryRecordOfThatMain) {
  EXPECT_LT(encode_revision_prefix(5), encode_revision_key({5, 0}, false));
  EXPECT_GT(encode_revision_prefix(5), encode_revision_key({4, 1000}, true));
}

TEST(Crc32cTest, KnownVectorAndIncremental) {
  // The standard CRC-32C check value of "123456789".
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_extend(crc32c("12345"), "6789"), crc32c("123456789"));
  EXPECT_EQ(crc32c(""), 0u);
}

}  // namespace
}  // namespace cairn::storage
