#include "storage/etcd_backend/layout.h"

#include <cstdio>

#include "proto/etcd/kv.pb.h"
#include "proto/etcd/lease.pb.h"

namespace cairn::storage::etcd_backend {

namespace {

void put_be64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_len(std::string_view s, size_t i) {
  const auto c = static_cast<uint8_t>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    const auto d = static_cast<uint8_t>(s[i + k]);
    if ((d >> 6) != 0x2) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are invalid.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

}  // namespace

std::string encode_revision(Revision rev, bool tombstone) {
  std::string k;
  k.reserve(kRevisionBytes + 1);
  put_be64(&k, static_cast<uint64_t>(rev.main));
  k.push_back('_');
  put_be64(&k, static_cast<uint64_t>(rev.sub));
  if (tombstone) k.push_back('t');
  return k;
}

std::optional<EtcdRevision> decode_revision(std::string_view key) {
  if (key.size() != kRevisionBytes && !(key.size() == kRevisionBytes + 1 && key.back() == 't'))
    return std::nullopt;
  if (key[8] != '_') return std::nullopt;
  EtcdRevision r;
  r.rev.main = static_cast<int64_t>(get_be64(key.data()));
  r.rev.sub = static_cast<int64_t>(get_be64(key.data() + 9));
  r.tombstone = key.size() == kRevisionBytes + 1;
  if (r.rev.main < 0 || r.rev.sub < 0) return std::nullopt;
  return r;
}

std::string encode_kv(const KeyValue& kv, bool tombstone) {
  mvccpb::KeyValue pb;
  pb.set_key(kv.key);
  if (!tombstone) {
    pb.set_create_revision(kv.create_revision);
    pb.set_mod_revision(kv.mod_revision);
    pb.set_version(kv.version);
    pb.set_value(kv.value);
    pb.set_lease(kv.lease);
  }
  return pb.SerializeAsString();
}

std::optional<KeyValue> decode_kv(std::string_view value) {
  mvccpb::KeyValue pb;
  if (!pb.ParseFromArray(value.data(), static_cast<int>(value.size()))) return std::nullopt;
  KeyValue kv;
  kv.key = pb.key();
  kv.create_revision = pb.create_revision();
  kv.mod_revision = pb.mod_revision();
  kv.version = pb.version();
  kv.value = pb.value();
  kv.lease = pb.lease();
  return kv;
}

std::string encode_lease_id(int64_t id) {
  return encode_u64(static_cast<uint64_t>(id));
}

std::string encode_lease(const LeaseInfo& l) {
  leasepb::Lease pb;
  pb.set_id(l.id);
  pb.set_ttl(l.ttl);
  pb.set_remainingttl(l.remaining_ttl);
  return pb.SerializeAsString();
}

std::optional<LeaseInfo> decode_lease(std::string_view key, std::string_view value) {
  auto id = decode_u64(key);
  leasepb::Lease pb;
  if (!id || !pb.ParseFromArray(value.data(), static_cast<int>(value.size()))) return std::nullopt;
  if (pb.id() != static_cast<int64_t>(*id)) return std::nullopt;
  LeaseInfo l;
  l.id = pb.id();
  l.ttl = pb.ttl();
  l.remaining_ttl = pb.remainingttl();
  return l;
}

std::string encode_u64(uint64_t v) {
  std::string s;
  put_be64(&s, v);
  return s;
}

std::optional<uint64_t> decode_u64(std::string_view v) {
  if (v.size() != 8) return std::nullopt;
  return get_be64(v.data());
}

std::string member_key(uint64_t id) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(id));
  return b;
}

std::string go_json_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    const size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else if (n == 3 && static_cast<uint8_t>(s[i]) == 0xE2 && static_cast<uint8_t>(s[i + 1]) == 0x80 &&
               (static_cast<uint8_t>(s[i + 2]) == 0xA8 || static_cast<uint8_t>(s[i + 2]) == 0xA9)) {
      out += static_cast<uint8_t>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 3;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  out += '"';
  return out;
}

std::string member_json(const MemberRecord& m) {
  auto list = [](const std::vector<std::string>& v) {
    if (v.empty()) return std::string("null");
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i)
      out += (i ? "," : "") + go_json_string(v[i]);
    return out + "]";
  };
  std::string out = "{\"id\":" + std::to_string(m.id) + ",\"peerURLs\":" + list(m.peer_urls);
  if (m.learner) out += ",\"isLearner\":true";
  if (!m.name.empty()) out += ",\"name\":" + go_json_string(m.name);
  if (!m.client_urls.empty()) out += ",\"clientURLs\":" + list(m.client_urls);
  return out + "}";
}

}  // namespace cairn::storage::etcd_backend
