#include "server/auth/backend_format.h"

#include <algorithm>

namespace cairn::server::auth {

storage::etcd_backend::AuthExport export_auth(const AuthStore& store) {
  storage::etcd_backend::AuthExport out;
  // A store whose auth was never touched is what a fresh etcd writes: no authEnabled key, revision 1.
  if (store.revision() > 0 || store.enabled()) out.enabled = store.enabled();
  out.revision = std::max<uint64_t>(store.revision(), 1);
  for (const auto& [name, u] : store.users()) {
    authpb::User pb;
    pb.set_name(u.name);
    pb.set_password(u.password_hash);
    for (const auto& r : u.roles)
      pb.add_roles(r);
    pb.mutable_options()->set_no_password(u.no_password);
    out.users[name] = pb.SerializeAsString();
  }
  for (const auto& [name, r] : store.roles())
    out.roles[name] = r.SerializeAsString();
  return out;
}

namespace {

Expected<User, std::string> user_from(const std::string& name, const std::string& bytes, uint64_t floor) {
  authpb::User pb;
  if (!pb.ParseFromString(bytes) || pb.name() != name)
    return unexpected("auth user record " + name + " does not decode");
  User u;
  u.name = pb.name();
  u.password_hash = pb.password();
  u.roles.assign(pb.roles().begin(), pb.roles().end());
  std::sort(u.roles.begin(), u.roles.end());
  u.roles.erase(std::unique(u.roles.begin(), u.roles.end()), u.roles.end());
  u.no_password = pb.options().no_password();
  u.token_floor = floor;
  return u;
}

}  // namespace

Expected<storage::Unit, std::string> import_auth(const storage::etcd_backend::AuthExport& state,
                                                 storage::KvEngine& engine) {
  const uint64_t revision = std::max<uint64_t>(state.revision, 1);
  std::vector<User> users;
  std::vector<authpb::Role> roles;
  for (const auto& [name, bytes] : state.users) {
    auto u = user_from(name, bytes, revision);
    if (!u) return unexpected(u.error());
    users.push_back(std::move(*u));
  }
  for (const auto& [name, bytes] : state.roles) {
    authpb::Role r;
    if (!r.ParseFromString(bytes) || r.name() != name)
      return unexpected("auth role record " + name + " does not decode");
    std::sort(r.mutable_keypermission()->begin(), r.mutable_keypermission()->end(),
              [](const authpb::Permission& a, const authpb::Permission& b) {
                return a.key() != b.key() ? a.key() < b.key() : a.range_end() < b.range_end();
              });
    roles.push_back(std::move(r));
  }
  AuthStore store;
  storage::WriteBatch batch;
  store.restore(state.enabled.value_or(false), revision, std::move(users), std::move(roles), batch);
  if (store.enabled() && !store.is_root(kRootUser))
    return unexpected("the snapshot's auth is enabled but its root user does not hold the root role");
  if (auto w = engine.write(batch, storage::WriteOptions{/*sync=*/false, /*log=*/false}); !w)
    return unexpected("write auth records: " + w.error().message());
  if (auto y = engine.sync(); !y) return unexpected("sync store: " + y.error().message());
  return storage::Unit{};
}

}  // namespace cairn::server::auth
