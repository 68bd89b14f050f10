// parse_flags: the command line (Go's flag syntax), ETCD_* variables and --config-file, in etcd's order
// (flags.h). Validation and the node configuration are in server_config.cc.
#include "server/app/flags.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "server/app/flag_table.h"
#include "server/node/version.h"

extern char** environ;

namespace cairn::server::app {

namespace {

// etcd's first line (scripts grep "etcd Version: "), with the version cairn reports (server/node/version.h).
std::string version_text() {
  return std::string("etcd Version: ") + node::kEtcdServerVersion +
         "\ncairn Version: 0.1.0\nAPI Version: 3.6\n";
}

std::string verify_error(const std::string& what) {
  return "error verifying flags, " + what + ". See 'cairn --help'.";
}

ParseExit usage_error(const std::string& what) {
  return ParseExit{2, what + "\n" + usage_text()};
}

// What the command line said, before variables and the config file.
struct CommandLine {
  Flags flags;
  std::set<std::string> set;  // flag names given
  std::string config_file;
  bool version = false;
  std::vector<std::string> positional;
};

// One flag at args[i] (Go's FlagSet.parseOne). Returns false when parsing stops (a non-flag or "--").
Expected<bool, ParseExit> parse_one(const std::vector<std::string>& args, size_t& i, CommandLine& cl) {
  const std::string& s = args[i];
  if (s.size() < 2 || s[0] != '-') return false;
  size_t minuses = 1;
  if (s[1] == '-') {
    minuses = 2;
    if (s.size() == 2) {  // "--" ends the flags
      ++i;
      return false;
    }
  }
  std::string name = s.substr(minuses);
  if (name.empty() || name[0] == '-' || name[0] == '=')
    return unexpected(usage_error("bad flag syntax: " + s));
  ++i;
  bool has_value = false;
  std::string value;
  if (auto eq = name.find('='); eq != std::string::npos) {
    value = name.substr(eq + 1);
    name.resize(eq);
    has_value = true;
  }
  if (name == "version" || name == "config-file") {
    if (name == "version") {
      auto b = has_value ? go_parse_bool(value) : Expected<bool, std::string>(true);
      if (!b)
        return unexpected(
            usage_error("invalid boolean value " + go_quote(value) + " for -version: " + b.error()));
      cl.version = *b;
      return true;
    }
    if (!has_value) {
      if (i >= args.size()) return unexpected(usage_error("flag needs an argument: -config-file"));
      value = args[i++];
    }
    cl.config_file = value;
    return true;
  }
  const FlagSpec* spec = find_flag(name);
  if (!spec) {
    if (name == "help" || name == "h") return unexpected(ParseExit{0, help_text()});
    return unexpected(usage_error("flag provided but not defined: -" + name));
  }
  if (spec->kind == FlagKind::kBool || spec->kind == FlagKind::kIgnored) {
    if (auto e = set_flag(cl.flags, *spec, has_value ? value : "true"))
      return unexpected(
          usage_error("invalid boolean value " + go_quote(value) + " for -" + name + ": " + *e));
  } else {
    if (!has_value) {
      if (i >= args.size()) return unexpected(usage_error("flag needs an argument: -" + name));
      value = args[i++];
    }
    if (auto e = set_flag(cl.flags, *spec, value))
      return unexpected(usage_error("invalid value " + go_quote(value) + " for flag -" + name + ": " + *e));
  }
  cl.set.insert(name);
  return true;
}

Expected<CommandLine, ParseExit> parse_command_line(int argc, const char* const* argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CommandLine cl;
  size_t i = 0;
  while (i < args.size()) {
    auto more = parse_one(args, i, cl);
    if (!more) return unexpected(more.error());
    if (!*more) break;
  }
  cl.positional.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return cl;
}

// ETCD_* variables for the flags the command line did not set (etcd's SetFlagsFromEnv).
std::optional<std::string> apply_environment(CommandLine& cl, std::vector<std::string>& warnings) {
  std::set<std::string> known{"ETCD_CONFIG_FILE"};
  for (const auto& spec : flag_table()) {
    std::string env = flag_env_name(spec.name);
    known.insert(env);
    const char* v = std::getenv(env.c_str());
    if (!v || !*v) continue;
    if (cl.set.count(std::string(spec.name)))
      return "conflicting environment variable \"" + env +
             "\" is shadowed by corresponding command-line flag (either unset environment variable or "
             "disable "
             "flag)";
    if (auto e = set_flag(cl.flags, spec, v))
      return "invalid value " + go_quote(v) + " for " + env + ": " + *e;
    cl.set.insert(std::string(spec.name));
  }
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("ETCD_", 0) != 0) continue;
    if (!known.count(kv.substr(0, kv.find('='))))
      warnings.push_back("unrecognized environment variable " + kv);
  }
  return std::nullopt;
}

// The config file alone configures the member (etcd ignores flags and variables then).
std::optional<std::string> apply_config_file(const std::string& path, Flags& f,
                                             std::vector<std::string>& warnings) {
  std::ifstream in(path);
  if (!in) {
    std::string err = std::strerror(errno);
    if (!err.empty()) err[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(err[0])));
    return "open " + path + ": " + err;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto args = config_file_args(text.str());
  if (!args) return "config file " + path + ": " + args.error();
  f = Flags{};
  warnings.push_back("loaded the configuration from " + path +
                     "; other command-line flags and ETCD_* variables are ignored");
  for (const auto& a : *args) {
    auto eq = a.find('=');
    std::string name = a.substr(2, eq - 2), value = a.substr(eq + 1);
    const FlagSpec* spec = find_flag(name);
    if (!spec || spec->kind == FlagKind::kIgnored) {
      warnings.push_back("config file " + path + ": '" + name + "' is not an etcd setting, ignored");
      continue;
    }
    if (auto e = set_flag(f, *spec, value))
      return "config file " + path + ": invalid value " + go_quote(value) + " for " + name + ": " + *e;
  }
  return std::nullopt;
}

}  // namespace

Expected<ServerConfig, ParseExit> parse_flags(int argc, const char* const* argv) {
  auto cl = parse_command_line(argc, argv);
  if (!cl) return unexpected(cl.error());
  if (!cl->positional.empty())
    return unexpected(ParseExit{1, verify_error("'" + cl->positional[0] + "' is not a valid flag")});
  if (cl->version) return unexpected(ParseExit{0, version_text()});
  std::vector<std::string> warnings;
  Flags f;
  std::string config_file = cl->config_file;
  if (config_file.empty())
    if (const char* v = std::getenv("ETCD_CONFIG_FILE")) config_file = v;
  if (!config_file.empty()) {
    if (auto e = apply_config_file(config_file, f, warnings))
      return unexpected(ParseExit{1, verify_error(*e)});
  } else {
    if (auto e = apply_environment(*cl, warnings)) {
      // etcd reports a shadowed variable as it is, not as a flag verification error.
      bool shadowed = e->rfind("conflicting environment variable", 0) == 0;
      return unexpected(ParseExit{1, shadowed ? *e : verify_error(*e)});
    }
    f = cl->flags;
    // etcd: a member that listens on chosen client URLs must say which ones clients should use.
    if (cl->set.count("listen-client-urls") && !cl->set.count("advertise-client-urls"))
      return unexpected(ParseExit{
          1,
          verify_error("--advertise-client-urls is required when --listen-client-urls is set explicitly")});
  }
  auto sc = make_config(f);
  if (!sc) return unexpected(ParseExit{1, verify_error(sc.error())});
  sc->warnings.insert(sc->warnings.begin(), warnings.begin(), warnings.end());
  return std::move(*sc);
}

}  // namespace cairn::server::app
