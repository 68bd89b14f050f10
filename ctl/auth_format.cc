#include "ctl/auth_format.h"

#include "ctl/requests.h"

namespace cairn::ctl {

std::string simple_role_get(const std::string& role, const etcdserverpb::AuthRoleGetResponse& r) {
  std::string out = "Role " + role + "\n";
  auto section = [&](const char* title, bool write) {
    out += title;
    for (const auto& p : r.perm()) {
      bool match =
          p.permtype() == authpb::Permission::READWRITE ||
          (write ? p.permtype() == authpb::Permission::WRITE : p.permtype() == authpb::Permission::READ);
      if (!match) continue;
      if (p.range_end().empty()) {
        out += "\t" + p.key() + "\n";
        continue;
      }
      if (p.range_end() != std::string(1, '\0'))
        out += "\t[" + p.key() + ", " + p.range_end() + ")";
      else
        out += "\t[" + p.key() + ", <open ended>";
      if (prefix_range_end(p.key()) == p.range_end()) out += " (prefix " + p.key() + ")";
      out += "\n";
    }
  };
  section("KV Read:\n", false);
  section("KV Write:\n", true);
  return out;
}

std::string simple_role_revoke(const std::string& role, const std::string& key, const std::string& end) {
  if (end.empty()) return "Permission of key " + key + " is revoked from role " + role + "\n";
  if (end != std::string(1, '\0'))
    return "Permission of range [" + key + ", " + end + ") is revoked from role " + role + "\n";
  return "Permission of range [" + key + ", <open ended> is revoked from role " + role + "\n";
}

std::string simple_user_get(const std::string& name, const etcdserverpb::AuthUserGetResponse& r) {
  std::string out = "User: " + name + "\nRoles:";
  for (const auto& role : r.roles())
    out += " " + role;
  return out + "\n";
}

}  // namespace cairn::ctl
