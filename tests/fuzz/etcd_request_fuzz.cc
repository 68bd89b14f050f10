// Fuzz target: etcd request messages, through the checks the gRPC layer makes before proposing and the
// apply path every member runs on the committed entry, on the deterministic in-memory engine. Each input
// is a sequence of records (u8 kind | u16 big-endian length | body): kind 0 is a RangeRequest read, any
// other kind is an entry kind (server/node/request_codec.h) whose body is the serialized etcd message.
// The whole input is also decoded as a raft entry payload. A request the store refuses must come back
// as an error value; nothing may crash, and the store must keep answering after each one.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "server/node/request_codec.h"
#include "storage/memory_engine.h"
#include "storage/mvcc_store.h"

namespace {

using namespace cairn;

void range(storage::MvccStore& store, std::string_view body) {
  etcdserverpb::RangeRequest pb;
  if (!pb.ParseFromArray(body.data(), static_cast<int>(body.size()))) return;
  storage::RangeRequest r = server::node::from_pb(pb);
  if (storage::MvccStore::validate_range(r)) return;
  auto resp = store.range(r);
  if (resp) {
    etcdserverpb::RangeResponse out;
    server::node::to_pb(*resp, &out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)server::node::decode_entry_payload(in);

  storage::StoreOptions opts;
  opts.quota_backend_bytes = 1 << 20;  // small enough for NOSPACE to be reachable
  opts.txn_ops_max = 16;
  auto opened = storage::MvccStore::open(std::make_unique<storage::MemoryEngine>(), opts);
  if (!opened) __builtin_trap();
  storage::MvccStore& store = **opened;
  std::uint64_t index = 1;
  while (in.size() >= 3) {
    auto kind = static_cast<std::uint8_t>(in[0]);
    std::size_t len = (static_cast<std::uint8_t>(in[1]) << 8) | static_cast<std::uint8_t>(in[2]);
    in.remove_prefix(3);
    len = std::min(len, in.size());
    std::string_view body = in.substr(0, len);
    in.remove_prefix(len);
    kind %= server::node::kEntryKindMax + 1;
    if (kind == 0) {
      range(store, body);
      continue;
    }
    auto req = server::node::to_apply_request(static_cast<server::node::EntryKind>(kind), body);
    if (!req) continue;
    if (storage::MvccStore::validate(*req, opts)) continue;  // refused before proposing
    auto resp = store.apply(index++, 1, *req);
    (void)resp;
  }
  storage::RangeRequest all;
  all.key = std::string(1, '\0');
  all.range_end = std::string(1, '\0');
  if (!store.range(all)) __builtin_trap();  // the store must still serve
  return 0;
}
