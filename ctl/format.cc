// Output formats as etcdctl 3.4 prints them. The JSON is Go's encoding/json over etcd's Go types (field
// order, omitempty, base64 bytes, int64 as numbers); the fields format is etcdctl's "Name" : value lines.
#include "ctl/format.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <optional>

namespace cairn::ctl {

namespace pb = etcdserverpb;

namespace {

std::string fmt(const char* f, auto... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, f, args...);
  return std::string(buf, n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

std::string num(std::int64_t v) {
  return std::to_string(v);
}
std::string unum(std::uint64_t v) {
  return std::to_string(v);
}
const char* boolstr(bool b) {
  return b ? "true" : "false";
}

Printed not_supported(const char* what) {
  Printed p;
  p.error = std::string(what) + " not supported as output format";
  p.exit_code = kExitBadFeature;
  return p;
}

// ---- JSON pieces ----
// Joins "name":value members, skipping empty values (omitempty is decided by the caller).
struct JsonObject {
  std::string body;
  void raw(std::string_view name, const std::string& value) {
    if (!body.empty()) body += ',';
    body += '"';
    body += name;
    body += "\":";
    body += value;
  }
  void i64(std::string_view name, std::int64_t v, bool omitempty = true) {
    if (v != 0 || !omitempty) raw(name, num(v));
  }
  void u64(std::string_view name, std::uint64_t v, bool omitempty = true) {
    if (v != 0 || !omitempty) raw(name, unum(v));
  }
  void boolean(std::string_view name, bool v, bool omitempty = true) {
    if (v || !omitempty) raw(name, boolstr(v));
  }
  void bytes(std::string_view name, std::string_view v) {
    if (!v.empty()) raw(name, '"' + base64(v) + '"');
  }
  void str(std::string_view name, std::string_view v, bool omitempty = true) {
    if (!v.empty() || !omitempty) raw(name, json_string(v));
  }
  std::string done() const { return '{' + body + '}'; }
};

void header_members(JsonObject& o, const pb::ResponseHeader& h) {
  o.u64("cluster_id", h.cluster_id());
  o.u64("member_id", h.member_id());
  o.i64("revision", h.revision());
  o.u64("raft_term", h.raft_term());
}
std::string json_header(const pb::ResponseHeader& h) {
  JsonObject o;
  header_members(o, h);
  return o.done();
}
std::string json_kv(const mvccpb::KeyValue& kv) {
  JsonObject o;
  o.bytes("key", kv.key());
  o.i64("create_revision", kv.create_revision());
  o.i64("mod_revision", kv.mod_revision());
  o.i64("version", kv.version());
  o.bytes("value", kv.value());
  o.i64("lease", kv.lease());
  return o.done();
}
template <typename Seq>
std::string json_kvs(const Seq& kvs) {
  std::string s = "[";
  for (int i = 0; i < kvs.size(); ++i) {
    if (i) s += ',';
    s += json_kv(kvs[i]);
  }
  return s + ']';
}
std::string json_range(const pb::RangeResponse& r) {
  JsonObject o;
  if (r.has_header()) o.raw("header", json_header(r.header()));
  if (r.kvs_size()) o.raw("kvs", json_kvs(r.kvs()));
  o.boolean("more", r.more());
  o.i64("count", r.count());
  return o.done();
}
std::string json_put(const pb::PutResponse& r) {
  JsonObject o;
  if (r.has_header()) o.raw("header", json_header(r.header()));
  if (r.has_prev_kv()) o.raw("prev_kv", json_kv(r.prev_kv()));
  return o.done();
}
std::string json_del(const pb::DeleteRangeResponse& r) {
  JsonObject o;
  if (r.has_header()) o.raw("header", json_header(r.header()));
  o.i64("deleted", r.deleted());
  if (r.prev_kvs_size()) o.raw("prev_kvs", json_kvs(r.prev_kvs()));
  return o.done();
}
std::string json_txn(const pb::TxnResponse& r) {
  JsonObject o;
  if (r.has_header()) o.raw("header", json_header(r.header()));
  o.boolean("succeeded", r.succeeded());
  if (r.responses_size()) {
    std::string s = "[";
    for (int i = 0; i < r.responses_size(); ++i) {
      const auto& op = r.responses(i);
      if (i) s += ',';
      switch (op.response_case()) {
        case pb::ResponseOp::kResponseRange:
          s += "{\"Response\":{\"ResponseRange\":" + json_range(op.response_range()) + "}}";
          break;
        case pb::ResponseOp::kResponsePut:
          s += "{\"Response\":{\"ResponsePut\":" + json_put(op.response_put()) + "}}";
          break;
        case pb::ResponseOp::kResponseDeleteRange:
          s += "{\"Response\":{\"ResponseDeleteRange\":" + json_del(op.response_delete_range()) + "}}";
          break;
        case pb::ResponseOp::kResponseTxn:
          s += "{\"Response\":{\"ResponseTxn\":" + json_txn(op.response_txn()) + "}}";
          break;
        default:
          s += "{}";
      }
    }
    o.raw("responses", s + ']');
  }
  return o.done();
}

// ---- fields pieces ----
std::string fields_header(const pb::ResponseHeader& h) {
  return "\"ClusterID\" : " + unum(h.cluster_id()) + "\n\"MemberID\" : " + unum(h.member_id()) +
         "\n\"Revision\" : " + num(h.revision()) + "\n\"RaftTerm\" : " + unum(h.raft_term()) + "\n";
}
std::string fields_kv(const mvccpb::KeyValue& kv, std::string_view prefix = "") {
  std::string p(prefix);
  return "\"" + p + "Key\" : " + go_quote(kv.key()) + "\n\"" + p +
         "CreateRevision\" : " + num(kv.create_revision()) + "\n\"" + p +
         "ModRevision\" : " + num(kv.mod_revision()) + "\n\"" + p + "Version\" : " + num(kv.version()) +
         "\n\"" + p + "Value\" : " + go_quote(kv.value()) + "\n\"" + p + "Lease\" : " + num(kv.lease()) +
         "\n";
}
std::string fields_range(const pb::RangeResponse& r) {
  std::string s = fields_header(r.header());
  for (const auto& kv : r.kvs())
    s += fields_kv(kv);
  s += std::string("\"More\" : ") + boolstr(r.more()) + "\n\"Count\" : " + num(r.count()) + "\n";
  return s;
}
std::string fields_put(const pb::PutResponse& r) {
  std::string s = fields_header(r.header());
  if (r.has_prev_kv()) s += fields_kv(r.prev_kv(), "Prev");
  return s;
}
std::string fields_del(const pb::DeleteRangeResponse& r) {
  std::string s = fields_header(r.header()) + "\"Deleted\" : " + num(r.deleted()) + "\n";
  for (const auto& kv : r.prev_kvs())
    s += fields_kv(kv, "Prev");
  return s;
}
std::string fields_txn(const pb::TxnResponse& r) {
  std::string s = fields_header(r.header()) + "\"Succeeded\" : " + boolstr(r.succeeded()) + "\n";
  for (const auto& op : r.responses()) {
    switch (op.response_case()) {
      case pb::ResponseOp::kResponseRange:
        s += fields_range(op.response_range());
        break;
      case pb::ResponseOp::kResponsePut:
        s += fields_put(op.response_put());
        break;
      case pb::ResponseOp::kResponseDeleteRange:
        s += fields_del(op.response_delete_range());
        break;
      case pb::ResponseOp::kResponseTxn:
        s += fields_txn(op.response_txn());
        break;
      default:
        break;
    }
  }
  return s;
}

// ---- simple pieces ----
std::string simple_bytes(std::string_view b, const PrintOptions& o) {
  return o.hex ? hex_escape(b) : std::string(b);
}
std::string simple_kv(const mvccpb::KeyValue& kv, const PrintOptions& o, bool keys_only = false,
                      bool value_only = false) {
  std::string s;
  if (!value_only) s += simple_bytes(kv.key(), o) + "\n";
  if (!keys_only) s += simple_bytes(kv.value(), o) + "\n";
  return s;
}
std::string simple_get(const pb::RangeResponse& r, const PrintOptions& o, bool keys_only, bool value_only) {
  std::string s;
  for (const auto& kv : r.kvs()) {
    if (keys_only) {
      s += simple_bytes(kv.key(), o) + "\n\n";
    } else {
      s += simple_kv(kv, o, false, value_only);
    }
  }
  return s;
}
std::string simple_del(const pb::DeleteRangeResponse& r, const PrintOptions& o) {
  std::string s = num(r.deleted()) + "\n";
  for (const auto& kv : r.prev_kvs())
    s += simple_kv(kv, o);
  return s;
}
std::string simple_put(const pb::PutResponse& r, const PrintOptions& o) {
  std::string s = "OK\n";
  if (r.has_prev_kv()) s += simple_kv(r.prev_kv(), o);
  return s;
}
std::string simple_txn(const pb::TxnResponse& r, const PrintOptions& o) {
  std::string s = r.succeeded() ? "SUCCESS\n" : "FAILURE\n";
  for (const auto& op : r.responses()) {
    s += "\n";
    switch (op.response_case()) {
      case pb::ResponseOp::kResponseRange:
        s += simple_get(op.response_range(), o, false, false);
        break;
      case pb::ResponseOp::kResponsePut:
        s += simple_put(op.response_put(), o);
        break;
      case pb::ResponseOp::kResponseDeleteRange:
        s += simple_del(op.response_delete_range(), o);
        break;
      case pb::ResponseOp::kResponseTxn:
        s += simple_txn(op.response_txn(), o);
        break;
      default:
        break;
    }
  }
  return s;
}

Printed text(std::string s) {
  Printed p;
  p.out = std::move(s);
  return p;
}

}  // namespace

// ---------------------------------------------------------------- helpers

std::string base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8) | std::uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    std::uint32_t v = std::uint8_t(in[i]) << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    std::uint32_t v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

namespace {
// Decodes one UTF-8 sequence at s[i]; returns its length, 0 when invalid.
std::size_t utf8_len(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto c = std::uint8_t(s[i]);
  std::size_t n;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto d = std::uint8_t(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}
}  // namespace

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    std::size_t n = utf8_len(s, i, cp);
    if (n == 0) {
      out += fmt("\\x%02x", unsigned(std::uint8_t(s[i])));
      ++i;
      continue;
    }
    if (n == 1) {
      char c = s[i];
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (cp < 0x20 || cp == 0x7f) {
            out += fmt("\\x%02x", unsigned(cp));
          } else {
            out += c;
          }
      }
    } else if (cp < 0xA0) {
      out += fmt("\\u%04x", unsigned(cp));  // C1 controls are not printable
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out + "\"";
}

std::string hex_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s)
    out += fmt("\\x%02x", unsigned(c));
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    std::size_t n = utf8_len(s, i, cp);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n == 1) {
      char c = s[i];
      if (c == '"')
        out += "\\\"";
      else if (c == '\\')
        out += "\\\\";
      else if (c == '\n')
        out += "\\n";
      else if (c == '\r')
        out += "\\r";
      else if (c == '\t')
        out += "\\t";
      else if (cp < 0x20 || c == '<' || c == '>' || c == '&')
        out += fmt("\\u%04x", unsigned(cp));
      else
        out += c;
    } else if (cp == 0x2028 || cp == 0x2029) {
      out += fmt("\\u%04x", unsigned(cp));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out + "\"";
}

std::string humanize_bytes(std::uint64_t s) {
  if (s < 10) return fmt("%" PRIu64 " B", s);
  static const char* sizes[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double e = std::floor(std::log(double(s)) / std::log(1000.0));
  double val = std::floor(double(s) / std::pow(1000.0, e) * 10 + 0.5) / 10;
  return fmt(val < 10 ? "%.1f %s" : "%.0f %s", val, sizes[int(e)]);
}

std::string go_duration(std::int64_t d) {
  if (d == 0) return "0s";
  bool neg = d < 0;
  std::uint64_t u = neg ? std::uint64_t(-(d + 1)) + 1 : std::uint64_t(d);
  auto frac = [](std::uint64_t v, std::uint64_t unit, int digits) {
    std::string s = std::to_string(v / unit);
    std::uint64_t r = v % unit;
    if (r) {
      std::string f = std::to_string(r);
      f = std::string(digits - f.size(), '0') + f;
      while (!f.empty() && f.back() == '0')
        f.pop_back();
      s += "." + f;
    }
    return s;
  };
  std::string out;
  if (u < 1000) {
    out = std::to_string(u) + "ns";
  } else if (u < 1000000) {
    out = frac(u, 1000, 3) + "µs";
  } else if (u < 1000000000) {
    out = frac(u, 1000000, 6) + "ms";
  } else {
    std::uint64_t h = u / 3600000000000ULL;
    std::uint64_t rest = u % 3600000000000ULL;
    std::uint64_t m = rest / 60000000000ULL;
    rest %= 60000000000ULL;
    std::string sec = frac(rest, 1000000000, 9) + "s";
    if (h)
      out = std::to_string(h) + "h" + std::to_string(m) + "m" + sec;
    else if (m)
      out = std::to_string(m) + "m" + sec;
    else
      out = sec;
  }
  return neg ? "-" + out : out;
}

std::string hex_id(std::uint64_t id) {
  return fmt("%" PRIx64, id);
}
std::string hex_id16(std::uint64_t id) {
  return fmt("%016" PRIx64, id);
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w(header.size(), 0);
  for (std::size_t i = 0; i < header.size(); ++i)
    w[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < w.size(); ++i)
      w[i] = std::max(w[i], r[i].size());
  std::string line = "+";
  for (auto x : w)
    line += std::string(x + 2, '-') + "+";
  line += "\n";
  std::string s = line + "|";
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::size_t pad = w[i] - header[i].size();
    s += std::string(1 + pad / 2, ' ') + header[i] + std::string(1 + pad - pad / 2, ' ') + "|";
  }
  s += "\n" + line;
  for (const auto& r : rows) {
    s += "|";
    for (std::size_t i = 0; i < w.size(); ++i) {
      std::string c = i < r.size() ? r[i] : "";
      s += std::string(1 + w[i] - c.size(), ' ') + c + " |";
    }
    s += "\n";
  }
  return s + line;
}

// ---------------------------------------------------------------- KV

namespace {
// Most responses print in simple, json and fields text or as the raw protobuf, and have no table form.
// `simple`, `json` and `fields` return each format's text; json gets its trailing newline here.
template <typename R, typename Simple, typename Json, typename Fields>
Printed print_formats(const R& r, const PrintOptions& o, Simple simple, Json json, Fields fields) {
  switch (o.format) {
    case OutputFormat::kSimple:
      return text(simple());
    case OutputFormat::kJson:
      return text(json() + "\n");
    case OutputFormat::kFields:
      return text(fields());
    case OutputFormat::kProtobuf:
      return text(r.SerializeAsString());
    case OutputFormat::kTable:
      break;
  }
  return not_supported("table");
}
}  // namespace

Printed print_get(const pb::RangeResponse& r, const PrintOptions& o, bool keys_only, bool value_only) {
  return print_formats(
      r, o, [&] { return simple_get(r, o, keys_only, value_only); }, [&] { return json_range(r); },
      [&] { return fields_range(r); });
}

Printed print_put(const pb::PutResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o, [&] { return simple_put(r, o); }, [&] { return json_put(r); }, [&] { return fields_put(r); });
}

Printed print_del(const pb::DeleteRangeResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o, [&] { return simple_del(r, o); }, [&] { return json_del(r); }, [&] { return fields_del(r); });
}

Printed print_txn(const pb::TxnResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o, [&] { return simple_txn(r, o); }, [&] { return json_txn(r); }, [&] { return fields_txn(r); });
}

Printed print_compaction(const pb::CompactionResponse&, std::int64_t rev, const PrintOptions&) {
  // etcdctl prints the same line in every format.
  return text("compacted revision " + num(rev) + "\n");
}

Printed print_watch(const pb::WatchResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        std::string s;
        for (const auto& ev : r.events()) {
          s += ev.type() == mvccpb::Event::DELETE ? "DELETE\n" : "PUT\n";
          if (ev.has_prev_kv()) s += simple_kv(ev.prev_kv(), o);
          s += simple_kv(ev.kv(), o);
        }
        return s;
      },
      [&] {
        JsonObject top;
        top.raw("Header", json_header(r.header()));
        std::string evs = "[";
        for (int i = 0; i < r.events_size(); ++i) {
          const auto& ev = r.events(i);
          JsonObject e;
          if (ev.type() != mvccpb::Event::PUT) e.raw("type", num(ev.type()));
          if (ev.has_kv()) e.raw("kv", json_kv(ev.kv()));
          if (ev.has_prev_kv()) e.raw("prev_kv", json_kv(ev.prev_kv()));
          if (i) evs += ',';
          evs += e.done();
        }
        top.raw("Events", evs + "]");
        top.raw("CompactRevision", num(r.compact_revision()));
        top.raw("Canceled", boolstr(r.canceled()));
        top.raw("Created", boolstr(r.created()));
        return top.done();
      },
      [&] {
        std::string s = fields_header(r.header());
        for (const auto& ev : r.events()) {
          s += ev.type() == mvccpb::Event::DELETE ? "\"Type\" : DELETE\n" : "\"Type\" : PUT\n";
          if (ev.has_prev_kv()) s += fields_kv(ev.prev_kv(), "Prev");
          s += fields_kv(ev.kv());
        }
        return s;
      });
}

// ---------------------------------------------------------------- leases

Printed print_lease_grant(const pb::LeaseGrantResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        return "lease " + hex_id16(std::uint64_t(r.id())) + " granted with TTL(" + num(r.ttl()) + "s)\n";
      },
      [&] {
        JsonObject j;
        header_members(j, r.header());
        j.i64("ID", r.id(), false);
        j.i64("TTL", r.ttl(), false);
        j.str("Error", r.error(), false);
        return j.done();
      },
      [&] {
        return fields_header(r.header()) + "\"ID\" : " + num(r.id()) + "\n\"TTL\" : " + num(r.ttl()) + "\n";
      });
}

Printed print_lease_revoke(std::int64_t id, const pb::LeaseRevokeResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o, [&] { return "lease " + hex_id16(std::uint64_t(id)) + " revoked\n"; },
      [&] {
        JsonObject j;
        if (r.has_header()) j.raw("header", json_header(r.header()));
        return j.done();
      },
      [&] { return fields_header(r.header()); });
}

Printed print_lease_ttl(const pb::LeaseTimeToLiveResponse& r, bool keys, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        if (r.grantedttl() == 0 && r.ttl() == -1) {
          return "lease " + hex_id16(std::uint64_t(r.id())) + " already expired\n";
        }
        std::string s = "lease " + hex_id16(std::uint64_t(r.id())) + " granted with TTL(" +
                        num(r.grantedttl()) + "s), remaining(" + num(r.ttl()) + "s)";
        if (keys) {
          s += ", attached keys([";
          for (int i = 0; i < r.keys_size(); ++i)
            s += (i ? " " : "") + r.keys(i);
          s += "])";
        }
        return s + "\n";
      },
      [&] {
        JsonObject j;
        header_members(j, r.header());
        j.i64("id", r.id(), false);
        j.i64("ttl", r.ttl(), false);
        j.i64("granted-ttl", r.grantedttl(), false);
        if (r.keys_size() == 0) {
          j.raw("keys", "null");
        } else {
          std::string k = "[";
          for (int i = 0; i < r.keys_size(); ++i)
            k += (i ? ",\"" : "\"") + base64(r.keys(i)) + "\"";
          j.raw("keys", k + "]");
        }
        return j.done();
      },
      [&] {
        std::string s = fields_header(r.header()) + "\"ID\" : " + num(r.id()) +
                        "\n\"TTL\" : " + num(r.ttl()) + "\n\"GrantedTTL\" : " + num(r.grantedttl()) + "\n";
        for (const auto& k : r.keys())
          s += "\"Key\" : " + go_quote(k) + "\n";
        return s;
      });
}

Printed print_lease_list(const pb::LeaseLeasesResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        std::string s = "found " + num(r.leases_size()) + " leases\n";
        for (const auto& l : r.leases())
          s += hex_id16(std::uint64_t(l.id())) + "\n";
        return s;
      },
      [&] {
        JsonObject j;
        header_members(j, r.header());
        std::string l = "[";
        for (int i = 0; i < r.leases_size(); ++i)
          l += (i ? ",{\"id\":" : "{\"id\":") + num(r.leases(i).id()) + "}";
        j.raw("leases", l + "]");
        return j.done();
      },
      [&] {
        std::string s = fields_header(r.header());
        for (const auto& l : r.leases())
          s += "\"ID\" : " + num(l.id()) + "\n";
        return s;
      });
}

Printed print_lease_keepalive(const pb::LeaseKeepAliveResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        return "lease " + hex_id16(std::uint64_t(r.id())) + " keepalived with TTL(" + num(r.ttl()) + ")\n";
      },
      [&] {
        JsonObject j;
        header_members(j, r.header());
        j.i64("ID", r.id(), false);
        j.i64("TTL", r.ttl(), false);
        return j.done();
      },
      [&] {
        return fields_header(r.header()) + "\"ID\" : " + num(r.id()) + "\n\"TTL\" : " + num(r.ttl()) + "\n";
      });
}

// ---------------------------------------------------------------- members

namespace {
std::string join(const google::protobuf::RepeatedPtrField<std::string>& v, const char* sep) {
  std::string s;
  for (int i = 0; i < v.size(); ++i)
    s += (i ? sep : "") + v[i];
  return s;
}
std::string json_strings(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::string s = "[";
  for (int i = 0; i < v.size(); ++i)
    s += (i ? "," : "") + json_string(v[i]);
  return s + "]";
}
std::string json_member(const pb::Member& m) {
  JsonObject j;
  j.u64("ID", m.id());
  j.str("name", m.name());
  if (m.peerurls_size()) j.raw("peerURLs", json_strings(m.peerurls()));
  if (m.clienturls_size()) j.raw("clientURLs", json_strings(m.clienturls()));
  j.boolean("isLearner", m.islearner());
  return j.done();
}
template <typename Seq>
std::string json_members(const Seq& ms) {
  std::string s = "[";
  for (int i = 0; i < ms.size(); ++i)
    s += (i ? "," : "") + json_member(ms[i]);
  return s + "]";
}
std::string fields_member(const pb::Member& m) {
  std::string s = "\"ID\" : " + unum(m.id()) + "\n\"Name\" : " + go_quote(m.name()) + "\n";
  for (const auto& u : m.peerurls())
    s += "\"PeerURL\" : " + go_quote(u) + "\n";
  for (const auto& u : m.clienturls())
    s += "\"ClientURL\" : " + go_quote(u) + "\n";
  s += std::string("\"IsLearner\" : ") + boolstr(m.islearner()) + "\n\n";
  return s;
}
// The json and fields text of a response that holds a header and the member list.
template <typename R>
std::string json_header_and_members(const R& r) {
  JsonObject j;
  if (r.has_header()) j.raw("header", json_header(r.header()));
  if (r.members_size()) j.raw("members", json_members(r.members()));
  return j.done();
}
template <typename R>
std::string fields_header_and_members(const R& r) {
  std::string s = fields_header(r.header());
  for (const auto& m : r.members())
    s += fields_member(m);
  return s;
}
std::vector<std::string> member_row(const pb::Member& m) {
  return {hex_id(m.id()),
          m.name().empty() ? "unstarted" : "started",
          m.name(),
          join(m.peerurls(), ","),
          join(m.clienturls(), ","),
          boolstr(m.islearner())};
}
}  // namespace

Printed print_member_list(const pb::MemberListResponse& r, const PrintOptions& o) {
  switch (o.format) {
    case OutputFormat::kSimple: {
      std::string s;
      for (const auto& m : r.members()) {
        auto row = member_row(m);
        for (std::size_t i = 0; i < row.size(); ++i)
          s += (i ? ", " : "") + row[i];
        s += "\n";
      }
      return text(s);
    }
    case OutputFormat::kJson:
      return text(json_header_and_members(r) + "\n");
    case OutputFormat::kFields:
      return text(fields_header_and_members(r));
    case OutputFormat::kTable: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& m : r.members())
        rows.push_back(member_row(m));
      return text(render_table({"ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"}, rows));
    }
    case OutputFormat::kProtobuf:
      return text(r.SerializeAsString());
  }
  return not_supported("table");
}

Printed print_member_add(const pb::MemberAddResponse& r, const std::string& name, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        std::string s = fmt("Member %16" PRIx64 " added to cluster %16" PRIx64 "\n", r.member().id(),
                            r.header().cluster_id());
        std::string cluster;
        for (const auto& m : r.members()) {
          for (const auto& u : m.peerurls()) {
            std::string n = m.id() == r.member().id() ? name : m.name();
            if (!cluster.empty()) cluster += ",";
            cluster += n + "=" + u;
          }
        }
        s += "\nETCD_NAME=\"" + name + "\"\nETCD_INITIAL_CLUSTER=\"" + cluster +
             "\"\nETCD_INITIAL_ADVERTISE_PEER_URLS=\"" + join(r.member().peerurls(), ",") +
             "\"\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n";
        return s;
      },
      [&] {
        JsonObject j;
        if (r.has_header()) j.raw("header", json_header(r.header()));
        if (r.has_member()) j.raw("member", json_member(r.member()));
        if (r.members_size()) j.raw("members", json_members(r.members()));
        return j.done();
      },
      [&] {
        std::string s =
            fields_header(r.header()) + "\"Member\" :\n" + fields_member(r.member()) + "\"Members\" :\n";
        for (const auto& m : r.members())
          s += fields_member(m);
        return s;
      });
}

namespace {
template <typename R>
Printed member_change(const char* verb, std::uint64_t id, const R& r, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        return fmt("Member %16" PRIx64 " %s cluster %16" PRIx64 "\n", id, verb, r.header().cluster_id());
      },
      [&] { return json_header_and_members(r); }, [&] { return fields_header_and_members(r); });
}
}  // namespace

Printed print_member_remove(std::uint64_t id, const pb::MemberRemoveResponse& r, const PrintOptions& o) {
  return member_change("removed from", id, r, o);
}
Printed print_member_update(std::uint64_t id, const pb::MemberUpdateResponse& r, const PrintOptions& o) {
  return member_change("updated in", id, r, o);
}
Printed print_member_promote(std::uint64_t id, const pb::MemberPromoteResponse& r, const PrintOptions& o) {
  return member_change("promoted in", id, r, o);
}

// ---------------------------------------------------------------- endpoints

namespace {
std::vector<std::string> status_row(const EndpointStatus& e) {
  const auto& s = e.status;
  return {e.endpoint,
          hex_id(s.header().member_id()),
          s.version(),
          humanize_bytes(std::uint64_t(s.dbsize())),
          boolstr(s.leader() == s.header().member_id()),
          boolstr(s.islearner()),
          unum(s.raftterm()),
          unum(s.raftindex()),
          unum(s.raftappliedindex()),
          join(s.errors(), ", ")};
}
}  // namespace

Printed print_endpoint_status(const std::vector<EndpointStatus>& v, const PrintOptions& o) {
  switch (o.format) {
    case OutputFormat::kSimple: {
      std::string s;
      for (const auto& e : v) {
        auto row = status_row(e);
        for (std::size_t i = 0; i < row.size(); ++i)
          s += (i ? ", " : "") + row[i];
        s += "\n";
      }
      return text(s);
    }
    case OutputFormat::kJson: {
      std::string s = "[";
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto& st = v[i].status;
        JsonObject j;
        if (st.has_header()) j.raw("header", json_header(st.header()));
        j.str("version", st.version());
        j.i64("dbSize", st.dbsize());
        j.u64("leader", st.leader());
        j.u64("raftIndex", st.raftindex());
        j.u64("raftTerm", st.raftterm());
        j.u64("raftAppliedIndex", st.raftappliedindex());
        if (st.errors_size()) j.raw("errors", json_strings(st.errors()));
        j.i64("dbSizeInUse", st.dbsizeinuse());
        j.boolean("isLearner", st.islearner());
        s += (i ? "," : "") + std::string("{\"Endpoint\":") + json_string(v[i].endpoint) +
             ",\"Status\":" + j.done() + "}";
      }
      return text(s + "]\n");
    }
    case OutputFormat::kFields: {
      std::string s;
      for (const auto& e : v) {
        const auto& st = e.status;
        s += fields_header(st.header()) + "\"Version\" : " + go_quote(st.version()) +
             "\n\"DBSize\" : " + num(st.dbsize()) + "\n\"Leader\" : " + unum(st.leader()) +
             "\n\"IsLearner\" : " + boolstr(st.islearner()) + "\n\"RaftIndex\" : " + unum(st.raftindex()) +
             "\n\"RaftTerm\" : " + unum(st.raftterm()) +
             "\n\"RaftAppliedIndex\" : " + unum(st.raftappliedindex()) + "\n\"Errors\" : [" +
             join(st.errors(), " ") + "]\n\"Endpoint\" : " + go_quote(e.endpoint) + "\n\n";
      }
      return text(s);
    }
    case OutputFormat::kTable: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : v)
        rows.push_back(status_row(e));
      return text(render_table({"ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER",
                                "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"},
                               rows));
    }
    case OutputFormat::kProtobuf:
      break;
  }
  return not_supported("protobuf");
}

Printed print_endpoint_hashkv(const std::vector<EndpointHash>& v, const PrintOptions& o) {
  switch (o.format) {
    case OutputFormat::kSimple: {
      std::string s;
      for (const auto& e : v)
        s += e.endpoint + ", " + unum(e.hash.hash()) + "\n";
      return text(s);
    }
    case OutputFormat::kJson: {
      std::string s = "[";
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto& h = v[i].hash;
        JsonObject j;
        if (h.has_header()) j.raw("header", json_header(h.header()));
        j.u64("hash", h.hash());
        j.i64("compact_revision", h.compact_revision());
        s += (i ? "," : "") + std::string("{\"Endpoint\":") + json_string(v[i].endpoint) +
             ",\"HashKV\":" + j.done() + "}";
      }
      return text(s + "]\n");
    }
    case OutputFormat::kFields: {
      std::string s;
      for (const auto& e : v) {
        s += fields_header(e.hash.header()) + "\"Endpoint\" : " + go_quote(e.endpoint) +
             "\n\"Hash\" : " + unum(e.hash.hash()) + "\n\n";
      }
      return text(s);
    }
    case OutputFormat::kTable: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : v)
        rows.push_back({e.endpoint, unum(e.hash.hash())});
      return text(render_table({"ENDPOINT", "HASH"}, rows));
    }
    case OutputFormat::kProtobuf:
      break;
  }
  return not_supported("protobuf");
}

Printed print_endpoint_health(const std::vector<EndpointHealth>& v, const PrintOptions& o) {
  switch (o.format) {
    case OutputFormat::kSimple: {
      Printed p;
      for (const auto& e : v) {
        if (e.health) {
          p.err += e.endpoint +
                   " is healthy: successfully committed proposal: took = " + go_duration(e.took_ns) + "\n";
        } else {
          p.err += e.endpoint + " is unhealthy: failed to commit proposal: " + e.error + "\n";
        }
      }
      return p;
    }
    case OutputFormat::kJson: {
      std::string s = "[";
      for (std::size_t i = 0; i < v.size(); ++i) {
        JsonObject j;
        j.str("endpoint", v[i].endpoint, false);
        j.boolean("health", v[i].health, false);
        j.str("took", go_duration(v[i].took_ns), false);
        j.str("error", v[i].error);
        s += (i ? "," : "") + j.done();
      }
      return text(s + "]\n");
    }
    case OutputFormat::kFields: {
      std::string s;
      for (const auto& e : v) {
        s += "\"Endpoint\" : " + go_quote(e.endpoint) + "\n\"Health\" : " + boolstr(e.health) +
             "\n\"Took\" : " + go_duration(e.took_ns) + "\n\"Error\" : " + e.error + "\n\n";
      }
      return text(s);
    }
    case OutputFormat::kTable: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : v)
        rows.push_back({e.endpoint, boolstr(e.health), go_duration(e.took_ns), e.error});
      return text(render_table({"ENDPOINT", "HEALTH", "TOOK", "ERROR"}, rows));
    }
    case OutputFormat::kProtobuf:
      break;
  }
  return not_supported("protobuf");
}

Printed print_alarm(const pb::AlarmResponse& r, const PrintOptions& o) {
  return print_formats(
      r, o,
      [&] {
        std::string s;
        for (const auto& a : r.alarms()) {
          s += "memberID:" + unum(a.memberid()) + " alarm:" + pb::AlarmType_Name(a.alarm()) + " \n";
        }
        return s;
      },
      [&] {
        // etcdctl marshals the list of alarms only (clientv3 AlarmResponse keeps the header nil).
        JsonObject j;
        if (r.alarms_size()) {
          std::string s = "[";
          for (int i = 0; i < r.alarms_size(); ++i) {
            JsonObject a;
            a.u64("memberID", r.alarms(i).memberid());
            a.i64("alarm", r.alarms(i).alarm());
            s += (i ? "," : "") + a.done();
          }
          j.raw("alarms", s + "]");
        }
        return j.done();
      },
      [&] {
        std::string s = fields_header(r.header());
        for (const auto& a : r.alarms()) {
          s += "\"MemberID\" : " + unum(a.memberid()) + "\n\"AlarmType\" : " + pb::AlarmType_Name(a.alarm()) +
               "\n";
        }
        return s;
      });
}

Printed print_snapshot_status(const SnapshotStatusView& s, const PrintOptions& o) {
  char hash[16];
  std::snprintf(hash, sizeof hash, "%x", s.hash);
  std::vector<std::string> row = {hash, std::to_string(s.revision), std::to_string(s.total_keys),
                                  humanize_bytes(static_cast<std::uint64_t>(s.total_size))};
  Printed p;
  switch (o.format) {
    case OutputFormat::kSimple:
      p.out = row[0] + ", " + row[1] + ", " + row[2] + ", " + row[3] + "\n";
      return p;
    case OutputFormat::kTable:
      p.out = render_table({"HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"}, {row});
      return p;
    case OutputFormat::kJson:
      p.out = "{\"hash\":" + std::to_string(s.hash) + ",\"revision\":" + std::to_string(s.revision) +
              ",\"totalKey\":" + std::to_string(s.total_keys) +
              ",\"totalSize\":" + std::to_string(s.total_size) + "}\n";
      return p;
    case OutputFormat::kFields:
      p.out = "\"Hash\" : " + std::to_string(s.hash) + "\n\"Revision\" : " + std::to_string(s.revision) +
              "\n\"Keys\" : " + std::to_string(s.total_keys) +
              "\n\"Size\" : " + std::to_string(s.total_size) + "\n";
      return p;
    case OutputFormat::kProtobuf:
      return not_supported("protobuf");
  }
  return p;
}

}  // namespace cairn::ctl

// ---- the auth commands (user, role): etcdctl 3.4 prints the response header and its lists ----
namespace cairn::ctl {
namespace {

// Header-only responses, and those with one list: `list_name` (empty: none) in JSON, `fields_list` the
// fields line (nullopt: etcdctl has no fields output for it).
Printed auth_formats(const google::protobuf::Message& r, const pb::ResponseHeader& h,
                     const std::string& simple, const PrintOptions& o, const std::string& json_extra,
                     std::optional<std::string> fields_extra) {
  switch (o.format) {
    case OutputFormat::kSimple:
      return text(simple);
    case OutputFormat::kJson: {
      JsonObject obj;
      obj.raw("header", json_header(h));
      std::string body = obj.done();
      if (!json_extra.empty()) body.insert(body.size() - 1, "," + json_extra);
      return text(body + "\n");
    }
    case OutputFormat::kFields:
      if (!fields_extra) return not_supported("fields");
      return text(fields_header(h) + *fields_extra);
    case OutputFormat::kProtobuf:
      return text(r.SerializeAsString());
    case OutputFormat::kTable:
      break;
  }
  return not_supported("table");
}

}  // namespace

Printed print_auth_plain(const google::protobuf::Message& r, const pb::ResponseHeader& h,
                         const std::string& simple, const PrintOptions& o) {
  return auth_formats(r, h, simple, o, "", std::string());
}

Printed print_role_get(const pb::AuthRoleGetResponse& r, const std::string& simple, const PrintOptions& o) {
  std::string json, fields;
  if (r.perm_size() > 0) {
    json = "\"perm\":[";
    for (int i = 0; i < r.perm_size(); ++i) {
      const auto& p = r.perm(i);
      JsonObject obj;
      obj.i64("permType", p.permtype());
      obj.bytes("key", p.key());
      obj.bytes("range_end", p.range_end());
      json += (i ? "," : "") + obj.done();
    }
    json += "]";
  }
  for (const auto& p : r.perm())
    fields += "\"PermType\" :  " + authpb::Permission::Type_Name(p.permtype()) +
              "\n\"Key\" : " + go_quote(p.key()) + "\n\"RangeEnd\" : " + go_quote(p.range_end()) + "\n";
  return auth_formats(r, r.header(), simple, o, json, fields);
}

Printed print_role_list(const pb::AuthRoleListResponse& r, const std::string& simple, const PrintOptions& o) {
  std::string fields = "\"Roles\" :";
  for (const auto& role : r.roles())
    fields += " " + go_quote(role);
  return auth_formats(r, r.header(), simple, o, r.roles_size() ? "\"roles\":" + json_strings(r.roles()) : "",
                      fields + "\n");
}

Printed print_user_get(const pb::AuthUserGetResponse& r, const std::string& simple, const PrintOptions& o) {
  return auth_formats(r, r.header(), simple, o, r.roles_size() ? "\"roles\":" + json_strings(r.roles()) : "",
                      std::nullopt);
}

Printed print_user_list(const pb::AuthUserListResponse& r, const std::string& simple, const PrintOptions& o) {
  return auth_formats(r, r.header(), simple, o, r.users_size() ? "\"users\":" + json_strings(r.users()) : "",
                      std::nullopt);
}

}  // namespace cairn::ctl
