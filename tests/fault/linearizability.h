// A linearizability checker for histories of a per-key register (put, get, compare-and-set, delete),
// used by the fault-injection harness (tests/fault/fault_main.cc) to judge what real clients saw.
//
// Model, per key: the state is "absent" or one value.
//   put(v)            -> state = v
//   delete            -> state = absent; if the outcome reports `deleted`, it must equal (state was present)
//   get               -> must return the state (a value or absent)
//   cas(expected, v)  -> if state == expected: state = v, result true; else unchanged, result false
//                        (an absent key never compares equal, as etcd's value compare on a missing key)
//
// Outcomes:
//   kOk       completed with its result; it took effect once, between invoke and complete.
//   kFailed   definitely did not take effect (refused before it was proposed): dropped from the history.
//   kUnknown  timed out or the connection was lost: it may have taken effect at any time after its invoke,
//             or never. Modelled as completing at +infinity; it need not be linearized at all (an op
//             placed after every completed op is unobservable, which is the same as "never").
//             Unknown gets carry no information and are dropped. Unknown writes whose value no other
//             op mentions are interchangeable within their kind and are searched as pools (a pool's
//             earliest unused member first), so hundreds of them do not multiply the search space.
//
// Search (Wing & Gong, with Lowe's linked-list formulation and memoization as in P-compositional
// checkers): events (invocations and completions) sorted by time in a doubly linked list; an op whose
// invocation precedes every pending completion may be linearized next if the model accepts it; a
// completion reached with its op not yet linearized means backtracking. Each (set of linearized ops,
// state) pair is explored at most once. Histories are checked per key (a register per key composes).
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace cairn::tests::fault {

enum class OpKind { kPut, kGet, kCas, kDelete };
enum class Outcome { kOk, kFailed, kUnknown };

inline constexpr std::int64_t kNeverCompleted = std::numeric_limits<std::int64_t>::max();

struct Op {
  int client = 0;
  std::string key;
  OpKind kind = OpKind::kGet;
  std::string value;     // put: the value written; cas: the new value
  std::string expected;  // cas: the value compared against
  std::int64_t invoke_ns = 0;
  std::int64_t complete_ns = 0;  // ignored (treated as +infinity) for kUnknown
  Outcome outcome = Outcome::kOk;
  // Results of a kOk op.
  std::optional<std::string> read;  // get: the value seen, nullopt = key absent
  bool cas_succeeded = false;       // cas
  std::optional<bool> deleted;      // delete: whether a key was deleted, if known
};

std::string describe(const Op& op);

struct CheckOptions {
  // Bound on search steps per key; beyond it the verdict is kInconclusive (never counted as a pass).
  // About 7 M steps a second; 300 s soaks with 78k ops per key needed up to 40 M (2026-12-02).
  std::uint64_t steps_max = 200'000'000;
  // Bound on the memo table (about 56 bytes per explored state); beyond it: kInconclusive.
  std::size_t memo_bytes_max = std::size_t{4} << 30;
};

enum class Verdict { kLinearizable, kNotLinearizable, kInconclusive };

struct KeyResult {
  std::string key;
  Verdict verdict = Verdict::kLinearizable;
  std::size_t ops_checked = 0;  // ops of this key entering the search (failed ops and unknown gets dropped)
  std::uint64_t steps = 0;
  std::vector<Op> counterexample;  // smallest failing window found, when kNotLinearizable
  bool window_from_start = true;   // false: the window starts mid-history (its initial state is free)
};

// One key's history (every op must have this key). Initial state: absent.
KeyResult check_key(const std::vector<Op>& ops, const CheckOptions& options = {});

// Partitions by key and checks each key; results sorted by key.
std::vector<KeyResult> check_history(const std::vector<Op>& ops, const CheckOptions& options = {});

// Searches a smaller failing sub-history of a non-linearizable one: the shortest prefix (ops ordered by
// invocation) that fails, then the latest start for which that window still fails with any initial
// state. Heuristic (linearizability is not monotone in windows), but the result always fails.
KeyResult minimize(const std::vector<Op>& ops, const CheckOptions& options = {});

// A key's history as text, to replay the checker on it later (cairn_fault --check-history FILE):
// one op per line, fields separated by tabs:
//   client kind(put|get|cas|delete) outcome(ok|failed|unknown) invoke_ns complete_ns value expected
//   read(-: absent, else "=" + value) cas_succeeded(0|1) deleted(-|0|1) key
// Values must not contain tabs or newlines (the harness's values are printable tokens).
std::string format_history(const std::vector<Op>& ops);
// Parses format_history's output; false (and `error` set) on a malformed line.
bool parse_history(const std::string& text, std::vector<Op>* ops, std::string* error);

}  // namespace cairn::tests::fault
