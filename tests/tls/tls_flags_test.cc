// etcd's TLS flags in cairn's flag parsing: command line, ETCD_* variables and --config-file sections
// map onto the same options; https:// URLs need a certificate; setup_tls loads what was asked for.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "server/app/flags.h"

namespace cairn::server {
namespace {

Expected<app::ServerConfig, app::ParseExit> parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"cairn"};
  for (auto& a : args)
    argv.push_back(a.c_str());
  return app::parse_flags(static_cast<int>(argv.size()), argv.data());
}

std::vector<std::string> https_member(std::vector<std::string> extra) {
  std::vector<std::string> a{"--name",
                             "t1",
                             "--data-dir",
                             "/tmp/unused-t1",
                             "--listen-client-urls",
                             "https://127.0.0.1:18401,http://127.0.0.1:18402",
                             "--advertise-client-urls",
                             "https://127.0.0.1:18401"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(TlsFlags, CommandLine) {
  auto r =
      parse(https_member({"--cert-file", "/c.pem", "--key-file", "/k.pem", "--trusted-ca-file", "/ca.pem",
                          "--client-cert-auth", "--peer-cert-file", "/pc.pem", "--peer-key-file", "/pk.pem",
                          "--peer-trusted-ca-file", "/pca.pem", "--peer-client-cert-auth"}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->flags.cert_file, "/c.pem");
  EXPECT_EQ(r->flags.key_file, "/k.pem");
  EXPECT_EQ(r->flags.trusted_ca_file, "/ca.pem");
  EXPECT_TRUE(r->flags.client_cert_auth);
  EXPECT_FALSE(r->flags.auto_tls);
  EXPECT_EQ(r->flags.peer_cert_file, "/pc.pem");
  EXPECT_EQ(r->flags.peer_trusted_ca_file, "/pca.pem");
  EXPECT_TRUE(r->flags.peer_client_cert_auth);
  ASSERT_EQ(r->client_listen.size(), 2u);
  EXPECT_EQ(r->client_listen[0].port, 18401);
  EXPECT_EQ(r->client_listen_tls, (std::vector<bool>{true, false}));
  EXPECT_FALSE(r->peer_tls);
}

TEST(TlsFlags, HttpsNeedsACertificate) {
  auto r = parse(https_member({}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, 1);
  EXPECT_EQ(r.error().message,
            "error verifying flags, TLS key/cert (--cert-file, --key-file) must be provided for client url "
            "https://127.0.0.1:18401 with HTTPS scheme. See 'cairn --help'.");
  EXPECT_TRUE(parse(https_member({"--auto-tls"})));
  auto p = parse({"--listen-peer-urls", "https://127.0.0.1:18403", "--initial-advertise-peer-urls",
                  "https://127.0.0.1:18403"});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("--peer-cert-file, --peer-key-file"), std::string::npos)
      << p.error().message;
  auto ok = parse({"--listen-peer-urls", "https://127.0.0.1:18403", "--initial-advertise-peer-urls",
                   "https://127.0.0.1:18403", "--peer-auto-tls"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->peer_tls);
  EXPECT_EQ(ok->node.initial_members.at(0).peer_urls.at(0), "https://127.0.0.1:18403");
}

TEST(TlsFlags, EnvironmentVariables) {
  ::setenv("ETCD_CERT_FILE", "/env-c.pem", 1);
  ::setenv("ETCD_KEY_FILE", "/env-k.pem", 1);
  ::setenv("ETCD_CLIENT_CERT_AUTH", "true", 1);
  ::setenv("ETCD_PEER_AUTO_TLS", "true", 1);
  auto r = parse(https_member({}));
  ::unsetenv("ETCD_CERT_FILE");
  ::unsetenv("ETCD_KEY_FILE");
  ::unsetenv("ETCD_CLIENT_CERT_AUTH");
  ::unsetenv("ETCD_PEER_AUTO_TLS");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->flags.cert_file, "/env-c.pem");
  EXPECT_EQ(r->flags.key_file, "/env-k.pem");
  EXPECT_TRUE(r->flags.client_cert_auth);
  EXPECT_TRUE(r->flags.peer_auto_tls);
}

TEST(TlsFlags, ConfigFileSections) {
  auto args = app::config_file_args(
      "name: x\n"
      "client-transport-security:\n"
      "  cert-file: /c.pem\n"
      "  key-file: '/k.pem'\n"
      "  client-cert-auth: true\n"
      "  trusted-ca-file: /ca.pem\n"
      "  auto-tls: false\n"
      "peer-transport-security:\n"
      "  cert-file: /pc.pem\n"
      "  auto-tls: true\n"
      "  client-cert-auth:\n");
  ASSERT_TRUE(args) << args.error();
  EXPECT_EQ(*args, (std::vector<std::string>{"--name=x", "--cert-file=/c.pem", "--key-file=/k.pem",
                                             "--client-cert-auth=true", "--trusted-ca-file=/ca.pem",
                                             "--auto-tls=false", "--peer-cert-file=/pc.pem",
                                             "--peer-auto-tls=true"}));
  // etcd 3.5's keys of the sections map onto their flags (lists become comma lists).
  auto more = app::config_file_args(
      "peer-transport-security:\n  allowed-cn: m1\n  crl-file: /crl.pem\n"
      "client-transport-security:\n  allowed-hostname: [a, b]\n  no-such: 1\n");
  ASSERT_TRUE(more) << more.error();
  EXPECT_EQ(*more, (std::vector<std::string>{"--peer-cert-allowed-cn=m1", "--peer-crl-file=/crl.pem",
                                             "--client-cert-allowed-hostname=a,b",
                                             "--client-transport-security.no-such=1"}));

  std::string path = ::testing::TempDir() + "/tls-flags.yml";
  {
    std::ofstream(path) << "name: y\n"
                           "listen-client-urls: https://127.0.0.1:18404\n"
                           "advertise-client-urls: https://127.0.0.1:18404\n"
                           "client-transport-security:\n"
                           "  cert-file: /c.pem\n"
                           "  key-file: /k.pem\n"
                           "  client-cert-auth: true\n"
                           "  auto-tls: false\n";
  }
  auto r = parse({"--config-file", path});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->flags.cert_file, "/c.pem");
  EXPECT_TRUE(r->flags.client_cert_auth);
  EXPECT_FALSE(r->flags.auto_tls);
  EXPECT_EQ(r->client_listen_tls, (std::vector<bool>{true}));
}

TEST(TlsFlags, SetupGeneratesAutoTlsCertificatesAndReportsBadFiles) {
  std::string dir = ::testing::TempDir() + "/tls-flags-" + std::to_string(::getpid());
  auto r = parse({"--name", "a", "--data-dir", dir, "--listen-client-urls", "https://127.0.0.1:18405",
                  "--advertise-client-urls", "https://127.0.0.1:18405", "--auto-tls", "--listen-peer-urls",
                  "https://127.0.0.1:18406", "--initial-advertise-peer-urls", "https://127.0.0.1:18406",
                  "--peer-auto-tls"});
  ASSERT_TRUE(r) << r.error().message;
  auto e = app::setup_tls(*r);
  EXPECT_FALSE(e) << *e;
  EXPECT_TRUE(r->client_tls.has_value());
  EXPECT_TRUE(r->node.peer_transport.tls_server);
  EXPECT_TRUE(r->node.peer_transport.tls_client);
  EXPECT_TRUE(std::filesystem::exists(dir + "/fixtures/client/cert.pem"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/fixtures/peer/key.pem"));

  auto bad = parse(https_member({"--cert-file", dir + "/none.pem", "--key-file", dir + "/none-key.pem"}));
  ASSERT_TRUE(bad);
  auto err = app::setup_tls(*bad);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("open " + dir + "/none.pem: no such file or directory"), std::string::npos) << *err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cairn::server
