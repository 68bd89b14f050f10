// The watch check; see watch_check.h.
#include "tests/fault/watch_check.h"

#include <algorithm>
#include <map>
#include <set>

namespace cairn::tests::fault {

WatchCheckResult check_watch(const std::vector<WatcherLog>& watchers, const std::vector<Op>& history,
                             std::int64_t final_revision) {
  WatchCheckResult r;
  std::map<std::int64_t, const WatchEvent*> by_revision;  // across watchers
  for (std::size_t w = 0; w < watchers.size(); ++w) {
    const WatcherLog& me = watchers[w];
    const std::string who = "watcher " + std::to_string(w);
    for (const auto& p : me.problems)
      r.anomalies.push_back(who + ": " + p);
    std::int64_t expect = me.start;
    for (const auto& e : me.events) {
      if (e.revision != expect) {
        r.anomalies.push_back(who + ": event at revision " + std::to_string(e.revision) + " where revision " +
                              std::to_string(expect) + " was expected (" +
                              (e.revision < expect ? "out of order or duplicate" : "gap") + ")");
        break;
      }
      ++expect;
      auto [it, fresh] = by_revision.emplace(e.revision, &e);
      if (!fresh && (it->second->key != e.key || it->second->put != e.put || it->second->value != e.value))
        r.anomalies.push_back(who + ": revision " + std::to_string(e.revision) +
                              " differs between watchers (" + e.key + "=" + e.value + " vs " +
                              it->second->key + "=" + it->second->value + ")");
    }
    if (expect <= final_revision)
      r.anomalies.push_back(who + ": reached revision " + std::to_string(expect - 1) + " of " +
                            std::to_string(final_revision));
    r.reached.push_back(expect - 1);
    r.events += me.events.size();
  }
  r.revisions = by_revision.size();
  if (watchers.empty()) return r;

  std::map<std::string, const WatchEvent*> put_by_value;
  for (const auto& [rev, e] : by_revision)
    if (e->put && !put_by_value.emplace(e->value, e).second)
      r.anomalies.push_back("value " + e->value + " written at two revisions");
  std::set<std::string> attempted;
  for (const auto& op : history)
    if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) attempted.insert(op.value);
  for (const auto& [value, e] : put_by_value)
    if (!attempted.count(value))
      r.anomalies.push_back("put of " + e->key + " = " + value + " at revision " +
                            std::to_string(e->revision) + " that no client wrote");
  struct Placed {
    std::int64_t invoke, complete, revision;
  };
  std::vector<Placed> placed;
  for (const auto& op : history) {
    const bool write = op.kind == OpKind::kPut || (op.kind == OpKind::kCas && op.cas_succeeded);
    if (!write || op.outcome != Outcome::kOk) continue;
    auto it = put_by_value.find(op.value);
    if (it == put_by_value.end()) {
      r.anomalies.push_back("acknowledged " + describe(op) + " never seen by a watcher");
      continue;
    }
    if (it->second->key != op.key) r.anomalies.push_back(describe(op) + " seen on key " + it->second->key);
    placed.push_back({op.invoke_ns, op.complete_ns, it->second->revision});
  }
  r.writes_placed = placed.size();
  // Real-time order: sweep the writes by invocation; every write completed before it must have a
  // smaller revision.
  std::vector<Placed> by_complete = placed;
  std::sort(placed.begin(), placed.end(),
            [](const Placed& a, const Placed& b) { return a.invoke < b.invoke; });
  std::sort(by_complete.begin(), by_complete.end(),
            [](const Placed& a, const Placed& b) { return a.complete < b.complete; });
  std::size_t j = 0;
  std::int64_t max_rev = 0;
  int violations = 0;
  for (const auto& b : placed) {
    while (j < by_complete.size() && by_complete[j].complete < b.invoke)
      max_rev = std::max(max_rev, by_complete[j++].revision);
    if (b.revision < max_rev) ++violations;
  }
  if (violations > 0)
    r.anomalies.push_back(std::to_string(violations) +
                          " acknowledged write(s) got a revision below that of a write acknowledged before "
                          "they were invoked");
  return r;
}

std::vector<std::string> check_multi_reads(const std::vector<WatcherLog>& watchers,
                                           const std::vector<MultiRead>& reads,
                                           const std::vector<Op>& history) {
  std::vector<std::string> out;
  std::map<std::int64_t, const WatchEvent*> by_revision;
  for (const auto& w : watchers)
    for (const auto& e : w.events)
      by_revision.emplace(e.revision, &e);
  std::map<std::string, std::int64_t> revision_of_value;
  for (const auto& [rev, e] : by_revision)
    if (e->put) revision_of_value.emplace(e->value, rev);
  // Acknowledged writes with their revisions, for the real-time bounds.
  struct Placed {
    std::int64_t invoke, complete, revision;
  };
  std::vector<Placed> writes;
  for (const auto& op : history) {
    const bool write = op.kind == OpKind::kPut || (op.kind == OpKind::kCas && op.cas_succeeded);
    if (!write || op.outcome != Outcome::kOk) continue;
    auto it = revision_of_value.find(op.value);
    if (it != revision_of_value.end()) writes.push_back({op.invoke_ns, op.complete_ns, it->second});
  }
  const std::int64_t covered = by_revision.empty() ? 0 : by_revision.rbegin()->first;
  for (const auto& r : reads) {
    const std::string what =
        "multi-key read by client " + std::to_string(r.client) + " at revision " + std::to_string(r.revision);
    if (r.revision > covered) {
      out.push_back(what + ": beyond the revisions the watchers saw (" + std::to_string(covered) + ")");
      continue;
    }
    for (std::size_t i = 0; i < r.keys.size(); ++i) {
      std::optional<std::string> state;  // the key's value at r.revision, from the changes up to it
      for (auto it = by_revision.begin(); it != by_revision.end() && it->first <= r.revision; ++it)
        if (it->second->key == r.keys[i])
          state = it->second->put ? std::optional(it->second->value) : std::nullopt;
      if (state != r.values[i])
        out.push_back(what + ": " + r.keys[i] + " = " + (r.values[i] ? *r.values[i] : "(absent)") +
                      ", but at that revision it was " + (state ? *state : "(absent)"));
    }
    for (const auto& w : writes) {
      if (w.complete < r.invoke_ns && w.revision > r.revision)
        out.push_back(what + ": misses a write at revision " + std::to_string(w.revision) +
                      " acknowledged before the read was invoked");
      if (w.invoke > r.complete_ns && w.revision <= r.revision)
        out.push_back(what + ": sees a write at revision " + std::to_string(w.revision) +
                      " invoked after the read completed");
    }
  }
  return out;
}

}  // namespace cairn::tests::fault
