// MvccStore::Hasher (mvcc_store.h): hash() and hash_kv() in bounded steps.
#include "storage/codec.h"
#include "storage/crc32c.h"
#include "storage/mvcc_store.h"
#include "storage/revision.h"

namespace cairn::storage {

namespace {

constexpr Space kWholeSpaces[] = {Space::kKeys, Space::kLeases};

Error corrupt(const std::string& what) {
  return make_error(Errc::kCorruption, what);
}

Error failed_store() {
  return make_error(Errc::kIo, "store failed; reopen");
}

}  // namespace

Expected<MvccStore::Hasher, Error> MvccStore::start_hash() {
  if (failed_) return unexpected(failed_store());
  Hasher h(this, 0, true);
  h.restart();
  return h;
}

Expected<MvccStore::Hasher, Error> MvccStore::start_hash_kv(int64_t revision) {
  if (failed_) return unexpected(failed_store());
  if (revision > 0 && revision <= compact_rev_) return unexpected(make_error(Errc::kCompacted));
  if (revision > rev_) return unexpected(make_error(Errc::kFutureRev));
  Hasher h(this, revision, false);
  h.restart();
  return h;
}

// From the first record again, over the store as it is now: every space's iterator opens here, between
// the same two applies.
void MvccStore::Hasher::restart() {
  upto_ = revision_ > 0 ? revision_ : store_->rev_;
  compact_ = store_->compact_rev_;
  filter_ = !store_->garbage_.empty();
  space_ = 0;
  space_started_ = false;
  its_.clear();
  for (size_t i = 0; i < (whole_ ? 2u : 1u); ++i) {
    const std::string end = whole_ ? std::string() : encode_revision_prefix(upto_ + 1);
    its_.push_back(store_->engine_->scan_snapshot(kWholeSpaces[i], "", end));
  }
  crc_ = 0;
  resp_ = HashKvResponse{};
  resp_.header.revision = store_->rev_;
  resp_.compact_revision = compact_;
}

Expected<bool, Error> MvccStore::Hasher::step(size_t max_records) {
  if (store_->failed_) return unexpected(failed_store());
  if (store_->compact_rev_ != compact_) {
    if (!whole_ && revision_ > 0 && revision_ <= store_->compact_rev_)
      return unexpected(make_error(Errc::kCompacted));
    restart();
  }
  for (size_t n = 0; n < max_records;) {
    if (space_ == its_.size()) {
      resp_.hash = crc_;
      return true;
    }
    EngineIterator& it = *its_[space_];
    if (!space_started_) {
      crc_ = crc32c_extend(crc_, space_name(kWholeSpaces[space_]));
      space_started_ = true;
    }
    if (!it.valid()) {
      if (auto st = it.status(); !st) return unexpected(st.error());
      its_[space_].reset();
      ++space_;
      space_started_ = false;
      continue;
    }
    if (auto added = next_record(it); !added) return unexpected(added.error());
    ++n;
    it.next();
  }
  return false;
}

// Adds the iterator's record unless compaction dropped it.
Expected<Unit, Error> MvccStore::Hasher::next_record(EngineIterator& it) {
  if (filter_ && kWholeSpaces[space_] == Space::kKeys) {
    auto rk = decode_revision_key(it.key());
    if (!rk) return unexpected(corrupt("bad revision key"));
    if (rk->rev.main <= compact_) {
      codec::Reader peek(it.value());
      uint8_t format = 0;
      std::string_view k;
      if (!peek.u8(&format) || !peek.bytes_view(&k)) return unexpected(corrupt("bad kv record"));
      const KeyIndex* ki = store_->index_.find(k);
      if (ki == nullptr || !ki->holds(rk->rev)) return Unit{};
    }
  }
  crc_ = crc32c_extend(crc_, it.key());
  crc_ = crc32c_extend(crc_, it.value());
  return Unit{};
}

}  // namespace cairn::storage
