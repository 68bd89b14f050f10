// Key-range permissions: which keys a role's grants cover, and whether a request's keys lie inside.
//
// A grant or a request names keys the way etcd does: (key, range_end) with range_end empty = the single
// key `key`, range_end "\0" = every key >= key, otherwise [key, range_end). Both become half-open
// intervals [begin, end) of byte strings (end empty = unbounded). The empty key is never a valid key,
// so a begin of "" is the same set as "\0" and is normalised to it (clientv3 sends "\0" for an empty
// from-key request, etcdctl grants ["\0", ...) for an empty key).
//
// KeyRangeSet holds the union of a user's grants of one kind (read or write) as sorted, disjoint,
// non-adjacent intervals: adjacent and overlapping grants merge, so a request spanning two grants
// [a, m) and [m, b) is inside their union [a, b), as in etcd's merged permission cache. contains() is
// one binary search.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::server::auth {

struct KeyRange {
  std::string begin;
  std::string end;  // empty: unbounded
  bool operator==(const KeyRange&) const = default;
};

// The interval of (key, range_end); nullopt when it holds no key (range_end <= key, not "\0").
std::optional<KeyRange> key_range(std::string_view key, std::string_view range_end);
// True iff `range_end` is a valid end for a grant on `key` (etcd 3.5's isValidPermissionRange: the key
// is not empty, and range_end is empty, "\0", or greater than key).
bool valid_permission_range(std::string_view key, std::string_view range_end);

class KeyRangeSet {
 public:
  void add(const KeyRange& r);
  // Every key of r is in the set. An empty request (no key) is inside iff its begin key is.
  bool contains(const KeyRange& r) const;
  bool contains_key(std::string_view key) const;
  const std::vector<KeyRange>& intervals() const { return v_; }
  bool empty() const { return v_.empty(); }

 private:
  std::vector<KeyRange> v_;  // sorted by begin, disjoint, not adjacent
};

}  // namespace cairn::server::auth
