// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/seed-*) from the real encoders,
// so the seeds follow the formats when they change:  build-asan/bin/fuzz_make_seeds tests/fuzz/corpus
// Built, not registered as a test. Crash inputs kept as regression tests (crash-*) are not touched.
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/raft_codec.h"
#include "server/node/request_codec.h"
#include "server/node/snapshot_files.h"
#include "tests/lib/sim_file_system.h"
#include "wal/wal.h"

namespace {

namespace fs = std::filesystem;
using namespace cairn;

fs::path g_root;

void write_seed(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_root / target);
  std::ofstream(g_root / target / ("seed-" + name), std::ios::binary) << bytes;
}

std::string u16(std::size_t n) {
  return {static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
}
std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string be64(std::uint64_t v) {
  return be32(static_cast<std::uint32_t>(v >> 32)) + be32(static_cast<std::uint32_t>(v));
}

std::vector<raft::Message> raft_messages() {
  std::vector<raft::Message> out;
  raft::Message app;
  app.type = raft::MessageType::kApp;
  app.from = 2, app.to = 1, app.term = 5, app.log_term = 0, app.index = 0, app.commit = 1;
  app.entries.push_back(raft::Entry{5, 1, raft::EntryType::kNormal, "x"});
  out.push_back(app);
  raft::Message vote;
  vote.type = raft::MessageType::kVote;
  vote.from = 3, vote.to = 1, vote.term = 6, vote.log_term = 5, vote.index = 1;
  out.push_back(vote);
  raft::Message hb;
  hb.type = raft::MessageType::kHeartbeat;
  hb.from = 2, hb.to = 1, hb.term = 5, hb.commit = 1;
  out.push_back(hb);
  raft::Message resp;
  resp.type = raft::MessageType::kAppResp;
  resp.from = 2, resp.to = 1, resp.term = 2, resp.index = 1;
  out.push_back(resp);
  raft::Message prop;
  prop.type = raft::MessageType::kProp;
  prop.from = 2, prop.to = 1;
  out.push_back(prop);  // no entries: must be refused, never assert
  raft::Message snap;
  snap.type = raft::MessageType::kSnap;
  snap.from = 2, snap.to = 1, snap.term = 5;
  snap.snapshot.metadata.index = 10, snap.snapshot.metadata.term = 4;
  snap.snapshot.metadata.conf_state.voters = {1, 2, 3};
  snap.snapshot.data = "d";
  out.push_back(snap);
  raft::Message ri;
  ri.type = raft::MessageType::kReadIndex;
  ri.from = 2, ri.to = 1, ri.context = "ctx";
  out.push_back(ri);
  return out;
}

void raft_seeds() {
  auto msgs = raft_messages();
  for (std::uint8_t role = 0; role < 4; ++role) {
    std::string all(1, static_cast<char>(role));
    for (const auto& m : msgs) {
      std::string e = proto::encode(m);
      all += u16(e.size()) + e;
    }
    write_seed("raft_message", "role" + std::to_string(role), all);
  }
}

std::string frame(std::uint8_t type, const std::string& payload) {
  std::string t(1, static_cast<char>(type));
  std::uint32_t crc = base::crc32c_extend(base::crc32c(t), payload.data(), payload.size());
  return be32(static_cast<std::uint32_t>(payload.size())) + be32(crc) + t + payload;
}

void peer_seeds() {
  std::string hello = frame(1, "CAIRNPT1" + be64(2) + be64(0x1234));
  std::string s = hello;
  for (const auto& m : raft_messages())
    s += frame(2, proto::encode(m));
  write_seed("peer_frames", "messages", std::string(1, '\x06') + s);
  std::string big = proto::encode(raft_messages()[0]);
  std::string chunks = hello + frame(3, be64(7) + be64(big.size()) + be32(base::crc32c(big))) +
                       frame(4, be64(7) + big.substr(0, 5)) + frame(4, be64(7) + big.substr(5)) +
                       frame(5, be64(7));
  write_seed("peer_frames", "chunks", std::string(1, '\x00') + chunks);
  write_seed("peer_frames", "foreign-cluster",
             std::string(1, '\x00') + frame(1, "CAIRNPT1" + be64(2) + be64(99)));
}

void etcd_request_seeds() {
  std::string s;
  auto rec = [&s](int kind, const google::protobuf::Message& m) {
    std::string b = m.SerializeAsString();
    s += std::string(1, static_cast<char>(kind)) + u16(b.size()) + b;
  };
  etcdserverpb::PutRequest put;
  put.set_key("a");
  put.set_value("1");
  rec(1, put);
  put.set_key("b");
  put.set_prev_kv(true);
  rec(1, put);
  etcdserverpb::LeaseGrantRequest lg;
  lg.set_id(7);
  lg.set_ttl(60);
  rec(7, lg);
  etcdserverpb::TxnRequest txn;
  auto* c = txn.add_compare();
  c->set_key("a");
  c->set_target(etcdserverpb::Compare::VALUE);
  c->set_value("1");
  auto* op = txn.add_success()->mutable_request_put();
  op->set_key("c");
  op->set_lease(7);
  txn.add_failure()->mutable_request_range()->set_key("a");
  rec(3, txn);
  etcdserverpb::RangeRequest rr;
  rr.set_key("a");
  rr.set_range_end("z");
  rr.set_limit(2);
  rec(0, rr);
  etcdserverpb::DeleteRangeRequest dr;
  dr.set_key("a");
  dr.set_range_end("b");
  dr.set_prev_kv(true);
  rec(2, dr);
  etcdserverpb::CompactionRequest cr;
  cr.set_revision(2);
  rec(4, cr);
  etcdserverpb::LeaseRevokeRequest lr;
  lr.set_id(7);
  rec(8, lr);
  write_seed("etcd_request", "mixed", s);
}

void wal_seeds() {
  wal::SimFileSystem sim;
  wal::WalOptions o;
  o.segment_size_bytes_max = 64 * 1024;
  o.preallocate = false;
  auto w = wal::Wal::open(sim, "/wal", o);
  if (!w) return;
  (void)w->wal->set_metadata("meta");
  std::vector<raft::Entry> es;
  for (raft::Index i = 1; i <= 4; ++i)
    es.push_back(raft::Entry{1, i, raft::EntryType::kNormal, "entry" + std::to_string(i)});
  raft::HardState hs{1, 1, 2};
  (void)w->wal->append(es, &hs);
  raft::SnapshotMetadata sm;
  sm.index = 2, sm.term = 1;
  sm.conf_state.voters = {1};
  (void)w->wal->save_snapshot(sm);
  (void)w->wal->sync();
  (void)w->wal->close();
  auto bytes = sim.read_file("/wal/" + wal::format::segment_name(1, 1));
  if (!bytes) return;
  write_seed("wal_segment", "plain", std::string(1, '\x00') + *bytes);
  write_seed("wal_segment", "fixcrc", std::string(1, '\x01') + *bytes);
  write_seed("wal_segment", "earlier-segment", std::string(1, '\x03') + *bytes);
}

void snapshot_seeds() {
  fs::path dir = fs::temp_directory_path() / "cairn-make-seeds-snap";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "CURRENT") << "MANIFEST-000001\n";
  std::ofstream(dir / "000001.sst") << std::string(40, 's');
  auto packed = server::node::pack_dir(dir.string());
  fs::remove_all(dir);
  if (!packed) return;
  std::string blob = server::node::encode_snapshot_data("members", *packed);
  write_seed("snapshot", "plain", std::string(1, '\x00') + blob);
  write_seed("snapshot", "fixcrc", std::string(1, '\x01') + blob);
  // Mode bits 1-3 choose the piece size the streaming writer is fed: 64 bytes, and the whole store.
  write_seed("snapshot", "pieces64", std::string(1, '\x09') + blob);
  write_seed("snapshot", "whole", std::string(1, '\x0f') + blob);
}

// HTTP/2 client bytes after the preface (the target adds the preface), made by nghttp2's client.
std::string h2_client_bytes(const std::string& path, const std::string& grpc_message, bool end) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session* s = nullptr;
  nghttp2_session_client_new(&s, cbs, nullptr);
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, nullptr, 0);
  struct Body {
    std::string data;
    std::size_t off = 0;
    bool end;
  } body{"\0" + be32(static_cast<std::uint32_t>(grpc_message.size())) + grpc_message, 0, end};
  body.data[0] = 0;
  nghttp2_data_provider dp;
  dp.source.ptr = &body;
  dp.read_callback = [](nghttp2_session*, int32_t, std::uint8_t* buf, std::size_t len, std::uint32_t* flags,
                        nghttp2_data_source* src, void*) -> ssize_t {
    auto* b = static_cast<Body*>(src->ptr);
    std::size_t n = std::min(len, b->data.size() - b->off);
    std::copy_n(b->data.data() + b->off, n, buf);
    b->off += n;
    if (b->off == b->data.size() && b->end) *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (n == 0 && !b->end) return NGHTTP2_ERR_DEFERRED;  // a stream that stays open
    return static_cast<ssize_t>(n);
  };
  auto nv = [](const char* n, const std::string& v) {
    return nghttp2_nv{(std::uint8_t*)n, (std::uint8_t*)v.data(), std::strlen(n), v.size(),
                      NGHTTP2_NV_FLAG_NONE};
  };
  std::string method = "POST", scheme = "http", authority = "localhost", ct = "application/grpc",
              te = "trailers", timeout = "5S";
  std::vector<nghttp2_nv> hdrs{nv(":method", method),       nv(":scheme", scheme),  nv(":path", path),
                               nv(":authority", authority), nv("content-type", ct), nv("te", te),
                               nv("grpc-timeout", timeout)};
  nghttp2_submit_request(s, nullptr, hdrs.data(), hdrs.size(), &dp, nullptr);
  nghttp2_submit_ping(s, NGHTTP2_FLAG_NONE, nullptr);
  std::string out;
  const std::uint8_t* data = nullptr;
  while (true) {
    ssize_t n = nghttp2_session_mem_send(s, &data);
    if (n <= 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  nghttp2_session_del(s);
  nghttp2_session_callbacks_del(cbs);
  std::string preface = NGHTTP2_CLIENT_MAGIC;
  if (out.compare(0, preface.size(), preface) == 0) out.erase(0, preface.size());
  return out;
}

void h2_seeds() {
  etcdserverpb::RangeRequest rr;
  rr.set_key("foo");
  write_seed(
      "h2_grpc", "unary",
      std::string(1, '\x04') + h2_client_bytes("/etcdserverpb.KV/Range", rr.SerializeAsString(), true));
  write_seed(
      "h2_grpc", "unary-bytewise",
      std::string(1, '\x00') + h2_client_bytes("/etcdserverpb.KV/Range", rr.SerializeAsString(), true));
  etcdserverpb::WatchRequest w;
  w.mutable_create_request()->set_key("k");
  write_seed(
      "h2_grpc", "stream",
      std::string(1, '\x03') + h2_client_bytes("/etcdserverpb.Watch/Watch", w.SerializeAsString(), false));
  write_seed("h2_grpc", "unknown-method", std::string(1, '\x02') + h2_client_bytes("/nope.X/Y", "", true));
}

void http1_seeds() {
  auto post = [](const std::string& path, const std::string& body, const std::string& extra = "") {
    return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  write_seed("http1_gateway", "range",
             "\x04" + post("/v3/kv/range", R"({"key":"Zm9v","range_end":"Zm9w","limit":"10"})"));
  write_seed(
      "http1_gateway", "put-pipelined",
      "\x03" + post("/v3/kv/put", R"({"key":"YQ==","value":"Yg==","lease":"0"})") +
          post(
              "/v3/kv/txn",
              R"({"compare":[{"key":"YQ==","target":"VALUE","value":"Yg=="}],"success":[{"request_put":{"key":"Yw==","value":"ZA=="}}]})"));
  write_seed("http1_gateway", "chunked",
             std::string("\x02") +
                 "POST /v3/lease/grant HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n5\r\n{\"TTL\r\n7\r\n\":\"60\"}\r\n0\r\n\r\n");
  write_seed(
      "http1_gateway", "get-health",
      std::string("\x00") + "GET /health HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n");
  write_seed("http1_gateway", "bad-json", "\x04" + post("/v3/kv/put", R"({"key":123,"value":[}")"));
}

void config_seeds() {
  write_seed(
      "config_file", "basic",
      "name: 'infra1'\ndata-dir: /tmp/x\nlisten-client-urls: http://127.0.0.1:2379\n"
      "initial-cluster: infra1=http://127.0.0.1:2380\nheartbeat-interval: 100\nelection-timeout: 1000\n"
      "log-outputs: [stderr]\nauto-compaction-retention: '1h'\n");
  write_seed(
      "config_file", "tls",
      "client-transport-security:\n  cert-file: a.pem\n  key-file: b.pem\n  client-cert-auth: true\n"
      "peer-transport-security:\n  auto-tls: true\n  allowed-cn: x\ncors: ['*']\nhost-whitelist: 'a,b'\n");
  write_seed("config_file", "odd", "? [a]\n: {b: c}\n--- !!binary\n&x *x\nquota-backend-bytes: 1e99\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  g_root = argv[1];
  raft_seeds();
  peer_seeds();
  etcd_request_seeds();
  wal_seeds();
  snapshot_seeds();
  h2_seeds();
  http1_seeds();
  config_seeds();
  return 0;
}
