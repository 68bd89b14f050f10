#include "storage/bbolt/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cairn::storage::bbolt {

namespace {

std::string page_name(uint64_t id) {
  return id == 0 ? std::string("inline bucket node") : "page " + std::to_string(id);
}

Unexpected<std::string> fail(const std::string& what) {
  return unexpected("bbolt: " + what);
}

// Element i of a node: its key and (leaf) value and flags, bounds-checked by validate_node first.
struct Element {
  uint32_t flags = 0;
  std::string_view key, value;
  uint64_t child = 0;
};

Element element_at(std::string_view node, bool leaf, size_t i) {
  const size_t at = kPageHeaderBytes + i * kElementBytes;
  const char* e = node.data() + at;
  Element out;
  if (leaf) {
    out.flags = load_u32(e);
    uint64_t pos = load_u32(e + 4), ks = load_u32(e + 8), vs = load_u32(e + 12);
    out.key = node.substr(at + pos, ks);
    out.value = node.substr(at + pos + ks, vs);
  } else {
    uint64_t pos = load_u32(e), ks = load_u32(e + 4);
    out.child = load_u64(e + 8);
    out.key = node.substr(at + pos, ks);
  }
  return out;
}

bool valid_page_size(uint32_t s) {
  return s >= kPageSizeMin && s <= kPageSizeMax && (s & (s - 1)) == 0;
}

}  // namespace

// ---- Sources ----

Expected<std::unique_ptr<FileSource>, std::string> FileSource::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected("open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return unexpected("stat " + path + ": " + std::strerror(e));
  }
  return std::unique_ptr<FileSource>(new FileSource(fd, static_cast<uint64_t>(st.st_size), path));
}

FileSource::~FileSource() {
  ::close(fd_);
}

Expected<Unit, std::string> FileSource::read(uint64_t offset, char* out, size_t len) {
  if (offset > size_ || len > size_ - offset)
    return unexpected("read " + path_ + ": " + std::to_string(len) + " bytes at " + std::to_string(offset) +
                      " are past the end of the file (" + std::to_string(size_) + " bytes)");
  size_t done = 0;
  while (done < len) {
    ssize_t r = ::pread(fd_, out + done, len - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return unexpected("read " + path_ + ": " + std::strerror(errno));
    if (r == 0) return unexpected("read " + path_ + ": the file shrank while it was read");
    done += static_cast<size_t>(r);
  }
  return Unit{};
}

Expected<Unit, std::string> BytesSource::read(uint64_t offset, char* out, size_t len) {
  if (offset > bytes_.size() || len > bytes_.size() - offset)
    return unexpected(std::to_string(len) + " bytes at " + std::to_string(offset) + " are past the end (" +
                      std::to_string(bytes_.size()) + " bytes)");
  std::memcpy(out, bytes_.data() + offset, len);
  return Unit{};
}

// ---- Nodes ----

Expected<Unit, std::string> validate_node(std::string_view b, bool leaf, uint16_t count,
                                          const std::string& what) {
  if (b.size() < kPageHeaderBytes) return fail(what + ": shorter than a page header");
  if (static_cast<uint64_t>(count) * kElementBytes > b.size() - kPageHeaderBytes)
    return fail(what + ": " + std::to_string(count) + " elements do not fit in " + std::to_string(b.size()) +
                " bytes");
  std::string_view prev;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t at = kPageHeaderBytes + i * kElementBytes;
    const char* e = b.data() + at;
    uint64_t pos = load_u32(e + (leaf ? 4 : 0)), ks = load_u32(e + (leaf ? 8 : 4));
    uint64_t vs = leaf ? load_u32(e + 12) : 0;
    if (at + pos + ks + vs > b.size())
      return fail(what + ": element " + std::to_string(i) + " points past the end of the node");
    if (ks == 0) return fail(what + ": element " + std::to_string(i) + " has an empty key");
    std::string_view key = b.substr(at + pos, ks);
    if (i > 0 && !(prev < key)) return fail(what + ": keys out of order at element " + std::to_string(i));
    if (leaf && (load_u32(e) & kBucketElement) && vs < kBucketHeaderBytes)
      return fail(what + ": element " + std::to_string(i) + " is a bucket with a " + std::to_string(vs) +
                  "-byte header");
    prev = key;
  }
  return Unit{};
}

// Pages seen by check(): reachable ones (each once) and freelisted ones.
class Reader::PageMap {
 public:
  explicit PageMap(uint64_t pages) : reachable_(pages), freed_(pages) {}
  Expected<Unit, std::string> reach(uint64_t id, uint32_t overflow) {
    for (uint64_t p = id; p <= id + overflow; ++p) {
      if (reachable_[p]) return fail("page " + std::to_string(p) + ": multiple references");
      if (freed_[p]) return fail("page " + std::to_string(p) + ": reachable but listed free");
      reachable_[p] = true;
      ++reached_;
    }
    return Unit{};
  }
  Expected<Unit, std::string> free(uint64_t id) {
    if (freed_[id]) return fail("page " + std::to_string(id) + ": freed twice");
    freed_[id] = true;
    ++freed_count_;
    return Unit{};
  }
  bool reachable(uint64_t id) const { return reachable_[id]; }
  bool freed(uint64_t id) const { return freed_[id]; }
  uint64_t reached() const { return reached_; }
  uint64_t freed_count() const { return freed_count_; }

 private:
  std::vector<bool> reachable_, freed_;
  uint64_t reached_ = 0, freed_count_ = 0;
};

Expected<Cursor::Node, std::string> Reader::read_node(uint64_t id, bool is_root) {
  const uint64_t ps = meta_.page_size;
  if (id < 2 || id >= meta_.page_count)
    return fail("page " + std::to_string(id) + " is referenced but outside the file's " +
                std::to_string(meta_.page_count) + " pages");
  Cursor::Node n;
  n.id = id;
  n.bytes.resize(ps);
  if (auto r = source_->read(id * ps, n.bytes.data(), ps); !r) return fail(r.error());
  PageHeader h = decode_page_header(n.bytes.data());
  const std::string what = page_name(id);
  if (h.id != id) return fail(what + ": its header says page " + std::to_string(h.id));
  if (h.flags != kBranchPage && h.flags != kLeafPage)
    return fail(what + ": expected a branch or leaf page, found flags 0x" + [&] {
      char b[8];
      std::snprintf(b, sizeof b, "%02x", h.flags);
      return std::string(b);
    }());
  if (h.overflow >= meta_.page_count - id)
    return fail(what + ": its " + std::to_string(h.overflow) + " overflow pages run past the file's " +
                std::to_string(meta_.page_count) + " pages");
  const uint64_t bytes = (uint64_t{h.overflow} + 1) * ps;
  if (bytes > options_.node_bytes_max)
    return fail(what + ": a node of " + std::to_string(bytes) + " bytes is larger than the " +
                std::to_string(options_.node_bytes_max) + " bytes allowed");
  if (h.overflow > 0) {
    n.bytes.resize(bytes);
    if (auto r = source_->read(id * ps + ps, n.bytes.data() + ps, bytes - ps); !r) return fail(r.error());
  }
  n.leaf = h.flags == kLeafPage;
  n.count = h.count;
  if (n.count == 0 && !(is_root && n.leaf)) return fail(what + ": an empty node inside a tree");
  if (auto v = validate_node(n.bytes, n.leaf, n.count, what); !v) return unexpected(v.error());
  if (page_map_) {
    if (auto r = page_map_->reach(id, h.overflow); !r) return unexpected(r.error());
  }
  return n;
}

// ---- Cursor ----

Expected<Unit, std::string> Cursor::descend(Frame& parent) {
  if (stack_.size() >= reader_->options_.depth_max)
    return fail("tree deeper than " + std::to_string(reader_->options_.depth_max) + " levels (a cycle?)");
  const size_t i = parent.index;
  Element e = element_at(parent.node.bytes, false, i);
  if (!parent.lower.empty() && e.key < std::string_view(parent.lower))
    return fail(page_name(parent.node.id) + ": branch key below its parent's bound");
  Frame child;
  child.lower.assign(e.key);
  if (i + 1 < parent.node.count) {
    child.upper.assign(element_at(parent.node.bytes, false, i + 1).key);
    child.has_upper = true;
  } else {
    child.upper = parent.upper;
    child.has_upper = parent.has_upper;
  }
  if (child.has_upper && !(e.key < std::string_view(child.upper)))
    return fail(page_name(parent.node.id) + ": branch key above its parent's bound");
  auto n = reader_->read_node(e.child, /*is_root=*/false);
  if (!n) return unexpected(n.error());
  child.node = std::move(*n);
  stack_.push_back(std::move(child));
  return Unit{};
}

Expected<bool, std::string> Cursor::leaf_element(Frame& f) {
  Element e = element_at(f.node.bytes, true, f.index);
  if (e.key < std::string_view(f.lower) || (f.has_upper && !(e.key < std::string_view(f.upper))))
    return fail(page_name(f.node.id) + ": key outside the range its branch gives it");
  if (have_last_ && !(std::string_view(last_key_) < e.key))
    return fail(page_name(f.node.id) + ": keys not strictly increasing across leaves");
  last_key_.assign(e.key);
  have_last_ = true;
  key_ = e.key;
  value_ = e.value;
  is_bucket_ = (e.flags & kBucketElement) != 0;
  return true;
}

Expected<bool, std::string> Cursor::next() {
  if (!started_) {
    started_ = true;
    Frame root;
    if (bucket_.root == 0) {
      root.node.bytes = bucket_.inline_node;
      if (root.node.bytes.size() < kPageHeaderBytes) return fail("inline bucket node: truncated");
      PageHeader h = decode_page_header(root.node.bytes.data());
      if (h.flags != kLeafPage) return fail("inline bucket node: not a leaf");
      root.node.count = h.count;
      if (auto v = validate_node(root.node.bytes, true, h.count, page_name(0)); !v)
        return unexpected(v.error());
    } else {
      auto n = reader_->read_node(bucket_.root, /*is_root=*/true);
      if (!n) return unexpected(n.error());
      root.node = std::move(*n);
    }
    stack_.push_back(std::move(root));
  } else if (!stack_.empty()) {
    ++stack_.back().index;
  }
  while (!stack_.empty()) {
    Frame& f = stack_.back();
    if (f.index >= f.node.count) {
      stack_.pop_back();
      if (!stack_.empty()) ++stack_.back().index;
      continue;
    }
    if (f.node.leaf) return leaf_element(f);
    if (auto d = descend(f); !d) return unexpected(d.error());
  }
  key_ = value_ = {};
  is_bucket_ = false;
  return false;
}

Expected<BucketRef, std::string> Cursor::bucket() const {
  if (!is_bucket_) return fail("\"" + std::string(key_) + "\" is not a bucket");
  BucketRef b;
  b.root = load_u64(value_.data());
  b.sequence = load_u64(value_.data() + 8);
  if (b.root == 0) b.inline_node.assign(value_.substr(kBucketHeaderBytes));
  return b;
}

// ---- Reader ----

namespace {

// Reads the meta page at `offset`: its header must carry the meta flag.
Expected<Meta, std::string> read_meta_at(PageSource& src, uint64_t offset) {
  char buf[kPageHeaderBytes + kMetaBytes];
  if (auto r = src.read(offset, buf, sizeof buf); !r) return unexpected(r.error());
  PageHeader h = decode_page_header(buf);
  if (!(h.flags & kMetaPage)) return unexpected(std::string("not a meta page"));
  return decode_meta(std::string_view(buf + kPageHeaderBytes, kMetaBytes));
}

// Both meta pages, the valid one with the higher txid. Page 1 sits one page size in; when page 0 is
// damaged its page size is unknown, so page 1 is looked for at each possible size.
Expected<Meta, std::string> choose_meta(PageSource& src) {
  auto m0 = read_meta_at(src, 0);
  if (m0 && !valid_page_size(m0->page_size))
    m0 = unexpected("page size " + std::to_string(m0->page_size) +
                    " is not a power of two in [1 KiB, 64 KiB]");
  std::optional<Meta> m1;
  std::string m1_error = "not found";
  for (uint32_t ps = kPageSizeMin; ps <= kPageSizeMax; ps *= 2) {
    if (m0 && ps != m0->page_size) continue;
    auto m = read_meta_at(src, ps);
    if (m && m->page_size == ps) {
      m1 = *m;
      break;
    }
    if (m0 || ps == 4096) m1_error = m ? "its page size disagrees with its position" : m.error();
  }
  if (!m0 && !m1)
    return unexpected("no valid meta page (page 0: " + m0.error() + "; page 1: " + m1_error +
                      "): not a bbolt file, or a damaged one");
  if (!m0) return *m1;
  if (!m1) return *m0;
  return m1->txid > m0->txid ? *m1 : *m0;
}

}  // namespace

Expected<std::unique_ptr<Reader>, std::string> Reader::open(std::unique_ptr<PageSource> source,
                                                            ReaderOptions options) {
  auto m = choose_meta(*source);
  if (!m) return fail(m.error());
  const uint64_t ps = m->page_size;
  if (m->page_count < 3 || m->page_count > source->size_bytes() / ps)
    return fail("the meta page says " + std::to_string(m->page_count) + " pages of " + std::to_string(ps) +
                " bytes, but the file has " + std::to_string(source->size_bytes()) + " bytes" +
                (m->page_count < 3 ? "" : " (truncated?)"));
  if (m->root < 2 || m->root >= m->page_count)
    return fail("the root bucket's page " + std::to_string(m->root) + " is outside the file");
  if (m->freelist != kNoFreelist && (m->freelist < 2 || m->freelist >= m->page_count))
    return fail("the freelist page " + std::to_string(m->freelist) + " is outside the file");
  return std::unique_ptr<Reader>(new Reader(std::move(source), options, *m));
}

Expected<std::unique_ptr<Reader>, std::string> Reader::open_file(const std::string& path,
                                                                 ReaderOptions options) {
  auto src = FileSource::open(path);
  if (!src) return unexpected(src.error());
  auto r = open(std::move(*src), options);
  if (!r) return unexpected(path + ": " + r.error());
  return r;
}

Expected<std::optional<BucketRef>, std::string> Reader::bucket(const BucketRef& parent,
                                                               std::string_view name) {
  auto c = cursor(parent);
  for (;;) {
    auto more = c->next();
    if (!more) return unexpected(more.error());
    if (!*more || c->key() > name) return std::optional<BucketRef>();
    if (c->key() == name) {
      if (!c->is_bucket()) return fail("\"" + std::string(name) + "\" holds a value, not a bucket");
      auto b = c->bucket();
      if (!b) return unexpected(b.error());
      return std::optional<BucketRef>(std::move(*b));
    }
  }
}

Expected<Unit, std::string> Reader::check_bucket(const BucketRef& b, size_t depth, CheckReport* report) {
  if (depth > options_.depth_max)
    return fail("buckets nested deeper than " + std::to_string(options_.depth_max));
  ++report->buckets;
  auto c = cursor(b);
  for (;;) {
    auto more = c->next();
    if (!more) return unexpected(more.error());
    if (!*more) return Unit{};
    ++report->keys;
    if (!c->is_bucket()) continue;
    auto child = c->bucket();
    if (!child) return unexpected(child.error());
    if (auto r = check_bucket(*child, depth + 1, report); !r) return r;
  }
}

Expected<CheckReport, std::string> Reader::check() {
  PageMap map(meta_.page_count);
  CheckReport report;
  report.pages = meta_.page_count;
  (void)map.reach(0, 0);
  (void)map.reach(1, 0);
  if (meta_.freelist != kNoFreelist) {
    // The freelist page: its own pages are reachable, the ids it lists are free.
    const uint64_t ps = meta_.page_size;
    std::string head(ps, '\0');
    if (auto r = source_->read(meta_.freelist * ps, head.data(), ps); !r) return fail(r.error());
    PageHeader h = decode_page_header(head.data());
    if (h.id != meta_.freelist || h.flags != kFreelistPage)
      return fail("page " + std::to_string(meta_.freelist) + " is named as the freelist but is not one");
    if (h.overflow >= meta_.page_count - meta_.freelist) return fail("the freelist runs past the file");
    if (auto r = map.reach(meta_.freelist, h.overflow); !r) return unexpected(r.error());
    const uint64_t span = (uint64_t{h.overflow} + 1) * ps;
    uint64_t count = h.count, first = 0;
    if (h.count == kFreelistCountInline) {
      count = load_u64(head.data() + kPageHeaderBytes);
      first = 1;
    }
    if (count > (span - kPageHeaderBytes) / 8 - first) return fail("the freelist's ids run past its pages");
    // Read the ids a block at a time (bounded memory even for a long freelist).
    constexpr uint64_t kIdsPerRead = 1024;
    std::string block;
    for (uint64_t i = 0; i < count; i += kIdsPerRead) {
      const uint64_t n = std::min(kIdsPerRead, count - i);
      block.resize(n * 8);
      const uint64_t off = meta_.freelist * ps + kPageHeaderBytes + (first + i) * 8;
      if (auto r = source_->read(off, block.data(), block.size()); !r) return fail(r.error());
      for (uint64_t j = 0; j < n; ++j) {
        const uint64_t id = load_u64(block.data() + j * 8);
        if (id < 2 || id >= meta_.page_count)
          return fail("the freelist lists page " + std::to_string(id) + ", outside the file");
        if (auto r = map.free(id); !r) return unexpected(r.error());
      }
    }
  }
  page_map_ = &map;
  auto walked = check_bucket(root(), 0, &report);
  page_map_ = nullptr;
  if (!walked) return unexpected(walked.error());
  report.pages_reachable = map.reached();
  report.pages_free = map.freed_count();
  if (meta_.freelist != kNoFreelist) {
    for (uint64_t p = 0; p < meta_.page_count; ++p) {
      if (!map.reachable(p) && !map.freed(p))
        return fail("page " + std::to_string(p) + ": unreachable and not free");
    }
  }
  return report;
}

}  // namespace cairn::storage::bbolt
