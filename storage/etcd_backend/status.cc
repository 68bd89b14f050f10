#include "storage/etcd_backend/status.h"

#include "storage/crc32c.h"
#include "storage/etcd_backend/layout.h"

namespace cairn::storage::etcd_backend {

Expected<BackendStatus, std::string> backend_status(bbolt::Reader& reader) {
  if (auto c = reader.check(); !c) return unexpected("snapshot file integrity check failed: " + c.error());
  BackendStatus st;
  st.total_size = static_cast<int64_t>(reader.size_bytes());
  uint32_t h = 0;
  auto root = reader.cursor(reader.root());
  for (;;) {
    auto more = root->next();
    if (!more) return unexpected(more.error());
    if (!*more) break;
    auto b = root->bucket();
    if (!b) return unexpected("cannot get hash of bucket " + std::string(root->key()));
    const bool key_bucket = root->key() == kKeyBucket;
    h = crc32c_extend(h, root->key());
    auto c = reader.cursor(*b);
    for (;;) {
      auto m = c->next();
      if (!m) return unexpected(m.error());
      if (!*m) break;
      h = crc32c_extend(h, c->key());
      if (!c->is_bucket()) h = crc32c_extend(h, c->value());
      if (key_bucket) {
        auto rev = decode_revision(c->key());
        if (!rev) return unexpected(std::string("key bucket: a key that is not a revision"));
        st.revision = rev->rev.main;
      }
      ++st.total_keys;
    }
  }
  st.hash = h;
  return st;
}

}  // namespace cairn::storage::etcd_backend
