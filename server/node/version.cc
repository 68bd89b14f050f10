#include "server/node/version.h"

#include <charconv>
#include <vector>

namespace cairn::server::node {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool identifier_chars(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

int to_int(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// "X.Y.Z[-pre][+build]" -> {X, Y}.
std::optional<std::pair<int, int>> parse_semver(std::string_view v) {
  if (auto plus = v.find('+'); plus != std::string_view::npos) {
    if (!identifier_chars(v.substr(plus + 1))) return std::nullopt;
    v = v.substr(0, plus);
  }
  if (auto dash = v.find('-'); dash != std::string_view::npos) {
    if (!identifier_chars(v.substr(dash + 1))) return std::nullopt;
    v = v.substr(0, dash);
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = v.find('.', start);
    parts.push_back(v.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) return std::nullopt;
  for (auto p : parts)
    if (!all_digits(p)) return std::nullopt;
  return std::pair{to_int(parts[0]), to_int(parts[1])};
}

std::string short_of(const std::string& v) {
  auto second_dot = v.find('.', v.find('.') + 1);
  return second_dot == std::string::npos ? v : v.substr(0, second_dot);
}

}  // namespace

std::string cluster_version(const DowngradeInfo& d) {
  if (d.enabled && !d.target_version.empty()) return d.target_version;
  return std::to_string(kEtcdMajor) + "." + std::to_string(kEtcdMinor) + ".0";
}

std::string cluster_version_short(const DowngradeInfo& d) {
  return short_of(cluster_version(d));
}

std::string storage_version(const DowngradeInfo& d) {
  return cluster_version(d);
}

std::optional<std::string> parse_downgrade_target(std::string_view v) {
  auto mm = parse_semver(v);
  if (!mm) mm = parse_semver(std::string(v) + ".0");  // etcd also takes "major.minor"
  if (!mm) return std::nullopt;
  return std::to_string(mm->first) + "." + std::to_string(mm->second) + ".0";
}

std::optional<EtcdError> validate_downgrade(const DowngradeInfo& current, std::string_view version,
                                            std::string* target) {
  auto t = parse_downgrade_target(version);
  if (!t) return err_wrong_downgrade_version_format();
  auto cv = parse_semver(cluster_version(current));
  const std::string allowed = std::to_string(cv->first) + "." + std::to_string(cv->second - 1) + ".0";
  if (*t != allowed) return err_invalid_downgrade_target_version();
  if (current.enabled) return err_downgrade_in_process();
  *target = *t;
  return std::nullopt;
}

std::string encode_downgrade(const DowngradeInfo& d) {
  std::string out(1, d.enabled ? '\1' : '\0');
  out += d.target_version;
  return out;
}

std::optional<DowngradeInfo> decode_downgrade(std::string_view bytes) {
  if (bytes.empty() || static_cast<unsigned char>(bytes[0]) > 1) return std::nullopt;
  DowngradeInfo d;
  d.enabled = bytes[0] == '\1';
  d.target_version = std::string(bytes.substr(1));
  if (d.enabled && !parse_downgrade_target(d.target_version)) return std::nullopt;
  return d;
}

}  // namespace cairn::server::node
