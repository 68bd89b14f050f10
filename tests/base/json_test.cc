#include "base/json.h"

#include <gtest/gtest.h>

#include <string>

#include "base/bytes.h"

namespace cairn::base {
namespace {

TEST(JsonEscape, QuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_escape("plain text"), "plain text");
  EXPECT_EQ(json_escape("say \"hi\" \\ bye"), "say \\\"hi\\\" \\\\ bye");
  EXPECT_EQ(json_escape("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(json_escape(std::string("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(json_escape(std::string("nul\0end", 7)), "nul\\u0000end");
}

TEST(JsonEscape, Utf8PassesThrough) {
  EXPECT_EQ(json_escape("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ(json_escape("\x7f"), "\x7f");  // DEL is not a JSON control character
}

TEST(JsonEscape, AppendStringQuotesAndKeepsWhatWasThere) {
  std::string out = "{\"msg\":";
  append_json_string(out, "x\"y");
  EXPECT_EQ(out, "{\"msg\":\"x\\\"y\"");
}

TEST(Bytes, LittleEndianRoundTrip) {
  std::string s;
  append32(s, 0x01020304u);
  append64(s, 0x1122334455667788ull);
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(s[0], '\x04');
  EXPECT_EQ(get32(s.data()), 0x01020304u);
  EXPECT_EQ(get64(s.data() + 4), 0x1122334455667788ull);
  put32(s.data(), 7);
  EXPECT_EQ(get32(s.data()), 7u);
}

TEST(Bytes, BigEndianRoundTrip) {
  std::string s = "x";
  append_be(s, 0x0a0b0c0du, 4);
  append_be(s, 0xfedcba9876543210ull, 8);
  EXPECT_EQ(s.substr(1, 4), "\x0a\x0b\x0c\x0d");
  EXPECT_EQ(get_be(s, 1, 4), 0x0a0b0c0du);
  EXPECT_EQ(get_be(s, 5, 8), 0xfedcba9876543210ull);
}

}  // namespace
}  // namespace cairn::base
