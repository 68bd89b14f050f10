// etcd's --config-file, read with yaml-cpp (see config_file_args in flags.h for the mapping).
#include <yaml-cpp/yaml.h>

#include <cctype>

#include "server/app/flag_table.h"

namespace cairn::server::app {

namespace {

// The flag a key of a *-transport-security section sets.
std::string tls_section_flag(const std::string& section, const std::string& key) {
  const bool peer = section == "peer-transport-security";
  if (key == "crl-file") return peer ? "peer-crl-file" : "client-crl-file";
  if (key == "allowed-hostname") return peer ? "peer-cert-allowed-hostname" : "client-cert-allowed-hostname";
  if (key == "allowed-cn" && peer) return "peer-cert-allowed-cn";
  if (key == "skip-client-san-verification" && peer) return "experimental-peer-skip-client-san-verification";
  static const char* const kPlain[] = {"cert-file", "key-file",         "client-cert-auth", "trusted-ca-file",
                                       "auto-tls",  "client-cert-file", "client-key-file"};
  for (const char* k : kPlain)
    if (key == k) return peer ? "peer-" + key : key;
  return section + "." + key;  // names no flag: reported and skipped by parse_flags
}

bool all_digits(const std::string& s) {
  size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// The flag-syntax text of a YAML value for `flag`; nullopt for null (etcd keeps the default then).
Expected<std::optional<std::string>, std::string> value_text(const std::string& flag, const YAML::Node& v) {
  if (v.IsNull()) return std::optional<std::string>();
  if (v.IsMap()) return unexpected(flag + ": expected a value, found a mapping");
  if (v.IsSequence()) {  // log-outputs: [stderr], cipher-suites: [...]: etcd's []string fields
    std::string joined;
    for (const auto& item : v) {
      if (!item.IsScalar()) return unexpected(flag + ": expected a list of values");
      joined += (joined.empty() ? "" : ",") + item.as<std::string>();
    }
    return std::optional<std::string>(joined);
  }
  std::string text = v.as<std::string>();
  const FlagSpec* spec = find_flag(flag);
  if (spec && spec->kind == FlagKind::kBool) {
    bool b = false;
    if (YAML::convert<bool>::decode(v, b)) text = b ? "true" : "false";
  } else if (spec && spec->kind == FlagKind::kDuration && all_digits(text)) {
    text += "ns";  // etcd's files hold durations as integers of nanoseconds (Go's JSON of time.Duration)
  }
  return std::optional<std::string>(text);
}

}  // namespace

Expected<std::vector<std::string>, std::string> config_file_args(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return unexpected("yaml: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  std::vector<std::string> args;
  if (root.IsNull()) return args;
  if (!root.IsMap()) return unexpected(std::string("expected a mapping of etcd settings (key: value)"));
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "client-transport-security" || key == "peer-transport-security") {
        if (v.IsNull()) continue;
        if (!v.IsMap()) return unexpected(key + ": expected a mapping");
        for (const auto& sub : v) {
          std::string flag = tls_section_flag(key, sub.first.as<std::string>());
          auto t = value_text(flag, sub.second);
          if (!t) return unexpected(t.error());
          if (*t) args.push_back("--" + flag + "=" + **t);
        }
        continue;
      }
      auto t = value_text(key, v);
      if (!t) return unexpected(t.error());
      if (*t) args.push_back("--" + key + "=" + **t);
    }
  } catch (const YAML::Exception& e) {
    return unexpected("yaml: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return args;
}

}  // namespace cairn::server::app
