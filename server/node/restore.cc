#include "server/node/restore.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/crc32c.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/raft_codec.h"
#include "server/auth/backend_format.h"
#include "server/node/node.h"
#include "server/node/snapshot_files.h"
#include "server/node/url.h"
#include "storage/bbolt/reader.h"
#include "storage/etcd_backend/import.h"
#include "storage/etcd_backend/status.h"
#include "storage/mvcc_store.h"
#include "storage/rocksdb_engine.h"
#include "wal/posix_file_system.h"
#include "wal/wal.h"

namespace cairn::server::node {

namespace {

namespace fs = std::filesystem;

constexpr size_t kDigestBytes = 32;
constexpr size_t kPaddingBytes = 512;
// Largest snapshot file read into memory (the whole file is read: it is checked before any use).
constexpr uint64_t kSnapshotBytesMax = 64ull << 30;

uint64_t get_be(std::string_view b) {
  uint64_t v = 0;
  for (char c : b)
    v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}
void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

Expected<std::string, std::string> read_all(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return unexpected("open " + path + ": " + ec.message());
  if (size > kSnapshotBytesMax)
    return unexpected(path + " is larger than " + std::to_string(kSnapshotBytesMax) + " bytes");
  std::ifstream f(path, std::ios::binary);
  if (!f) return unexpected("open " + path + ": " + std::strerror(errno));
  std::string data(size, '\0');
  if (!f.read(data.data(), static_cast<std::streamsize>(size)))
    return unexpected("read " + path + ": short read");
  return data;
}

Expected<SnapshotFileContents, std::string> load(const std::string& path, bool verify_digest) {
  auto data = read_all(path);
  if (!data) return unexpected(data.error());
  return parse_snapshot_file(*data, verify_digest);
}

// The checkpoint files as snapshot_files.h's packed directory, so unpack_dir writes and syncs them.
std::string pack(const SnapshotFileContents& c) {
  std::string out = "CAIRNDIR";
  put_be(out, c.files.size(), 4);
  for (const auto& [name, bytes] : c.files) {
    put_be(out, name.size(), 4);
    out += name;
    put_be(out, bytes.size(), 8);
    out += bytes;
  }
  put_be(out, base::crc32c_extend(0, out.data(), out.size()), 4);
  return out;
}

Expected<std::unique_ptr<storage::MvccStore>, std::string> open_store(const std::string& dir) {
  auto engine = storage::RocksEngine::open(dir);
  if (!engine) return unexpected("open store " + dir + ": " + engine.error().message());
  auto store = storage::MvccStore::open(std::move(*engine), storage::StoreOptions{});
  if (!store) return unexpected("open store " + dir + ": " + store.error().message());
  return std::move(*store);
}

}  // namespace

bool is_bbolt(const std::string& b) {
  // bbolt's first page is a meta page: a 16-byte page header, then the meta's u32 magic 0xED0CDAED
  // (little-endian on the machines etcd runs on).
  return b.size() >= 20 && static_cast<uint8_t>(b[16]) == 0xED && static_cast<uint8_t>(b[17]) == 0xDA &&
         static_cast<uint8_t>(b[18]) == 0x0C && static_cast<uint8_t>(b[19]) == 0xED;
}

Expected<SnapshotFileContents, std::string> parse_snapshot_file(const std::string& bytes,
                                                                bool verify_digest) {
  SnapshotFileContents out;
  std::string_view body = bytes;
  out.had_digest = bytes.size() % kPaddingBytes == kDigestBytes;
  if (out.had_digest) {
    body = body.substr(0, bytes.size() - kDigestBytes);
    if (verify_digest) {
      unsigned char d[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), d);
      if (std::memcmp(d, bytes.data() + body.size(), kDigestBytes) != 0)
        return unexpected(std::string("expected sha256 checksum mismatch: the snapshot file is damaged"));
    }
  } else if (verify_digest) {
    return unexpected(std::string("snapshot missing hash but --skip-hash-check=false"));
  }
  size_t pos = 0;
  while (body.size() - pos >= 4) {
    uint64_t nlen = get_be(body.substr(pos, 4));
    if (nlen == 0) break;  // the padding
    pos += 4;
    if (body.size() - pos < nlen + 8) return unexpected(std::string("snapshot file: truncated file entry"));
    std::string name(body.substr(pos, nlen));
    pos += nlen;
    uint64_t size = get_be(body.substr(pos, 8));
    pos += 8;
    if (body.size() - pos < size) return unexpected("snapshot file: truncated contents of " + name);
    if (name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
      return unexpected(std::string("snapshot file: bad file name"));
    out.files.emplace_back(std::move(name), std::string(body.substr(pos, size)));
    pos += size;
  }
  for (size_t i = pos; i < body.size(); ++i) {
    if (body[i] != '\0')
      return unexpected(std::string("snapshot file: unexpected bytes after the last file"));
  }
  if (out.files.empty()) return unexpected(std::string("snapshot file: no store files in it"));
  return out;
}

namespace {

// Whether `path` starts like a bbolt file.
Expected<bool, std::string> file_is_bbolt(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return unexpected("open " + path + ": " + std::strerror(errno));
  std::string head(20, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(f.gcount()));
  return is_bbolt(head);
}

// etcd's digest rule for a bbolt file (etcdctl's saveDB), reading the file in 1 MiB pieces.
Expected<bool, std::string> check_etcd_digest(const std::string& path, bool skip) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return unexpected("open " + path + ": " + ec.message());
  if (size % kPaddingBytes != kDigestBytes) {
    if (skip) return true;
    return unexpected(std::string("snapshot missing hash but --skip-hash-check=false"));
  }
  if (skip) return true;
  std::ifstream f(path, std::ios::binary);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  std::string buf(1 << 20, '\0');
  for (uint64_t left = size - kDigestBytes; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    if (!f.read(buf.data(), static_cast<std::streamsize>(n)))
      return unexpected("read " + path + ": short read");
    EVP_DigestUpdate(sha.get(), buf.data(), n);
    left -= n;
  }
  unsigned char want[kDigestBytes], got[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(sha.get(), got, &len);
  if (!f.read(reinterpret_cast<char*>(want), kDigestBytes) || len != kDigestBytes ||
      std::memcmp(want, got, kDigestBytes) != 0)
    return unexpected(std::string("expected sha256 checksum mismatch: the snapshot file is damaged"));
  return true;
}

Expected<SnapshotStatus, std::string> etcd_status(const std::string& path) {
  auto reader = storage::bbolt::Reader::open_file(path);
  if (!reader) return unexpected(reader.error());
  auto st = storage::etcd_backend::backend_status(**reader);
  if (!st) return unexpected(path + ": " + st.error());
  return SnapshotStatus{st->hash, st->revision, st->total_keys, st->total_size, 0};
}

Expected<SnapshotStatus, std::string> legacy_status(const std::string& path) {
  auto c = load(path, /*verify_digest=*/false);
  if (!c) return unexpected(c.error());
  std::string tmpl = (fs::temp_directory_path() / "cairnctl-snapshot-status.XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return unexpected(std::string("mkdtemp: ") + std::strerror(errno));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{tmpl};
  std::string dir = tmpl + "/db";
  if (auto u = unpack_dir(pack(*c), dir); !u) return unexpected(u.error());
  SnapshotStatus st;
  for (const auto& [name, bytes] : c->files)
    st.total_size += static_cast<int64_t>(bytes.size());
  auto store = open_store(dir);
  if (!store) return unexpected(store.error());
  auto& s = **store;
  st.revision = s.revision();
  st.applied_index = s.applied().index;
  auto h = s.hash_kv(0);
  if (!h) return unexpected("hash: " + h.error().message());
  st.hash = h->hash;
  for (auto space :
       {storage::Space::kKeys, storage::Space::kLeases, storage::Space::kMeta, storage::Space::kAuth}) {
    auto it = s.engine().scan(space, "", "");
    for (; it->valid(); it->next())
      ++st.total_keys;
    if (auto e = it->status(); !e) return unexpected("scan: " + e.error().message());
  }
  return st;
}

// The new membership, as a starting member derives it (server/app/flags.cc).
struct Membership {
  std::vector<MemberInfo> members;
  std::vector<uint64_t> ids;
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
};

Expected<Membership, std::string> plan_membership(const RestoreOptions& o) {
  std::map<std::string, std::vector<std::string>> by_name;
  std::vector<std::string> order;
  for (const auto& item : split_list(o.initial_cluster)) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return unexpected("--initial-cluster: \"" + item + "\" is not name=url");
    std::string n = item.substr(0, eq), u = item.substr(eq + 1);
    if (!parse_url(u)) return unexpected("--initial-cluster: invalid URL \"" + u + "\"");
    if (!by_name.count(n)) order.push_back(n);
    by_name[n].push_back(u);
  }
  if (!by_name.count(o.name))
    return unexpected("couldn't find local name \"" + o.name + "\" in the initial cluster configuration");
  auto self_urls = split_list(o.initial_advertise_peer_urls);
  {
    auto a = by_name[o.name], b = self_urls;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b)
      return unexpected("--initial-cluster has " + o.name + "=" + by_name[o.name].front() +
                        " but missing from --initial-advertise-peer-urls=" + o.initial_advertise_peer_urls);
  }
  Membership m;
  for (const auto& n : order) {
    MemberInfo mi;
    mi.name = n;
    mi.peer_urls = by_name[n];
    mi.id = derive_member_id(mi.peer_urls, o.initial_cluster_token);
    if (std::find(m.ids.begin(), m.ids.end(), mi.id) != m.ids.end())
      return unexpected("--initial-cluster: two members have the same peer URLs");
    m.ids.push_back(mi.id);
    m.members.push_back(mi);
  }
  m.member_id = derive_member_id(self_urls, o.initial_cluster_token);
  m.cluster_id = derive_cluster_id(m.ids);
  return m;
}

// Imports an etcd backend file into a new RocksDB store at db_dir.
Expected<bool, std::string> import_etcd(const std::string& path, const std::string& db_dir,
                                        RestoreResult* res) {
  auto reader = storage::bbolt::Reader::open_file(path);
  if (!reader) return unexpected(reader.error());
  auto engine = storage::RocksEngine::open(db_dir);
  if (!engine) return unexpected("create store " + db_dir + ": " + engine.error().message());
  auto sum = storage::etcd_backend::import_backend(**reader, **engine);
  if (!sum) return unexpected(path + ": " + sum.error());
  res->warnings = sum->warnings;
  // Users, roles and the enabled flag come along, so the restored cluster enforces the same rules.
  if (sum->has_auth) {
    if (auto a = auth::import_auth(sum->auth, **engine); !a) return unexpected(path + ": " + a.error());
  }
  return true;
}

Expected<bool, std::string> unpack_legacy(const SnapshotFileContents& c, const std::string& db_dir) {
  if (auto u = unpack_dir(pack(c), db_dir); !u) return unexpected(u.error());
  return true;
}

// The new member's WAL: membership, a snapshot marker at the store's applied index, committed there.
Expected<bool, std::string> write_wal(const std::string& wal_dir, const Membership& m,
                                      const RestoreResult& res) {
  raft::ConfState cs;
  cs.voters = m.ids;
  std::sort(cs.voters.begin(), cs.voters.end());
  wal::PosixFileSystem pfs;
  std::error_code ec;
  fs::create_directories(wal_dir, ec);
  if (ec) return unexpected("create " + wal_dir + ": " + ec.message());
  auto opened = wal::Wal::open(pfs, wal_dir);
  if (!opened) return unexpected("create WAL " + wal_dir + ": " + opened.error().message());
  auto& w = *opened->wal;
  raft::SnapshotMetadata snap;
  snap.conf_state = cs;
  snap.index = res.applied_index;
  snap.term = res.applied_term;
  raft::HardState hs;
  hs.term = res.applied_term;
  hs.commit = res.applied_index;
  if (auto s = w.set_metadata(encode_wal_metadata(cs, /*conf_index=*/res.applied_index, res.cluster_id,
                                                  res.member_id, m.members));
      !s.is_ok())
    return unexpected("WAL: " + s.message());
  if (auto s = w.save_snapshot(snap); !s.is_ok()) return unexpected("WAL: " + s.message());
  if (auto s = w.append({}, &hs); !s.is_ok()) return unexpected("WAL: " + s.message());
  if (auto d = w.sync(); !d) return unexpected("WAL sync: " + d.error().message());
  if (auto s = w.close(); !s.is_ok()) return unexpected("WAL close: " + s.message());
  return true;
}

// Removes a data dir that a failed restore created, unless released.
struct RemoveOnFailure {
  std::string dir;
  bool keep = false;
  ~RemoveOnFailure() {
    std::error_code ec;
    if (!keep) fs::remove_all(dir, ec);
  }
};

}  // namespace

Expected<SnapshotStatus, std::string> snapshot_status(const std::string& path) {
  auto bbolt = file_is_bbolt(path);
  if (!bbolt) return unexpected(bbolt.error());
  return *bbolt ? etcd_status(path) : legacy_status(path);
}

Expected<RestoreResult, std::string> restore_member(const RestoreOptions& o) {
  auto m = plan_membership(o);
  if (!m) return unexpected(m.error());
  RestoreResult res;
  res.member_id = m->member_id;
  res.cluster_id = m->cluster_id;
  std::error_code ec;
  if (fs::exists(o.data_dir, ec)) return unexpected("data-dir \"" + o.data_dir + "\" exists");
  auto bbolt = file_is_bbolt(o.snapshot_path);
  if (!bbolt) return unexpected(bbolt.error());
  // Everything that can be checked before writing is checked first.
  std::optional<SnapshotFileContents> legacy;
  if (*bbolt) {
    if (auto d = check_etcd_digest(o.snapshot_path, o.skip_hash_check); !d) return unexpected(d.error());
  } else {
    auto c = load(o.snapshot_path, !o.skip_hash_check);
    if (!c) return unexpected(c.error());
    legacy = std::move(*c);
  }
  const std::string member_dir = o.data_dir + "/member";
  fs::create_directories(member_dir, ec);
  if (ec) return unexpected("create " + member_dir + ": " + ec.message());
  RemoveOnFailure cleanup{o.data_dir};
  const std::string db_dir = member_dir + "/db";
  auto filled = *bbolt ? import_etcd(o.snapshot_path, db_dir, &res) : unpack_legacy(*legacy, db_dir);
  if (!filled) return unexpected(filled.error());
  {
    auto store = open_store(db_dir);
    if (!store) return unexpected(store.error());
    res.applied_index = (*store)->applied().index;
    res.applied_term = std::max<uint64_t>((*store)->applied().term, 1);
    res.revision = (*store)->revision();
    if (auto s = (*store)->engine().sync(); !s) return unexpected("sync store: " + s.error().message());
  }
  if (res.applied_index == 0) return unexpected(std::string("the snapshot's store has no applied entries"));
  if (auto w = write_wal(member_dir + "/wal", *m, res); !w) return unexpected(w.error());
  cleanup.keep = true;
  return res;
}

}  // namespace cairn::server::node
