#include "server/log/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

#include "base/json.h"

namespace cairn::server::log {

namespace {

using base::append_json_string;

constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error", "fatal"};

std::atomic<Format> g_format{Format::kJson};
std::atomic<Level> g_level{Level::kInfo};

spdlog::logger& sink() {
  // stderr, unbuffered, a mutex per line; "%v": the line is already formatted.
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = std::make_shared<spdlog::logger>("cairn", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    lg->set_pattern("%v");
    lg->set_level(spdlog::level::trace);
    lg->flush_on(spdlog::level::trace);
    return lg;
  }();
  return *l;
}

// RFC 3339 in UTC with microseconds, as etcd 3.5+ writes "ts".
std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char b[80];  // generous: the compiler cannot bound tm's fields
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(us % 1000000));
  return b;
}

// "…/server/node/node.cc" -> "node/node.cc" (zap's short caller: the last directory and the file).
std::string short_caller(const std::source_location& w) {
  std::string_view f = w.file_name();
  auto last = f.rfind('/');
  if (last != std::string_view::npos && last > 0) {
    auto prev = f.rfind('/', last - 1);
    if (prev != std::string_view::npos) f = f.substr(prev + 1);
  }
  return std::string(f) + ":" + std::to_string(w.line());
}

}  // namespace

std::optional<Level> parse_level(std::string_view n) {
  if (n == "debug") return Level::kDebug;
  if (n == "info") return Level::kInfo;
  if (n == "warn") return Level::kWarn;
  if (n == "error" || n == "dpanic" || n == "panic") return Level::kError;
  if (n == "fatal") return Level::kFatal;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view n) {
  if (n == "json") return Format::kJson;
  if (n == "console") return Format::kConsole;
  return std::nullopt;
}

void configure(Format format, Level level) {
  g_format = format;
  g_level = level;
}

std::string format_line(Format format, Level level, std::string_view msg, Fields fields,
                        std::string_view caller, std::string_view timestamp) {
  const char* lv = kLevelNames[static_cast<int>(level)];
  std::string out;
  if (format == Format::kJson) {
    out = "{\"level\":\"" + std::string(lv) + "\",\"ts\":\"" + std::string(timestamp) + "\",\"caller\":";
    append_json_string(out, caller);
    out += ",\"msg\":";
    append_json_string(out, msg);
    for (const Field& f : fields) {
      out += ',';
      append_json_string(out, f.key);
      out += ':';
      append_json_string(out, f.value);
    }
    out += '}';
    return out;
  }
  out = std::string(timestamp) + "\t" + lv + "\t" + std::string(caller) + "\t" + std::string(msg);
  if (fields.size() > 0) {
    out += "\t{";
    bool first = true;
    for (const Field& f : fields) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, f.key);
      out += ':';
      append_json_string(out, f.value);
    }
    out += '}';
  }
  return out;
}

void write(Level level, std::string_view msg, Fields fields, std::source_location where) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  const std::string line = format_line(g_format.load(std::memory_order_relaxed), level, msg, fields,
                                       short_caller(where), now_rfc3339());
  sink().log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));  // not a format string
}

}  // namespace cairn::server::log
