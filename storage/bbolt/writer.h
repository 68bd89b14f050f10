// Writing a bbolt file (format.h) from sorted input in one pass, holding only one node per tree
// level: keys are given in increasing order and each page goes to the PageSink as soon as it is full.
//
// Layout of a written file:
//   pages 0, 1      meta pages (txids 0 and 1, otherwise equal), written last
//   pages 2 ...     the buckets' nodes in the order they fill up: leaves, and each branch page as soon
//                   as it is full or its tree ends (so a bucket's root is its last page)
//   the last page   an empty freelist (every page below the high-water mark is in use)
// The file is exactly high-water mark x page_size bytes. Leaves and branches are packed full (bbolt
// splits a full node on its next write, so a database opened from this file takes writes normally);
// a key/value larger than what is left of a page starts a node of its own, which spans overflow pages
// when it is larger than a page. A bucket whose whole content fits in a quarter page and has no
// nested bucket is written inline in its parent, as bbolt does.
//
// Memory: per open bucket, one node per level of its tree (a page each, or one large element), so a
// file of any size is written in a few pages of memory.
//
// Usage:
//   Writer w(sink);
//   w.begin_bucket("key"); w.put(k1, v1); w.put(k2, v2); w.end_bucket();
//   w.begin_bucket("meta"); ...; w.end_bucket();
//   auto size = w.finish();
// Bucket names and keys must be strictly increasing within their parent (bytewise), non-empty and
// within bbolt's limits (kKeyBytesMax, kValueBytesMax); buckets may nest. The first error (order,
// size, sink) is returned and then every later call returns it again.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "storage/bbolt/format.h"
#include "storage/errors.h"

namespace cairn::storage::bbolt {

// Where the pages go.
class PageSink {
 public:
  virtual ~PageSink() = default;
  virtual Expected<Unit, std::string> write(uint64_t offset, std::string_view bytes) = 0;
};

// A new file written with pwrite. sync() makes it durable (fdatasync).
class FileSink final : public PageSink {
 public:
  // Creates (or truncates) `path`.
  static Expected<std::unique_ptr<FileSink>, std::string> create(const std::string& path);
  ~FileSink() override;
  Expected<Unit, std::string> write(uint64_t offset, std::string_view bytes) override;
  Expected<Unit, std::string> sync();

 private:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Into a string (tests, fuzz corpora).
class StringSink final : public PageSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  Expected<Unit, std::string> write(uint64_t offset, std::string_view bytes) override;

 private:
  std::string* out_;
};

struct WriterOptions {
  uint32_t page_size = 4096;  // a power of two in [kPageSizeMin, kPageSizeMax]
};

class Writer {
 public:
  explicit Writer(PageSink& sink, WriterOptions options = {});
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Opens a bucket inside the open one (or at the top level).
  Expected<Unit, std::string> begin_bucket(std::string_view name);
  // Adds a key to the innermost open bucket.
  Expected<Unit, std::string> put(std::string_view key, std::string_view value);
  // Closes the innermost open bucket.
  Expected<Unit, std::string> end_bucket();
  // Writes the root bucket, the freelist and the meta pages; returns the file's size in bytes.
  // Every bucket must be closed.
  Expected<uint64_t, std::string> finish();

  uint64_t pages() const { return next_page_; }

 private:
  class Tree;
  friend class Tree;
  Unexpected<std::string> failed(std::string e);
  Expected<uint64_t, std::string> write_pages(std::string& node_bytes);

  PageSink& sink_;
  WriterOptions options_;
  uint64_t next_page_ = 2;
  std::vector<std::unique_ptr<Tree>> trees_;  // [0]: the root bucket; back(): the innermost open one
  std::vector<std::string> open_names_;       // names of the open buckets (trees_[1..])
  std::string error_;
  bool finished_ = false;
};

}  // namespace cairn::storage::bbolt
