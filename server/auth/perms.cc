#include "server/auth/perms.h"

#include <algorithm>

namespace cairn::server::auth {

namespace {
// a <= b as interval ends, where "" is +infinity.
bool end_le(std::string_view a, std::string_view b) {
  if (b.empty()) return true;
  if (a.empty()) return false;
  return a <= b;
}
std::string normalise_begin(std::string_view key) {
  return key.empty() ? std::string(1, '\0') : std::string(key);
}
}  // namespace

std::optional<KeyRange> key_range(std::string_view key, std::string_view range_end) {
  KeyRange r{normalise_begin(key), {}};
  if (range_end.empty()) {
    r.end = r.begin;
    r.end.push_back('\0');
    return r;
  }
  if (range_end == std::string_view("\0", 1)) return r;
  if (range_end <= r.begin) return std::nullopt;
  r.end = std::string(range_end);
  return r;
}

bool valid_permission_range(std::string_view key, std::string_view range_end) {
  if (key.empty()) return false;
  if (range_end.empty() || range_end == std::string_view("\0", 1)) return true;
  return range_end > key;
}

void KeyRangeSet::add(const KeyRange& r) {
  // Insert, then merge everything that overlaps or touches the new interval.
  auto it = std::lower_bound(v_.begin(), v_.end(), r.begin,
                             [](const KeyRange& a, const std::string& b) { return a.begin < b; });
  KeyRange merged = r;
  // The interval before may reach into (or touch) the new one.
  if (it != v_.begin()) {
    auto prev = std::prev(it);
    if (prev->end.empty() || prev->end >= merged.begin) {
      merged.begin = prev->begin;
      if (end_le(merged.end, prev->end)) merged.end = prev->end;
      it = prev;
    }
  }
  auto last = it;
  while (last != v_.end() && (merged.end.empty() || last->begin <= merged.end)) {
    if (end_le(merged.end, last->end)) merged.end = last->end;
    ++last;
  }
  it = v_.erase(it, last);
  v_.insert(it, std::move(merged));
}

bool KeyRangeSet::contains(const KeyRange& r) const {
  // The last interval whose begin <= r.begin is the only one that can hold r (intervals are disjoint).
  auto it = std::upper_bound(v_.begin(), v_.end(), r.begin,
                             [](const std::string& b, const KeyRange& a) { return b < a.begin; });
  if (it == v_.begin()) return false;
  const KeyRange& hold = *std::prev(it);
  if (!hold.end.empty() && hold.end <= r.begin) return false;
  return end_le(r.end, hold.end);
}

bool KeyRangeSet::contains_key(std::string_view key) const {
  auto r = key_range(key, {});
  return r && contains(*r);
}

}  // namespace cairn::server::auth
