// The member's log: one line per event, in the shapes etcd's zap logger writes, so log pipelines and
// operators' greps written for etcd read cairn.
//   json (etcd's default):  {"level":"info","ts":"2026-01-02T03:04:05.678901Z","caller":"app/main.cc:240",
//                            "msg":"ready to serve client requests","address":"127.0.0.1:2379"}
//   console: 2026-01-02T03:04:05.678901Z<TAB>info<TAB>app/main.cc:240<TAB>msg<TAB>{"address":...}
// Levels are zap's (debug, info, warn, error, fatal); lines below the configured level are dropped.
// Fields are strings (JSON-escaped). The output is the process's stderr (main.cc points stderr at
// --log-outputs). configure() runs once at start-up before other threads; write() is thread-safe
// (spdlog's mutex sink writes each line whole).
#pragma once

#include <initializer_list>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <utility>

namespace cairn::server::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError, kFatal };
enum class Format { kJson, kConsole };

struct Field {
  std::string_view key;
  std::string value;
};
using Fields = std::initializer_list<Field>;

// "debug" ... "fatal"; etcd's dpanic and panic are error-level here.
std::optional<Level> parse_level(std::string_view name);
std::optional<Format> parse_format(std::string_view name);
void configure(Format format, Level level);

// The text of one line (without the newline), for tests.
std::string format_line(Format format, Level level, std::string_view msg, Fields fields,
                        std::string_view caller, std::string_view timestamp);
void write(Level level, std::string_view msg, Fields fields = {},
           std::source_location where = std::source_location::current());

inline void info(std::string_view msg, Fields fields = {},
                 std::source_location w = std::source_location::current()) {
  write(Level::kInfo, msg, fields, w);
}
inline void warn(std::string_view msg, Fields fields = {},
                 std::source_location w = std::source_location::current()) {
  write(Level::kWarn, msg, fields, w);
}
inline void error(std::string_view msg, Fields fields = {},
                  std::source_location w = std::source_location::current()) {
  write(Level::kError, msg, fields, w);
}

}  // namespace cairn::server::log
