// The flag table (server/app/flag_table.cc): every flag takes the default its --help prints, on the
// command line, as an ETCD_* variable and as a config-file key; --help and docs/operations.md list
// every flag; a config file that sets every key of etcd 3.4's config file is accepted with its values.
#include "server/app/flag_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace cairn::server::app {
namespace {

// The default text of a flag as a value: --help's quotes removed, etcd's symbolic defaults spelled out.
std::optional<std::string> default_value(const FlagSpec& s) {
  std::string d(s.help_default);
  if (s.kind == FlagKind::kIgnored || d == "'${name}.etcd'") return std::nullopt;  // derived from --name
  if (d.size() >= 2 && d.front() == '\'' && d.back() == '\'') d = d.substr(1, d.size() - 2);
  if (d == "math.MaxUint32") d = "4294967295";
  if (d.empty() && s.kind == FlagKind::kDuration) d = "0s";  // etcd prints '' for a zero duration
  return d;
}

Expected<ServerConfig, ParseExit> parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"cairn"};
  for (auto& a : args)
    argv.push_back(a.c_str());
  return parse_flags(static_cast<int>(argv.size()), argv.data());
}

// Flags whose etcd default the command line cannot repeat alone (etcd requires the advertised URLs
// with an explicit --listen-client-urls).
bool needs_company(std::string_view name) {
  return name == "listen-client-urls";
}

TEST(FlagTable, DefaultsParseToTheDefaultValue) {
  const Flags defaults;
  for (const auto& s : flag_table()) {
    auto d = default_value(s);
    if (!d) continue;
    Flags f;
    auto e = set_flag(f, s, *d);
    ASSERT_FALSE(e) << s.name << "=" << *d << ": " << *e;
    std::visit(
        [&](auto field) {
          using T = decltype(field);
          if constexpr (!std::is_same_v<T, std::monostate>) {
            if (s.name == "initial-cluster") return;  // derived: <name>=<initial-advertise-peer-urls>
            EXPECT_TRUE(f.*field == defaults.*field) << s.name << ": --help says " << s.help_default;
          }
        },
        s.field);
  }
}

TEST(FlagTable, EveryDefaultStartsAMember) {
  for (const auto& s : flag_table()) {
    auto d = default_value(s);
    if (!d || needs_company(s.name)) continue;
    auto r = parse({"--" + std::string(s.name) + "=" + *d});
    EXPECT_TRUE(r) << s.name << ": " << r.error().message;
    std::string env = flag_env_name(s.name);
    ::setenv(env.c_str(), d->c_str(), 1);
    auto re = parse({});
    ::unsetenv(env.c_str());
    if (!d->empty()) {
      EXPECT_TRUE(re) << env << ": " << re.error().message;
    }
  }
}

TEST(FlagTable, NamesAreUniqueAndEnvNamesAreEtcds) {
  std::set<std::string_view> names;
  for (const auto& s : flag_table())
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
  EXPECT_EQ(flag_env_name("experimental-initial-corrupt-check"), "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK");
}

TEST(FlagTable, HelpListsEveryFlagWithItsDefault) {
  const std::string help = help_text();
  for (const auto& s : flag_table()) {
    if (!s.listed) continue;
    std::string line = "  --" + std::string(s.name) + " " + std::string(s.help_default) + "\n";
    EXPECT_NE(help.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(help.find("Usage:"), 0u);
}

TEST(FlagTable, OperationsDocMentionsEveryFlag) {
  std::ifstream in(std::string(CAIRN_SOURCE_DIR) + "/docs/operations.md");
  ASSERT_TRUE(in);
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& s : flag_table()) {
    if (s.kind == FlagKind::kIgnored || s.name.rfind("debug-unsafe-", 0) == 0) continue;
    EXPECT_NE(doc.str().find("`--" + std::string(s.name) + "`"), std::string::npos)
        << "docs/operations.md has no entry for --" << s.name;
  }
}

// tests/server/data/etcd-3.4-all-keys.yml: every key etcd 3.4's config file knows, written the way etcd
// reads it (durations as integers of nanoseconds, log-outputs as a list).
TEST(FlagTable, ConfigFileWithEveryEtcd34Key) {
  std::string path = std::string(CAIRN_SOURCE_DIR) + "/tests/server/data/etcd-3.4-all-keys.yml";
  auto r = parse({"--config-file", path});
  ASSERT_TRUE(r) << r.error().message;
  const Flags& f = r->flags;
  EXPECT_EQ(f.name, "allkeys");
  EXPECT_EQ(f.snapshot_count, 5000u);
  EXPECT_EQ(f.max_wals, 3u);
  EXPECT_EQ(f.max_txn_ops, 256u);
  EXPECT_EQ(f.max_concurrent_streams, 1000u);
  EXPECT_EQ(f.grpc_keepalive_min_time, std::chrono::seconds(5));
  EXPECT_EQ(f.grpc_keepalive_interval, std::chrono::hours(2));
  EXPECT_EQ(f.warning_apply_duration, std::chrono::milliseconds(200));
  EXPECT_FALSE(f.pre_vote);
  EXPECT_TRUE(f.initial_corrupt_check);
  EXPECT_EQ(f.corrupt_check_time, std::chrono::minutes(5));
  EXPECT_EQ(f.log_outputs, "stderr");
  EXPECT_EQ(f.metrics, "extensive");
  EXPECT_EQ(f.cipher_suites, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  EXPECT_EQ(r->node.max_txn_ops, 256u);
  EXPECT_FALSE(r->node.pre_vote);
  EXPECT_EQ(r->node.max_wals, 3u);
  ASSERT_EQ(r->metrics_listen.size(), 1u);
  EXPECT_EQ(r->metrics_listen[0].port, 29712);
}

}  // namespace
}  // namespace cairn::server::app
