// A seeded stream of apply requests (puts, deletes, txns, compactions, leases, and requests that
// fail) and a fingerprint of a store's state, shared by the crash and snapshot tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "storage/mvcc_store.h"

namespace cairn::storage::testing {

std::vector<ApplyRequest> make_workload(uint64_t seed, int entries);

// Revision, compaction, alarms, leases and the HashKV/Hash of the store: equal fingerprints mean
// equal MVCC state.
std::string fingerprint(MvccStore& store);

}  // namespace cairn::storage::testing
