// Token providers (server/auth/tokens.h) on a simulated clock: simple-token TTL (sliding, expiry,
// bound), JWT sign/verify for each family, and refusal of forged, expired, re-signed and malformed JWTs.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "server/auth/tokens.h"

namespace cairn::server::auth {
namespace {

class SimClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override { return t_; }
  int64_t unix_seconds() const override {
    return 1'700'000'000 + std::chrono::duration_cast<std::chrono::seconds>(t_.time_since_epoch()).count();
  }
  void advance(std::chrono::seconds s) { t_ += s; }

 private:
  std::chrono::steady_clock::time_point t_{};
};

struct Pem {
  std::string pub, priv;
};

Pem keygen(const char* type, const char* curve_or_null) {
  EVP_PKEY* k = curve_or_null ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve_or_null)
                              : EVP_PKEY_Q_keygen(nullptr, nullptr, type, static_cast<size_t>(2048));
  EXPECT_NE(k, nullptr);
  auto dump = [&](bool priv) {
    BIO* b = BIO_new(BIO_s_mem());
    if (priv) {
      PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(b, k);
    }
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<size_t>(n));
    BIO_free(b);
    return s;
  };
  Pem p{dump(false), dump(true)};
  EVP_PKEY_free(k);
  return p;
}

TEST(SimpleTokens, SlidingTtlAndExpiry) {
  auto clock = std::make_shared<SimClock>();
  SimpleTokens t(clock, std::chrono::seconds(300));
  std::string tok = random_simple_token();
  EXPECT_EQ(tok.size(), kSimpleTokenChars);
  EXPECT_NE(tok, random_simple_token());
  t.add(tok, TokenInfo{"alice", 7});
  clock->advance(std::chrono::seconds(299));
  EXPECT_EQ(t.verify(tok), (TokenInfo{"alice", 7}));  // used: lives 300 s from now
  clock->advance(std::chrono::seconds(299));
  EXPECT_TRUE(t.verify(tok).has_value());
  clock->advance(std::chrono::seconds(300));
  EXPECT_FALSE(t.verify(tok).has_value());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.verify("nosuch").has_value());
}

TEST(SimpleTokens, ForgetUserAndClear) {
  auto clock = std::make_shared<SimClock>();
  SimpleTokens t(clock, std::chrono::seconds(10));
  t.add("a1", TokenInfo{"a", 1});
  t.add("a2", TokenInfo{"a", 1});
  t.add("b1", TokenInfo{"b", 1});
  t.forget_user("a");
  EXPECT_FALSE(t.verify("a1"));
  EXPECT_FALSE(t.verify("a2"));
  EXPECT_TRUE(t.verify("b1"));
  t.clear();
  EXPECT_FALSE(t.verify("b1"));
}

TEST(SimpleTokens, BoundedCount) {
  auto clock = std::make_shared<SimClock>();
  SimpleTokens t(clock, std::chrono::seconds(1000));
  for (size_t i = 0; i < kSimpleTokensMax + 10; ++i) {
    t.add("t" + std::to_string(i), TokenInfo{"u", 1});
    if (i % 1000 == 0) clock->advance(std::chrono::seconds(0));
  }
  EXPECT_EQ(t.size(), kSimpleTokensMax);
  EXPECT_TRUE(t.verify("t" + std::to_string(kSimpleTokensMax + 9)).has_value());
}

std::string flip_char(std::string s, size_t pos) {
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  return s;
}

void check_jwt_family(const std::string& method, const Pem& keys, const Pem& other) {
  SCOPED_TRACE(method);
  auto clock = std::make_shared<SimClock>();
  auto j = JwtTokens::from_pem(method, keys.pub, keys.priv, std::chrono::seconds(60), clock);
  ASSERT_TRUE(j) << j.error();
  auto tok = (*j)->sign(TokenInfo{"alice", 42});
  ASSERT_TRUE(tok);
  EXPECT_EQ((*j)->verify(*tok), (TokenInfo{"alice", 42}));
  // Forged: payload changed (signature no longer matches), signature changed, another key pair.
  size_t dot1 = tok->find('.'), dot2 = tok->rfind('.');
  EXPECT_FALSE((*j)->verify(flip_char(*tok, dot1 + 3)));
  EXPECT_FALSE((*j)->verify(flip_char(*tok, dot2 + 5)));
  EXPECT_FALSE((*j)->verify(flip_char(*tok, tok->size() - 1)));  // also a non-canonical spelling
  auto o = JwtTokens::from_pem(method, other.pub, other.priv, std::chrono::seconds(60), clock);
  ASSERT_TRUE(o);
  EXPECT_FALSE((*j)->verify(*(*o)->sign(TokenInfo{"alice", 42})));
  // Malformed.
  EXPECT_FALSE((*j)->verify(""));
  EXPECT_FALSE((*j)->verify("a.b"));
  EXPECT_FALSE((*j)->verify("a.b.c.d"));
  EXPECT_FALSE((*j)->verify(tok->substr(0, dot2)));
  EXPECT_FALSE((*j)->verify(std::string(kTokenBytesMax + 1, 'a')));
  // Expired.
  clock->advance(std::chrono::seconds(61));
  EXPECT_FALSE((*j)->verify(*tok));
}

TEST(JwtTokens, RsaPssAndEcdsaSignAndVerify) {
  Pem rsa = keygen("RSA", nullptr), rsa2 = keygen("RSA", nullptr);
  for (const char* m : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
    check_jwt_family(m, rsa, rsa2);
  check_jwt_family("ES256", keygen("EC", "P-256"), keygen("EC", "P-256"));
  check_jwt_family("ES384", keygen("EC", "P-384"), keygen("EC", "P-384"));
  check_jwt_family("ES512", keygen("EC", "P-521"), keygen("EC", "P-521"));
}

TEST(JwtTokens, RefusesOtherAlgorithmsAndBadKeys) {
  auto clock = std::make_shared<SimClock>();
  Pem rsa = keygen("RSA", nullptr), ec = keygen("EC", "P-256");
  auto j = JwtTokens::from_pem("RS256", rsa.pub, rsa.priv, std::chrono::seconds(60), clock);
  ASSERT_TRUE(j);
  auto ps = JwtTokens::from_pem("PS256", rsa.pub, rsa.priv, std::chrono::seconds(60), clock);
  ASSERT_TRUE(ps);
  // A valid PS256 token from the same key is not an RS256 token.
  EXPECT_FALSE((*j)->verify(*(*ps)->sign(TokenInfo{"u", 1})));
  // "none": header {"alg":"none"} with the claims and no signature.
  auto tok = *(*j)->sign(TokenInfo{"root", 1});
  std::string none =
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0" + tok.substr(tok.find('.'), tok.rfind('.') - tok.find('.')) + ".";
  EXPECT_FALSE((*j)->verify(none));
  EXPECT_FALSE(
      JwtTokens::from_pem("RS256", ec.pub, ec.priv, std::chrono::seconds(60), clock));  // wrong key type
  EXPECT_FALSE(
      JwtTokens::from_pem("ES384", ec.pub, ec.priv, std::chrono::seconds(60), clock));  // wrong curve
  EXPECT_FALSE(
      JwtTokens::from_pem("RS256", rsa.pub, keygen("RSA", nullptr).priv, std::chrono::seconds(60), clock));
  EXPECT_FALSE(JwtTokens::from_pem("HS999", rsa.pub, rsa.priv, std::chrono::seconds(60), clock));
  EXPECT_FALSE(JwtTokens::from_pem("RS256", "not pem", rsa.priv, std::chrono::seconds(60), clock));
}

TEST(TokenSpec, Parses) {
  EXPECT_FALSE(parse_token_spec("simple")->jwt);
  auto j = parse_token_spec("jwt,pub-key=/p,priv-key=/q,sign-method=ES256,ttl=1h30m");
  ASSERT_TRUE(j);
  EXPECT_TRUE(j->jwt);
  EXPECT_EQ(j->jwt_options.pub_key_path, "/p");
  EXPECT_EQ(j->jwt_options.sign_method, "ES256");
  EXPECT_EQ(j->jwt_options.ttl, std::chrono::seconds(5400));
  EXPECT_FALSE(parse_token_spec("jwt,pub-key=/p"));
  EXPECT_FALSE(parse_token_spec("jwt,pub-key=/p,priv-key=/q,sign-method=HS1"));
  EXPECT_FALSE(parse_token_spec("jwt,pub-key=/p,priv-key=/q,ttl=5x"));
  EXPECT_FALSE(parse_token_spec("jwt,pub-key=/p,priv-key=/q,color=red"));
  EXPECT_FALSE(parse_token_spec("opaque"));
}

}  // namespace
}  // namespace cairn::server::auth
