// Big-endian integer and length-prefixed byte helpers shared by the storage formats. Readers never
// trust their input: every get_* checks bounds and reports failure instead of reading past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace cairn::storage::codec {

inline void put_u64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(b, 8);
}

inline void put_i64(std::string* out, int64_t v) {
  put_u64(out, static_cast<uint64_t>(v));
}

inline void put_u32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 3; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(b, 4);
}

inline uint64_t load_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Consumes a byte string from the front; ok() turns false on the first short read and stays false.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool u8(uint8_t* v) {
    if (!need(1)) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t* v) {
    if (!need(4)) return false;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i)
      r = (r << 8) | static_cast<uint8_t>(in_[i]);
    *v = r;
    in_.remove_prefix(4);
    return true;
  }
  bool u64(uint64_t* v) {
    if (!need(8)) return false;
    *v = load_u64(in_.data());
    in_.remove_prefix(8);
    return true;
  }
  bool i64(int64_t* v) {
    uint64_t u = 0;
    if (!u64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  // A u32 length followed by that many bytes.
  bool bytes(std::string* v) {
    uint32_t n = 0;
    if (!u32(&n) || !need(n)) return false;
    v->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  // Like bytes(), without copying: the view points into the input.
  bool bytes_view(std::string_view* v) {
    uint32_t n = 0;
    if (!u32(&n) || !need(n)) return false;
    *v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }

 private:
  bool need(size_t n) {
    if (!ok_ || in_.size() < n) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

inline void put_bytes(std::string* out, std::string_view b) {
  put_u32(out, static_cast<uint32_t>(b.size()));
  out->append(b.data(), b.size());
}

}  // namespace cairn::storage::codec
