#include "storage/revision.h"

#include "base/assert.h"
#include "storage/codec.h"

namespace cairn::storage {

std::string encode_revision_key(Revision rev, bool tombstone) {
  CAIRN_ASSERT(rev.main >= 0 && rev.sub >= 0);
  std::string out;
  out.reserve(kRevisionKeyBytes);
  codec::put_i64(&out, rev.main);
  codec::put_i64(&out, rev.sub);
  out.push_back(tombstone ? kMarkTombstone : kMarkPut);
  return out;
}

std::string encode_revision_prefix(int64_t main) {
  CAIRN_ASSERT(main >= 0);
  std::string out;
  codec::put_i64(&out, main);
  return out;
}

std::optional<RevisionKey> decode_revision_key(std::string_view key) {
  if (key.size() != kRevisionKeyBytes) return std::nullopt;
  RevisionKey rk;
  rk.rev.main = static_cast<int64_t>(codec::load_u64(key.data()));
  rk.rev.sub = static_cast<int64_t>(codec::load_u64(key.data() + 8));
  if (rk.rev.main < 0 || rk.rev.sub < 0) return std::nullopt;
  if (key[16] == kMarkTombstone) {
    rk.tombstone = true;
  } else if (key[16] != kMarkPut) {
    return std::nullopt;
  }
  return rk;
}

}  // namespace cairn::storage
