// KV.RangeStream (etcd 3.7): a Range answered in several messages, read page by page at one pinned
// revision so the server never holds more than a page of the result.
//
// The messages (RangeStreamResponse{range_response}), as etcd 3.7 defines them: merged in order
// (protobuf Merge: kvs appended, set fields overwritten) they equal the RangeResponse of the same
// unary Range. Every message but the last carries only kvs; the last carries the header (cluster,
// member, raft term, and the revision the stream was pinned at), `count` (every key of the range at
// that revision, as Range counts) and `more`. An empty range is one message.
//
// Paging: the first page is kRangeStreamFirstPageKeys keys; a page that filled its key limit below half
// of kRangeStreamPageBytesTarget doubles the next one (up to kRangeStreamPageKeysMax), and the store
// stops a page once its keys and values reach kRangeStreamPageBytesTarget, so a message is at most the
// target plus one key-value whatever the value sizes are. The first visit pins the revision
// (request.revision, else the current one) and counts; every page reads at that revision, so a
// compaction past it while the stream runs ends the stream with etcd's "required revision has been
// compacted".
//
// Buffered like etcd 3.7 (one message holding the whole result): sort_order other than NONE, sort
// by another target than KEY, and the min/max mod/create revision filters, which need every key before
// the first can be sent; count_only (one small message).
//
// Threading: the cursor is used on the node thread only (it reads the store); the stream's coroutine
// sends each message and waits for the connection's flow control before asking for the next page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "proto/etcd/rpc.pb.h"
#include "storage/mvcc_store.h"

namespace cairn::server::api {

inline constexpr std::int64_t kRangeStreamFirstPageKeys = 10;
inline constexpr std::int64_t kRangeStreamPageKeysMax = 64 * 1024;
inline constexpr std::size_t kRangeStreamPageBytesTarget = 1 << 20;

// Keys per page: etcd 3.7's adaptive rule, against a byte target.
class RangeStreamPager {
 public:
  std::int64_t keys() const { return keys_; }
  // A page of `page_keys` keys (asked for keys()) encoded to `page_bytes`.
  void observe(std::int64_t page_keys, std::size_t page_bytes);

 private:
  std::int64_t keys_ = kRangeStreamFirstPageKeys;
};

class RangeStreamCursor {
 public:
  // First visit, after the auth check and (for a linearizable request) the read index: pins the
  // revision and counts. Errors: the store's (compacted, future revision, empty key).
  static Expected<RangeStreamCursor, storage::Error> open(storage::MvccStore& store,
                                                          storage::RangeRequest request);
  // The next message. `header` has the cluster, member and raft term; the cursor sets its revision and
  // puts it in the last message. Errors: the store's (a compaction past the pinned revision).
  Expected<std::string, storage::Error> next(storage::MvccStore& store, etcdserverpb::ResponseHeader header);
  bool done() const { return done_; }
  std::int64_t pinned_revision() const { return request_.revision; }

 private:
  explicit RangeStreamCursor(storage::RangeRequest request) : request_(std::move(request)) {}
  Expected<std::string, storage::Error> buffered(storage::MvccStore& store,
                                                 etcdserverpb::ResponseHeader& header);
  std::string last_message(storage::RangeResponse page, bool more, etcdserverpb::ResponseHeader& header);

  storage::RangeRequest request_;  // key is the cursor; revision the pinned one
  bool buffered_ = false;
  std::int64_t header_revision_ = 0;
  std::int64_t count_ = 0;
  std::int64_t sent_ = 0;
  bool done_ = false;
  RangeStreamPager pager_;
};

// Whether `request` is answered in one buffered message (see the file comment).
bool range_stream_buffers(const storage::RangeRequest& request);

}  // namespace cairn::server::api
