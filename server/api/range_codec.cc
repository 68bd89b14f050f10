#include "server/api/range_codec.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "server/net/vocabulary.h"
#include "wire/framing.h"

namespace cairn::server::api {
namespace {

enum WireType : std::uint32_t { kVarint = 0, kLengthDelimited = 2 };

// Pieces of the framed message: appended bytes go into chunks of at most kChunkBytes, each reserved at
// the size it will end with (the total is known up front), so nothing is reallocated or over-reserved.
constexpr std::size_t kChunkBytes = 1 << 20;

class ChunkWriter {
 public:
  // `piece_bytes_max`: the largest piece; the total or more gives one piece.
  explicit ChunkWriter(std::size_t total, std::size_t piece_bytes_max = kChunkBytes)
      : left_(total), piece_bytes_max_(piece_bytes_max) {}

  void append(const char* p, std::size_t n) {
    while (n > 0) {
      if (out_.chunks.empty() || out_.chunks.back().size() == out_.chunks.back().capacity()) next_chunk();
      std::string& c = out_.chunks.back();
      const std::size_t take = std::min(n, c.capacity() - c.size());
      c.append(p, take);
      p += take;
      n -= take;
    }
  }
  void append(const std::string& s) { append(s.data(), s.size()); }
  void varint(std::uint64_t v) {
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    append(buf, n);
  }
  net::FramedMessage take() { return std::move(out_); }

 private:
  void next_chunk() {
    const std::size_t size = std::min(piece_bytes_max_, left_);
    left_ -= size;
    out_.chunks.emplace_back().reserve(size);
  }
  std::size_t left_;
  std::size_t piece_bytes_max_;
  net::FramedMessage out_;
};

std::size_t varint_bytes(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::uint64_t tag(std::uint32_t field, WireType type) {
  return (std::uint64_t{field} << 3) | type;
}

// Size of an int64 field (proto3: 0 is omitted; negatives are 10-byte varints). Tags here are 1 byte.
std::size_t int_field_bytes(std::int64_t v) {
  return v == 0 ? 0 : 1 + varint_bytes(static_cast<std::uint64_t>(v));
}

std::size_t bytes_field_bytes(std::size_t n) {
  return n == 0 ? 0 : 1 + varint_bytes(n) + n;
}

void put_int_field(ChunkWriter& out, std::uint32_t field, std::int64_t v) {
  if (v == 0) return;
  out.varint(tag(field, kVarint));
  out.varint(static_cast<std::uint64_t>(v));
}

void put_bytes_field(ChunkWriter& out, std::uint32_t field, const std::string& s) {
  if (s.empty()) return;
  out.varint(tag(field, kLengthDelimited));
  out.varint(s.size());
  out.append(s);
}

std::size_t kv_body_bytes(const storage::KeyValue& kv) {
  return bytes_field_bytes(kv.key.size()) + int_field_bytes(kv.create_revision) +
         int_field_bytes(kv.mod_revision) + int_field_bytes(kv.version) + bytes_field_bytes(kv.value.size()) +
         int_field_bytes(kv.lease);
}

void put_kv(ChunkWriter& out, const storage::KeyValue& kv, std::size_t body) {
  out.varint(tag(2, kLengthDelimited));
  out.varint(body);
  put_bytes_field(out, 1, kv.key);
  put_int_field(out, 2, kv.create_revision);
  put_int_field(out, 3, kv.mod_revision);
  put_int_field(out, 4, kv.version);
  put_bytes_field(out, 5, kv.value);
  put_int_field(out, 6, kv.lease);
}

// The RangeResponse's encoded size; `head` is the serialized header, absent (no field) when null.
std::size_t range_response_bytes(const std::string* head, const storage::RangeResponse& r) {
  std::size_t total = head ? 1 + varint_bytes(head->size()) + head->size() : 0;
  for (const auto& kv : r.kvs) {
    std::size_t body = kv_body_bytes(kv);
    total += 1 + varint_bytes(body) + body;
  }
  total += r.more ? 2 : 0;
  total += int_field_bytes(r.count);
  return total;
}

// Writes the RangeResponse's fields, freeing each key and value once written (the memory is reused by
// the next pieces).
void put_range_response(ChunkWriter& out, const std::string* head, storage::RangeResponse& r) {
  if (head) {
    out.varint(tag(1, kLengthDelimited));
    out.varint(head->size());
    out.append(*head);
  }
  for (auto& kv : r.kvs) {
    put_kv(out, kv, kv_body_bytes(kv));
    std::string().swap(kv.key);
    std::string().swap(kv.value);
  }
  if (r.more) {
    out.varint(tag(3, kVarint));
    out.append("\1", 1);
  }
  put_int_field(out, 4, r.count);
}

}  // namespace

net::FramedMessage encode_range_response(const etcdserverpb::ResponseHeader& header,
                                         storage::RangeResponse&& r) {
  const std::string head = header.SerializeAsString();
  const std::size_t total = range_response_bytes(&head, r);
  ChunkWriter out(net::kMessagePrefixBytes + total);
  const auto n = static_cast<std::uint32_t>(total);  // callers check the send limit (< 4 GiB)
  const char prefix[net::kMessagePrefixBytes] = {'\0', static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                                                 static_cast<char>(n >> 8), static_cast<char>(n)};
  out.append(prefix, sizeof prefix);
  put_range_response(out, &head, r);
  return out.take();
}

std::string encode_range_stream_message(const etcdserverpb::ResponseHeader* header,
                                        storage::RangeResponse&& r) {
  const std::string head = header ? header->SerializeAsString() : std::string();
  const std::size_t body = range_response_bytes(header ? &head : nullptr, r);
  const std::size_t total = 1 + varint_bytes(body) + body;
  ChunkWriter out(total, total);
  out.varint(tag(1, kLengthDelimited));
  out.varint(body);
  put_range_response(out, header ? &head : nullptr, r);
  net::FramedMessage m = out.take();
  return m.chunks.empty() ? std::string() : std::move(m.chunks.front());
}

}  // namespace cairn::server::api
