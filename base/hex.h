// Member, lease and cluster ids as etcd and etcdctl print them: lowercase hex, no leading zeros.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace cairn::base {

inline std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace cairn::base
