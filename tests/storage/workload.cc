#include "tests/storage/workload.h"

#include <sstream>

#include "tests/storage/harness.h"

namespace cairn::storage::testing {

std::vector<ApplyRequest> make_workload(uint64_t seed, int entries) {
  std::mt19937_64 rng(seed);
  const std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4"};
  auto key = [&] { return keys[rng() % keys.size()]; };
  std::vector<ApplyRequest> out;
  int64_t rev_guess = 1;  // only used to aim compactions roughly at the present
  int64_t next_lease = 1;
  for (int i = 0; i < entries; ++i) {
    const int kind = static_cast<int>(rng() % 20);
    if (kind < 7) {
      PutRequest p;
      p.key = key();
      p.value = numbered("v", i);
      if (next_lease > 1 && rng() % 3 == 0)
        p.lease = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(next_lease));
      out.push_back(p);
      ++rev_guess;
    } else if (kind < 9) {
      DeleteRangeRequest d;
      d.key = key();
      if (rng() % 2) d.range_end = "k3";
      out.push_back(d);
    } else if (kind < 13) {
      TxnRequest t;
      Compare c;
      c.key = key();
      c.target = Compare::Target::kVersion;
      c.result = Compare::Result::kGreater;
      c.version = 1;
      t.compare.push_back(c);
      std::string a = key(), b = key();
      while (b == a)
        b = key();
      t.success.push_back(RequestOp{PutRequest{a, numbered("t", i), 0, false, false, false}});
      t.success.push_back(RequestOp{DeleteRangeRequest{b, {}, false}});
      t.failure.push_back(RequestOp{PutRequest{b, numbered("f", i), 0, false, false, false}});
      if (rng() % 4 == 0) {
        // Fails as a whole (ignore_value on a key that may be missing) after an earlier put.
        t.failure.push_back(RequestOp{PutRequest{a, {}, 0, false, true, false}});
      }
      out.push_back(t);
      ++rev_guess;
    } else if (kind < 14) {
      out.push_back(
          CompactionRequest{std::max<int64_t>(1, rev_guess - static_cast<int64_t>(rng() % 4)), false});
    } else if (kind < 16) {
      out.push_back(LeaseGrantRequest{30, next_lease++});
    } else if (kind < 17) {
      out.push_back(LeaseRevokeRequest{1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(next_lease))});
    } else if (kind < 18) {
      LeaseCheckpointRequest c;
      c.checkpoints.push_back(
          LeaseCheckpoint{1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(next_lease)),
                          static_cast<int64_t>(rng() % 30)});
      out.push_back(c);
    } else if (kind < 19) {
      out.push_back(PutRequest{"", "empty key fails", 0, false, false, false});
    } else {
      out.push_back(NoopRequest{});
    }
  }
  return out;
}

std::string fingerprint(MvccStore& store) {
  std::ostringstream o;
  o << "rev=" << store.revision() << " compact=" << store.compact_revision()
    << " alarms=" << store.alarms().size();
  auto h = store.hash();
  o << " hash=" << (h ? std::to_string(h->hash) : h.error().message());
  if (store.compact_revision() < store.revision()) {
    auto hk = store.hash_kv(0);
    o << " hashkv=" << (hk ? std::to_string(hk->hash) : hk.error().message());
  }
  for (int64_t id : store.lease_ids()) {
    auto l = store.lease(id);
    o << " lease" << id << "(" << l->ttl << "," << l->remaining_ttl << "," << l->keys.size() << ")";
  }
  o << " logical=" << store.logical_size_bytes();
  return o.str();
}

}  // namespace cairn::storage::testing
