// Go's value syntax as etcd's flags see it (server/app/go_flags.h): what strconv, time.ParseDuration and
// etcd's URL lists accept, and the error text each prints.
#include "server/app/go_flags.h"

#include <gtest/gtest.h>

namespace cairn::server::app {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(GoFlags, Bool) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    EXPECT_EQ(go_parse_bool(t).value(), true) << t;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    EXPECT_EQ(go_parse_bool(f).value(), false) << f;
  for (const char* bad : {"", "yes", "tRUE", "2", " true"})
    EXPECT_EQ(go_parse_bool(bad).error(), "parse error") << bad;
}

TEST(GoFlags, UnsignedWithBasePrefixes) {
  EXPECT_EQ(go_parse_uint("100000").value(), 100000u);
  EXPECT_EQ(go_parse_uint("0x10").value(), 16u);
  EXPECT_EQ(go_parse_uint("0X1f").value(), 31u);
  EXPECT_EQ(go_parse_uint("010").value(), 8u);  // a leading 0 is octal, as in Go
  EXPECT_EQ(go_parse_uint("0o17").value(), 15u);
  EXPECT_EQ(go_parse_uint("0b101").value(), 5u);
  EXPECT_EQ(go_parse_uint("0").value(), 0u);
  EXPECT_EQ(go_parse_uint("1_000").value(), 1000u);
  EXPECT_EQ(go_parse_uint("18446744073709551615").value(), 18446744073709551615ull);
  for (const char* bad : {"", "-1", "+1", "1e3", "0x", "08", "1__0", "_1", "1_", "abc", " 1"})
    EXPECT_EQ(go_parse_uint(bad).error(), "parse error") << bad;
  EXPECT_EQ(go_parse_uint("18446744073709551616").error(), "value out of range");
  EXPECT_EQ(go_parse_uint("99999999999999999999").error(), "value out of range");
  // etcd's uint32 flag type reports strconv's own text.
  EXPECT_EQ(go_parse_uint("4294967295", 32, true).value(), 4294967295u);
  EXPECT_EQ(go_parse_uint("4294967296", 32, true).error(),
            "strconv.ParseUint: parsing \"4294967296\": value out of range");
  EXPECT_EQ(go_parse_uint("-1", 32, true).error(), "strconv.ParseUint: parsing \"-1\": invalid syntax");
}

TEST(GoFlags, Signed) {
  EXPECT_EQ(go_parse_int("-1").value(), -1);
  EXPECT_EQ(go_parse_int("+7").value(), 7);
  EXPECT_EQ(go_parse_int("-0x10").value(), -16);
  EXPECT_EQ(go_parse_int("9223372036854775807").value(), INT64_MAX);
  EXPECT_EQ(go_parse_int("-9223372036854775808").value(), INT64_MIN);
  EXPECT_EQ(go_parse_int("9223372036854775808").error(), "value out of range");
  EXPECT_EQ(go_parse_int("1x").error(), "parse error");
  EXPECT_EQ(go_parse_int("-").error(), "parse error");
}

TEST(GoFlags, Duration) {
  EXPECT_EQ(go_parse_duration("5s").value(), seconds(5));
  EXPECT_EQ(go_parse_duration("2h").value(), hours(2));
  EXPECT_EQ(go_parse_duration("1h30m").value(), minutes(90));
  EXPECT_EQ(go_parse_duration("100ms").value(), milliseconds(100));
  EXPECT_EQ(go_parse_duration("1.5s").value(), milliseconds(1500));
  EXPECT_EQ(go_parse_duration(".5s").value(), milliseconds(500));
  EXPECT_EQ(go_parse_duration("1.s").value(), seconds(1));
  EXPECT_EQ(go_parse_duration("-2m").value(), -minutes(2));
  EXPECT_EQ(go_parse_duration("0").value(), nanoseconds(0));
  EXPECT_EQ(go_parse_duration("+0").value(), nanoseconds(0));
  EXPECT_EQ(go_parse_duration("3us").value(), nanoseconds(3000));
  EXPECT_EQ(go_parse_duration("3\xC2\xB5s").value(), nanoseconds(3000));  // micro sign
  EXPECT_EQ(go_parse_duration("3\xCE\xBCs").value(), nanoseconds(3000));  // Greek mu
  EXPECT_EQ(go_parse_duration("10ns").value(), nanoseconds(10));
  for (const char* bad : {"", "5", "s", ".s", "1d", "1.5.5s", "5 s", "- 1s", "9999999999h"})
    EXPECT_EQ(go_parse_duration(bad).error(), "parse error") << bad;
}

TEST(GoFlags, DurationText) {
  EXPECT_EQ(go_format_duration(hours(2)), "2h0m0s");
  EXPECT_EQ(go_format_duration(seconds(20)), "20s");
  EXPECT_EQ(go_format_duration(milliseconds(100)), "100ms");
  EXPECT_EQ(go_format_duration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(go_format_duration(minutes(10)), "10m0s");
  EXPECT_EQ(go_format_duration(nanoseconds(0)), "0s");
  EXPECT_EQ(go_format_duration(nanoseconds(1500)), "1.5\xC2\xB5s");
  EXPECT_EQ(go_format_duration(-seconds(61)), "-1m1s");
}

TEST(GoFlags, Quote) {
  EXPECT_EQ(go_quote("abc"), "\"abc\"");
  EXPECT_EQ(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(go_quote(std::string("\x01", 1)), "\"\\x01\"");
}

TEST(GoFlags, UrlLists) {
  auto ok = etcd_parse_urls("http://127.0.0.1:2379, https://[::1]:2380,unix://localhost:12345");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(*ok, (std::vector<std::string>{"http://127.0.0.1:2379", "https://[::1]:2380",
                                           "unix://localhost:12345"}));
  EXPECT_TRUE(etcd_parse_urls("HTTP://127.0.0.1:0"));  // the scheme is case-insensitive; port 0 is a port
  EXPECT_EQ(etcd_parse_urls("foo").error(), "URL scheme must be http, https, unix, or unixs: foo");
  EXPECT_EQ(etcd_parse_urls("localhost:2379").error(),
            "URL scheme must be http, https, unix, or unixs: localhost:2379");
  EXPECT_EQ(etcd_parse_urls("127.0.0.1:2379").error(),
            "parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon");
  EXPECT_EQ(etcd_parse_urls("http://127.0.0.1").error(),
            "URL address does not have the form \"host:port\": http://127.0.0.1");
  EXPECT_EQ(etcd_parse_urls("http://127.0.0.1:2379/").error(),
            "URL must not contain a path: http://127.0.0.1:2379/");
  EXPECT_EQ(etcd_parse_urls("http://127.0.0.1:abc").error(),
            "parse \"http://127.0.0.1:abc\": invalid port \":abc\" after host");
  EXPECT_EQ(etcd_parse_urls("http://127.0.0.1:2379,ftp://x:1").error(),
            "URL scheme must be http, https, unix, or unixs: ftp://x:1");
}

}  // namespace
}  // namespace cairn::server::app
