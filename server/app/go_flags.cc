#include "server/app/go_flags.h"

#include <cctype>
#include <cstdio>
#include <limits>
#include <optional>

namespace cairn::server::app {

namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// strconv's rule for underscores in base-prefixed literals (only between digits or after the prefix).
bool underscore_ok(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    char c = lower(s[i]);
    if ((c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

enum class NumErr { kNone, kSyntax, kRange };

NumErr parse_uint_raw(std::string_view s, int bits, uint64_t* out) {
  if (s.empty()) return NumErr::kSyntax;
  const std::string_view s0 = s;
  unsigned base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  const uint64_t max_val = bits >= 64 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << bits) - 1;
  bool underscores = false;
  uint64_t n = 0;
  for (char c : s) {
    if (c == '_') {
      underscores = true;
      continue;
    }
    unsigned d;
    char lc = lower(c);
    if (lc >= '0' && lc <= '9') {
      d = static_cast<unsigned>(lc - '0');
    } else if (lc >= 'a' && lc <= 'z') {
      d = static_cast<unsigned>(lc - 'a' + 10);
    } else {
      return NumErr::kSyntax;
    }
    if (d >= base) return NumErr::kSyntax;
    if (n > (std::numeric_limits<uint64_t>::max() - d) / base) return NumErr::kRange;
    n = n * base + d;
    if (n > max_val) return NumErr::kRange;
  }
  if (underscores && !underscore_ok(s0)) return NumErr::kSyntax;
  *out = n;
  return NumErr::kNone;
}

std::string flag_error(NumErr e) {
  return e == NumErr::kRange ? "value out of range" : "parse error";
}

// time.ParseDuration's leadingInt / leadingFraction.
bool leading_int(std::string_view& s, uint64_t* x) {
  size_t i = 0;
  *x = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (*x > (uint64_t{1} << 63) / 10) return false;
    *x = *x * 10 + static_cast<uint64_t>(s[i] - '0');
    if (*x > (uint64_t{1} << 63)) return false;
  }
  s.remove_prefix(i);
  return true;
}

void leading_fraction(std::string_view& s, uint64_t* x, double* scale) {
  size_t i = 0;
  *x = 0;
  *scale = 1;
  bool overflow = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (overflow) continue;
    if (*x > (std::numeric_limits<int64_t>::max() - 9) / 10) {
      overflow = true;
      continue;
    }
    *x = *x * 10 + static_cast<uint64_t>(s[i] - '0');
    *scale *= 10;
  }
  s.remove_prefix(i);
}

uint64_t unit_ns(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") return 1'000;
  if (u == "ms") return 1'000'000;
  if (u == "s") return 1'000'000'000;
  if (u == "m") return 60'000'000'000ull;
  if (u == "h") return 3'600'000'000'000ull;
  return 0;
}

// Go's fmtFrac/fmtInt: v in units of 10^-prec, printed with the fraction's trailing zeros dropped.
std::string with_fraction(uint64_t v, int prec) {
  std::string frac;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) frac.insert(frac.begin(), static_cast<char>('0' + digit));
    v /= 10;
  }
  std::string out = std::to_string(v);
  if (print) out += "." + frac;
  return out;
}

bool is_scheme_char(char c, bool first) {
  if (std::isalpha(static_cast<unsigned char>(c))) return true;
  return !first && (std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.');
}

std::string trim_space(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return std::string(s.substr(b, e - b));
}

// One URL of an etcd URL list, with the checks (and messages) of Go's url.Parse and etcd's NewURLs.
std::optional<std::string> check_url(const std::string& in) {
  std::string scheme, rest;
  auto sep = in.find("://");
  size_t colon = in.find(':');
  if (sep != std::string::npos && sep > 0 && is_scheme_char(in[0], true)) {
    scheme = in.substr(0, sep);
    rest = in.substr(sep + 3);
  } else if (colon != std::string::npos && colon > 0 && is_scheme_char(in[0], true)) {
    scheme = in.substr(0, colon);  // "localhost:2379": Go reads "localhost" as the scheme
  } else if (colon != std::string::npos && colon < in.find('/')) {
    return "parse " + go_quote(in) + ": first path segment in URL cannot contain colon";
  }
  for (char& c : scheme)
    c = lower(c);
  if (scheme != "http" && scheme != "https" && scheme != "unix" && scheme != "unixs")
    return "URL scheme must be http, https, unix, or unixs: " + in;
  std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  std::string path = rest.size() > authority.size() && rest[authority.size()] == '/'
                         ? rest.substr(authority.size(), rest.find_first_of("?#", authority.size()))
                         : "";
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  // Go's url.Parse: a port after the host is digits only.
  size_t host_end = authority.size();
  if (!authority.empty() && authority[0] == '[') host_end = authority.find(']');
  size_t port_colon = authority.rfind(':');
  if (host_end != std::string::npos && port_colon != std::string::npos &&
      (authority[0] != '[' || port_colon > host_end)) {
    std::string port = authority.substr(port_colon + 1);
    for (char c : port)
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return "parse " + go_quote(in) + ": invalid port " + go_quote(":" + port) + " after host";
  }
  // net.SplitHostPort: exactly one port colon (IPv6 hosts in brackets).
  bool host_port = false;
  if (!authority.empty() && authority[0] == '[') {
    host_port =
        host_end != std::string::npos && host_end + 1 < authority.size() && authority[host_end + 1] == ':';
  } else {
    host_port = port_colon != std::string::npos && authority.find(':') == port_colon;
  }
  if (!host_port) return "URL address does not have the form \"host:port\": " + in;
  if (!path.empty()) return "URL must not contain a path: " + in;
  return std::nullopt;
}

}  // namespace

Expected<bool, std::string> go_parse_bool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
  return unexpected(std::string("parse error"));
}

Expected<uint64_t, std::string> go_parse_uint(std::string_view s, int bits, bool strconv_text) {
  uint64_t v = 0;
  NumErr e = parse_uint_raw(s, bits, &v);
  if (e == NumErr::kNone) return v;
  if (!strconv_text) return unexpected(flag_error(e));
  return unexpected("strconv.ParseUint: parsing " + go_quote(s) + ": " +
                    (e == NumErr::kRange ? "value out of range" : "invalid syntax"));
}

Expected<int64_t, std::string> go_parse_int(std::string_view s) {
  if (s.empty()) return unexpected(flag_error(NumErr::kSyntax));
  bool neg = false;
  std::string_view digits = s;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    digits.remove_prefix(1);
  }
  uint64_t un = 0;
  NumErr e = parse_uint_raw(digits, 64, &un);
  if (e != NumErr::kNone) return unexpected(flag_error(e));
  constexpr uint64_t kCutoff = uint64_t{1} << 63;
  if ((!neg && un >= kCutoff) || (neg && un > kCutoff)) return unexpected(flag_error(NumErr::kRange));
  return neg ? static_cast<int64_t>(0 - un) : static_cast<int64_t>(un);
}

Expected<GoDuration, std::string> go_parse_duration(std::string_view s) {
  const std::string kErr = "parse error";
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return GoDuration(0);
  if (s.empty()) return unexpected(kErr);
  constexpr uint64_t kMax = uint64_t{1} << 63;
  uint64_t d = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return unexpected(kErr);
    size_t before = s.size();
    uint64_t v = 0;
    if (!leading_int(s, &v)) return unexpected(kErr);
    bool pre = before != s.size();
    bool post = false;
    uint64_t f = 0;
    double scale = 1;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t pl = s.size();
      leading_fraction(s, &f, &scale);
      post = pl != s.size();
    }
    if (!pre && !post) return unexpected(kErr);
    size_t i = 0;
    while (i < s.size() && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'))
      ++i;
    if (i == 0) return unexpected(kErr);
    uint64_t unit = unit_ns(s.substr(0, i));
    s.remove_prefix(i);
    if (unit == 0) return unexpected(kErr);
    if (v > kMax / unit) return unexpected(kErr);
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMax) return unexpected(kErr);
    }
    d += v;
    if (d > kMax) return unexpected(kErr);
  }
  if (neg) return GoDuration(static_cast<int64_t>(0 - d));
  if (d > kMax - 1) return unexpected(kErr);
  return GoDuration(static_cast<int64_t>(d));
}

std::string go_format_duration(GoDuration dur) {
  int64_t n = dur.count();
  if (n == 0) return "0s";
  bool neg = n < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::string out;
  if (u < 1'000'000'000ull) {
    if (u < 1'000) {
      out = std::to_string(u) + "ns";
    } else if (u < 1'000'000) {
      out = with_fraction(u, 3) + "\xC2\xB5s";
    } else {
      out = with_fraction(u, 6) + "ms";
    }
  } else {
    uint64_t secs_ns = u % 60'000'000'000ull;
    uint64_t mins = u / 60'000'000'000ull;
    out = with_fraction(secs_ns, 9) + "s";
    if (mins > 0) {
      out = std::to_string(mins % 60) + "m" + out;
      if (mins >= 60) out = std::to_string(mins / 60) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

std::string go_quote(std::string_view s) {
  std::string o = "\"";
  for (char c : s) {
    unsigned char uc = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      case '\r':
        o += "\\r";
        break;
      default:
        if (uc < 0x20 || uc == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", uc);
          o += buf;
        } else {
          o += c;
        }
    }
  }
  return o + "\"";
}

Expected<std::vector<std::string>, std::string> etcd_parse_urls(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = list.find(',', start);
    std::string u =
        trim_space(list.substr(start, comma == std::string_view::npos ? list.npos : comma - start));
    if (auto e = check_url(u)) return unexpected(*e);
    out.push_back(u);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace cairn::server::app
