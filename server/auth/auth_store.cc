#include "server/auth/auth_store.h"

#include <algorithm>

#include "storage/codec.h"

namespace cairn::server::auth {

namespace {
using storage::Space;
namespace codec = storage::codec;

constexpr std::string_view kEnabledKey = "enabled";
constexpr std::string_view kRevisionKey = "revision";
constexpr std::string_view kTokenFloorKey = "token_floor";
constexpr std::string_view kUserPrefix = "user/";
constexpr std::string_view kRolePrefix = "role/";
constexpr uint8_t kUserFormat = 1;

std::string u64_bytes(uint64_t v) {
  std::string s;
  codec::put_u64(&s, v);
  return s;
}

bool perm_less(const authpb::Permission& a, const authpb::Permission& b) {
  if (a.key() != b.key()) return a.key() < b.key();
  return a.range_end() < b.range_end();
}
}  // namespace

std::string encode_user_record(const User& u) {
  authpb::User pb;
  pb.set_name(u.name);
  pb.set_password(u.password_hash);
  for (const auto& r : u.roles)
    pb.add_roles(r);
  pb.mutable_options()->set_no_password(u.no_password);
  std::string out;
  out.push_back(static_cast<char>(kUserFormat));
  codec::put_bytes(&out, pb.SerializeAsString());
  codec::put_u64(&out, u.token_floor);
  return out;
}

std::optional<User> decode_user_record(std::string_view bytes) {
  codec::Reader r(bytes);
  uint8_t format = 0;
  std::string_view body;
  User u;
  if (!r.u8(&format) || format != kUserFormat || !r.bytes_view(&body) || !r.u64(&u.token_floor) || !r.done())
    return std::nullopt;
  authpb::User pb;
  if (!pb.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
  u.name = pb.name();
  u.password_hash = pb.password();
  u.roles.assign(pb.roles().begin(), pb.roles().end());
  u.no_password = pb.options().no_password();
  return u;
}

Expected<storage::Unit, std::string> AuthStore::load(storage::KvEngine& engine) {
  enabled_ = false;
  revision_ = 0;
  token_floor_ = 0;
  users_.clear();
  roles_.clear();
  merged_.clear();
  auto it = engine.scan(Space::kAuth, "", "");
  for (; it->valid(); it->next()) {
    std::string_view k = it->key(), v = it->value();
    if (k == kEnabledKey) {
      enabled_ = v == "1";
    } else if (k == kRevisionKey || k == kTokenFloorKey) {
      codec::Reader r(v);
      uint64_t n = 0;
      if (!r.u64(&n) || !r.done()) return unexpected("auth record " + std::string(k) + " does not decode");
      (k == kRevisionKey ? revision_ : token_floor_) = n;
    } else if (k.substr(0, kUserPrefix.size()) == kUserPrefix) {
      auto u = decode_user_record(v);
      if (!u) return unexpected("auth record " + std::string(k) + " does not decode");
      users_[u->name] = std::move(*u);
    } else if (k.substr(0, kRolePrefix.size()) == kRolePrefix) {
      authpb::Role role;
      if (!role.ParseFromArray(v.data(), static_cast<int>(v.size())))
        return unexpected("auth record " + std::string(k) + " does not decode");
      roles_[role.name()] = std::move(role);
    }
  }
  if (auto s = it->status(); !s) return unexpected("scan auth records: " + s.error().message());
  // As etcd: a new auth store starts at revision 1; 0 marks a request that names no user.
  if (revision_ == 0) revision_ = 1;
  return storage::Unit{};
}

const User* AuthStore::user(const std::string& name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

const authpb::Role* AuthStore::role(const std::string& name) const {
  auto it = roles_.find(name);
  return it == roles_.end() ? nullptr : &it->second;
}

bool AuthStore::is_root(const std::string& name) const {
  const User* u = user(name);
  return u && std::binary_search(u->roles.begin(), u->roles.end(), std::string(kRootRole));
}

const AuthStore::MergedPerms& AuthStore::merged(const User& u) const {
  auto it = merged_.find(u.name);
  if (it != merged_.end()) return it->second;
  MergedPerms m;
  for (const auto& rn : u.roles) {
    const authpb::Role* r = role(rn);
    if (!r) continue;
    for (const auto& p : r->keypermission()) {
      auto kr = key_range(p.key(), p.range_end());
      if (!kr) continue;
      if (p.permtype() == authpb::Permission::READ || p.permtype() == authpb::Permission::READWRITE)
        m.read.add(*kr);
      if (p.permtype() == authpb::Permission::WRITE || p.permtype() == authpb::Permission::READWRITE)
        m.write.add(*kr);
    }
  }
  return merged_.emplace(u.name, std::move(m)).first->second;
}

bool AuthStore::permitted(const std::string& name, std::string_view key, std::string_view range_end,
                          PermKind kind) const {
  const User* u = user(name);
  if (!u) return false;
  if (is_root(name)) return true;
  const MergedPerms& m = merged(*u);
  const KeyRangeSet& set = kind == PermKind::kRead ? m.read : m.write;
  auto r = key_range(key, range_end);
  if (!r) return set.contains_key(key.empty() ? std::string_view("\0", 1) : key);
  return set.contains(*r);
}

void AuthStore::bump(storage::WriteBatch& batch) {
  ++revision_;
  merged_.clear();
  batch.put(Space::kAuth, kRevisionKey, u64_bytes(revision_));
}

void AuthStore::write_user(const User& u, storage::WriteBatch& batch) const {
  batch.put(Space::kAuth, std::string(kUserPrefix) + u.name, encode_user_record(u));
}

void AuthStore::write_role(const authpb::Role& r, storage::WriteBatch& batch) const {
  batch.put(Space::kAuth, std::string(kRolePrefix) + r.name(), r.SerializeAsString());
}

void AuthStore::restore(bool enabled, uint64_t revision, std::vector<User> users,
                        std::vector<authpb::Role> roles, storage::WriteBatch& batch) {
  enabled_ = enabled;
  revision_ = revision;
  token_floor_ = revision;
  users_.clear();
  roles_.clear();
  merged_.clear();
  batch.put(Space::kAuth, kEnabledKey, enabled ? "1" : "0");
  batch.put(Space::kAuth, kRevisionKey, u64_bytes(revision_));
  batch.put(Space::kAuth, kTokenFloorKey, u64_bytes(token_floor_));
  for (auto& u : users) {
    u.token_floor = std::max(u.token_floor, revision);
    write_user(u, batch);
    users_[u.name] = std::move(u);
  }
  for (auto& r : roles) {
    write_role(r, batch);
    roles_[r.name()] = std::move(r);
  }
}

std::optional<EtcdError> AuthStore::enable(storage::WriteBatch& batch) {
  if (enabled_) return std::nullopt;  // etcd: enabling twice is not an error
  const User* root = user(kRootUser);
  if (!root) return err_root_user_not_exist();
  if (!is_root(kRootUser)) return err_root_role_not_exist();
  enabled_ = true;
  batch.put(Space::kAuth, kEnabledKey, "1");
  bump(batch);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::disable(storage::WriteBatch& batch) {
  if (!enabled_) return std::nullopt;
  enabled_ = false;
  batch.put(Space::kAuth, kEnabledKey, "0");
  bump(batch);
  // Every token issued so far is void: a later enable does not bring them back.
  token_floor_ = revision_;
  batch.put(Space::kAuth, kTokenFloorKey, u64_bytes(token_floor_));
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::user_add(const std::string& name, const std::string& hash,
                                             bool no_password, storage::WriteBatch& batch) {
  if (name.empty()) return err_user_empty();
  if (users_.count(name)) return err_user_already_exist();
  User u;
  u.name = name;
  u.no_password = no_password;
  if (!no_password) u.password_hash = hash;
  bump(batch);
  write_user(u, batch);
  users_[name] = std::move(u);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::user_delete(const std::string& name, storage::WriteBatch& batch) {
  if (enabled_ && name == kRootUser) return err_invalid_auth_mgmt();
  if (!users_.count(name)) return err_user_not_found();
  users_.erase(name);
  batch.erase(Space::kAuth, std::string(kUserPrefix) + name);
  bump(batch);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::user_change_password(const std::string& name, const std::string& hash,
                                                         storage::WriteBatch& batch) {
  auto it = users_.find(name);
  if (it == users_.end()) return err_user_not_found();
  bump(batch);
  it->second.password_hash = hash;
  it->second.no_password = false;
  it->second.token_floor = revision_;
  write_user(it->second, batch);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::user_grant_role(const std::string& name, const std::string& role_name,
                                                    storage::WriteBatch& batch) {
  auto it = users_.find(name);
  if (it == users_.end()) return err_user_not_found();
  if (role_name != kRootRole && !roles_.count(role_name)) return err_role_not_found();
  auto& roles = it->second.roles;
  auto pos = std::lower_bound(roles.begin(), roles.end(), role_name);
  if (pos != roles.end() && *pos == role_name) return std::nullopt;  // etcd: already granted is fine
  roles.insert(pos, role_name);
  bump(batch);
  write_user(it->second, batch);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::user_revoke_role(const std::string& name, const std::string& role_name,
                                                     storage::WriteBatch& batch) {
  if (enabled_ && name == kRootUser && role_name == kRootRole) return err_invalid_auth_mgmt();
  auto it = users_.find(name);
  if (it == users_.end()) return err_user_not_found();
  auto& roles = it->second.roles;
  auto pos = std::lower_bound(roles.begin(), roles.end(), role_name);
  if (pos == roles.end() || *pos != role_name) return err_role_not_granted();
  roles.erase(pos);
  bump(batch);
  it->second.token_floor = revision_;
  write_user(it->second, batch);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::role_add(const std::string& name, storage::WriteBatch& batch) {
  if (name.empty()) return err_role_empty();
  if (roles_.count(name)) return err_role_already_exist();
  authpb::Role r;
  r.set_name(name);
  bump(batch);
  write_role(r, batch);
  roles_[name] = std::move(r);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::role_delete(const std::string& name, storage::WriteBatch& batch) {
  if (enabled_ && name == kRootRole) return err_invalid_auth_mgmt();
  if (!roles_.count(name)) return err_role_not_found();
  roles_.erase(name);
  batch.erase(Space::kAuth, std::string(kRolePrefix) + name);
  bump(batch);
  // As etcd: the role is revoked from every user that held it.
  for (auto& [un, u] : users_) {
    auto pos = std::lower_bound(u.roles.begin(), u.roles.end(), name);
    if (pos == u.roles.end() || *pos != name) continue;
    u.roles.erase(pos);
    u.token_floor = revision_;
    write_user(u, batch);
  }
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::role_grant_permission(const std::string& name,
                                                          const authpb::Permission& perm,
                                                          storage::WriteBatch& batch) {
  auto it = roles_.find(name);
  if (it == roles_.end()) return err_role_not_found();
  if (!valid_permission_range(perm.key(), perm.range_end())) return err_invalid_auth_mgmt();
  auto* perms = it->second.mutable_keypermission();
  auto pos = std::lower_bound(perms->begin(), perms->end(), perm, perm_less);
  if (pos != perms->end() && pos->key() == perm.key() && pos->range_end() == perm.range_end()) {
    pos->set_permtype(perm.permtype());  // the same key or range again: its type is replaced
  } else {
    int at = static_cast<int>(pos - perms->begin());
    *perms->Add() = perm;
    for (int i = perms->size() - 1; i > at; --i)
      perms->SwapElements(i, i - 1);
  }
  bump(batch);
  write_role(it->second, batch);
  return std::nullopt;
}

std::optional<EtcdError> AuthStore::role_revoke_permission(const std::string& name, const std::string& key,
                                                           const std::string& range_end,
                                                           storage::WriteBatch& batch) {
  auto it = roles_.find(name);
  if (it == roles_.end()) return err_role_not_found();
  auto* perms = it->second.mutable_keypermission();
  for (int i = 0; i < perms->size(); ++i) {
    if (perms->Get(i).key() != key || perms->Get(i).range_end() != range_end) continue;
    perms->DeleteSubrange(i, 1);
    bump(batch);
    write_role(it->second, batch);
    return std::nullopt;
  }
  return err_permission_not_granted();
}

}  // namespace cairn::server::auth
