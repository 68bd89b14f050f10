// etcd's command-line errors, table-driven: for each bad command line (or ETCD_* variable), the first line
// cairn prints and its exit status, against what etcd 3.4.23 prints (captured from `etcd` itself; etcd's
// log prefix "2026-... E | etcdmain: " dropped and 'etcd --help' read as 'cairn --help').
// tests/server/flag_errors_vs_etcd.sh runs the same command lines against the installed etcd.
#include <gtest/gtest.h>

#include <cstdlib>

#include "server/app/flags.h"

namespace cairn::server {
namespace {

struct Case {
  std::vector<std::string> args;
  std::string env;  // NAME=value, set for the case
  int code;
  std::string first_line;  // etcd's
};

std::string verify(const std::string& s) {
  return "error verifying flags, " + s + ". See 'cairn --help'.";
}

const std::vector<Case>& cases() {
  static const std::vector<Case> k = {
      // Go's flag package: status 2, the message, then the usage.
      {{"--no-such"}, "", 2, "flag provided but not defined: -no-such"},
      {{"-no-such"}, "", 2, "flag provided but not defined: -no-such"},
      {{"--no-such=1"}, "", 2, "flag provided but not defined: -no-such"},
      {{"---name"}, "", 2, "bad flag syntax: ---name"},
      {{"-=x"}, "", 2, "bad flag syntax: -=x"},
      {{"--name"}, "", 2, "flag needs an argument: -name"},
      {{"--snapshot-count"}, "", 2, "flag needs an argument: -snapshot-count"},
      {{"--heartbeat-interval=abc"},
       "",
       2,
       "invalid value \"abc\" for flag -heartbeat-interval: parse error"},
      {{"--heartbeat-interval", "-5"},
       "",
       2,
       "invalid value \"-5\" for flag -heartbeat-interval: parse error"},
      {{"--election-timeout=1e3"}, "", 2, "invalid value \"1e3\" for flag -election-timeout: parse error"},
      {{"--max-txn-ops=-1"}, "", 2, "invalid value \"-1\" for flag -max-txn-ops: parse error"},
      {{"--quota-backend-bytes=1x"},
       "",
       2,
       "invalid value \"1x\" for flag -quota-backend-bytes: parse error"},
      {{"--snapshot-count=99999999999999999999"},
       "",
       2,
       "invalid value \"99999999999999999999\" for flag -snapshot-count: value out of range"},
      {{"--max-concurrent-streams=-1"},
       "",
       2,
       "invalid value \"-1\" for flag -max-concurrent-streams: strconv.ParseUint: parsing \"-1\": invalid "
       "syntax"},
      {{"--max-concurrent-streams=4294967296"},
       "",
       2,
       "invalid value \"4294967296\" for flag -max-concurrent-streams: strconv.ParseUint: parsing "
       "\"4294967296\": "
       "value out of range"},
      {{"--grpc-keepalive-min-time=5"},
       "",
       2,
       "invalid value \"5\" for flag -grpc-keepalive-min-time: parse error"},
      {{"--pre-vote=maybe"}, "", 2, "invalid boolean value \"maybe\" for -pre-vote: parse error"},
      {{"--force-new-cluster="}, "", 2, "invalid boolean value \"\" for -force-new-cluster: parse error"},
      {{"--initial-cluster-state=maybe"},
       "",
       2,
       "invalid value \"maybe\" for flag -initial-cluster-state: invalid value"},
      {{"--discovery-fallback=foo"},
       "",
       2,
       "invalid value \"foo\" for flag -discovery-fallback: invalid value"},
      {{"--cors=foo"},
       "",
       2,
       "invalid value \"foo\" for flag -cors: URL scheme must be http, https, unix, or unixs: foo"},
      {{"--listen-client-urls=127.0.0.1:2379"},
       "",
       2,
       "invalid value \"127.0.0.1:2379\" for flag -listen-client-urls: parse \"127.0.0.1:2379\": first path "
       "segment "
       "in URL cannot contain colon"},
      {{"--listen-client-urls=localhost:2379"},
       "",
       2,
       "invalid value \"localhost:2379\" for flag -listen-client-urls: URL scheme must be http, https, unix, "
       "or "
       "unixs: localhost:2379"},
      {{"--listen-client-urls=http://127.0.0.1"},
       "",
       2,
       "invalid value \"http://127.0.0.1\" for flag -listen-client-urls: URL address does not have the form "
       "\"host:port\": http://127.0.0.1"},
      {{"--listen-client-urls=http://127.0.0.1:2379/"},
       "",
       2,
       "invalid value \"http://127.0.0.1:2379/\" for flag -listen-client-urls: URL must not contain a path: "
       "http://127.0.0.1:2379/"},
      {{"--listen-client-urls=http://127.0.0.1:abc"},
       "",
       2,
       "invalid value \"http://127.0.0.1:abc\" for flag -listen-client-urls: parse \"http://127.0.0.1:abc\": "
       "invalid port \":abc\" after host"},
      // etcd's validation: status 1, one line.
      {{"extra-arg"}, "", 1, verify("'extra-arg' is not a valid flag")},
      {{"--name", "x", "--", "--name", "y"}, "", 1, verify("'--name' is not a valid flag")},
      {{"--logger=foo"}, "", 1, verify("unknown logger option \"foo\"")},
      {{"--auto-compaction-mode=foo"}, "", 1, verify("unknown auto-compaction-mode \"foo\"")},
      {{"--heartbeat-interval=0"}, "", 1, verify("--heartbeat-interval must be >0 (set to 0ms)")},
      {{"--heartbeat-interval=100", "--election-timeout=200"},
       "",
       1,
       verify("--election-timeout[200ms] should be at least as 5 times as --heartbeat-interval[100ms]")},
      {{"--election-timeout=60000"},
       "",
       1,
       verify("--election-timeout[60000ms] is too long, and should be set less than 50000ms")},
      {{"--listen-client-urls=http://127.0.0.1:2379"},
       "",
       1,
       verify("--advertise-client-urls is required when --listen-client-urls is set explicitly")},
      {{"--listen-client-urls=http://:2379", "--advertise-client-urls=http://127.0.0.1:2379"},
       "",
       1,
       verify("expected IP in URL for binding (http://:2379)")},
      {{"--initial-advertise-peer-urls=http://:2380"},
       "",
       1,
       verify("--initial-advertise-peer-urls \"http://:2380\" must be \"host:port\" (unexpected empty host "
              "(http://:2380))")},
      {{"--experimental-enable-lease-checkpoint-persist"},
       "",
       1,
       verify("setting experimental-enable-lease-checkpoint-persist requires "
              "experimental-enable-lease-checkpoint")},
      {{},
       "ETCD_HEARTBEAT_INTERVAL=abc",
       1,
       verify("invalid value \"abc\" for ETCD_HEARTBEAT_INTERVAL: parse error")},
      {{}, "ETCD_PRE_VOTE=maybe", 1, verify("invalid value \"maybe\" for ETCD_PRE_VOTE: parse error")},
      {{"--name", "y"},
       "ETCD_NAME=x",
       1,
       "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding command-line flag "
       "(either unset "
       "environment variable or disable flag)"},
  };
  return k;
}

Expected<app::ServerConfig, app::ParseExit> parse(const Case& c) {
  std::vector<const char*> argv{"cairn"};
  for (auto& a : c.args)
    argv.push_back(a.c_str());
  std::string name, value;
  if (!c.env.empty()) {
    name = c.env.substr(0, c.env.find('='));
    value = c.env.substr(c.env.find('=') + 1);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  auto r = app::parse_flags(static_cast<int>(argv.size()), argv.data());
  if (!name.empty()) ::unsetenv(name.c_str());
  return r;
}

TEST(FlagErrors, MatchEtcd) {
  for (const auto& c : cases()) {
    std::string what = c.env;
    for (const auto& a : c.args)
      what += " " + a;
    auto r = parse(c);
    ASSERT_FALSE(r.has_value()) << what;
    EXPECT_EQ(r.error().code, c.code) << what;
    const std::string& m = r.error().message;
    EXPECT_EQ(m.substr(0, m.find('\n')), c.first_line) << what;
    // Like etcd, a command-line error is followed by the usage.
    if (c.code == 2) {
      EXPECT_NE(m.find("\nUsage:\n"), std::string::npos) << what;
    }
  }
}

// cairn's own flags (no etcd line to match): a negative size or interval is refused, not read as "off".
TEST(FlagErrors, CairnsOwnFlagsRefuseNegatives) {
  const std::vector<Case> own = {
      {{"--disk-free-reserve-bytes=-1"},
       "",
       1,
       verify("--disk-free-reserve-bytes must not be negative (0: off)")},
      {{"--state-check-interval=-1s"},
       "",
       1,
       verify("--state-check-interval must not be negative (0: never propose a check)")},
  };
  for (const auto& c : own) {
    auto r = parse(c);
    ASSERT_FALSE(r.has_value()) << c.args[0];
    EXPECT_EQ(r.error().code, c.code) << c.args[0];
    const std::string& m = r.error().message;
    EXPECT_EQ(m.substr(0, m.find('\n')), c.first_line) << c.args[0];
  }
  for (const char* ok : {"--disk-free-reserve-bytes=0", "--state-check-interval=0s"}) {
    std::vector<const char*> argv{"cairn", ok};
    EXPECT_TRUE(app::parse_flags(2, argv.data()).has_value()) << ok;
  }
}

TEST(FlagErrors, GoFlagSyntaxThatWorks) {
  // -name (one dash), --name=value, a separate value that starts with '-', a bool alone, "--" ends flags.
  std::vector<const char*> argv{"cairn",
                                "-name",
                                "a",
                                "--initial-cluster=a=http://localhost:2380",
                                "--quota-backend-bytes",
                                "-1",
                                "--pre-vote",
                                "-strict-reconfig-check=false",
                                "--"};
  auto r = app::parse_flags(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->flags.name, "a");
  EXPECT_EQ(r->flags.quota_backend_bytes, -1);
  EXPECT_TRUE(r->flags.pre_vote);
  EXPECT_FALSE(r->flags.strict_reconfig_check);
  // etcd's removed v2 flags are accepted and ignored, with or without a value.
  std::vector<const char*> old{"cairn", "-v", "--peer-heartbeat-interval=5"};
  EXPECT_TRUE(app::parse_flags(static_cast<int>(old.size()), old.data()));
}

}  // namespace
}  // namespace cairn::server
