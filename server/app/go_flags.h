// Value syntax of etcd's command line, which is Go's: etcd parses its flags with Go's `flag` package and
// strconv, so a drop-in member must accept (and refuse) exactly what those accept, with the same error
// text. Each parser returns the value, or the error suffix Go's flag package prints after
// `invalid value "V" for flag -NAME: ` ("parse error", "value out of range", or the strconv/URL
// message for etcd's own value types).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"

namespace cairn::server::app {

using GoDuration = std::chrono::nanoseconds;

// strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False.
Expected<bool, std::string> go_parse_bool(std::string_view s);
// strconv.ParseUint(s, 0, bits) / ParseInt(s, 0, 64): base prefixes 0x 0o 0b and a leading 0 (octal),
// underscores between digits. `strconv_text`: report strconv's own message (etcd's uint32 flag type
// does) instead of the flag package's "parse error" / "value out of range".
Expected<uint64_t, std::string> go_parse_uint(std::string_view s, int bits = 64, bool strconv_text = false);
Expected<int64_t, std::string> go_parse_int(std::string_view s);
// time.ParseDuration: "300ms", "-1.5h", "2h45m", "0"; units ns us µs ms s m h.
Expected<GoDuration, std::string> go_parse_duration(std::string_view s);
// Go's duration String(): "2h0m0s", "100ms", "0s" (for --help and messages).
std::string go_format_duration(GoDuration d);
// strconv.Quote for ASCII text: "a\"b" (what %q prints).
std::string go_quote(std::string_view s);

// etcd's URL list flags (types.NewURLs): comma-separated, each trimmed, scheme http, https, unix or unixs,
// "host:port" without a path. Returns the URLs as given (trimmed).
Expected<std::vector<std::string>, std::string> etcd_parse_urls(std::string_view list);

}  // namespace cairn::server::app
