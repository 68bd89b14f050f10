// Reading a bbolt file (format.h) without holding it in memory: a Reader pulls pages from a
// PageSource one node at a time, and a Cursor walks one bucket's B+tree in key order holding only
// the nodes on its current root-to-leaf path (depth x node size; nodes bigger than
// ReaderOptions::node_bytes_max are refused).
//
// Everything read is checked before it is used, so a malformed or hostile file ends in an error that
// says what is wrong and where, never in a crash, a hang or unbounded memory:
//   * open(): a valid meta page (magic, version, FNV-1a checksum; the one with the higher txid when
//     both are), a sane page size, root and freelist below the high-water mark, and a file at least
//     as long as the high-water mark says;
//   * every node: its page id below the high-water mark (overflow included), the header naming the
//     id that was followed, a branch or leaf type, elements and their keys/values inside the node,
//     non-empty keys; no empty node except an empty root leaf;
//   * every tree: keys strictly increasing across the leaves, each inside the bounds its branch keys
//     give it, depth at most ReaderOptions::depth_max. A page referenced twice repeats keys and is
//     caught by the ordering check, a cycle by the depth limit, so a walk ends after at most one
//     visit per page and level.
// check() adds bbolt's own consistency check (what `etcdctl snapshot status` runs): no page
// referenced twice, and with a freelist, every page reachable or free and none both.
//
// Parsing sits behind PageSource, so a fuzz target can feed bytes directly (open_bytes).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "storage/bbolt/format.h"
#include "storage/errors.h"

namespace cairn::storage::bbolt {

// Random-access bytes of a bbolt file.
class PageSource {
 public:
  virtual ~PageSource() = default;
  virtual uint64_t size_bytes() const = 0;
  // Reads exactly `len` bytes at `offset`; an error if they are not all there.
  virtual Expected<Unit, std::string> read(uint64_t offset, char* out, size_t len) = 0;
};

// A file read with pread (the file may be longer than the database: etcd's snapshot digest).
class FileSource final : public PageSource {
 public:
  static Expected<std::unique_ptr<FileSource>, std::string> open(const std::string& path);
  ~FileSource() override;
  uint64_t size_bytes() const override { return size_; }
  Expected<Unit, std::string> read(uint64_t offset, char* out, size_t len) override;

 private:
  FileSource(int fd, uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  std::string path_;
};

// Bytes in memory (tests, fuzzing). The bytes must outlive the source.
class BytesSource final : public PageSource {
 public:
  explicit BytesSource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size_bytes() const override { return bytes_.size(); }
  Expected<Unit, std::string> read(uint64_t offset, char* out, size_t len) override;

 private:
  std::string_view bytes_;
};

struct ReaderOptions {
  // Largest node (a page and its overflow pages) read into memory. etcd's values are bounded by its
  // request size (1.5 MiB by default), so real files stay far below this.
  uint64_t node_bytes_max = 64ull << 20;
  // Deepest tree accepted, and deepest bucket nesting check() follows (bbolt trees of a billion
  // keys are under 10 levels deep).
  size_t depth_max = 64;
};

// Where a bucket's tree is: a root page, or (root == 0) an inline node carried in its value.
struct BucketRef {
  uint64_t root = 0;
  uint64_t sequence = 0;
  std::string inline_node;  // page header + elements, when root == 0
};

class Reader;

// Forward iteration over one bucket in key order. Keys and values are valid until the next call; the
// Reader must outlive its cursors.
class Cursor {
 public:
  // Moves to the next element (the first on the first call): true when on one, false at the end.
  Expected<bool, std::string> next();
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  bool is_bucket() const { return is_bucket_; }
  // The nested bucket the current element holds (is_bucket() must be true).
  Expected<BucketRef, std::string> bucket() const;

 private:
  friend class Reader;
  struct Node {
    std::string bytes;  // the node: page header, elements, keys and values
    uint64_t id = 0;    // 0 for an inline node
    bool leaf = true;
    uint16_t count = 0;
  };
  struct Frame {
    Node node;
    size_t index = 0;
    std::string lower;  // every key below this frame is >= lower (empty: no bound)
    std::string upper;  // and < upper
    bool has_upper = false;
  };
  Cursor(Reader* reader, BucketRef bucket) : reader_(reader), bucket_(std::move(bucket)) {}
  Expected<Unit, std::string> descend(Frame& parent);
  Expected<bool, std::string> leaf_element(Frame& f);

  Reader* reader_;
  BucketRef bucket_;
  std::vector<Frame> stack_;
  bool started_ = false;
  std::string last_key_;
  bool have_last_ = false;
  std::string_view key_, value_;
  bool is_bucket_ = false;
};

// What check() found.
struct CheckReport {
  uint64_t pages = 0;            // the high-water mark
  uint64_t pages_reachable = 0;  // meta, freelist and tree pages (overflow included)
  uint64_t pages_free = 0;       // listed in the freelist
  uint64_t buckets = 0;          // every bucket, nested ones included
  uint64_t keys = 0;             // every leaf element of every bucket (bucket elements included)
};

class Reader {
 public:
  static Expected<std::unique_ptr<Reader>, std::string> open(std::unique_ptr<PageSource> source,
                                                             ReaderOptions options = {});
  static Expected<std::unique_ptr<Reader>, std::string> open_file(const std::string& path,
                                                                  ReaderOptions options = {});
  // Over bytes in memory, which must outlive the reader: the entry point for a fuzz target, which
  // then runs check() and walks the buckets with cursors.
  static Expected<std::unique_ptr<Reader>, std::string> open_bytes(std::string_view bytes,
                                                                   ReaderOptions options = {}) {
    return open(std::make_unique<BytesSource>(bytes), options);
  }

  const Meta& meta() const { return meta_; }
  uint32_t page_size() const { return meta_.page_size; }
  // The database's size: high-water mark x page size (what bbolt's tx.Size() reports).
  uint64_t size_bytes() const { return meta_.page_count * meta_.page_size; }
  PageSource& source() { return *source_; }

  BucketRef root() const { return BucketRef{meta_.root, meta_.root_sequence, {}}; }
  // The nested bucket `name` of `parent` (a scan of parent's keys): nullopt when there is no such
  // key; an error when the key holds a plain value.
  Expected<std::optional<BucketRef>, std::string> bucket(const BucketRef& parent, std::string_view name);
  std::unique_ptr<Cursor> cursor(const BucketRef& bucket) {
    return std::unique_ptr<Cursor>(new Cursor(this, bucket));
  }

  // Walks every bucket and page; see the file comment.
  Expected<CheckReport, std::string> check();

 private:
  friend class Cursor;
  class PageMap;
  Reader(std::unique_ptr<PageSource> s, ReaderOptions o, Meta m)
      : source_(std::move(s)), options_(o), meta_(m) {}
  // Reads and validates the node at page `id` (depth: for messages and the empty-node rule).
  Expected<Cursor::Node, std::string> read_node(uint64_t id, bool is_root);
  Expected<Unit, std::string> check_bucket(const BucketRef& b, size_t depth, CheckReport* report);

  std::unique_ptr<PageSource> source_;
  ReaderOptions options_;
  Meta meta_;
  PageMap* page_map_ = nullptr;  // during check(): marks every node read
};

// Validates a node's elements (bounds, non-empty strictly increasing keys); `what` names it in errors.
Expected<Unit, std::string> validate_node(std::string_view bytes, bool leaf, uint16_t count,
                                          const std::string& what);

}  // namespace cairn::storage::bbolt
