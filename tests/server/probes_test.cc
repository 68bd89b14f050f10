// /livez and /readyz: the query parsing and response text of server/api/probes.h (the checks themselves
// run against a live cluster in e2e_probes.sh).
#include "server/api/probes.h"

#include <gtest/gtest.h>

namespace cairn::server::api {
namespace {

std::string header(const net::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

TEST(ProbeQuery, NoQuery) {
  ProbeQuery q = parse_probe_query("/readyz");
  EXPECT_FALSE(q.verbose);
  EXPECT_TRUE(q.exclude.empty());
}

TEST(ProbeQuery, VerboseWithAnyValueOrNone) {
  EXPECT_TRUE(parse_probe_query("/readyz?verbose").verbose);
  EXPECT_TRUE(parse_probe_query("/readyz?verbose=false").verbose);  // Go: the key is present
  EXPECT_TRUE(parse_probe_query("/readyz?exclude=a&verbose=1").verbose);
  EXPECT_FALSE(parse_probe_query("/readyz?verbosex").verbose);
}

TEST(ProbeQuery, ExcludeIsRepeatableDecodedAndSkipsEmpty) {
  ProbeQuery q = parse_probe_query("/readyz?exclude=linearizable_read&exclude=&exclude=non%5Flearner&x=1");
  EXPECT_EQ(q.exclude, (std::set<std::string>{"linearizable_read", "non_learner"}));
}

TEST(ProbeQuery, BadEscapeKeptAsIs) {
  EXPECT_EQ(parse_probe_query("/livez?exclude=a%zz").exclude, (std::set<std::string>{"a%zz"}));
  EXPECT_EQ(parse_probe_query("/livez?exclude=a%4").exclude, (std::set<std::string>{"a%4"}));
}

TEST(ProbeResponse, PassIsOkAndListsChecksOnlyWhenVerbose) {
  std::vector<CheckOutcome> ok{{"data_corruption", std::nullopt}, {"serializable_read", std::nullopt}};
  auto quiet = probe_response(ok, false);
  EXPECT_EQ(quiet.status, 200u);
  EXPECT_EQ(quiet.body, "ok\n");
  EXPECT_EQ(quiet.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(header(quiet, "x-content-type-options"), "nosniff");
  auto verbose = probe_response(ok, true);
  EXPECT_EQ(verbose.status, 200u);
  EXPECT_EQ(verbose.body, "[+]data_corruption ok\n[+]serializable_read ok\nok\n");
}

TEST(ProbeResponse, FailureIs503AndAlwaysListsEveryCheck) {
  std::vector<CheckOutcome> bad{{"data_corruption", "alarm activated: CORRUPT"},
                                {"serializable_read", std::nullopt}};
  auto r = probe_response(bad, false);
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, "[-]data_corruption failed: alarm activated: CORRUPT\n[+]serializable_read ok\n\n");
}

TEST(ProbeResponse, NothingRunPasses) {  // every check excluded: etcd answers ok
  EXPECT_EQ(probe_response({}, true).body, "ok\n");
}

}  // namespace
}  // namespace cairn::server::api
