#include "tests/fault/linearizability.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace cairn::tests::fault {

namespace {

constexpr int kAbsent = 0;   // interned state: the key does not exist
constexpr int kUnseen = -1;  // interned state: a value that no other op of the window ever mentions

// An op with interned values, ready for the search.
struct Prepared {
  OpKind kind;
  bool unknown;
  int value;     // put / cas new
  int expected;  // cas
  int read;      // get result
  bool cas_succeeded;
  std::optional<bool> deleted;
  std::int64_t invoke_ns;
  std::int64_t complete_ns;
  // >= 0: an unseen unknown write (see prepare), interchangeable with the other members of its pool.
  int pool = -1;
};

class Interner {
 public:
  int id(const std::string& v) {
    auto [it, inserted] = ids_.try_emplace(v, static_cast<int>(ids_.size()) + 1);
    return it->second;
  }

 private:
  std::unordered_map<std::string, int> ids_;
};

// Ops that enter the search: failed ops did not happen, unknown gets say nothing.
bool relevant(const Op& op) {
  if (op.outcome == Outcome::kFailed) return false;
  if (op.outcome == Outcome::kUnknown && op.kind == OpKind::kGet) return false;
  return true;
}

// Unseen unknown writes. An unknown put or CAS whose value is written once and that no other op of
// the window reads or compares against (whatever its outcome) can only ever make the register hold
// "some value nobody looks at": its value is replaced by kUnseen. Two such ops of the same kind (and,
// for a CAS, the same expected value) then have the same effect and no completion deadline, so they
// are interchangeable: they form a pool, and the search only ever linearizes a pool's earliest-invoked
// member that is not linearized yet (any linearization that uses a later member first is the same one
// with the two swapped, both being invoked by then). This keeps hundreds of timed-out writes from
// doubling the search space each, which the witness pass alone cannot avoid once a failed CAS needs
// one of them to have happened. Unknown deletes form one more pool (each makes the key absent; an
// unknown outcome carries no deleted count).
void mark_unseen_writes(const std::vector<Op>& ops, std::vector<Prepared>& out) {
  std::unordered_map<std::string, int> writes, mentions;
  for (const Op& op : ops) {
    if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) writes[op.value]++;
    if (op.kind == OpKind::kCas) mentions[op.expected]++;
    if (op.kind == OpKind::kGet && op.read) mentions[*op.read]++;
  }
  std::map<std::pair<OpKind, int>, int> pools;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    Prepared& p = out[i];
    if (p.unknown && op.kind == OpKind::kDelete) {  // every unknown delete makes the key absent
      p.pool = pools.try_emplace({op.kind, kAbsent}, static_cast<int>(pools.size())).first->second;
      continue;
    }
    if (!p.unknown || (op.kind != OpKind::kPut && op.kind != OpKind::kCas)) continue;
    if (writes[op.value] != 1 || mentions.count(op.value) != 0) continue;
    p.value = kUnseen;
    p.pool = pools.try_emplace({op.kind, p.expected}, static_cast<int>(pools.size())).first->second;
  }
}

std::vector<Prepared> prepare(const std::vector<Op>& ops, Interner& in) {
  std::vector<Prepared> out;
  out.reserve(ops.size());
  for (const Op& op : ops) {
    Prepared p{};
    p.kind = op.kind;
    p.unknown = op.outcome == Outcome::kUnknown;
    p.value = op.kind == OpKind::kPut || op.kind == OpKind::kCas ? in.id(op.value) : kAbsent;
    p.expected = op.kind == OpKind::kCas ? in.id(op.expected) : kAbsent;
    p.read = op.kind == OpKind::kGet && op.read ? in.id(*op.read) : kAbsent;
    p.cas_succeeded = op.cas_succeeded;
    p.deleted = op.deleted;
    p.invoke_ns = op.invoke_ns;
    p.complete_ns = p.unknown ? kNeverCompleted : op.complete_ns;
    out.push_back(p);
  }
  mark_unseen_writes(ops, out);
  return out;
}

// The register model: applies `o` to `state`; false if the op's recorded result is impossible there.
bool step(const Prepared& o, int state, int& next) {
  switch (o.kind) {
    case OpKind::kPut:
      next = o.value;
      return true;
    case OpKind::kDelete:
      if (!o.unknown && o.deleted && *o.deleted != (state != kAbsent)) return false;
      next = kAbsent;
      return true;
    case OpKind::kGet:
      next = state;
      return o.read == state;
    case OpKind::kCas: {
      const bool equal = state != kAbsent && state == o.expected;
      if (o.unknown) {
        next = equal ? o.value : state;
        return true;
      }
      if (o.cas_succeeded != equal) return false;
      next = equal ? o.value : state;
      return true;
    }
  }
  return false;
}

// A configuration of the search: the set of linearized ops (as two independent 64-bit Zobrist hashes of
// it) and the register's state. A fingerprint instead of the set itself keeps the memo at a few dozen
// bytes per entry, not n/8 (a 300 s soak has about 100k ops per key). A collision can only prune a
// configuration that was never explored, which can turn a pass into a false alarm, never a violation
// into a pass: a history with no linearization has none under any pruning.
struct MemoKey {
  std::uint64_t h1;
  std::uint64_t h2;
  int state;
  bool operator==(const MemoKey& o) const { return h1 == o.h1 && h2 == o.h2 && state == o.state; }
};
struct MemoHash {
  std::size_t operator()(const MemoKey& k) const {
    return static_cast<std::size_t>(k.h1 * 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(k.state));
  }
};
// Bytes one memo entry costs in an unordered_set (the key, the node's link and hash, the bucket).
constexpr std::size_t kMemoEntryBytes = sizeof(MemoKey) + 3 * sizeof(void*);

// Wing & Gong search over one key's prepared ops from `initial`. Counts steps into `steps`.
Verdict search(const std::vector<Prepared>& ops, int initial, const CheckOptions& options,
               std::uint64_t& steps) {
  const int n = static_cast<int>(ops.size());
  // Events: (time, is_return, op). At equal times invocations come first (more concurrency: the
  // permissive reading of a tie).
  struct Event {
    std::int64_t time;
    bool is_return;
    int op;
  };
  std::vector<Event> events;
  events.reserve(2 * ops.size());
  int finite_left = 0;
  for (int i = 0; i < n; ++i) {
    events.push_back({ops[i].invoke_ns, false, i});
    if (!ops[i].unknown) {
      events.push_back({ops[i].complete_ns, true, i});
      ++finite_left;
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    return !a.is_return && b.is_return;
  });
  // Doubly linked list over events; node 0 is the head sentinel, node k+1 is events[k]; -1 ends it.
  const int nodes = static_cast<int>(events.size()) + 1;
  std::vector<int> prev(nodes), next(nodes), call_node(n, -1), return_node(n, -1);
  for (int k = 0; k < nodes; ++k) {
    prev[k] = k - 1;
    next[k] = k + 1 < nodes ? k + 1 : -1;
  }
  for (int k = 0; k + 1 < nodes; ++k) {
    const Event& e = events[k];
    (e.is_return ? return_node : call_node)[e.op] = k + 1;
  }
  auto unlink = [&](int x) {
    next[prev[x]] = next[x];
    if (next[x] != -1) prev[next[x]] = prev[x];
  };
  auto relink = [&](int x) {
    next[prev[x]] = x;
    if (next[x] != -1) prev[next[x]] = x;
  };
  std::mt19937_64 zobrist_rng(0x5eed);
  std::vector<std::uint64_t> zobrist(n), zobrist2(n);
  for (auto& z : zobrist)
    z = zobrist_rng();
  for (auto& z : zobrist2)
    z = zobrist_rng();

  // Pools of interchangeable unseen writes (mark_unseen_writes): members in invocation order, and how
  // many are linearized (always the first `used` of them; the stack undoes them last-first).
  std::vector<std::vector<int>> pool_members;
  for (int i = 0; i < n; ++i) {
    if (ops[i].pool < 0) continue;
    if (pool_members.size() <= static_cast<std::size_t>(ops[i].pool)) pool_members.resize(ops[i].pool + 1);
    pool_members[ops[i].pool].push_back(i);
  }
  for (auto& members : pool_members)
    std::stable_sort(members.begin(), members.end(),
                     [&](int a, int b) { return ops[a].invoke_ns < ops[b].invoke_ns; });
  std::vector<std::size_t> pool_used(pool_members.size(), 0);
  auto pool_turn = [&](int o) {
    const int p = ops[o].pool;
    return p < 0 || (pool_used[p] < pool_members[p].size() && pool_members[p][pool_used[p]] == o);
  };

  std::uint64_t bits_hash = 0, bits_hash2 = 0;  // of the linearized set
  std::unordered_set<MemoKey, MemoHash> seen;
  struct Frame {
    int op;
    int state_before;
  };
  std::vector<Frame> stack;
  int state = initial;
  int node = next[0];
  while (true) {
    if (finite_left == 0) return Verdict::kLinearizable;
    if (++steps > options.steps_max) return Verdict::kInconclusive;
    if (seen.size() * kMemoEntryBytes > options.memo_bytes_max) return Verdict::kInconclusive;
    // finite_left > 0 means a return event is still linked, so the walk meets it before the end.
    assert(node != -1);
    const Event& e = events[node - 1];
    if (!e.is_return) {
      const int o = e.op;
      int after = 0;
      if (pool_turn(o) && step(ops[o], state, after)) {
        const std::uint64_t h = bits_hash ^ zobrist[o], h2 = bits_hash2 ^ zobrist2[o];
        if (seen.insert(MemoKey{h, h2, after}).second) {
          bits_hash = h;
          bits_hash2 = h2;
          if (ops[o].pool >= 0) ++pool_used[ops[o].pool];
          stack.push_back({o, state});
          state = after;
          unlink(call_node[o]);
          if (return_node[o] != -1) {
            unlink(return_node[o]);
            --finite_left;
          }
          node = next[0];
          continue;
        }
      }
      node = next[node];
      continue;
    }
    // A completion whose op is not linearized yet: this branch is dead, undo the last choice.
    if (stack.empty()) return Verdict::kNotLinearizable;
    const Frame f = stack.back();
    stack.pop_back();
    state = f.state_before;
    if (ops[f.op].pool >= 0) --pool_used[ops[f.op].pool];
    bits_hash ^= zobrist[f.op];
    bits_hash2 ^= zobrist2[f.op];
    if (return_node[f.op] != -1) {
      relink(return_node[f.op]);
      ++finite_left;
    }
    relink(call_node[f.op]);
    node = next[call_node[f.op]];
  }
}

std::vector<Op> relevant_sorted(const std::vector<Op>& ops) {
  std::vector<Op> out;
  for (const Op& op : ops)
    if (relevant(op)) out.push_back(op);
  std::stable_sort(out.begin(), out.end(),
                   [](const Op& a, const Op& b) { return a.invoke_ns < b.invoke_ns; });
  return out;
}

// kNotLinearizable only if the window fails from every initial state it could plausibly start in:
// absent, or any value that the window writes, reads or compares against.
Verdict check_any_initial(const std::vector<Op>& window, const CheckOptions& options, std::uint64_t& steps) {
  Interner in;
  std::vector<Prepared> p = prepare(window, in);
  // kUnseen: a value the window never mentions (all such values behave the same).
  std::vector<int> candidates{kAbsent, kUnseen};
  for (const Prepared& o : p) {
    for (int v : {o.value, o.expected, o.read})
      if (v != kAbsent) candidates.push_back(v);
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  bool inconclusive = false;
  for (int c : candidates) {
    Verdict v = search(p, c, options, steps);
    if (v == Verdict::kLinearizable) return v;
    if (v == Verdict::kInconclusive) inconclusive = true;
  }
  return inconclusive ? Verdict::kInconclusive : Verdict::kNotLinearizable;
}

Verdict check_from_absent(const std::vector<Op>& window, const CheckOptions& options, std::uint64_t& steps) {
  Interner in;
  return search(prepare(window, in), kAbsent, options, steps);
}

// Two sound simplifications of unknown writes, for histories whose written values are unique:
//  * bound: an unknown put/cas whose value some completed op observed (a get read it, or a successful
//    CAS expected it) did happen, and before that observer completed (nothing else wrote the value): it
//    becomes a completed op ending at the earliest observer's completion (a CAS: one that succeeded).
//  * witness pass: unknown writes nobody observed are first assumed never to have happened. A
//    linearization found so is a valid witness; only if none exists is the full search (every
//    remaining unknown write optional) run. Without this, each unobserved unknown write doubles the
//    states to explore.
struct Simplified {
  std::vector<Op> bounded;       // unknown observed writes bounded; unobserved ones kept optional
  std::vector<Op> witness_pass;  // `bounded` without the unobserved unknown writes
};

Simplified simplify(const std::vector<Op>& ops) {
  std::unordered_map<std::string, int> writers;
  std::unordered_map<std::string, std::int64_t> first_observed;  // value -> earliest observer completion
  for (const Op& op : ops) {
    if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) writers[op.value]++;
    if (op.outcome != Outcome::kOk) continue;
    const std::string* seen_value = nullptr;
    if (op.kind == OpKind::kGet && op.read) seen_value = &*op.read;
    if (op.kind == OpKind::kCas && op.cas_succeeded) seen_value = &op.expected;
    if (!seen_value) continue;
    auto [it, inserted] = first_observed.try_emplace(*seen_value, op.complete_ns);
    if (!inserted) it->second = std::min(it->second, op.complete_ns);
  }
  Simplified out;
  for (Op op : ops) {
    const bool write = op.kind == OpKind::kPut || op.kind == OpKind::kCas;
    if (op.outcome == Outcome::kUnknown && write && writers[op.value] == 1) {
      auto it = first_observed.find(op.value);
      if (it != first_observed.end() && it->second >= op.invoke_ns) {
        op.outcome = Outcome::kOk;
        op.complete_ns = it->second;
        op.cas_succeeded = true;
      } else if (it == first_observed.end()) {
        out.bounded.push_back(op);
        continue;  // unobserved: left out of the witness pass
      }
    }
    out.bounded.push_back(op);
    out.witness_pass.push_back(op);
  }
  return out;
}

Verdict decide_from_absent(const std::vector<Op>& window, const CheckOptions& options, std::uint64_t& steps) {
  Simplified s = simplify(window);
  if (check_from_absent(s.witness_pass, options, steps) == Verdict::kLinearizable)
    return Verdict::kLinearizable;
  return check_from_absent(s.bounded, options, steps);
}

Verdict decide_any_initial(const std::vector<Op>& window, const CheckOptions& options, std::uint64_t& steps) {
  Simplified s = simplify(window);
  // The bound is not used for the verdict here: the window's initial state may be the observed value.
  // (The witness pass stays valid: narrowing an optional op's interval only restricts the search.)
  if (check_any_initial(s.witness_pass, options, steps) == Verdict::kLinearizable)
    return Verdict::kLinearizable;
  return check_any_initial(window, options, steps);
}

}  // namespace

std::string describe(const Op& op) {
  char times[96];
  if (op.outcome == Outcome::kUnknown)
    std::snprintf(times, sizeof times, "[%.3f ms, ?]", static_cast<double>(op.invoke_ns) / 1e6);
  else
    std::snprintf(times, sizeof times, "[%.3f ms, %.3f ms]", static_cast<double>(op.invoke_ns) / 1e6,
                  static_cast<double>(op.complete_ns) / 1e6);
  std::string s = "client " + std::to_string(op.client) + " " + times + " ";
  switch (op.kind) {
    case OpKind::kPut:
      s += "put(" + op.value + ")";
      break;
    case OpKind::kGet:
      s += "get()";
      break;
    case OpKind::kCas:
      s += "cas(" + op.expected + " -> " + op.value + ")";
      break;
    case OpKind::kDelete:
      s += "delete()";
      break;
  }
  switch (op.outcome) {
    case Outcome::kFailed:
      return s + " failed";
    case Outcome::kUnknown:
      return s + " unknown";
    case Outcome::kOk:
      break;
  }
  switch (op.kind) {
    case OpKind::kGet:
      return s + " -> " + (op.read ? *op.read : std::string("<absent>"));
    case OpKind::kCas:
      return s + (op.cas_succeeded ? " -> ok" : " -> compare false");
    case OpKind::kDelete:
      return s + (op.deleted ? (*op.deleted ? " -> deleted 1" : " -> deleted 0") : " -> ok");
    case OpKind::kPut:
      return s + " -> ok";
  }
  return s;
}

KeyResult check_key(const std::vector<Op>& ops, const CheckOptions& options) {
  KeyResult r;
  if (!ops.empty()) r.key = ops.front().key;
  std::vector<Op> kept = relevant_sorted(ops);
  r.ops_checked = kept.size();
  r.verdict = decide_from_absent(kept, options, r.steps);
  return r;
}

std::vector<KeyResult> check_history(const std::vector<Op>& ops, const CheckOptions& options) {
  std::map<std::string, std::vector<Op>> by_key;
  for (const Op& op : ops)
    by_key[op.key].push_back(op);
  std::vector<KeyResult> out;
  for (auto& [key, key_ops] : by_key)
    out.push_back(check_key(key_ops, options));
  return out;
}

namespace {
const char* const kKindNames[] = {"put", "get", "cas", "delete"};
const char* const kOutcomeNames[] = {"ok", "failed", "unknown"};

template <typename E, std::size_t N>
bool lookup(const std::string& name, const char* const (&names)[N], E* out) {
  for (std::size_t i = 0; i < N; ++i)
    if (name == names[i]) return *out = static_cast<E>(i), true;
  return false;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  std::size_t at = 0;
  while (true) {
    const std::size_t tab = line.find('\t', at);
    f.push_back(line.substr(at, tab == std::string::npos ? std::string::npos : tab - at));
    if (tab == std::string::npos) return f;
    at = tab + 1;
  }
}
}  // namespace

std::string format_history(const std::vector<Op>& ops) {
  std::string out;
  for (const Op& op : ops) {
    out += std::to_string(op.client) + "\t" + kKindNames[static_cast<int>(op.kind)] + "\t" +
           kOutcomeNames[static_cast<int>(op.outcome)] + "\t" + std::to_string(op.invoke_ns) + "\t" +
           std::to_string(op.complete_ns) + "\t" + op.value + "\t" + op.expected + "\t" +
           (op.read ? "=" + *op.read : std::string("-")) + "\t" + (op.cas_succeeded ? "1" : "0") + "\t" +
           (op.deleted ? (*op.deleted ? "1" : "0") : "-") + "\t" + op.key + "\n";
  }
  return out;
}

bool parse_history(const std::string& text, std::vector<Op>* ops, std::string* error) {
  std::size_t at = 0, line_no = 0;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    const std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (line.empty()) continue;
    const std::vector<std::string> f = split_tabs(line);
    Op op;
    bool ok = f.size() == 11 && lookup(f[1], kKindNames, &op.kind) &&
              lookup(f[2], kOutcomeNames, &op.outcome) && (f[7] == "-" || f[7].starts_with("=")) &&
              (f[9] == "-" || f[9] == "0" || f[9] == "1");
    if (ok) {
      op.client = std::atoi(f[0].c_str());
      op.invoke_ns = std::strtoll(f[3].c_str(), nullptr, 10);
      op.complete_ns = std::strtoll(f[4].c_str(), nullptr, 10);
      op.value = f[5];
      op.expected = f[6];
      if (f[7] != "-") op.read = f[7].substr(1);
      op.cas_succeeded = f[8] == "1";
      if (f[9] != "-") op.deleted = f[9] == "1";
      op.key = f[10];
      ops->push_back(std::move(op));
      continue;
    }
    *error = "line " + std::to_string(line_no) + ": not an op: " + line;
    return false;
  }
  return true;
}

KeyResult minimize(const std::vector<Op>& ops, const CheckOptions& options) {
  KeyResult r = check_key(ops, options);
  if (r.verdict != Verdict::kNotLinearizable) return r;
  const std::vector<Op> kept = relevant_sorted(ops);
  auto prefix = [&](std::size_t len) {
    return std::vector<Op>(kept.begin(), kept.begin() + static_cast<long>(len));
  };
  // Shortest failing prefix: `hi` always fails.
  std::size_t lo = 0, hi = kept.size();
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    std::uint64_t steps = 0;
    if (decide_from_absent(prefix(mid), options, steps) == Verdict::kNotLinearizable)
      hi = mid;
    else
      lo = mid;
  }
  // Latest start: `good` always fails (start 0 from the true initial state, later ones from any state).
  std::size_t good = 0, bad = hi;
  while (bad - good > 1) {
    const std::size_t mid = good + (bad - good) / 2;
    std::vector<Op> window(kept.begin() + static_cast<long>(mid), kept.begin() + static_cast<long>(hi));
    std::uint64_t steps = 0;
    if (decide_any_initial(window, options, steps) == Verdict::kNotLinearizable)
      good = mid;
    else
      bad = mid;
  }
  r.counterexample.assign(kept.begin() + static_cast<long>(good), kept.begin() + static_cast<long>(hi));
  r.window_from_start = good == 0;
  return r;
}

}  // namespace cairn::tests::fault
