#include "ctl/requests.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace cairn::ctl {

namespace pb = etcdserverpb;

std::string prefix_range_end(std::string_view key) {
  std::string end(key);
  while (!end.empty()) {
    auto c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::optional<std::int64_t> parse_hex_i64(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  std::string t(s);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 16);
  if (errno != 0 || end != t.c_str() + t.size() || !std::isxdigit(static_cast<unsigned char>(t.back()))) {
    return std::nullopt;
  }
  return v;
}
std::optional<std::uint64_t> parse_hex_u64(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] == '-' || s[0] == '+') return std::nullopt;
  std::string t(s);
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(t.c_str(), &end, 16);
  if (errno != 0 || end != t.c_str() + t.size()) return std::nullopt;
  return v;
}
std::optional<std::int64_t> parse_i64(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  std::string t(s);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno != 0 || end != t.c_str() + t.size()) return std::nullopt;
  return v;
}

namespace {
std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// etcdctl's `--prefix` / `--from-key` / [range_end]: checks they are not combined, then turns the first two
// into a range end (an empty key becomes "\0", the whole keyspace). Returns an error message or "".
std::string resolve_range(bool prefix, bool from_key, std::string& key, std::optional<std::string>& end) {
  if (prefix && from_key) return "`--prefix` and `--from-key` cannot be set at the same time, choose one";
  if ((prefix || from_key) && end)
    return "too many arguments, only accept one argument when `--prefix` or `--from-key` is set";
  const std::string nul(1, '\0');
  if (prefix || from_key) {
    if (key.empty()) key = nul;
    end = (from_key || key == nul) ? nul : prefix_range_end(key);
  }
  return {};
}
}  // namespace

std::string build_range(std::string key, std::optional<std::string> end, const GetOptions& o,
                        pb::RangeRequest& out) {
  if (auto err = resolve_range(o.prefix, o.from_key, key, end); !err.empty()) return err;
  if (o.consistency != "l" && o.consistency != "s")
    return "unknown consistency flag \"" + o.consistency + "\"";
  out.set_serializable(o.consistency == "s");
  if (end) out.set_range_end(*end);
  out.set_key(key);
  out.set_revision(o.rev);
  out.set_limit(o.limit);
  out.set_keys_only(o.keys_only);
  out.set_count_only(o.count_only);
  std::string order = upper(o.order), by = upper(o.sort_by);
  pb::RangeRequest::SortOrder so = pb::RangeRequest::NONE;
  if (order == "ASCEND")
    so = pb::RangeRequest::ASCEND;
  else if (order == "DESCEND")
    so = pb::RangeRequest::DESCEND;
  else if (!order.empty())
    return "bad sort order " + o.order;
  pb::RangeRequest::SortTarget st = pb::RangeRequest::KEY;
  if (by == "CREATE")
    st = pb::RangeRequest::CREATE;
  else if (by == "KEY")
    st = pb::RangeRequest::KEY;
  else if (by == "MODIFY")
    st = pb::RangeRequest::MOD;
  else if (by == "VALUE")
    st = pb::RangeRequest::VALUE;
  else if (by == "VERSION")
    st = pb::RangeRequest::VERSION;
  else if (!by.empty())
    return "bad sort target " + o.sort_by;
  if (!by.empty() && so == pb::RangeRequest::NONE) so = pb::RangeRequest::ASCEND;
  // clientv3 drops an ascending key sort: it is the server's natural order.
  if (so == pb::RangeRequest::ASCEND && st == pb::RangeRequest::KEY) so = pb::RangeRequest::NONE;
  out.set_sort_order(so);
  out.set_sort_target(st);
  return {};
}

std::string build_put(std::string key, std::string value, const PutOptions& o, pb::PutRequest& out) {
  std::int64_t lease = 0;
  if (!o.lease.empty()) {
    auto id = parse_hex_i64(o.lease);
    if (!id) {
      return "bad lease ID (strconv.ParseInt: parsing \"" + o.lease +
             "\": invalid syntax), expecting ID in Hex";
    }
    lease = *id;
  }
  out.set_key(std::move(key));
  out.set_value(std::move(value));
  out.set_lease(lease);
  out.set_prev_kv(o.prev_kv);
  out.set_ignore_value(o.ignore_value);
  out.set_ignore_lease(o.ignore_lease);
  return {};
}

std::string build_delete(std::string key, std::optional<std::string> end, const DelOptions& o,
                         pb::DeleteRangeRequest& out) {
  if (auto err = resolve_range(o.prefix, o.from_key, key, end); !err.empty()) return err;
  if (end) out.set_range_end(*end);
  out.set_key(std::move(key));
  out.set_prev_kv(o.prev_kv);
  return {};
}

namespace {
// Reads a Go double-quoted string at s[i] (s[i] == '"'); advances i past it. False when malformed.
bool go_unquote(std::string_view s, std::size_t& i, std::string& out) {
  if (i >= s.size() || s[i] != '"') return false;
  ++i;
  while (i < s.size()) {
    char c = s[i++];
    if (c == '"') return true;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= s.size()) return false;
    char e = s[i++];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case '\'':
        out += '\'';
        break;
      case 'x': {
        if (i + 2 > s.size()) return false;
        auto v = parse_hex_u64(s.substr(i, 2));
        if (!v) return false;
        out += static_cast<char>(*v);
        i += 2;
        break;
      }
      default:
        return false;
    }
  }
  return false;
}
}  // namespace

std::vector<std::string> argify(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])))
      ++i;
    if (i >= line.size()) break;
    std::string w;
    if (line[i] == '"') {
      std::size_t j = i;
      if (go_unquote(line, j, w)) {
        words.push_back(w);
        i = j;
        continue;
      }
    }
    if (line[i] == '\'') {
      auto close = line.find('\'', i + 1);
      if (close != std::string_view::npos) {
        words.emplace_back(line.substr(i + 1, close - i - 1));
        i = close + 1;
        continue;
      }
    }
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])))
      w += line[i++];
    words.push_back(w);
  }
  return words;
}

std::string parse_compare(std::string_view line, pb::Compare& out) {
  std::string malformed = "malformed comparison: " + std::string(line);
  auto lp = line.find('(');
  if (lp == std::string_view::npos) return malformed;
  std::string target(line.substr(0, lp));
  std::size_t i = lp + 1;
  std::string key, op, val;
  if (!go_unquote(line, i, key)) return malformed;
  if (i >= line.size() || line[i] != ')') return malformed;
  ++i;
  while (i < line.size() && line[i] == ' ')
    ++i;
  while (i < line.size() && line[i] != ' ')
    op += line[i++];
  while (i < line.size() && line[i] == ' ')
    ++i;
  if (!go_unquote(line, i, val)) return malformed;
  out.set_key(key);
  if (op == "=" || op == "==")
    out.set_result(pb::Compare::EQUAL);
  else if (op == "!=")
    out.set_result(pb::Compare::NOT_EQUAL);
  else if (op == "<")
    out.set_result(pb::Compare::LESS);
  else if (op == ">")
    out.set_result(pb::Compare::GREATER);
  else
    return "malformed comparison: " + std::string(line) + " (unknown op \"" + op + "\")";
  auto number = [&](auto set) -> std::string {
    auto v = parse_i64(val);
    if (!v) return "invalid txn compare request: " + std::string(line);
    set(*v);
    return {};
  };
  if (target == "ver" || target == "version") {
    out.set_target(pb::Compare::VERSION);
    return number([&](std::int64_t v) { out.set_version(v); });
  }
  if (target == "c" || target == "create") {
    out.set_target(pb::Compare::CREATE);
    return number([&](std::int64_t v) { out.set_create_revision(v); });
  }
  if (target == "m" || target == "mod") {
    out.set_target(pb::Compare::MOD);
    return number([&](std::int64_t v) { out.set_mod_revision(v); });
  }
  if (target == "val" || target == "value") {
    out.set_target(pb::Compare::VALUE);
    out.set_value(val);
    return {};
  }
  if (target == "lease") {
    out.set_target(pb::Compare::LEASE);
    auto v = parse_hex_i64(val);
    if (!v) return "invalid txn compare request: " + std::string(line);
    out.set_lease(*v);
    return {};
  }
  return "malformed comparison: " + std::string(line) + " (unknown target \"" + target + "\")";
}

namespace {
// Flag parsing for operation lines: --name, --name=value, --name value.
bool take_flag(const std::vector<std::string>& w, std::size_t& i, const std::string& name, std::string& value,
               bool is_bool) {
  const std::string& a = w[i];
  std::string p = "--" + name;
  if (a == p) {
    if (is_bool) {
      value = "true";
      return true;
    }
    if (i + 1 < w.size()) {
      value = w[++i];
      return true;
    }
    return false;
  }
  if (a.rfind(p + "=", 0) == 0) {
    value = a.substr(p.size() + 1);
    return true;
  }
  return false;
}
}  // namespace

std::string parse_request_op(std::string_view line, pb::RequestOp& out) {
  auto w = argify(line);
  if (w.empty()) return "empty operation";
  std::string cmd = w[0];
  std::vector<std::string> pos;
  GetOptions g;
  PutOptions p;
  DelOptions d;
  for (std::size_t i = 1; i < w.size(); ++i) {
    std::string v;
    if (w[i].rfind("--", 0) != 0 || w[i] == "--") {
      pos.push_back(w[i]);
      continue;
    }
    auto b = [&](const char* n, bool& f) {
      if (!take_flag(w, i, n, v, true)) return false;
      f = v != "false";
      return true;
    };
    auto s = [&](const char* n, std::string& f) {
      if (!take_flag(w, i, n, v, false)) return false;
      f = v;
      return true;
    };
    auto n64 = [&](const char* n, std::int64_t& f) {
      if (!take_flag(w, i, n, v, false)) return false;
      f = parse_i64(v).value_or(0);
      return true;
    };
    bool ok = false;
    if (cmd == "get") {
      ok = b("prefix", g.prefix) || b("from-key", g.from_key) || n64("rev", g.rev) || n64("limit", g.limit) ||
           s("sort-by", g.sort_by) || s("order", g.order) || b("keys-only", g.keys_only) ||
           b("count-only", g.count_only) || s("consistency", g.consistency) ||
           b("print-value-only", g.print_value_only);
    } else if (cmd == "put") {
      ok = s("lease", p.lease) || b("prev-kv", p.prev_kv) || b("ignore-value", p.ignore_value) ||
           b("ignore-lease", p.ignore_lease);
    } else if (cmd == "del" || cmd == "delete") {
      ok = b("prefix", d.prefix) || b("from-key", d.from_key) || b("prev-kv", d.prev_kv);
    }
    if (!ok) return "unknown flag: " + w[i];
  }
  if (cmd == "get") {
    if (pos.empty() || pos.size() > 2)
      return "get command needs one argument as key and an optional argument as range_end";
    return build_range(pos[0], pos.size() > 1 ? std::optional(pos[1]) : std::nullopt, g,
                       *out.mutable_request_range());
  }
  if (cmd == "put") {
    if (pos.size() != 2 && !(pos.size() == 1 && p.ignore_value)) return "put command needs 2 arguments";
    return build_put(pos[0], pos.size() > 1 ? pos[1] : "", p, *out.mutable_request_put());
  }
  if (cmd == "del" || cmd == "delete") {
    if (pos.empty() || pos.size() > 2)
      return "del command needs one argument as key and an optional argument as range_end";
    return build_delete(pos[0], pos.size() > 1 ? std::optional(pos[1]) : std::nullopt, d,
                        *out.mutable_request_delete_range());
  }
  return "invalid txn request: " + std::string(line);
}

}  // namespace cairn::ctl
