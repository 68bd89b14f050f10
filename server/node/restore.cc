#include "server/node/restore.h"

#include <openssl/sha.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "proto/etcd/rpc.pb.h"
#include "proto/raft_codec.h"
#include "server/node/node.h"
#include "server/node/snapshot_files.h"
#include "server/node/url.h"
#include "storage/mvcc_store.h"
#include "storage/rocksdb_engine.h"
#include "wal/crc32c.h"
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
  if (is_bbolt(*data))
    return unexpected(path +
                      " is an etcd (bbolt) snapshot: cairnctl can only read snapshots saved from a cairn "
                      "member; use etcdctl snapshot status/restore for etcd's");
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
  put_be(out, wal::crc32c_extend(0, out.data(), out.size()), 4);
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

Expected<SnapshotStatus, std::string> snapshot_status(const std::string& path) {
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
  for (auto space : {storage::Space::kKeys, storage::Space::kLeases, storage::Space::kMeta, storage::Space::kAuth}) {
    auto it = s.engine().scan(space, "", "");
    for (; it->valid(); it->next())
      ++st.total_keys;
    if (auto e = it->status(); !e) return unexpected("scan: " + e.error().message());
  }
  return st;
}

Expected<RestoreResult, std::string> restore_member(const RestoreOptions& o) {
  // The new membership, as a starting member derives it (server/app/flags.cc).
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
  std::vector<MemberInfo> members;
  std::vector<uint64_t> ids;
  for (const auto& n : order) {
    MemberInfo m;
    m.name = n;
    m.peer_urls = by_name[n];
    m.id = derive_member_id(m.peer_urls, o.initial_cluster_token);
    if (std::find(ids.begin(), ids.end(), m.id) != ids.end())
      return unexpected("--initial-cluster: two members have the same peer URLs");
    ids.push_back(m.id);
    members.push_back(m);
  }
  RestoreResult res;
  res.member_id = derive_member_id(self_urls, o.initial_cluster_token);
  res.cluster_id = derive_cluster_id(ids);

  std::error_code ec;
  if (fs::exists(o.data_dir, ec)) return unexpected("data-dir \"" + o.data_dir + "\" exists");
  auto contents = load(o.snapshot_path, !o.skip_hash_check);
  if (!contents) return unexpected(contents.error());

  const std::string member_dir = o.data_dir + "/member";
  fs::create_directories(member_dir, ec);
  if (ec) return unexpected("create " + member_dir + ": " + ec.message());
  const std::string db_dir = member_dir + "/db";
  if (auto u = unpack_dir(pack(*contents), db_dir); !u) return unexpected(u.error());
  {
    auto store = open_store(db_dir);
    if (!store) return unexpected(store.error());
    res.applied_index = (*store)->applied().index;
    res.applied_term = std::max<uint64_t>((*store)->applied().term, 1);
    res.revision = (*store)->revision();
    if (auto s = (*store)->engine().sync(); !s) return unexpected("sync store: " + s.error().message());
  }
  if (res.applied_index == 0) return unexpected(std::string("the snapshot's store has no applied entries"));

  raft::ConfState cs;
  cs.voters = ids;
  std::sort(cs.voters.begin(), cs.voters.end());
  wal::PosixFileSystem pfs;
  const std::string wal_dir = member_dir + "/wal";
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
  if (auto s = w.set_metadata(
          encode_wal_metadata(cs, /*conf_index=*/res.applied_index, res.cluster_id, res.member_id, members));
      !s.is_ok())
    return unexpected("WAL: " + s.message());
  if (auto s = w.save_snapshot(snap); !s.is_ok()) return unexpected("WAL: " + s.message());
  if (auto s = w.append({}, &hs); !s.is_ok()) return unexpected("WAL: " + s.message());
  if (auto d = w.sync(); !d) return unexpected("WAL sync: " + d.error().message());
  if (auto s = w.close(); !s.is_ok()) return unexpected("WAL close: " + s.message());
  return res;
}

}  // namespace cairn::server::node
