// Token providers (etcd's --auth-token): what Authenticate hands out and what every request presents.
//
//   simple  Random opaque tokens (32 characters from a 62-letter alphabet, from OpenSSL's RAND_bytes:
//           190 bits). The member that runs Authenticate picks the token and proposes it; every member
//           registers it when the entry applies, so a token from one member works on all. Each member
//           keeps it for --auth-token-ttl after its last use (etcd's sliding TTL, default 300 s), in
//           memory only: a restarted member has none (clients authenticate again on "invalid auth
//           token", as clientv3 does). At most kSimpleTokensMax tokens; past that the one closest to
//           expiry goes first.
//   jwt     Signed JSON Web Tokens: header {"alg":<sign-method>,"typ":"JWT"}, claims
//           {"username","revision","exp"}, signed with priv-key and checked with pub-key (OpenSSL's EVP:
//           RS256/384/512, PS256/384/512, ES256/384/512, ES signatures as JWS's raw r||s). A token whose
//           header names any other algorithm ("none" included) is refused. Every member with the same
//           key pair accepts every member's tokens.
//
// Both answer verify() with the user and the auth revision the token was issued at; the caller (auth.h)
// voids tokens issued before the user's or the store's token floor (password change, role revoke, user
// delete, auth disable), which is how a JWT, which no member can forget, is revoked too.
//
// Threading: verify() from any thread; register/forget from the node thread; both providers lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace cairn::server::auth {

inline constexpr size_t kSimpleTokensMax = 100'000;
inline constexpr size_t kSimpleTokenChars = 32;
inline constexpr size_t kTokenBytesMax = 8192;  // longer presented tokens are refused unread
inline constexpr size_t kJwtCacheEntriesMax = 10'000;

// Time for the providers: steady time for the simple TTLs, wall time for JWT expiry (a claim other
// members read). Tests pass a simulated one.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
  virtual int64_t unix_seconds() const = 0;
};
std::shared_ptr<Clock> system_clock();

struct TokenInfo {
  std::string user;
  uint64_t revision = 0;  // auth revision at issue
  bool operator==(const TokenInfo&) const = default;
};

// A random simple token (kSimpleTokenChars letters and digits).
std::string random_simple_token();

class SimpleTokens {
 public:
  SimpleTokens(std::shared_ptr<Clock> clock, std::chrono::seconds ttl)
      : clock_(std::move(clock)), ttl_(ttl) {}
  void add(const std::string& token, TokenInfo info);
  // The token's owner, refreshing its TTL; nullopt when unknown or expired.
  std::optional<TokenInfo> verify(std::string_view token);
  void forget_user(const std::string& user);
  void clear();
  size_t size() const;

 private:
  struct Entry {
    TokenInfo info;
    std::chrono::steady_clock::time_point deadline;
  };
  void sweep_locked(std::chrono::steady_clock::time_point now);

  std::shared_ptr<Clock> clock_;
  std::chrono::seconds ttl_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> tokens_;
  std::set<std::pair<std::chrono::steady_clock::time_point, std::string>> by_deadline_;
};

struct JwtOptions {
  std::string sign_method = "RS256";
  std::string pub_key_path, priv_key_path;
  std::chrono::seconds ttl{300};  // etcd's default
};

class JwtTokens {
 public:
  // Reads the keys; errors name the file or the problem for the startup log.
  static Expected<std::unique_ptr<JwtTokens>, std::string> create(const JwtOptions& o,
                                                                  std::shared_ptr<Clock> c);
  // From PEM text (tests).
  static Expected<std::unique_ptr<JwtTokens>, std::string> from_pem(const std::string& method,
                                                                    const std::string& pub_pem,
                                                                    const std::string& priv_pem,
                                                                    std::chrono::seconds ttl,
                                                                    std::shared_ptr<Clock> c);
  ~JwtTokens();
  Expected<std::string, std::string> sign(const TokenInfo& info) const;
  std::optional<TokenInfo> verify(std::string_view token) const;
  const std::string& method() const { return method_; }

 private:
  struct Keys;
  JwtTokens() = default;
  std::optional<TokenInfo> verify_uncached(std::string_view token, int64_t* exp) const;
  // Tokens whose signature checked out, with their expiry: a signature is verified once per token, not
  // once per request (an ECDSA or RSA verify costs more than the request). Cleared when full.
  struct Verified {
    TokenInfo info;
    int64_t exp = 0;
  };
  mutable std::mutex cache_mu_;
  mutable std::map<std::string, Verified, std::less<>> cache_;
  std::string method_;
  std::chrono::seconds ttl_{300};
  std::shared_ptr<Clock> clock_;
  std::unique_ptr<Keys> keys_;
};

// --auth-token: "simple", or "jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256[,ttl=5m]".
struct TokenSpec {
  bool jwt = false;
  JwtOptions jwt_options;
};
Expected<TokenSpec, std::string> parse_token_spec(const std::string& spec);

}  // namespace cairn::server::auth
