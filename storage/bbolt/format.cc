#include "storage/bbolt/format.h"

namespace cairn::storage::bbolt {

namespace {
constexpr size_t kChecksumOffset = kMetaBytes - 8;
}

PageHeader decode_page_header(const char* p) {
  PageHeader h;
  h.id = load_u64(p);
  h.flags = load_u16(p + 8);
  h.count = load_u16(p + 10);
  h.overflow = load_u32(p + 12);
  return h;
}

void encode_page_header(const PageHeader& h, char* p) {
  store_u64(p, h.id);
  store_u16(p + 8, h.flags);
  store_u16(p + 10, h.count);
  store_u32(p + 12, h.overflow);
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

Expected<Meta, std::string> decode_meta(std::string_view b) {
  if (b.size() < kMetaBytes) return unexpected(std::string("meta page is truncated"));
  const char* p = b.data();
  if (load_u32(p) != kMagic) return unexpected(std::string("not a bbolt meta page (bad magic)"));
  if (uint32_t v = load_u32(p + 4); v != kVersion)
    return unexpected("unsupported bbolt version " + std::to_string(v) + " (expected 2)");
  if (load_u64(p + kChecksumOffset) != fnv1a64(b.substr(0, kChecksumOffset)))
    return unexpected(std::string("meta page checksum mismatch"));
  Meta m;
  m.page_size = load_u32(p + 8);
  m.flags = load_u32(p + 12);
  m.root = load_u64(p + 16);
  m.root_sequence = load_u64(p + 24);
  m.freelist = load_u64(p + 32);
  m.page_count = load_u64(p + 40);
  m.txid = load_u64(p + 48);
  return m;
}

void encode_meta(const Meta& m, char* out) {
  store_u32(out, kMagic);
  store_u32(out + 4, kVersion);
  store_u32(out + 8, m.page_size);
  store_u32(out + 12, m.flags);
  store_u64(out + 16, m.root);
  store_u64(out + 24, m.root_sequence);
  store_u64(out + 32, m.freelist);
  store_u64(out + 40, m.page_count);
  store_u64(out + 48, m.txid);
  store_u64(out + kChecksumOffset, fnv1a64(std::string_view(out, kChecksumOffset)));
}

}  // namespace cairn::storage::bbolt
