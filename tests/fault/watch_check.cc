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
  // Each key's changes in revision order: its value at a revision is one binary search away (a 300 s
  // run has ~10^4 reads and ~10^5 revisions; scanning all revisions per read took minutes under ASan).
  std::map<std::string, std::vector<std::pair<std::int64_t, std::optional<std::string>>>> changes;
  for (const auto& [rev, e] : by_revision)
    changes[e->key].emplace_back(rev, e->put ? std::optional(e->value) : std::nullopt);
  auto value_at = [&](const std::string& key, std::int64_t revision) -> std::optional<std::string> {
    auto it = changes.find(key);
    if (it == changes.end()) return std::nullopt;
    const auto& v = it->second;
    auto after = std::upper_bound(v.begin(), v.end(), revision,
                                  [](std::int64_t r, const auto& c) { return r < c.first; });
    return after == v.begin() ? std::nullopt : std::prev(after)->second;
  };
  // The real-time bounds: the highest revision of a write acknowledged before time t (writes by
  // completion, prefix maxima), and the lowest of a write invoked after t (by invocation, suffix
  // minima). Only a read that breaks a bound has its offending writes listed (a scan).
  std::vector<Placed> by_complete = writes, by_invoke = writes;
  std::sort(by_complete.begin(), by_complete.end(),
            [](const auto& a, const auto& b) { return a.complete < b.complete; });
  std::sort(by_invoke.begin(), by_invoke.end(),
            [](const auto& a, const auto& b) { return a.invoke < b.invoke; });
  std::vector<std::int64_t> max_rev(by_complete.size()), min_rev(by_invoke.size());
  for (std::size_t i = 0; i < by_complete.size(); ++i)
    max_rev[i] = std::max(by_complete[i].revision, i ? max_rev[i - 1] : by_complete[i].revision);
  for (std::size_t i = by_invoke.size(); i-- > 0;)
    min_rev[i] =
        std::min(by_invoke[i].revision, i + 1 < by_invoke.size() ? min_rev[i + 1] : by_invoke[i].revision);
  for (const auto& r : reads) {
    const std::string what =
        "multi-key read by client " + std::to_string(r.client) + " at revision " + std::to_string(r.revision);
    if (r.revision > covered) {
      out.push_back(what + ": beyond the revisions the watchers saw (" + std::to_string(covered) + ")");
      continue;
    }
    for (std::size_t i = 0; i < r.keys.size(); ++i) {
      const std::optional<std::string> state = value_at(r.keys[i], r.revision);
      if (state != r.values[i])
        out.push_back(what + ": " + r.keys[i] + " = " + (r.values[i] ? *r.values[i] : "(absent)") +
                      ", but at that revision it was " + (state ? *state : "(absent)"));
    }
    // Writes completed before the read's invocation: those are the first `done` by completion time.
    const std::size_t done =
        std::lower_bound(by_complete.begin(), by_complete.end(), r.invoke_ns,
                         [](const Placed& w, std::int64_t t) { return w.complete < t; }) -
        by_complete.begin();
    // Writes invoked after the read's completion: those from `later` on by invocation time.
    const std::size_t later = std::upper_bound(by_invoke.begin(), by_invoke.end(), r.complete_ns,
                                               [](std::int64_t t, const Placed& w) { return t < w.invoke; }) -
                              by_invoke.begin();
    const bool misses = done > 0 && max_rev[done - 1] > r.revision;
    const bool future = later < by_invoke.size() && min_rev[later] <= r.revision;
    if (!misses && !future) continue;
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
