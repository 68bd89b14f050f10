// snapshot status / restore (server/node/restore.h): etcd snapshots (a real etcd 3.4.23 one, and cairn
// stores exported in etcd's format) restored into a new member's data dir and checked through the WAL
// and store a starting member reads; etcd's digest rules (and member/snap/db without one); refusals
// that leave no data dir; and cairn's older snapshot format, still read.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "proto/etcd/rpc.pb.h"
#include "proto/raft_codec.h"
#include "server/auth/backend_format.h"
#include "server/auth/bcrypt.h"
#include "server/node/node.h"
#include "server/node/restore.h"
#include "storage/bbolt/writer.h"
#include "storage/etcd_backend/export.h"
#include "storage/memory_engine.h"
#include "storage/mvcc_store.h"
#include "storage/rocksdb_engine.h"
#include "wal/posix_file_system.h"
#include "wal/wal.h"

namespace cairn::server::node {
namespace {

namespace fs = std::filesystem;

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// What services.cc's m_snapshot streams: entries, zero padding to 512, SHA-256.
std::string snapshot_file(const std::vector<std::pair<std::string, std::string>>& files, bool digest = true) {
  std::string out;
  for (const auto& [n, b] : files) {
    put_be(out, n.size(), 4);
    out += n;
    put_be(out, b.size(), 8);
    out += b;
  }
  out.resize((out.size() + 511) / 512 * 512, '\0');
  if (digest) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(out.data()), out.size(), d);
    out.append(reinterpret_cast<const char*>(d), sizeof d);
  }
  return out;
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "cairn-restore-test.XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(SnapshotFile, ParsesEntriesPaddingAndDigest) {
  auto bytes = snapshot_file({{"CURRENT", "MANIFEST-1\n"}, {"000001.sst", std::string(700, 'x')}});
  ASSERT_EQ(bytes.size() % 512, 32u);
  auto c = parse_snapshot_file(bytes, true);
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->had_digest);
  ASSERT_EQ(c->files.size(), 2u);
  EXPECT_EQ(c->files[0].first, "CURRENT");
  EXPECT_EQ(c->files[1].second, std::string(700, 'x'));
}

TEST(SnapshotFile, DigestRules) {
  auto bytes = snapshot_file({{"a", "1"}});
  std::string damaged = bytes;
  damaged[5] ^= 1;
  auto d = parse_snapshot_file(damaged, true);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().find("sha256 checksum mismatch"), std::string::npos);
  auto no_digest = snapshot_file({{"a", "1"}}, false);
  auto m = parse_snapshot_file(no_digest, true);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), "snapshot missing hash but --skip-hash-check=false");
  auto skipped = parse_snapshot_file(no_digest, false);
  ASSERT_TRUE(skipped) << skipped.error();
  EXPECT_FALSE(skipped->had_digest);
}

TEST(SnapshotFile, RejectsTruncationBadNamesAndGarbage) {
  auto bytes = snapshot_file({{"a", std::string(100, 'y')}}, false);
  EXPECT_FALSE(parse_snapshot_file(bytes.substr(0, 50), false));
  EXPECT_FALSE(parse_snapshot_file(snapshot_file({{"../evil", "x"}}), true));
  std::string garbage = snapshot_file({{"a", "1"}}, false);
  garbage[garbage.size() - 3] = 'z';
  EXPECT_FALSE(parse_snapshot_file(garbage, false));
  EXPECT_FALSE(parse_snapshot_file(std::string(512, '\0'), false));  // no files at all
}

TEST(SnapshotFile, DetectsBbolt) {
  std::string b(4096, '\0');
  b[16] = static_cast<char>(0xED);
  b[17] = static_cast<char>(0xDA);
  b[18] = static_cast<char>(0x0C);
  b[19] = static_cast<char>(0xED);
  EXPECT_TRUE(is_bbolt(b));
  EXPECT_FALSE(is_bbolt(snapshot_file({{"a", "1"}})));
  TempDir t;
  // Only the magic: the bbolt reader takes it and refuses it (no valid meta page).
  std::ofstream(t.path + "/bolt.db", std::ios::binary) << b;
  auto st = snapshot_status(t.path + "/bolt.db");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().find("bbolt: no valid meta page"), std::string::npos) << st.error();
}

TEST(Restore, RealStoreBecomesANewMembersDataDir) {
  TempDir t;
  // A store as an old member left it: applied index 57 at term 4, revisions 2..6.
  {
    auto engine = storage::RocksEngine::open(t.path + "/old");
    ASSERT_TRUE(engine);
    auto store = storage::MvccStore::open(std::move(*engine));
    ASSERT_TRUE(store);
    for (int i = 0; i < 5; ++i) {
      storage::PutRequest p;
      p.key = "k" + std::to_string(i);
      p.value = "v";
      ASSERT_TRUE((*store)->apply(53 + i, 4, p));
    }
    ASSERT_TRUE((*store)->snapshot(t.path + "/ckpt"));
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& e : fs::directory_iterator(t.path + "/ckpt")) {
    std::ifstream f(e.path(), std::ios::binary);
    files.emplace_back(e.path().filename().string(),
                       std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()));
  }
  std::ofstream(t.path + "/snap.db", std::ios::binary) << snapshot_file(files);

  auto st = snapshot_status(t.path + "/snap.db");
  ASSERT_TRUE(st) << st.error();
  EXPECT_EQ(st->revision, 6);
  EXPECT_EQ(st->applied_index, 57u);
  EXPECT_GT(st->total_keys, 5);

  RestoreOptions o;
  o.snapshot_path = t.path + "/snap.db";
  o.name = "b";
  o.data_dir = t.path + "/b";
  o.initial_cluster = "a=http://127.0.0.1:1,b=http://127.0.0.1:2,c=http://127.0.0.1:3";
  o.initial_cluster_token = "tok";
  o.initial_advertise_peer_urls = "http://127.0.0.1:2";
  auto r = restore_member(o);
  ASSERT_TRUE(r) << r.error();
  uint64_t a = derive_member_id({"http://127.0.0.1:1"}, "tok"),
           b = derive_member_id({"http://127.0.0.1:2"}, "tok"),
           c = derive_member_id({"http://127.0.0.1:3"}, "tok");
  EXPECT_EQ(r->member_id, b);
  EXPECT_EQ(r->cluster_id, derive_cluster_id({a, b, c}));
  EXPECT_EQ(r->applied_index, 57u);
  EXPECT_EQ(r->revision, 6);

  // The WAL a starting member reads: a snapshot marker at the store's applied index (so the new log's
  // first entry, 58, is applied), the hard state committed there, and the new membership.
  wal::PosixFileSystem pfs;
  auto w = wal::Wal::open(pfs, o.data_dir + "/member/wal");
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->state.snapshot);
  EXPECT_EQ(w->state.snapshot->index, 57u);
  EXPECT_EQ(w->state.snapshot->term, 4u);
  EXPECT_EQ(w->state.hard_state.commit, 57u);
  EXPECT_EQ(w->state.hard_state.term, 4u);
  EXPECT_TRUE(w->state.entries.empty());
  ASSERT_TRUE(w->state.metadata);
  // encode_wal_metadata's layout: marker 0xC2, the conf index (8 bytes BE), then length | ConfState |
  // members.
  const std::string& full = *w->state.metadata;
  ASSERT_GE(full.size(), 9u);
  ASSERT_EQ(static_cast<uint8_t>(full[0]), 0xC2);
  uint64_t conf_index = 0;
  for (int i = 1; i <= 8; ++i)
    conf_index = (conf_index << 8) | static_cast<uint8_t>(full[i]);
  EXPECT_EQ(conf_index, r->applied_index);
  const std::string blob = full.substr(9);
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n = (n << 8) | static_cast<uint8_t>(blob[i]);
  raftpb::ConfState cs;
  ASSERT_TRUE(cs.ParseFromArray(blob.data() + 4, static_cast<int>(n)));
  EXPECT_EQ(proto::from_pb(cs).voters.size(), 3u);
  etcdserverpb::MemberListResponse ml;
  ASSERT_TRUE(ml.ParseFromArray(blob.data() + 4 + n, static_cast<int>(blob.size() - 4 - n)));
  EXPECT_EQ(ml.header().cluster_id(), r->cluster_id);
  EXPECT_EQ(ml.header().member_id(), b);
  ASSERT_EQ(ml.members_size(), 3);
  (void)w->wal->close();

  auto engine = storage::RocksEngine::open(o.data_dir + "/member/db");
  ASSERT_TRUE(engine);
  auto store = storage::MvccStore::open(std::move(*engine));
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->revision(), 6);
  EXPECT_EQ((*store)->applied().index, 57u);
  storage::PutRequest p;
  p.key = "new";
  ASSERT_TRUE((*store)->apply(58, 5, p));  // the new log's first entry is not skipped
  EXPECT_EQ((*store)->revision(), 7);

  // A second restore into the same dir is refused; so is a name missing from --initial-cluster.
  EXPECT_FALSE(restore_member(o));
  o.data_dir = t.path + "/d";
  o.name = "zz";
  auto bad = restore_member(o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("couldn't find local name"), std::string::npos);
}

// ---- etcd snapshots ----

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const std::string kFixture = std::string(CAIRN_STORAGE_TESTDATA) + "/etcd-3.4.23-snapshot.db";

RestoreOptions options_for(const std::string& snap, const std::string& dir) {
  RestoreOptions o;
  o.snapshot_path = snap;
  o.name = "m1";
  o.data_dir = dir;
  o.initial_cluster = "m1=http://127.0.0.1:1,m2=http://127.0.0.1:2";
  o.initial_cluster_token = "migrated";
  o.initial_advertise_peer_urls = "http://127.0.0.1:1";
  return o;
}

TEST(RestoreEtcd, StatusIsEtcdctls) {
  auto st = snapshot_status(kFixture);
  ASSERT_TRUE(st) << st.error();
  EXPECT_EQ(st->hash, 2028335538u);  // etcdctl 3.4.23 snapshot status of the same file
  EXPECT_EQ(st->revision, 181);
  EXPECT_EQ(st->total_keys, 184);
  EXPECT_EQ(st->total_size, 77824);
}

TEST(RestoreEtcd, RealEtcdSnapshotBecomesAMembersDataDir) {
  TempDir t;
  auto o = options_for(kFixture, t.path + "/m1");
  auto r = restore_member(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->revision, 181);
  EXPECT_GT(r->applied_index, 0u);
  EXPECT_EQ(r->applied_term, 1u);  // etcd 3.4 records no term
  EXPECT_TRUE(r->warnings.empty());
  wal::PosixFileSystem pfs;
  auto w = wal::Wal::open(pfs, o.data_dir + "/member/wal");
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->state.snapshot);
  EXPECT_EQ(w->state.snapshot->index, r->applied_index);
  EXPECT_EQ(w->state.hard_state.commit, r->applied_index);
  (void)w->wal->close();
  auto engine = storage::RocksEngine::open(o.data_dir + "/member/db");
  ASSERT_TRUE(engine);
  auto store = storage::MvccStore::open(std::move(*engine));
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->compact_revision(), 20);
  // etcd's user alice (password "secret", hashed by Go's bcrypt) and role reader came along, auth off.
  auth::AuthStore users;
  ASSERT_TRUE(users.load((*store)->engine()));
  EXPECT_FALSE(users.enabled());
  ASSERT_NE(users.user("alice"), nullptr);
  EXPECT_TRUE(auth::bcrypt_verify("secret", users.user("alice")->password_hash));
  EXPECT_FALSE(auth::bcrypt_verify("wrong", users.user("alice")->password_hash));
  EXPECT_TRUE(users.permitted("alice", "fixture/key-0015", "", auth::PermKind::kRead));
  EXPECT_FALSE(users.permitted("alice", "other", "", auth::PermKind::kRead));
  storage::RangeRequest rr;
  rr.key = "fixture/key-0015";
  rr.revision = 150;  // history before its deletion
  auto got = (*store)->range(rr);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "value-15-" + std::string(30, 'x'));
  EXPECT_EQ((*store)->lease_ids().size(), 1u);
}

TEST(RestoreEtcd, DigestRulesAndMemberDb) {
  TempDir t;
  const std::string f = read_file(kFixture);
  // An etcd member's member/snap/db: the database alone, no digest.
  std::ofstream(t.path + "/db", std::ios::binary) << f.substr(0, f.size() - 32);
  auto no_hash = restore_member(options_for(t.path + "/db", t.path + "/a"));
  ASSERT_FALSE(no_hash);
  EXPECT_EQ(no_hash.error(), "snapshot missing hash but --skip-hash-check=false");
  EXPECT_FALSE(fs::exists(t.path + "/a"));
  auto o = options_for(t.path + "/db", t.path + "/a");
  o.skip_hash_check = true;
  auto ok = restore_member(o);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->revision, 181);
  auto st = snapshot_status(t.path + "/db");
  ASSERT_TRUE(st) << st.error();
  EXPECT_EQ(st->hash, 2028335538u);
  // A damaged byte: refused by the digest before anything is written.
  std::string bad = f;
  bad[40000] ^= 1;
  std::ofstream(t.path + "/bad.db", std::ios::binary) << bad;
  auto damaged = restore_member(options_for(t.path + "/bad.db", t.path + "/b"));
  ASSERT_FALSE(damaged);
  EXPECT_NE(damaged.error().find("sha256 checksum mismatch"), std::string::npos);
  EXPECT_FALSE(fs::exists(t.path + "/b"));
}

// Writes `engine` as an etcd snapshot (database + SHA-256), as Maintenance.Snapshot streams it.
std::string etcd_snapshot_of(storage::KvEngine& engine, const storage::etcd_backend::ExportInfo& info) {
  std::string db;
  storage::bbolt::StringSink sink(&db);
  auto s = storage::etcd_backend::export_store(engine, info, sink);
  EXPECT_TRUE(s) << s.error();
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(db.data()), db.size(), d);
  return db + std::string(reinterpret_cast<const char*>(d), sizeof d);
}

TEST(RestoreEtcd, CairnSnapshotInEtcdsFormatRoundTrips) {
  TempDir t;
  storage::MemoryEngine source;
  {
    auto store = storage::MvccStore::open(std::make_unique<storage::MemoryEngine>(source.disk()));
    ASSERT_TRUE(store);
    for (int i = 0; i < 50; ++i) {
      storage::PutRequest p;
      p.key = "k" + std::to_string(i % 7);
      p.value = std::string(i, 'v');
      ASSERT_TRUE((*store)->apply(100 + i, 6, p));
    }
  }
  std::ofstream(t.path + "/snap.db", std::ios::binary) << etcd_snapshot_of(source, {});
  auto o = options_for(t.path + "/snap.db", t.path + "/m1");
  auto r = restore_member(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->applied_index, 149u);
  EXPECT_EQ(r->applied_term, 6u);
  EXPECT_EQ(r->revision, 51);
  EXPECT_TRUE(r->warnings.empty());
  auto engine = storage::RocksEngine::open(o.data_dir + "/member/db");
  ASSERT_TRUE(engine);
  for (auto space : {storage::Space::kKeys, storage::Space::kLeases}) {
    auto a = source.scan(space, "", ""), b = (*engine)->scan(space, "", "");
    for (; a->valid(); a->next(), b->next()) {
      ASSERT_TRUE(b->valid());
      EXPECT_EQ(a->key(), b->key());
      EXPECT_EQ(a->value(), b->value());
    }
    EXPECT_FALSE(b->valid());
  }
}

TEST(RestoreEtcd, AuthUsersRolesAndTheEnabledFlagAreRestored) {
  TempDir t;
  storage::MemoryEngine source;
  storage::etcd_backend::ExportInfo info;
  info.auth.enabled = true;
  info.auth.revision = 7;
  authpb::User root, alice;
  root.set_name("root");
  root.set_password("$2b$04$abcdefghijklmnopqrstuu5UVOZWvnh3bmCQ7kZ9VnRW0Jz0pRsZ.");
  root.add_roles("root");
  alice.set_name("alice");
  alice.add_roles("reader");
  alice.mutable_options()->set_no_password(true);
  authpb::Role root_role, reader;
  root_role.set_name("root");
  reader.set_name("reader");
  for (const char* k : {"/b/", "/a/"}) {  // unsorted in the file: sorted when restored
    auto* p = reader.add_keypermission();
    p->set_permtype(authpb::Permission::READ);
    p->set_key(k);
    p->set_range_end(std::string(k, 2) + "0");
  }
  info.auth.users = {{"root", root.SerializeAsString()}, {"alice", alice.SerializeAsString()}};
  info.auth.roles = {{"root", root_role.SerializeAsString()}, {"reader", reader.SerializeAsString()}};
  std::ofstream(t.path + "/auth.db", std::ios::binary) << etcd_snapshot_of(source, info);
  auto o = options_for(t.path + "/auth.db", t.path + "/m1");
  auto r = restore_member(o);
  ASSERT_TRUE(r) << r.error();
  auto engine = storage::RocksEngine::open(o.data_dir + "/member/db");
  ASSERT_TRUE(engine);
  auth::AuthStore restored;
  ASSERT_TRUE(restored.load(**engine));
  EXPECT_TRUE(restored.enabled());
  EXPECT_EQ(restored.revision(), 7u);
  EXPECT_EQ(restored.token_floor(), 7u);  // tokens from before the snapshot are void
  ASSERT_NE(restored.user("root"), nullptr);
  EXPECT_EQ(restored.user("root")->password_hash, root.password());
  EXPECT_TRUE(restored.is_root("root"));
  ASSERT_NE(restored.user("alice"), nullptr);
  EXPECT_TRUE(restored.user("alice")->no_password);
  EXPECT_TRUE(restored.permitted("alice", "/a/x", "", auth::PermKind::kRead));
  EXPECT_FALSE(restored.permitted("alice", "/a/x", "", auth::PermKind::kWrite));
  EXPECT_FALSE(restored.permitted("alice", "/c", "", auth::PermKind::kRead));
  ASSERT_NE(restored.role("reader"), nullptr);
  EXPECT_EQ(restored.role("reader")->keypermission(0).key(), "/a/");
  // And back: the restored store exports the same users and roles.
  auto again = auth::export_auth(restored);
  EXPECT_EQ(again.enabled, std::optional<bool>(true));
  EXPECT_EQ(again.revision, 7u);
  EXPECT_EQ(again.users.size(), 2u);
  EXPECT_EQ(again.roles.size(), 2u);
}

TEST(RestoreEtcd, EnabledAuthWithoutARootUserIsRefusedAndLeavesNoDataDir) {
  TempDir t;
  storage::MemoryEngine source;
  storage::etcd_backend::ExportInfo info;
  info.auth.enabled = true;
  std::ofstream(t.path + "/auth.db", std::ios::binary) << etcd_snapshot_of(source, info);
  auto r = restore_member(options_for(t.path + "/auth.db", t.path + "/m1"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("root user does not hold the root role"), std::string::npos) << r.error();
  EXPECT_FALSE(fs::exists(t.path + "/m1"));
}

}  // namespace
}  // namespace cairn::server::node
