#include "ctl/auth.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "ctl/auth_format.h"
#include "ctl/commands.h"
#include "ctl/requests.h"

namespace cairn::ctl {

namespace {

namespace pb = etcdserverpb;

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "Error: %s\n", msg.c_str());
  return code;
}
int emit(const Printed& p) {
  std::fwrite(p.out.data(), 1, p.out.size(), stdout);
  std::fflush(stdout);
  if (!p.err.empty()) std::fwrite(p.err.data(), 1, p.err.size(), stderr);
  if (!p.error.empty()) return fail(p.exit_code, p.error);
  return p.exit_code;
}

// A header-only response: etcdctl's simple line, or the response in the chosen format.
template <class Resp>
int out(const Resp& r, const std::string& simple, const PrintOptions& print) {
  return emit(print_auth_plain(r, r.header(), simple, print));
}

template <typename Resp>
bool call(Connection& c, const char* method, const google::protobuf::Message& req, Resp& resp, int& code) {
  auto r = c.unary(method, req.SerializeAsString(), false);
  if (!r.status.is_ok()) {
    code = fail(kExitError, error_text(r.status));
    return false;
  }
  if (!resp.ParseFromString(r.response)) {
    code = fail(kExitError, std::string("malformed response from ") + method);
    return false;
  }
  return true;
}

std::string prompt_quiet(const std::string& text) {
  std::fprintf(stderr, "%s", text.c_str());
  std::fflush(stderr);
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string line;
  std::getline(std::cin, line);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::fprintf(stderr, "\n");
  return line;
}

// etcdctl: --interactive=false reads the password from stdin (one word); otherwise it prompts twice
// on the terminal with echo off.
std::optional<std::string> read_password(const std::string& user, bool interactive, std::string& err) {
  if (!interactive) {
    std::string word;
    std::cin >> word;
    return word;
  }
  if (!::isatty(STDIN_FILENO)) {
    err = "no terminal to prompt for the password of " + user +
          ": give name:password, or --interactive=false and the password on stdin";
    return std::nullopt;
  }
  std::string a = prompt_quiet("Password of " + user + ": ");
  std::string b = prompt_quiet("Type password of " + user + " again for confirmation: ");
  if (a != b) {
    err = "given passwords are different";
    return std::nullopt;
  }
  return a;
}

// etcdctl's permRange / rangeEndFromPermFlags.
bool perm_range(const std::vector<std::string>& a, bool prefix, bool from_key, std::string& key,
                std::string& end, std::string& err) {
  key = a[0];
  if (prefix && from_key) {
    err = "--from-key and --prefix flags are mutually exclusive";
    return false;
  }
  if (key.empty()) {
    // An empty key means the whole key space, written ["\0", ...) as etcd's interval tree needs.
    key = std::string(1, '\0');
    if (prefix || from_key) end = std::string(1, '\0');
    return true;
  }
  if (a.size() == 1) {
    end = prefix ? prefix_range_end(key) : from_key ? std::string(1, '\0') : "";
    return true;
  }
  if (prefix || from_key) {
    err = std::string("unexpected endkey argument with --") + (prefix ? "prefix" : "from-key") + " flag";
    return false;
  }
  end = a[1];
  return true;
}

int user_cmd(const std::string& sub, const Invocation& inv, Connection& c, const PrintOptions& print) {
  const auto& a = inv.args;
  int code = 0;
  if (sub == "list") {
    pb::AuthUserListResponse r;
    if (!call(c, "/etcdserverpb.Auth/UserList", pb::AuthUserListRequest{}, r, code)) return code;
    std::string s;
    for (const auto& u : r.users())
      s += u + "\n";
    return emit(print_user_list(r, s, print));
  }
  if (sub == "add") {
    if (a.size() != 1) return fail(kExitBadArgs, "user add command requires user name as its argument");
    std::string user = a[0], password;
    if (!inv.new_user_password.empty()) {
      password = inv.new_user_password;
    } else if (auto colon = user.find(':'); colon != std::string::npos) {
      password = user.substr(colon + 1);
      user = user.substr(0, colon);
      if (user.empty()) return fail(kExitBadArgs, "empty user name is not allowed");
    } else if (!inv.no_password) {
      std::string err;
      auto p = read_password(user, inv.password_interactive, err);
      if (!p) return fail(kExitBadArgs, err);
      password = *p;
    }
    pb::AuthUserAddRequest req;
    req.set_name(user);
    req.set_password(password);
    req.mutable_options()->set_no_password(inv.no_password);
    pb::AuthUserAddResponse r;
    if (!call(c, "/etcdserverpb.Auth/UserAdd", req, r, code)) return code;
    return out(r, "User " + user + " created\n", print);
  }
  if (sub == "passwd") {
    if (a.size() != 1) return fail(kExitBadArgs, "user passwd command requires user name as its argument");
    std::string err;
    auto p = read_password(a[0], inv.password_interactive, err);
    if (!p) return fail(kExitBadArgs, err);
    pb::AuthUserChangePasswordRequest req;
    req.set_name(a[0]);
    req.set_password(*p);
    pb::AuthUserChangePasswordResponse r;
    if (!call(c, "/etcdserverpb.Auth/UserChangePassword", req, r, code)) return code;
    return out(r, "Password updated\n", print);
  }
  if (sub == "grant-role" || sub == "revoke-role") {
    if (a.size() != 2)
      return fail(kExitBadArgs, "user " + sub + " command requires user name and role name as its argument");
    if (sub == "grant-role") {
      pb::AuthUserGrantRoleRequest req;
      req.set_user(a[0]);
      req.set_role(a[1]);
      pb::AuthUserGrantRoleResponse r;
      if (!call(c, "/etcdserverpb.Auth/UserGrantRole", req, r, code)) return code;
      return out(r, "Role " + a[1] + " is granted to user " + a[0] + "\n", print);
    }
    pb::AuthUserRevokeRoleRequest req;
    req.set_name(a[0]);
    req.set_role(a[1]);
    pb::AuthUserRevokeRoleResponse r;
    if (!call(c, "/etcdserverpb.Auth/UserRevokeRole", req, r, code)) return code;
    return out(r, "Role " + a[1] + " is revoked from user " + a[0] + "\n", print);
  }
  if (a.size() != 1) return fail(kExitBadArgs, "user " + sub + " command requires user name as its argument");
  if (sub == "get") {
    pb::AuthUserGetRequest req;
    req.set_name(a[0]);
    pb::AuthUserGetResponse r;
    if (!call(c, "/etcdserverpb.Auth/UserGet", req, r, code)) return code;
    return emit(print_user_get(r, simple_user_get(a[0], r), print));
  }
  if (sub == "delete") {
    pb::AuthUserDeleteRequest req;
    req.set_name(a[0]);
    pb::AuthUserDeleteResponse r;
    if (!call(c, "/etcdserverpb.Auth/UserDelete", req, r, code)) return code;
    return out(r, "User " + a[0] + " deleted\n", print);
  }
  return fail(kExitBadArgs, "unknown user command " + sub);
}

int role_cmd(const std::string& sub, const Invocation& inv, Connection& c, const PrintOptions& print) {
  const auto& a = inv.args;
  int code = 0;
  if (sub == "list") {
    pb::AuthRoleListResponse r;
    if (!call(c, "/etcdserverpb.Auth/RoleList", pb::AuthRoleListRequest{}, r, code)) return code;
    std::string s;
    for (const auto& role : r.roles())
      s += role + "\n";
    return emit(print_role_list(r, s, print));
  }
  if (sub == "grant-permission") {
    if (a.size() < 3 || a.size() > 4)
      return fail(kExitBadArgs,
                  "role grant command requires role name, permission type, and key [endkey] as its argument");
    std::string t;
    for (char ch : a[1])
      t += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    authpb::Permission::Type type;
    if (!authpb::Permission::Type_Parse(t, &type))
      return fail(kExitBadArgs, "invalid permission type: " + a[1]);
    std::string key, end, err;
    if (!perm_range({a.begin() + 2, a.end()}, inv.perm_prefix, inv.perm_from_key, key, end, err))
      return fail(kExitBadArgs, err);
    pb::AuthRoleGrantPermissionRequest req;
    req.set_name(a[0]);
    req.mutable_perm()->set_permtype(type);
    req.mutable_perm()->set_key(key);
    req.mutable_perm()->set_range_end(end);
    pb::AuthRoleGrantPermissionResponse r;
    if (!call(c, "/etcdserverpb.Auth/RoleGrantPermission", req, r, code)) return code;
    return out(r, "Role " + a[0] + " updated\n", print);
  }
  if (sub == "revoke-permission") {
    if (a.size() < 2 || a.size() > 3)
      return fail(kExitBadArgs,
                  "role revoke-permission command requires role name and key [endkey] as its argument");
    std::string key, end, err;
    if (!perm_range({a.begin() + 1, a.end()}, inv.perm_prefix, inv.perm_from_key, key, end, err))
      return fail(kExitBadArgs, err);
    pb::AuthRoleRevokePermissionRequest req;
    req.set_role(a[0]);
    req.set_key(key);
    req.set_range_end(end);
    pb::AuthRoleRevokePermissionResponse r;
    if (!call(c, "/etcdserverpb.Auth/RoleRevokePermission", req, r, code)) return code;
    return out(r, simple_role_revoke(a[0], key, end), print);
  }
  if (a.size() != 1) return fail(kExitBadArgs, "role " + sub + " command requires role name as its argument");
  if (sub == "add") {
    pb::AuthRoleAddRequest req;
    req.set_name(a[0]);
    pb::AuthRoleAddResponse r;
    if (!call(c, "/etcdserverpb.Auth/RoleAdd", req, r, code)) return code;
    return out(r, "Role " + a[0] + " created\n", print);
  }
  if (sub == "get") {
    pb::AuthRoleGetRequest req;
    req.set_role(a[0]);
    pb::AuthRoleGetResponse r;
    if (!call(c, "/etcdserverpb.Auth/RoleGet", req, r, code)) return code;
    return emit(print_role_get(r, simple_role_get(a[0], r), print));
  }
  if (sub == "delete") {
    pb::AuthRoleDeleteRequest req;
    req.set_role(a[0]);
    pb::AuthRoleDeleteResponse r;
    if (!call(c, "/etcdserverpb.Auth/RoleDelete", req, r, code)) return code;
    return out(r, "Role " + a[0] + " deleted\n", print);
  }
  return fail(kExitBadArgs, "unknown role command " + sub);
}

}  // namespace

std::optional<std::string> prompt_password(const std::string& prompt, std::string& err) {
  if (!::isatty(STDIN_FILENO)) {
    std::string line;
    if (!std::getline(std::cin, line)) {
      err = "no password given (no terminal to prompt on, nothing on stdin)";
      return std::nullopt;
    }
    return line;
  }
  return prompt_quiet(prompt);
}

int run_auth_command(const std::string& group, const std::string& sub, const Invocation& inv,
                     const ConnectionOptions& copts, const PrintOptions& print) {
  Connection c(copts);
  if (group == "user") return user_cmd(sub, inv, c, print);
  if (group == "role") return role_cmd(sub, inv, c, print);
  if (!inv.args.empty()) return fail(kExitBadArgs, "auth " + sub + " command does not accept any arguments");
  int code = 0;
  // etcdctl prints these two lines whatever the output format.
  auto line = [](const char* s) {
    std::fputs(s, stdout);
    std::fflush(stdout);
    return kExitSuccess;
  };
  if (sub == "enable") {
    // As etcdctl: when the root user lacks the root role, the role is created (if missing) and
    // granted to root, and the enable retried.
    for (int attempt = 0;; ++attempt) {
      auto r = c.unary("/etcdserverpb.Auth/AuthEnable", pb::AuthEnableRequest{}.SerializeAsString(), false);
      if (r.status.is_ok()) break;
      if (r.status.message != "etcdserver: root user does not have root role" || attempt > 0)
        return fail(kExitError, error_text(r.status));
      pb::AuthRoleAddRequest add;
      add.set_name("root");
      auto ar = c.unary("/etcdserverpb.Auth/RoleAdd", add.SerializeAsString(), false);
      if (!ar.status.is_ok() && ar.status.message != "etcdserver: role name already exists")
        return fail(kExitError, error_text(ar.status));
      pb::AuthUserGrantRoleRequest grant;
      grant.set_user("root");
      grant.set_role("root");
      pb::AuthUserGrantRoleResponse gr;
      if (!call(c, "/etcdserverpb.Auth/UserGrantRole", grant, gr, code)) return code;
    }
    return line("Authentication Enabled\n");
  }
  if (sub == "disable") {
    pb::AuthDisableResponse r;
    if (!call(c, "/etcdserverpb.Auth/AuthDisable", pb::AuthDisableRequest{}, r, code)) return code;
    return line("Authentication Disabled\n");
  }
  return fail(kExitBadArgs, "unknown auth command " + sub);
}

}  // namespace cairn::ctl
