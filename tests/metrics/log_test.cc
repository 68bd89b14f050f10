#include <gtest/gtest.h>

#include "server/log/log.h"

namespace cairn::server::log {
namespace {

TEST(Log, JsonLineHasZapsFieldsInOrderAndEscapes) {
  auto line = format_line(Format::kJson, Level::kWarn,
                          "serving client traffic insecurely; this is strongly discouraged!",
                          {{"address", "127.0.0.1:2379"}, {"note", "a \"quoted\"\nline"}}, "app/main.cc:10",
                          "2026-01-02T03:04:05.000006Z");
  EXPECT_EQ(line,
            "{\"level\":\"warn\",\"ts\":\"2026-01-02T03:04:05.000006Z\",\"caller\":\"app/main.cc:10\","
            "\"msg\":\"serving client traffic insecurely; this is strongly discouraged!\","
            "\"address\":\"127.0.0.1:2379\",\"note\":\"a \\\"quoted\\\"\\nline\"}");
}

TEST(Log, ConsoleLineIsTabSeparatedWithFieldsAsJson) {
  auto line = format_line(Format::kConsole, Level::kInfo, "ready to serve client requests", {{"k", "v"}},
                          "app/main.cc:10", "2026-01-02T03:04:05.000006Z");
  EXPECT_EQ(
      line,
      "2026-01-02T03:04:05.000006Z\tinfo\tapp/main.cc:10\tready to serve client requests\t{\"k\":\"v\"}");
  EXPECT_EQ(format_line(Format::kConsole, Level::kError, "x", {}, "c:1", "t"), "t\terror\tc:1\tx");
}

TEST(Log, ParsesEtcdsNamesOnly) {
  EXPECT_EQ(parse_format("json"), Format::kJson);
  EXPECT_EQ(parse_format("console"), Format::kConsole);
  EXPECT_FALSE(parse_format("text"));
  EXPECT_EQ(parse_level("dpanic"), Level::kError);
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_FALSE(parse_level("verbose"));
}

}  // namespace
}  // namespace cairn::server::log
