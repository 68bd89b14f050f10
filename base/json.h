// JSON string literals for the text cairn writes by hand (log lines, the JSON gateway's error bodies):
// RFC 8259 escaping of quote, backslash and the control characters (\n, \r, \t short, the rest \u00XX).
// Bytes from 0x80 up pass through, so valid UTF-8 stays valid; protobuf's JSON printer covers messages.
#pragma once

#include <string>
#include <string_view>

namespace cairn::base {

// Appends the escaped contents of s (no quotes) to out.
void append_json_escaped(std::string& out, std::string_view s);
// The escaped contents of s, for splicing between quotes.
std::string json_escape(std::string_view s);
// Appends s as a quoted JSON string.
void append_json_string(std::string& out, std::string_view s);

}  // namespace cairn::base
