// storage/etcd_backend: a real etcd 3.4.23 snapshot's status (as etcdctl prints it) and its import into
// a cairn store (history, leases, compaction, auth records); cairn stores exported and imported back
// with nothing lost; exports of large stores read by the real `etcdctl snapshot status` (bbolt's own
// consistency check) when it is installed; malformed backends refused; etcd's unfinished compaction.
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "proto/etcd/auth.pb.h"
#include "storage/bbolt/reader.h"
#include "storage/bbolt/writer.h"
#include "storage/etcd_backend/export.h"
#include "storage/etcd_backend/import.h"
#include "storage/etcd_backend/status.h"
#include "storage/memory_engine.h"
#include "storage/mvcc_store.h"

namespace cairn::storage::etcd_backend {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const std::string& fixture() {
  static const std::string f = read_file(std::string(CAIRN_STORAGE_TESTDATA) + "/etcd-3.4.23-snapshot.db");
  return f;
}

std::unique_ptr<bbolt::Reader> open_bytes(std::string_view b) {
  auto r = bbolt::Reader::open_bytes(b);
  EXPECT_TRUE(r) << r.error();
  return r ? std::move(*r) : nullptr;
}

// Imports `file` into a fresh memory engine and opens a store over it.
struct Imported {
  std::shared_ptr<MemoryDisk> disk = std::make_shared<MemoryDisk>();
  ImportSummary summary;
  std::unique_ptr<MvccStore> store;
};
Imported import_file(std::string_view file) {
  Imported out;
  auto r = open_bytes(file);
  MemoryEngine engine(out.disk);
  auto s = import_backend(*r, engine);
  EXPECT_TRUE(s) << s.error();
  if (!s) return out;
  out.summary = *s;
  auto st = MvccStore::open(std::make_unique<MemoryEngine>(out.disk));
  EXPECT_TRUE(st) << st.error().message();
  if (st) out.store = std::move(*st);
  return out;
}

std::optional<KeyValue> get(MvccStore& s, const std::string& key, int64_t rev = 0) {
  RangeRequest r;
  r.key = key;
  r.revision = rev;
  auto resp = s.range(r);
  EXPECT_TRUE(resp) << resp.error().message();
  if (!resp || resp->kvs.empty()) return std::nullopt;
  return resp->kvs[0];
}

TEST(EtcdBackendTest, StatusOfARealSnapshotIsEtcdctls) {
  auto r = open_bytes(fixture());
  auto st = backend_status(*r);
  ASSERT_TRUE(st) << st.error();
  // etcdctl 3.4.23 snapshot status -w json of the same file (testdata/etcd-3.4.23-snapshot.md).
  EXPECT_EQ(st->hash, 2028335538u);
  EXPECT_EQ(st->revision, 181);
  EXPECT_EQ(st->total_keys, 184);
  EXPECT_EQ(st->total_size, 77824);
}

TEST(EtcdBackendTest, ImportsARealSnapshotWithItsHistory) {
  Imported im = import_file(fixture());
  ASSERT_TRUE(im.store);
  MvccStore& s = *im.store;
  EXPECT_EQ(s.revision(), 181);
  EXPECT_EQ(s.compact_revision(), 20);
  EXPECT_EQ(im.summary.compact_revision, 20);
  EXPECT_GT(im.summary.consistent_index, 0u);
  EXPECT_EQ(s.applied().index, im.summary.consistent_index);
  EXPECT_EQ(im.summary.members, 1u);
  auto big = get(s, "fixture/big");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->value, std::string(9000, 'B'));
  EXPECT_EQ(big->create_revision, 159);
  EXPECT_EQ(big->mod_revision, 159);
  auto k10 = get(s, "fixture/key-0010");  // deleted, then put again: a second generation
  ASSERT_TRUE(k10);
  EXPECT_EQ(k10->value, "again");
  EXPECT_EQ(k10->create_revision, 180);
  EXPECT_EQ(k10->version, 1);
  EXPECT_FALSE(get(s, "fixture/key-0015"));  // deleted
  // History above the compaction point: key-0015 before its delete.
  auto before = get(s, "fixture/key-0015", 150);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->value, "value-15-" + std::string(30, 'x'));
  RangeRequest compacted;
  compacted.key = "fixture/key-0001";
  compacted.revision = 19;
  auto c = s.range(compacted);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::kCompacted);
  auto leased = get(s, "fixture/leased");
  ASSERT_TRUE(leased);
  ASSERT_NE(leased->lease, 0);
  auto lease = s.lease(leased->lease);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->ttl, 600);
  EXPECT_EQ(lease->keys, std::vector<std::string>{"fixture/leased"});
  // Auth: user alice and role reader as etcd stored them, auth never enabled.
  EXPECT_TRUE(im.summary.has_auth);
  EXPECT_FALSE(im.summary.auth.enabled.has_value());
  EXPECT_EQ(im.summary.auth.revision, 5u);
  ASSERT_EQ(im.summary.auth.users.count("alice"), 1u);
  authpb::User alice;
  ASSERT_TRUE(alice.ParseFromString(im.summary.auth.users["alice"]));
  EXPECT_EQ(alice.roles_size(), 1);
  EXPECT_EQ(alice.roles(0), "reader");
  EXPECT_EQ(im.summary.auth.roles.count("reader"), 1u);
  EXPECT_TRUE(im.summary.warnings.empty());
}

TEST(EtcdBackendTest, MembersAreWrittenAsEtcdWritesThem) {
  auto r = open_bytes(fixture());
  auto members = r->bucket(r->root(), kMembersBucket);
  ASSERT_TRUE(members && members->has_value());
  auto c = r->cursor(**members);
  ASSERT_TRUE(c->next());
  MemberRecord m{
      13794426080617119954ull, "e1", {"http://127.0.0.1:29601"}, {"http://127.0.0.1:29600"}, false};
  EXPECT_EQ(c->key(), member_key(m.id));
  EXPECT_EQ(c->value(), member_json(m));
  EXPECT_EQ(go_json_string("a<b>&\"\\\n\x01\xe2\x80\xa8\xff"),
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\u2028\\ufffd\"");
}

// ---- Round trips of cairn stores ----

uint64_t g_index = 0;
void apply(MvccStore& s, ApplyRequest r) {
  auto res = s.apply(++g_index, 3, std::move(r));
  ASSERT_TRUE(res) << res.error().message();
}

PutRequest put(std::string k, std::string v, int64_t lease = 0) {
  PutRequest p;
  p.key = std::move(k);
  p.value = std::move(v);
  p.lease = lease;
  return p;
}

std::unique_ptr<MvccStore> sample_store(std::shared_ptr<MemoryDisk> disk, int keys, int rounds) {
  auto s = MvccStore::open(std::make_unique<MemoryEngine>(disk));
  EXPECT_TRUE(s);
  MvccStore& st = **s;
  apply(st, LeaseGrantRequest{60, 0x1234});
  apply(st, LeaseGrantRequest{3600, 0x77});
  std::mt19937_64 rng(5);
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < keys; ++i) {
      const std::string k = "k/" + std::to_string(i);
      if (rng() % 7 == 0) {
        DeleteRangeRequest d;
        d.key = k;
        apply(st, d);
      } else {
        apply(st, put(k, std::string(rng() % 64, 'v') + std::to_string(round), i % 11 == 0 ? 0x1234 : 0));
      }
    }
    if (round == rounds / 2) apply(st, CompactionRequest{st.revision() - 3, false});
  }
  apply(st, put("big", std::string(300 * 1024, 'B')));
  apply(st, put("attached", "x", 0x77));
  return std::move(*s);
}

std::string export_to_string(KvEngine& engine, const ExportInfo& info = {}) {
  std::string out;
  bbolt::StringSink sink(&out);
  auto s = export_store(engine, info, sink);
  EXPECT_TRUE(s) << s.error();
  return out;
}

// Every record of every space, for comparing two stores byte for byte; but the state chain, which an etcd
// file does not carry (an import seeds it: mvcc_store.h).
std::vector<std::string> dump(KvEngine& e) {
  std::vector<std::string> out;
  for (Space s : {Space::kKeys, Space::kLeases, Space::kMeta}) {
    for (auto it = e.scan(s, "", ""); it->valid(); it->next())
      if (s != Space::kMeta || it->key() != "chain")
        out.push_back(std::to_string(static_cast<int>(s)) + "|" + std::string(it->key()) + "|" +
                      std::string(it->value()));
  }
  return out;
}

void drain_compaction(MvccStore& s) {
  while (s.compaction_pending())
    ASSERT_TRUE(s.compact_step(1000));
}

std::vector<std::string> dump_keys(KvEngine& e) {
  std::vector<std::string> out;
  for (auto it = e.scan(Space::kKeys, "", ""); it->valid(); it->next())
    out.push_back(std::string(it->key()) + "|" + std::string(it->value()));
  return out;
}

TEST(EtcdBackendTest, ExportThenImportKeepsEveryRecord) {
  auto disk = std::make_shared<MemoryDisk>();
  auto store = sample_store(disk, 40, 6);
  drain_compaction(*store);
  MemoryEngine source(disk);
  ExportInfo info;
  info.member_id = 0xabc;
  info.members = {{0xabc, "m1", {"http://10.0.0.1:2380"}, {"http://10.0.0.1:2379"}, false},
                  {0x12, "m2", {"http://10.0.0.2:2380"}, {}, true}};
  info.removed_member_ids = {0x99};
  std::string file = export_to_string(source, info);
  EXPECT_EQ(file.size() % 4096, 0u);
  Imported back = import_file(file);
  ASSERT_TRUE(back.store);
  MemoryEngine copy(back.disk);
  EXPECT_EQ(dump(copy), dump(source));
  EXPECT_EQ(back.store->state_chain(), std::optional<uint32_t>(0)) << "the import is the chain's seed";
  EXPECT_EQ(back.store->revision(), store->revision());
  EXPECT_EQ(back.store->compact_revision(), store->compact_revision());
  auto h1 = store->hash_kv(0), h2 = back.store->hash_kv(0);
  ASSERT_TRUE(h1 && h2);
  EXPECT_EQ(h1->hash, h2->hash);
  EXPECT_EQ(back.summary.members, 2u);
  EXPECT_EQ(back.summary.term, 3u);
  EXPECT_FALSE(back.summary.auth.enabled.has_value());  // a fresh etcd's auth: revision 1 only
  EXPECT_EQ(back.summary.auth.revision, 1u);
  auto st = backend_status(*open_bytes(file));
  ASSERT_TRUE(st) << st.error();
  EXPECT_EQ(st->revision, store->revision());
}

TEST(EtcdBackendTest, EmptyStoreExportsEtcdsFreshLayout) {
  MemoryEngine empty;
  std::string file = export_to_string(empty);
  auto r = open_bytes(file);
  auto st = backend_status(*r);
  ASSERT_TRUE(st) << st.error();
  EXPECT_EQ(st->revision, 0);
  EXPECT_EQ(st->total_keys, 4);  // authRevision, clusterVersion, consistent_index, term
  Imported back = import_file(file);
  ASSERT_TRUE(back.store);
  EXPECT_EQ(back.store->revision(), 1);
  EXPECT_EQ(back.store->applied().index, 1u);
}

TEST(EtcdBackendTest, ExportStopsWhenCancelled) {
  auto disk = std::make_shared<MemoryDisk>();
  auto store = sample_store(disk, 300, 2);
  MemoryEngine source(disk);
  std::atomic<bool> cancel{true};
  ExportInfo info;
  info.cancel = &cancel;
  std::string out;
  bbolt::StringSink sink(&out);
  auto s = export_store(source, info, sink);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), "snapshot export cancelled");
}

// The real etcdctl reads the file (bbolt's tx.Check, then every bucket), when it is installed.
std::optional<std::string> etcdctl_status(const std::string& path) {
  if (::access("/usr/bin/etcdctl", X_OK) != 0) return std::nullopt;
  std::string cmd = "ETCDCTL_API=3 /usr/bin/etcdctl snapshot status -w json " + path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(EtcdBackendTest, LargeExportsAreReadByEtcdctl) {
  auto disk = std::make_shared<MemoryDisk>();
  auto store = sample_store(disk, 1500, 6);
  MemoryEngine source(disk);
  const std::string path =
      std::filesystem::temp_directory_path() / ("cairn-etcd-backend-" + std::to_string(::getpid()) + ".db");
  {
    auto sink = bbolt::FileSink::create(path);
    ASSERT_TRUE(sink) << sink.error();
    auto s = export_store(source, ExportInfo{}, **sink);
    ASSERT_TRUE(s) << s.error();
    EXPECT_GT(s->bytes, 512u << 10);
    EXPECT_GT(s->key_records, 4000u);
  }
  auto reader = bbolt::Reader::open_file(path);
  ASSERT_TRUE(reader) << reader.error();
  auto mine = backend_status(**reader);
  ASSERT_TRUE(mine) << mine.error();
  auto theirs = etcdctl_status(path);
  std::filesystem::remove(path);
  if (!theirs) GTEST_SKIP() << "etcdctl is not installed";
  char want[200];
  std::snprintf(want, sizeof want, "{\"hash\":%u,\"revision\":%lld,\"totalKey\":%lld,\"totalSize\":%lld}",
                mine->hash, static_cast<long long>(mine->revision), static_cast<long long>(mine->total_keys),
                static_cast<long long>(mine->total_size));
  EXPECT_NE(theirs->find(want), std::string::npos) << "etcdctl: " << *theirs << "\nours: " << want;
  std::printf("etcdctl snapshot status: %s", theirs->c_str());
}

// Four-level trees (1 KiB pages), overflow values and nested buckets, through the real bbolt.
TEST(EtcdBackendTest, DeepTreesAreReadByEtcdctl) {
  const std::string path =
      std::filesystem::temp_directory_path() / ("cairn-bbolt-deep-" + std::to_string(::getpid()) + ".db");
  {
    auto sink = bbolt::FileSink::create(path);
    ASSERT_TRUE(sink) << sink.error();
    bbolt::Writer w(**sink, bbolt::WriterOptions{1024});
    ASSERT_TRUE(w.begin_bucket("deep"));
    for (int i = 0; i < 60000; ++i) {
      char k[32];
      std::snprintf(k, sizeof k, "key-%08d", i);
      ASSERT_TRUE(w.put(k, i % 5000 == 0 ? std::string(5000, 'o') : std::string(i % 20, 'v')));
    }
    ASSERT_TRUE(w.begin_bucket("nested"));  // bbolt's ForEach sees it as a key without a value
    ASSERT_TRUE(w.put("n", "1"));
    ASSERT_TRUE(w.end_bucket());
    ASSERT_TRUE(w.end_bucket());
    ASSERT_TRUE(w.finish());
  }
  auto reader = bbolt::Reader::open_file(path);
  ASSERT_TRUE(reader) << reader.error();
  auto mine = backend_status(**reader);
  ASSERT_TRUE(mine) << mine.error();
  EXPECT_EQ(mine->total_keys, 60001);
  auto theirs = etcdctl_status(path);
  std::filesystem::remove(path);
  if (!theirs) GTEST_SKIP() << "etcdctl is not installed";
  char want[200];
  std::snprintf(want, sizeof want, "{\"hash\":%u,\"revision\":0,\"totalKey\":60001,\"totalSize\":%lld}",
                mine->hash, static_cast<long long>(mine->total_size));
  EXPECT_NE(theirs->find(want), std::string::npos) << "etcdctl: " << *theirs << "\nours: " << want;
}

// ---- Refusals and etcd's own edge cases ----

using Buckets = std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>;
std::string backend(const Buckets& buckets) {
  std::string out;
  bbolt::StringSink sink(&out);
  bbolt::Writer w(sink);
  for (const auto& [name, kvs] : buckets) {
    EXPECT_TRUE(w.begin_bucket(name));
    for (const auto& [k, v] : kvs)
      EXPECT_TRUE(w.put(k, v));
    EXPECT_TRUE(w.end_bucket());
  }
  EXPECT_TRUE(w.finish());
  return out;
}

std::string kv_value(const std::string& key, int64_t create, int64_t mod, int64_t version,
                     const std::string& v) {
  KeyValue kv;
  kv.key = key;
  kv.create_revision = create;
  kv.mod_revision = mod;
  kv.version = version;
  kv.value = v;
  return encode_kv(kv, false);
}

std::string import_error(const std::string& file) {
  auto r = open_bytes(file);
  MemoryEngine e;
  auto s = import_backend(*r, e);
  return s ? std::string() : s.error();
}

TEST(EtcdBackendTest, MalformedBackendsAreRefused) {
  const std::pair<std::string, std::string> ci{"consistent_index", encode_u64(5)};
  EXPECT_NE(import_error(backend({{"meta", {ci}}})).find("no \"key\""), std::string::npos);
  EXPECT_NE(import_error(backend({{"key", {{"short", "x"}}}, {"meta", {ci}}})).find("is not a revision"),
            std::string::npos);
  EXPECT_NE(import_error(backend({{"key", {{encode_revision({2, 0}, false), "\xff\xff"}}}, {"meta", {ci}}}))
                .find("not a mvccpb.KeyValue"),
            std::string::npos);
  EXPECT_NE(import_error(backend({{"key", {{encode_revision({2, 0}, false), kv_value("a", 2, 3, 1, "v")}}},
                                  {"meta", {ci}}}))
                .find("mod_revision 3"),
            std::string::npos);
  EXPECT_NE(import_error(backend({{"key", {}}, {"meta", {{"consistent_index", "abc"}}}})).find("not 8 bytes"),
            std::string::npos);
  EXPECT_NE(import_error(backend({{"key", {}},
                                  {"lease", {{encode_lease_id(7), encode_lease({8, 10, 0, {}})}}},
                                  {"meta", {ci}}}))
                .find("leasepb.Lease of that id"),
            std::string::npos);
  // The target must be empty.
  const std::string empty = backend({{"key", {}}, {"meta", {ci}}});
  auto r = open_bytes(empty);
  MemoryEngine e;
  ASSERT_TRUE(import_backend(*r, e));
  auto again = import_backend(*r, e);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().find("not empty"), std::string::npos);
}

TEST(EtcdBackendTest, UnfinishedCompactionIsCompletedOnImport) {
  // put a@2, del a@3, put b@4; etcd scheduled a compaction at 3 and removed a@2 before it stopped.
  std::string file =
      backend({{"key",
                {{encode_revision({3, 0}, true), encode_kv(KeyValue{"a", 0, 0, 0, "", 0}, true)},
                 {encode_revision({4, 0}, false), kv_value("b", 4, 4, 1, "v")}}},
               {"meta",
                {{"consistent_index", encode_u64(9)},
                 {"finishedCompactRev", encode_revision({1, 0}, false)},
                 {"scheduledCompactRev", encode_revision({3, 0}, false)}}},
               {"zz-extra", {}}});
  Imported im = import_file(file);
  ASSERT_TRUE(im.store);
  EXPECT_EQ(im.summary.tombstones_dropped, 1u);
  EXPECT_EQ(im.store->compact_revision(), 3);
  EXPECT_EQ(im.store->revision(), 4);
  EXPECT_EQ(im.summary.term, 0u);
  ASSERT_EQ(im.summary.warnings.size(), 2u);  // the unfinished compaction, the unknown bucket
  EXPECT_TRUE(get(*im.store, "b"));
}

TEST(EtcdBackendTest, AStoreStillDeletingCompactedRecordsExportsAsEtcdsUnfinishedCompaction) {
  auto disk = std::make_shared<MemoryDisk>();
  auto store = sample_store(disk, 40, 6);
  ASSERT_GT(store->compaction_backlog(), 0u);  // the compacted records are still on disk
  MemoryEngine source(disk);
  Imported back = import_file(export_to_string(source));
  ASSERT_TRUE(back.store);
  EXPECT_TRUE(std::any_of(back.summary.warnings.begin(), back.summary.warnings.end(),
                          [](const std::string& w) { return w.find("unfinished") != std::string::npos; }));
  EXPECT_EQ(back.store->compact_revision(), store->compact_revision());
  auto h1 = store->hash_kv(0), h2 = back.store->hash_kv(0);
  ASSERT_TRUE(h1 && h2);
  EXPECT_EQ(h1->hash, h2->hash);
  EXPECT_EQ(back.store->logical_size_bytes(), store->logical_size_bytes());
  drain_compaction(*store);
  drain_compaction(*back.store);
  MemoryEngine copy(back.disk);
  EXPECT_EQ(dump_keys(copy), dump_keys(source));  // both ended with exactly the records compaction keeps
}

TEST(EtcdBackendTest, AlarmsAndAuthStateRoundTrip) {
  MemoryEngine e;
  auto s = MvccStore::open(std::make_unique<MemoryEngine>(e.disk()));
  ASSERT_TRUE(s);
  apply(**s, AlarmRequest{AlarmRequest::Action::kActivate, AlarmType::kNoSpace});
  ExportInfo info;
  info.member_id = 42;
  info.auth.enabled = true;
  info.auth.revision = 9;
  authpb::User u;
  u.set_name("root");
  u.add_roles("root");
  info.auth.users["root"] = u.SerializeAsString();
  std::string file = export_to_string(e, info);
  Imported im = import_file(file);
  ASSERT_TRUE(im.store);
  ASSERT_TRUE(im.summary.auth.enabled.has_value());
  EXPECT_TRUE(*im.summary.auth.enabled);
  EXPECT_EQ(im.summary.auth.revision, 9u);
  EXPECT_EQ(im.summary.auth.users.size(), 1u);
  // Raised for member 0 (the store's own default) it is exported as the exporting member's.
  EXPECT_EQ(im.summary.alarms, (std::vector<AlarmMember>{{42, AlarmType::kNoSpace}}));
  EXPECT_EQ(im.store->alarms(), (std::vector<AlarmMember>{{42, AlarmType::kNoSpace}}));
}

}  // namespace
}  // namespace cairn::storage::etcd_backend
