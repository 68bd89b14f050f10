#include "server/api/range_stream.h"

#include <algorithm>
#include <utility>

#include "server/api/range_codec.h"

namespace cairn::server::api {

bool range_stream_buffers(const storage::RangeRequest& r) {
  return r.sort_order != storage::SortOrder::kNone || r.sort_target != storage::SortTarget::kKey ||
         r.min_mod_revision != 0 || r.max_mod_revision != 0 || r.min_create_revision != 0 ||
         r.max_create_revision != 0 || r.count_only;
}

void RangeStreamPager::observe(std::int64_t page_keys, std::size_t page_bytes) {
  if (page_keys >= keys_ && page_bytes < kRangeStreamPageBytesTarget / 2)
    keys_ = std::min(keys_ * 2, kRangeStreamPageKeysMax);
  else if (page_bytes > kRangeStreamPageBytesTarget * 2)
    keys_ = std::max<std::int64_t>(keys_ / 3, 1);
}

Expected<RangeStreamCursor, storage::Error> RangeStreamCursor::open(storage::MvccStore& store,
                                                                    storage::RangeRequest request) {
  RangeStreamCursor c(std::move(request));
  c.buffered_ = range_stream_buffers(c.request_);
  if (c.buffered_) return c;  // the one message's range() reports the errors
  storage::RangeRequest counting = c.request_;
  counting.count_only = true;
  counting.limit = 0;
  auto counted = store.range(counting);
  if (!counted) return unexpected(counted.error());
  c.count_ = counted->count;
  c.header_revision_ = counted->header.revision;
  if (c.request_.revision <= 0) c.request_.revision = counted->header.revision;
  return c;
}

Expected<std::string, storage::Error> RangeStreamCursor::buffered(storage::MvccStore& store,
                                                                  etcdserverpb::ResponseHeader& header) {
  auto r = store.range(request_);
  if (!r) return unexpected(r.error());
  done_ = true;
  header.set_revision(r->header.revision);
  return encode_range_stream_message(&header, std::move(*r));
}

std::string RangeStreamCursor::last_message(storage::RangeResponse page, bool more,
                                            etcdserverpb::ResponseHeader& header) {
  done_ = true;
  header.set_revision(header_revision_);
  page.count = count_;
  page.more = more;
  return encode_range_stream_message(&header, std::move(page));
}

Expected<std::string, storage::Error> RangeStreamCursor::next(storage::MvccStore& store,
                                                              etcdserverpb::ResponseHeader header) {
  if (buffered_) return buffered(store, header);
  std::int64_t keys = pager_.keys();
  if (request_.limit > 0) keys = std::min(keys, request_.limit - sent_);
  auto page = store.range_page(request_, static_cast<std::size_t>(keys), kRangeStreamPageBytesTarget);
  if (!page) return unexpected(page.error());
  const auto got = static_cast<std::int64_t>(page->kvs.size());
  sent_ += got;
  const bool limit_reached = request_.limit > 0 && sent_ >= request_.limit;
  if (!page->more || limit_reached || request_.range_end.empty()) {
    const bool more = page->more && limit_reached;
    return last_message(*std::move(page), more, header);
  }
  std::size_t bytes = 0;
  for (const auto& kv : page->kvs)
    bytes += kv.key.size() + kv.value.size();
  pager_.observe(got, bytes);
  request_.key = page->kvs.back().key;
  request_.key.push_back('\0');  // the next page starts right after the last key sent
  page->more = false;
  return encode_range_stream_message(nullptr, std::move(*page));
}

}  // namespace cairn::server::api
