// storage/bbolt: the writer's files read back by the reader (round trips of small, inline, nested,
// large, deep and overflowing buckets, in bounded reads), a real etcd 3.4 snapshot read, and malformed
// files refused with an error (never a crash or a hang) for every truncation, for damaged meta pages,
// for cycles and shared pages, and for thousands of random byte flips.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "storage/bbolt/reader.h"
#include "storage/bbolt/writer.h"

namespace cairn::storage::bbolt {
namespace {

using Bucket = std::map<std::string, std::string>;
using Db = std::map<std::string, Bucket>;

std::string write_db(const Db& db, uint32_t page_size = 4096) {
  std::string out;
  StringSink sink(&out);
  Writer w(sink, WriterOptions{page_size});
  for (const auto& [name, kvs] : db) {
    EXPECT_TRUE(w.begin_bucket(name));
    for (const auto& [k, v] : kvs)
      EXPECT_TRUE(w.put(k, v));
    EXPECT_TRUE(w.end_bucket());
  }
  auto size = w.finish();
  EXPECT_TRUE(size) << size.error();
  EXPECT_EQ(out.size(), *size);
  return out;
}

// Counts reads and remembers the largest: what the reader holds at once.
class CountingSource : public PageSource {
 public:
  explicit CountingSource(std::string_view b) : inner_(b) {}
  uint64_t size_bytes() const override { return inner_.size_bytes(); }
  Expected<Unit, std::string> read(uint64_t off, char* out, size_t len) override {
    ++reads;
    largest = std::max<uint64_t>(largest, len);
    return inner_.read(off, out, len);
  }
  uint64_t reads = 0, largest = 0;

 private:
  BytesSource inner_;
};

Expected<std::unique_ptr<Reader>, std::string> open_bytes(std::string_view b, ReaderOptions o = {}) {
  return Reader::open(std::make_unique<BytesSource>(b), o);
}

// Reads every bucket and key of a file (one level of buckets, as etcd uses).
Expected<Db, std::string> read_db(Reader& r) {
  Db db;
  auto root = r.cursor(r.root());
  for (;;) {
    auto more = root->next();
    if (!more) return unexpected(more.error());
    if (!*more) break;
    if (!root->is_bucket()) return unexpected(std::string("top-level key that is not a bucket"));
    auto ref = root->bucket();
    if (!ref) return unexpected(ref.error());
    Bucket& b = db[std::string(root->key())];
    auto c = r.cursor(*ref);
    for (;;) {
      auto m = c->next();
      if (!m) return unexpected(m.error());
      if (!*m) break;
      b.emplace(c->key(), c->value());
    }
  }
  return db;
}

// Opens, checks and reads everything; the first error.
Expected<Db, std::string> open_check_read(std::string_view bytes) {
  auto r = open_bytes(bytes);
  if (!r) return unexpected(r.error());
  auto c = (*r)->check();
  if (!c) return unexpected(c.error());
  return read_db(**r);
}

std::string key_of(uint64_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "key-%012llu", static_cast<unsigned long long>(i));
  return b;
}

TEST(BboltTest, EmptyFileHasMetasARootLeafAndAFreelist) {
  std::string f = write_db({});
  ASSERT_EQ(f.size(), 4u * 4096);
  auto r = open_bytes(f);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ((*r)->meta().page_count, 4u);
  EXPECT_EQ((*r)->meta().root, 2u);
  EXPECT_EQ((*r)->meta().freelist, 3u);
  EXPECT_EQ((*r)->meta().txid, 1u);  // the higher of the two metas
  auto c = (*r)->check();
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->pages_reachable, 4u);
  EXPECT_EQ(c->buckets, 1u);
  auto cur = (*r)->cursor((*r)->root());
  auto m = cur->next();
  ASSERT_TRUE(m);
  EXPECT_FALSE(*m);
}

TEST(BboltTest, SmallBucketsAreInlineAndRoundTrip) {
  Db db{{"alarm", {}},
        {"meta", {{"consistent_index", std::string(8, '\1')}, {"term", "t"}}},
        {"x", {{"a", "b"}}}};
  std::string f = write_db(db);
  EXPECT_EQ(f.size(), 4u * 4096);  // everything inline in the root leaf
  auto r = open_bytes(f);
  ASSERT_TRUE(r);
  auto meta = (*r)->bucket((*r)->root(), "meta");
  ASSERT_TRUE(meta && meta->has_value());
  EXPECT_EQ((*meta)->root, 0u);
  auto missing = (*r)->bucket((*r)->root(), "nope");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  auto got = open_check_read(f);
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(*got, db);
}

TEST(BboltTest, LargeBucketBuildsADeepTreeReadInPageSizedReads) {
  // 1 KiB pages and 60k keys: leaves of ~20 keys, branches of ~30 entries, so four levels.
  Db db;
  std::mt19937_64 rng(7);
  for (uint64_t i = 0; i < 60000; ++i)
    db["big"][key_of(i)] = std::string(rng() % 24, static_cast<char>('a' + i % 26));
  db["small"]["k"] = "v";
  std::string f = write_db(db, 1024);
  auto cs = std::make_unique<CountingSource>(f);
  CountingSource* counter = cs.get();
  auto r = Reader::open(std::move(cs));
  ASSERT_TRUE(r) << r.error();
  auto got = read_db(**r);
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(*got, db);
  EXPECT_LE(counter->largest, 1024u);  // one page at a time: no node here overflows
  EXPECT_GE(counter->reads, f.size() / 1024 - 3);
  // Depth: root branch -> branch -> branch -> leaf.
  auto big = (*r)->bucket((*r)->root(), "big");
  ASSERT_TRUE(big && big->has_value());
  uint64_t page = (*big)->root;
  int depth = 1;
  for (;;) {
    std::string p(1024, '\0');
    ASSERT_TRUE((*r)->source().read(page * 1024, p.data(), p.size()));
    PageHeader h = decode_page_header(p.data());
    if (h.flags == kLeafPage) break;
    page = load_u64(p.data() + kPageHeaderBytes + 8);  // first child
    ++depth;
  }
  EXPECT_GE(depth, 4);
  auto c = (*r)->check();
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->pages_reachable, (*r)->meta().page_count);
  EXPECT_EQ(c->keys, 60000u + 1 + 2);
}

TEST(BboltTest, LargeValuesSpanOverflowPages) {
  Db db;
  db["v"]["a-small"] = "x";
  db["v"]["b-page"] = std::string(4096, 'p');  // just over a page with its header
  db["v"]["c-10k"] = std::string(10 * 1024, 'q');
  db["v"]["d-1m"] = std::string(1 << 20, 'r');
  db["v"]["e-small"] = "y";
  for (int i = 0; i < 100; ++i)
    db["v"]["f-" + std::to_string(i)] = std::string(i * 37, 's');
  std::string f = write_db(db);
  auto cs = std::make_unique<CountingSource>(f);
  CountingSource* counter = cs.get();
  auto r = Reader::open(std::move(cs));
  ASSERT_TRUE(r);
  auto got = read_db(**r);
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(*got, db);
  EXPECT_GE(counter->largest, 1u << 20);  // the 1 MiB value is read as one node (first page, then the rest)
  EXPECT_LE(counter->largest, (1u << 20) + 2 * 4096);
  auto c = (*r)->check();
  ASSERT_TRUE(c) << c.error();
  // A node larger than the reader's bound is refused, not read.
  auto small = open_bytes(f, ReaderOptions{512 * 1024, 64});
  ASSERT_TRUE(small);
  auto refused = read_db(**small);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("larger than the 524288 bytes allowed"), std::string::npos)
      << refused.error();
}

TEST(BboltTest, NestedBucketsRoundTrip) {
  std::string out;
  StringSink sink(&out);
  Writer w(sink);
  ASSERT_TRUE(w.begin_bucket("outer"));
  ASSERT_TRUE(w.put("a", "1"));
  ASSERT_TRUE(w.begin_bucket("b-inner"));
  for (int i = 0; i < 500; ++i)
    ASSERT_TRUE(w.put(key_of(i), "v"));
  ASSERT_TRUE(w.end_bucket());
  ASSERT_TRUE(w.begin_bucket("c-tiny"));
  ASSERT_TRUE(w.end_bucket());
  ASSERT_TRUE(w.end_bucket());
  ASSERT_TRUE(w.finish());
  auto r = open_bytes(out);
  ASSERT_TRUE(r);
  auto c = (*r)->check();
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->buckets, 4u);  // root, outer, inner, tiny
  auto outer = (*r)->bucket((*r)->root(), "outer");
  ASSERT_TRUE(outer && outer->has_value());
  EXPECT_NE((*outer)->root, 0u);  // a bucket holding buckets is never inline
  auto inner = (*r)->bucket(**outer, "b-inner");
  ASSERT_TRUE(inner && inner->has_value());
  auto cur = (*r)->cursor(**inner);
  int n = 0;
  for (auto m = cur->next(); m && *m; m = cur->next())
    EXPECT_EQ(cur->key(), key_of(n++));
  EXPECT_EQ(n, 500);
  auto not_bucket = (*r)->bucket(**outer, "a");
  ASSERT_FALSE(not_bucket);
}

TEST(BboltTest, WriterRefusesBadInput) {
  std::string out;
  StringSink sink(&out);
  {
    Writer w(sink);
    EXPECT_FALSE(w.put("k", "v"));  // outside a bucket: and the writer stays failed
    EXPECT_FALSE(w.begin_bucket("b"));
  }
  auto fails = [&](auto&& steps) {
    Writer w(sink);
    EXPECT_TRUE(w.begin_bucket("b"));
    return !steps(w);
  };
  EXPECT_TRUE(fails([](Writer& w) { return w.put("b", "1") && w.put("a", "2"); }));
  EXPECT_TRUE(fails([](Writer& w) { return w.put("a", "1") && w.put("a", "2"); }));
  EXPECT_TRUE(fails([](Writer& w) { return w.put("", "1"); }));
  EXPECT_TRUE(fails([](Writer& w) { return w.put(std::string(kKeyBytesMax + 1, 'k'), "1"); }));
  EXPECT_TRUE(fails([](Writer& w) { return bool(w.finish()); }));  // a bucket is open
  EXPECT_TRUE(fails([](Writer& w) { return w.end_bucket() && w.begin_bucket("a"); }));
  Writer bad(sink, WriterOptions{3000});
  EXPECT_FALSE(bad.begin_bucket("x"));
}

TEST(BboltTest, WriterPageSizesRoundTrip) {
  Db db;
  for (int i = 0; i < 3000; ++i)
    db["b"][key_of(i)] = std::string(i % 300, 'z');
  for (uint32_t ps : {1024u, 4096u, 16384u, 65536u}) {
    auto got = open_check_read(write_db(db, ps));
    ASSERT_TRUE(got) << ps << ": " << got.error();
    EXPECT_EQ(*got, db) << ps;
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A snapshot saved from etcd 3.4.23 (testdata/README.md says how): branch pages, an overflow value,
// inline buckets, stale unreachable pages (etcd keeps no freelist), its SHA-256 trailer.
TEST(BboltTest, ReadsARealEtcdSnapshot) {
  std::string f = read_file(std::string(CAIRN_STORAGE_TESTDATA) + "/etcd-3.4.23-snapshot.db");
  ASSERT_EQ(f.size(), 77824u + 32);
  auto r = open_bytes(f);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ((*r)->meta().freelist, kNoFreelist);
  EXPECT_EQ((*r)->size_bytes(), 77824u);
  auto c = (*r)->check();
  ASSERT_TRUE(c) << c.error();
  EXPECT_LT(c->pages_reachable, c->pages);  // stale pages, free without a freelist
  auto db = read_db(**r);
  ASSERT_TRUE(db) << db.error();
  std::vector<std::string> names;
  for (const auto& [n, b] : *db)
    names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"alarm", "auth", "authRoles", "authUsers", "cluster", "key",
                                             "lease", "members", "members_removed", "meta"}));
  EXPECT_EQ((*db)["cluster"]["clusterVersion"], "3.4.0");
  EXPECT_EQ((*db)["meta"].count("consistent_index"), 1u);
  EXPECT_EQ((*db)["authUsers"].count("alice"), 1u);
  size_t big = 0;
  for (const auto& [k, v] : (*db)["key"])
    big = std::max(big, v.size());
  EXPECT_GT(big, 9000u);  // fixture/big, on overflow pages
}

// Every refusal is an error value that names what is wrong.
void expect_refused(std::string_view bytes, const std::string& why) {
  auto got = open_check_read(bytes);
  ASSERT_FALSE(got) << why;
  EXPECT_EQ(got.error().rfind("bbolt: ", 0), 0u) << why << ": " << got.error();
}

TEST(BboltTest, TruncatedFilesAreRefused) {
  Db db;
  for (int i = 0; i < 400; ++i)
    db["b"][key_of(i)] = std::string(50, 'v');
  std::string f = write_db(db);
  for (size_t len = 0; len < f.size(); len += 512)
    expect_refused(std::string_view(f).substr(0, len), "truncated to " + std::to_string(len));
  auto r = open_bytes(std::string_view(f).substr(0, f.size() - 4096));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
}

TEST(BboltTest, DamagedMetaPagesFallBackOrAreRefused) {
  std::string f = write_db({{"b", {{"k", "v"}}}});
  std::string m1 = f;
  m1[4096 + 40] ^= 1;  // meta 1 (the newer one) damaged: meta 0 is used
  auto r = open_bytes(m1);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ((*r)->meta().txid, 0u);
  std::string m0 = f;
  m0[16 + 20] ^= 1;  // meta 0 damaged: page 1 is found at 4096
  r = open_bytes(m0);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ((*r)->meta().txid, 1u);
  std::string both = m1;
  both[16 + 20] ^= 1;
  r = open_bytes(both);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no valid meta page"), std::string::npos) << r.error();
  std::string version = f;
  version[16 + 4] = 3;
  version[4096 + 16 + 4] = 3;
  r = open_bytes(version);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("version 3"), std::string::npos) << r.error();
  r = open_bytes(std::string(8192, '\0'));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not a bbolt file"), std::string::npos) << r.error();
}

// Rewrites page `id`'s first branch element to point at `target`.
void point_first_child(std::string& f, uint64_t id, uint64_t target) {
  store_u64(f.data() + id * 4096 + kPageHeaderBytes + 8, target);
}

TEST(BboltTest, CyclesAndSharedPagesAreRefused) {
  Db db;
  for (int i = 0; i < 2000; ++i)
    db["b"][key_of(i)] = std::string(40, 'v');
  std::string f = write_db(db);
  auto r = open_bytes(f);
  ASSERT_TRUE(r);
  auto b = (*r)->bucket((*r)->root(), "b");
  ASSERT_TRUE(b && b->has_value());
  const uint64_t root = (*b)->root;
  ASSERT_EQ(decode_page_header(f.data() + root * 4096).flags, kBranchPage);
  std::string cycle = f;
  point_first_child(cycle, root, root);  // the root is its own first child
  expect_refused(cycle, "cycle");
  std::string shared = f;
  const uint64_t second = load_u64(f.data() + root * 4096 + kPageHeaderBytes + kElementBytes + 8);
  point_first_child(shared, root, second);  // two elements lead to one page
  expect_refused(shared, "shared page");
  std::string wild = f;
  point_first_child(wild, root, 1u << 30);
  expect_refused(wild, "out of range");
  std::string meta = f;
  point_first_child(meta, root, 0);
  expect_refused(meta, "meta page as a child");
}

TEST(BboltTest, RandomByteFlipsNeverCrash) {
  Db db;
  std::mt19937_64 rng(11);
  for (int i = 0; i < 300; ++i)
    db["b" + std::to_string(i % 3)][key_of(i)] = std::string(rng() % 200, 'v');
  db["z"]["big"] = std::string(9000, 'o');
  const std::string f = write_db(db);
  int refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string g = f;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      // Mostly headers and element arrays, where a flip changes structure rather than data.
      size_t page = rng() % (g.size() / 4096);
      size_t at = page * 4096 + (rng() % 2 ? rng() % 96 : rng() % 4096);
      g[at] = static_cast<char>(g[at] ^ (1u << (rng() % 8)));
    }
    auto got = open_check_read(g);
    if (!got) {
      ++refused;
      EXPECT_EQ(got.error().rfind("bbolt: ", 0), 0u) << got.error();
    }
  }
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace cairn::storage::bbolt
