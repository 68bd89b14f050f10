#include "storage/bbolt/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cairn::storage::bbolt {

// ---- Sinks ----

Expected<std::unique_ptr<FileSink>, std::string> FileSink::create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unexpected("create " + path + ": " + std::strerror(errno));
  return std::unique_ptr<FileSink>(new FileSink(fd, path));
}

FileSink::~FileSink() {
  ::close(fd_);
}

Expected<Unit, std::string> FileSink::write(uint64_t offset, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return unexpected("write " + path_ + ": " + std::strerror(errno));
    done += static_cast<size_t>(w);
  }
  return Unit{};
}

Expected<Unit, std::string> FileSink::sync() {
  if (::fdatasync(fd_) != 0) return unexpected("fdatasync " + path_ + ": " + std::strerror(errno));
  return Unit{};
}

Expected<Unit, std::string> StringSink::write(uint64_t offset, std::string_view bytes) {
  if (out_->size() < offset + bytes.size()) out_->resize(offset + bytes.size());
  std::memcpy(out_->data() + offset, bytes.data(), bytes.size());
  return Unit{};
}

// ---- One bucket's tree, built bottom-up as its sorted keys arrive ----
//
// levels_[0] is the leaf node being filled; levels_[L] the branch node above it. When a node is full
// it is written and its first key and page id go up one level. A level gets a parent only once it has
// written its second node, so a tree that fits in one node has no branch above it.
class Writer::Tree {
 public:
  explicit Tree(Writer& w) : w_(w) {}

  // Whether `key` may come next.
  Expected<Unit, std::string> check_next(std::string_view key) const {
    if (key.empty()) return unexpected(std::string("bbolt writer: empty key"));
    if (key.size() > kKeyBytesMax)
      return unexpected("bbolt writer: a key of " + std::to_string(key.size()) +
                        " bytes (the limit is 32768)");
    if (have_last_ && !(std::string_view(last_) < key))
      return unexpected(std::string("bbolt writer: keys must be strictly increasing"));
    return Unit{};
  }

  Expected<Unit, std::string> add(std::string_view key, std::string_view value, uint32_t flags) {
    if (auto c = check_next(key); !c) return c;
    if (value.size() > kValueBytesMax) return unexpected(std::string("bbolt writer: value too large"));
    last_.assign(key);
    have_last_ = true;
    if (flags & kBucketElement) has_buckets_ = true;
    return push(0, Item{std::string(key), std::string(value), flags, 0});
  }

  // Ends the tree: the bucket header (and inline node, when allowed and it fits) for its parent.
  Expected<std::string, std::string> finish(bool may_inline) {
    auto root = finish_root(may_inline);
    if (!root) return unexpected(root.error());
    std::string header(kBucketHeaderBytes, '\0');
    store_u64(header.data(), *root);
    if (*root == 0) header += inline_node();
    return header;
  }

 private:
  struct Item {
    std::string key;
    std::string value;  // leaves
    uint32_t flags = 0;
    uint64_t child = 0;  // branches
  };
  struct Level {
    bool leaf = true;
    std::vector<Item> items;
    uint64_t bytes = kPageHeaderBytes;  // the node's size when written
    uint64_t written = 0;               // nodes written at this level
    Item first;                         // the first one's entry, until the level has a parent
  };

  static uint64_t item_bytes(const Item& it) { return kElementBytes + it.key.size() + it.value.size(); }

  Expected<Unit, std::string> push(size_t level, Item it) {
    if (levels_.size() <= level) levels_.push_back(Level{level == 0, {}, kPageHeaderBytes, 0, {}});
    Level& lv = levels_[level];
    const bool full = !lv.items.empty() && (lv.bytes + item_bytes(it) > w_.options_.page_size ||
                                            lv.items.size() == kFreelistCountInline - 1);
    if (full) {
      if (auto e = emit(level); !e) return e;
    }
    Level& now = levels_[level];
    now.bytes += item_bytes(it);
    now.items.push_back(std::move(it));
    return Unit{};
  }

  // Writes level L's node and hands its entry to the level above.
  Expected<Unit, std::string> emit(size_t level) {
    auto id = write_node(levels_[level]);
    if (!id) return unexpected(id.error());
    Level& lv = levels_[level];
    Item entry{std::move(lv.items.front().key), {}, 0, *id};
    lv.items.clear();
    lv.bytes = kPageHeaderBytes;
    ++lv.written;
    if (level + 1 < levels_.size()) return push(level + 1, std::move(entry));
    if (lv.written == 1) {
      lv.first = std::move(entry);
      return Unit{};
    }
    Item first = std::move(lv.first);
    if (auto p = push(level + 1, std::move(first)); !p) return p;
    return push(level + 1, std::move(entry));
  }

  Expected<uint64_t, std::string> finish_root(bool may_inline) {
    if (levels_.empty()) levels_.push_back(Level{});
    if (levels_.size() == 1 && levels_[0].written == 0) {
      if (may_inline && !has_buckets_ && levels_[0].bytes <= w_.options_.page_size / 4) return uint64_t{0};
      return write_node(levels_[0]);
    }
    for (size_t level = 0;; ++level) {
      const bool top = level + 1 == levels_.size();
      if (top && levels_[level].written == 0) return write_node(levels_[level]);
      if (top && levels_[level].items.empty()) return levels_[level].first.child;
      if (!levels_[level].items.empty()) {
        if (auto e = emit(level); !e) return unexpected(e.error());
      }
    }
  }

  // The node's bytes: page header, elements, then each element's key (and value).
  std::string node_bytes(const Level& lv, uint64_t id) const {
    std::string out(lv.bytes, '\0');
    encode_page_header(
        PageHeader{id, lv.leaf ? kLeafPage : kBranchPage, static_cast<uint16_t>(lv.items.size()), 0},
        out.data());
    uint64_t data = kPageHeaderBytes + lv.items.size() * kElementBytes;
    for (size_t i = 0; i < lv.items.size(); ++i) {
      const Item& it = lv.items[i];
      const uint64_t at = kPageHeaderBytes + i * kElementBytes;
      char* e = out.data() + at;
      const auto pos = static_cast<uint32_t>(data - at);
      if (lv.leaf) {
        store_u32(e, it.flags);
        store_u32(e + 4, pos);
        store_u32(e + 8, static_cast<uint32_t>(it.key.size()));
        store_u32(e + 12, static_cast<uint32_t>(it.value.size()));
      } else {
        store_u32(e, pos);
        store_u32(e + 4, static_cast<uint32_t>(it.key.size()));
        store_u64(e + 8, it.child);
      }
      std::memcpy(out.data() + data, it.key.data(), it.key.size());
      data += it.key.size();
      std::memcpy(out.data() + data, it.value.data(), it.value.size());
      data += it.value.size();
    }
    return out;
  }

  Expected<uint64_t, std::string> write_node(const Level& lv) {
    std::string bytes = node_bytes(lv, w_.next_page_);
    return w_.write_pages(bytes);
  }

  std::string inline_node() const { return node_bytes(levels_[0], 0); }

  Writer& w_;
  std::vector<Level> levels_;
  std::string last_;
  bool have_last_ = false;
  bool has_buckets_ = false;
};

// ---- Writer ----

Writer::Writer(PageSink& sink, WriterOptions options) : sink_(sink), options_(options) {
  const uint32_t ps = options_.page_size;
  if (ps < kPageSizeMin || ps > kPageSizeMax || (ps & (ps - 1)) != 0)
    error_ = "bbolt writer: page size " + std::to_string(ps) + " is not a power of two in [1 KiB, 64 KiB]";
  trees_.push_back(std::make_unique<Tree>(*this));
}

Writer::~Writer() = default;

Unexpected<std::string> Writer::failed(std::string e) {
  if (error_.empty()) error_ = std::move(e);
  return unexpected(error_);
}

// Pads `node_bytes` to whole pages, sets its overflow count and writes it at the next page id.
Expected<uint64_t, std::string> Writer::write_pages(std::string& node_bytes) {
  const uint64_t ps = options_.page_size;
  const uint64_t pages = (node_bytes.size() + ps - 1) / ps;
  const uint64_t id = next_page_;
  if (pages - 1 > UINT32_MAX) return failed("bbolt writer: node too large");
  node_bytes.resize(pages * ps, '\0');
  store_u32(node_bytes.data() + 12, static_cast<uint32_t>(pages - 1));
  if (auto w = sink_.write(id * ps, node_bytes); !w) return failed(w.error());
  next_page_ += pages;
  return id;
}

Expected<Unit, std::string> Writer::begin_bucket(std::string_view name) {
  if (!error_.empty()) return unexpected(error_);
  if (finished_) return failed("bbolt writer: already finished");
  if (auto c = trees_.back()->check_next(name); !c) return failed(c.error());
  trees_.push_back(std::make_unique<Tree>(*this));
  open_names_.emplace_back(name);
  return Unit{};
}

Expected<Unit, std::string> Writer::put(std::string_view key, std::string_view value) {
  if (!error_.empty()) return unexpected(error_);
  if (trees_.size() < 2) return failed("bbolt writer: put outside a bucket");
  if (auto a = trees_.back()->add(key, value, 0); !a) return failed(a.error());
  return Unit{};
}

Expected<Unit, std::string> Writer::end_bucket() {
  if (!error_.empty()) return unexpected(error_);
  if (trees_.size() < 2) return failed("bbolt writer: no open bucket");
  auto value = trees_.back()->finish(/*may_inline=*/true);
  if (!value) return failed(value.error());
  trees_.pop_back();
  std::string name = std::move(open_names_.back());
  open_names_.pop_back();
  if (auto a = trees_.back()->add(name, *value, kBucketElement); !a) return failed(a.error());
  return Unit{};
}

Expected<uint64_t, std::string> Writer::finish() {
  if (!error_.empty()) return unexpected(error_);
  if (finished_) return failed("bbolt writer: already finished");
  if (trees_.size() != 1) return failed("bbolt writer: a bucket is still open");
  finished_ = true;
  auto root = trees_[0]->finish(/*may_inline=*/false);
  if (!root) return failed(root.error());
  const uint64_t ps = options_.page_size;
  std::string freelist(kPageHeaderBytes, '\0');
  encode_page_header(PageHeader{next_page_, kFreelistPage, 0, 0}, freelist.data());
  auto fl = write_pages(freelist);
  if (!fl) return unexpected(fl.error());
  Meta m;
  m.page_size = options_.page_size;
  m.root = load_u64(root->data());
  m.freelist = *fl;
  m.page_count = next_page_;
  std::string metas(2 * ps, '\0');
  for (uint64_t i = 0; i < 2; ++i) {
    m.txid = i;
    encode_page_header(PageHeader{i, kMetaPage, 0, 0}, metas.data() + i * ps);
    encode_meta(m, metas.data() + i * ps + kPageHeaderBytes);
  }
  if (auto w = sink_.write(0, metas); !w) return failed(w.error());
  return next_page_ * ps;
}

}  // namespace cairn::storage::bbolt
