#include "wire/framing.h"

#include <gtest/gtest.h>

namespace cairn::wire {
namespace {

TEST(Wire, PercentEncodingMatchesGrpc) {
  EXPECT_EQ(percent_encode("plain text: ok"), "plain text: ok");
  EXPECT_EQ(percent_encode("100%"), "100%25");
  EXPECT_EQ(percent_encode("a\nb"), "a%0Ab");
  EXPECT_EQ(percent_encode("\xc3\xbc"), "%C3%BC");
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  EXPECT_EQ(percent_decode(percent_encode(all)), all);
  EXPECT_EQ(percent_decode("bad%zzescape%4"), "bad%zzescape%4");
}

TEST(Wire, GrpcTimeoutParsing) {
  using namespace std::chrono;
  EXPECT_EQ(parse_grpc_timeout("4997372u"), duration_cast<nanoseconds>(microseconds(4997372)));
  EXPECT_EQ(parse_grpc_timeout("5010m"), duration_cast<nanoseconds>(milliseconds(5010)));
  EXPECT_EQ(parse_grpc_timeout("5S"), duration_cast<nanoseconds>(seconds(5)));
  EXPECT_EQ(parse_grpc_timeout("2H"), duration_cast<nanoseconds>(hours(2)));
  EXPECT_FALSE(parse_grpc_timeout(""));
  EXPECT_FALSE(parse_grpc_timeout("S"));
  EXPECT_FALSE(parse_grpc_timeout("123456789S"));  // more than 8 digits
  EXPECT_FALSE(parse_grpc_timeout("12x"));
  EXPECT_FALSE(parse_grpc_timeout("1-S"));
  for (auto t : {nanoseconds(1), nanoseconds(999), nanoseconds(milliseconds(5000)),
                 duration_cast<nanoseconds>(hours(100000))}) {
    auto s = format_grpc_timeout(t);
    auto back = parse_grpc_timeout(s);
    ASSERT_TRUE(back) << s;
    EXPECT_GE(*back, t) << s;  // rounded up, never shorter
  }
}

TEST(Wire, DeframerReassemblesAcrossAndWithinChunks) {
  std::string stream = frame_message("hello") + frame_message("") + frame_message(std::string(70000, 'x'));
  for (std::size_t chunk : {1u, 3u, 5u, 7u, 16384u, 1000000u}) {
    MessageDeframer d(1 << 20);
    std::deque<std::string> out;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      ASSERT_EQ(d.feed(std::string_view(stream).substr(i, chunk), out), MessageDeframer::Error::kNone);
    }
    ASSERT_EQ(out.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(out[0], "hello");
    EXPECT_EQ(out[1], "");
    EXPECT_EQ(out[2], std::string(70000, 'x'));
    EXPECT_FALSE(d.mid_message());
  }
}

TEST(Wire, DeframerRejectsOversizedCompressedAndBadFlag) {
  std::deque<std::string> out;
  MessageDeframer big(10);
  EXPECT_EQ(big.feed(frame_message(std::string(11, 'a')), out), MessageDeframer::Error::kTooLarge);
  EXPECT_EQ(big.declared_length(), 11u);
  EXPECT_EQ(deframer_error_status(MessageDeframer::Error::kTooLarge, 11, 10).message,
            "grpc: received message larger than max (11 vs. 10)");
  MessageDeframer comp(10);
  std::string m = frame_message("ab");
  m[0] = 1;
  EXPECT_EQ(comp.feed(m, out), MessageDeframer::Error::kCompressed);
  MessageDeframer bad(10);
  m[0] = 7;
  EXPECT_EQ(bad.feed(m, out), MessageDeframer::Error::kBadFlag);
  EXPECT_TRUE(out.empty());
}

TEST(Wire, Crc32cKnownVector) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c("6789", crc32c("12345")), crc32c("123456789"));
}

}  // namespace
}  // namespace cairn::wire
