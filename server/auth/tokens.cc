#include "server/auth/tokens.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace cairn::server::auth {

namespace {

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
  int64_t unix_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// ---- base64url without padding (RFC 7515 section 2) ----
std::string b64url_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> b64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string s(in);
  for (char& c : s) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      return std::nullopt;  // not the url alphabet
    }
  }
  size_t pad = (4 - s.size() % 4) % 4;
  s.append(pad, '=');
  std::string out(s.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  // Only the canonical encoding: unused low bits of the last character must be zero, so one token has
  // one spelling (otherwise "tampered" copies of a token would still verify).
  if (b64url_encode(out) != in) return std::nullopt;
  return out;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Method {
  const EVP_MD* md = nullptr;
  enum Kind { kRsa, kPss, kEc } kind = kRsa;
  int ec_bytes = 0;  // size of r and of s for ES*
};

std::optional<Method> method_of(const std::string& name) {
  auto sha = [](char bits) -> const EVP_MD* {
    return bits == '2' ? EVP_sha256() : bits == '3' ? EVP_sha384() : EVP_sha512();
  };
  static const char* const kNames[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                       "PS512", "ES256", "ES384", "ES512"};
  bool known = false;
  for (const char* n : kNames)
    known = known || name == n;
  if (!known) return std::nullopt;
  Method m;
  m.md = sha(name[2]);
  if (name[0] == 'P') m.kind = Method::kPss;
  if (name[0] == 'E') {
    m.kind = Method::kEc;
    m.ec_bytes = name[2] == '2' ? 32 : name[2] == '3' ? 48 : 66;
  }
  return m;
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey load_key(const std::string& pem, bool priv) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return nullptr;
  EVP_PKEY* k = priv ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                     : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return Pkey(k);
}

bool key_fits(EVP_PKEY* k, const Method& m) {
  int id = EVP_PKEY_get_base_id(k);
  if (m.kind != Method::kEc) return id == EVP_PKEY_RSA || (m.kind == Method::kPss && id == EVP_PKEY_RSA_PSS);
  if (id != EVP_PKEY_EC) return false;
  int bits = EVP_PKEY_get_bits(k);
  return (m.ec_bytes == 32 && bits == 256) || (m.ec_bytes == 48 && bits == 384) ||
         (m.ec_bytes == 66 && bits == 521);
}

bool set_padding(EVP_PKEY_CTX* pctx, const Method& m) {
  if (m.kind != Method::kPss) return true;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
}

// ECDSA: EVP's DER signature <-> JWS's fixed-size r||s.
std::optional<std::string> der_to_raw(const std::string& der, int n) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) return std::nullopt;
  std::string raw(static_cast<size_t>(2 * n), '\0');
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  bool ok = BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), n) == n &&
            BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + n, n) == n;
  ECDSA_SIG_free(sig);
  if (!ok) return std::nullopt;
  return raw;
}

std::optional<std::string> raw_to_der(std::string_view raw, int n) {
  if (raw.size() != static_cast<size_t>(2 * n)) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(p, n, nullptr);
  BIGNUM* s = BN_bin2bn(p + n, n, nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (!r || !s || !sig || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// Go-style durations for ttl=: "300s", "5m", "1h30m".
std::optional<std::chrono::seconds> parse_duration(const std::string& s) {
  if (s.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])))
      ++j;
    if (j == i || j == s.size() || j - i > 12) return std::nullopt;
    int64_t v = std::stoll(s.substr(i, j - i));
    char u = s[j];
    if (u == 'h') {
      total += v * 3600;
    } else if (u == 'm') {
      total += v * 60;
    } else if (u == 's') {
      total += v;
    } else {
      return std::nullopt;
    }
    i = j + 1;
  }
  return std::chrono::seconds(total);
}

}  // namespace

std::shared_ptr<Clock> system_clock() {
  static std::shared_ptr<Clock> c = std::make_shared<SystemClock>();
  return c;
}

std::string random_simple_token() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string out;
  while (out.size() < kSimpleTokenChars) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1) std::abort();  // no randomness: nothing safe to hand out
    for (unsigned char b : buf) {
      if (b >= 248) continue;  // 248 = 4 * 62: keeps the draw uniform
      out.push_back(kAlphabet[b % 62]);
      if (out.size() == kSimpleTokenChars) break;
    }
  }
  return out;
}

// ---- simple tokens ----

void SimpleTokens::sweep_locked(std::chrono::steady_clock::time_point now) {
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
    tokens_.erase(by_deadline_.begin()->second);
    by_deadline_.erase(by_deadline_.begin());
  }
}

void SimpleTokens::add(const std::string& token, TokenInfo info) {
  std::lock_guard lk(mu_);
  auto now = clock_->steady_now();
  sweep_locked(now);
  if (auto it = tokens_.find(token); it != tokens_.end()) {
    by_deadline_.erase({it->second.deadline, token});
    tokens_.erase(it);
  }
  while (tokens_.size() >= kSimpleTokensMax && !by_deadline_.empty()) {
    tokens_.erase(by_deadline_.begin()->second);
    by_deadline_.erase(by_deadline_.begin());
  }
  auto deadline = now + ttl_;
  tokens_.emplace(token, Entry{std::move(info), deadline});
  by_deadline_.emplace(deadline, token);
}

std::optional<TokenInfo> SimpleTokens::verify(std::string_view token) {
  std::lock_guard lk(mu_);
  auto now = clock_->steady_now();
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.deadline <= now) {
    by_deadline_.erase({it->second.deadline, it->first});
    tokens_.erase(it);
    return std::nullopt;
  }
  auto next = now + ttl_;
  if (next != it->second.deadline) {
    by_deadline_.erase({it->second.deadline, it->first});
    it->second.deadline = next;
    by_deadline_.emplace(next, it->first);
  }
  return it->second.info;
}

void SimpleTokens::forget_user(const std::string& user) {
  std::lock_guard lk(mu_);
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    if (it->second.info.user == user) {
      by_deadline_.erase({it->second.deadline, it->first});
      it = tokens_.erase(it);
    } else {
      ++it;
    }
  }
}

void SimpleTokens::clear() {
  std::lock_guard lk(mu_);
  tokens_.clear();
  by_deadline_.clear();
}

size_t SimpleTokens::size() const {
  std::lock_guard lk(mu_);
  return tokens_.size();
}

// ---- JWT ----

struct JwtTokens::Keys {
  Method method;
  Pkey pub, priv;
};

JwtTokens::~JwtTokens() = default;

Expected<std::unique_ptr<JwtTokens>, std::string> JwtTokens::from_pem(const std::string& method,
                                                                      const std::string& pub_pem,
                                                                      const std::string& priv_pem,
                                                                      std::chrono::seconds ttl,
                                                                      std::shared_ptr<Clock> clock) {
  auto m = method_of(method);
  if (!m) return unexpected("unsupported JWT sign-method " + method);
  std::unique_ptr<JwtTokens> t(new JwtTokens());
  t->method_ = method;
  t->ttl_ = ttl;
  t->clock_ = std::move(clock);
  t->keys_ = std::make_unique<Keys>();
  t->keys_->method = *m;
  t->keys_->pub = load_key(pub_pem, false);
  if (!t->keys_->pub) return unexpected(std::string("JWT public key is not a PEM public key"));
  if (!key_fits(t->keys_->pub.get(), *m))
    return unexpected("JWT public key does not fit sign-method " + method);
  t->keys_->priv = load_key(priv_pem, true);
  if (!t->keys_->priv) return unexpected(std::string("JWT private key is not a PEM private key"));
  if (!key_fits(t->keys_->priv.get(), *m))
    return unexpected("JWT private key does not fit sign-method " + method);
  // The pair must match: sign and verify a probe.
  auto probe = t->sign(TokenInfo{"probe", 1});
  if (!probe || !t->verify(*probe))
    return unexpected(std::string("JWT public and private keys do not match"));
  return t;
}

Expected<std::unique_ptr<JwtTokens>, std::string> JwtTokens::create(const JwtOptions& o,
                                                                    std::shared_ptr<Clock> clock) {
  if (o.pub_key_path.empty() || o.priv_key_path.empty())
    return unexpected(std::string("--auth-token jwt needs pub-key and priv-key"));
  auto pub = read_file(o.pub_key_path);
  if (!pub) return unexpected("cannot read JWT public key " + o.pub_key_path);
  auto priv = read_file(o.priv_key_path);
  if (!priv) return unexpected("cannot read JWT private key " + o.priv_key_path);
  return from_pem(o.sign_method, *pub, *priv, o.ttl, std::move(clock));
}

Expected<std::string, std::string> JwtTokens::sign(const TokenInfo& info) const {
  google::protobuf::Struct claims;
  (*claims.mutable_fields())["username"].set_string_value(info.user);
  (*claims.mutable_fields())["revision"].set_number_value(static_cast<double>(info.revision));
  (*claims.mutable_fields())["exp"].set_number_value(
      static_cast<double>(clock_->unix_seconds() + ttl_.count()));
  std::string payload;
  if (!google::protobuf::util::MessageToJsonString(claims, &payload).ok())
    return unexpected(std::string("JWT claims do not encode"));
  std::string input =
      b64url_encode("{\"alg\":\"" + method_ + "\",\"typ\":\"JWT\"}") + "." + b64url_encode(payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  std::string sig;
  bool ok = ctx && EVP_DigestSignInit(ctx, &pctx, keys_->method.md, nullptr, keys_->priv.get()) == 1 &&
            set_padding(pctx, keys_->method);
  size_t len = 0;
  ok = ok && EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return unexpected(std::string("JWT signing failed"));
  if (keys_->method.kind == Method::kEc) {
    auto raw = der_to_raw(sig, keys_->method.ec_bytes);
    if (!raw) return unexpected(std::string("JWT signature does not convert"));
    sig = std::move(*raw);
  }
  return input + "." + b64url_encode(sig);
}

std::optional<TokenInfo> JwtTokens::verify(std::string_view token) const {
  if (token.size() > kTokenBytesMax) return std::nullopt;
  const int64_t now = clock_->unix_seconds();
  {
    std::lock_guard lk(cache_mu_);
    auto it = cache_.find(token);
    if (it != cache_.end()) {
      if (it->second.exp > now) return it->second.info;
      cache_.erase(it);
      return std::nullopt;
    }
  }
  int64_t exp = 0;
  auto info = verify_uncached(token, &exp);
  if (!info) return std::nullopt;
  std::lock_guard lk(cache_mu_);
  if (cache_.size() >= kJwtCacheEntriesMax) cache_.clear();
  cache_.emplace(std::string(token), Verified{*info, exp});
  return info;
}

std::optional<TokenInfo> JwtTokens::verify_uncached(std::string_view token, int64_t* exp_out) const {
  size_t a = token.find('.');
  size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) return std::nullopt;
  auto header = b64url_decode(token.substr(0, a));
  auto payload = b64url_decode(token.substr(a + 1, b - a - 1));
  auto sig = b64url_decode(token.substr(b + 1));
  if (!header || !payload || !sig) return std::nullopt;
  google::protobuf::Struct h, claims;
  if (!google::protobuf::util::JsonStringToMessage(*header, &h).ok()) return std::nullopt;
  auto alg = h.fields().find("alg");
  if (alg == h.fields().end() || alg->second.string_value() != method_) return std::nullopt;
  std::string der = std::move(*sig);
  if (keys_->method.kind == Method::kEc) {
    auto d = raw_to_der(der, keys_->method.ec_bytes);
    if (!d) return std::nullopt;
    der = std::move(*d);
  }
  std::string_view input = token.substr(0, b);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, keys_->method.md, nullptr, keys_->pub.get()) == 1 &&
            set_padding(pctx, keys_->method) &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return std::nullopt;
  if (!google::protobuf::util::JsonStringToMessage(*payload, &claims).ok()) return std::nullopt;
  const auto& f = claims.fields();
  auto user = f.find("username"), rev = f.find("revision"), exp = f.find("exp");
  if (user == f.end() || rev == f.end() || exp == f.end()) return std::nullopt;
  if (user->second.kind_case() != google::protobuf::Value::kStringValue ||
      rev->second.kind_case() != google::protobuf::Value::kNumberValue ||
      exp->second.kind_case() != google::protobuf::Value::kNumberValue)
    return std::nullopt;
  double r = rev->second.number_value(), e = exp->second.number_value();
  if (!(r >= 0 && r < 9e15) || std::floor(r) != r || !(e < 9e15)) return std::nullopt;
  if (e <= static_cast<double>(clock_->unix_seconds())) return std::nullopt;  // expired
  *exp_out = static_cast<int64_t>(e);
  return TokenInfo{user->second.string_value(), static_cast<uint64_t>(r)};
}

Expected<TokenSpec, std::string> parse_token_spec(const std::string& spec) {
  TokenSpec out;
  if (spec.empty() || spec == "simple") return out;
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  for (std::string p; std::getline(ss, p, ',');)
    parts.push_back(p);
  if (parts.empty() || parts[0] != "jwt")
    return unexpected("--auth-token: unknown token type \"" + (parts.empty() ? spec : parts[0]) +
                      "\" (simple or jwt)");
  out.jwt = true;
  for (size_t i = 1; i < parts.size(); ++i) {
    auto eq = parts[i].find('=');
    if (eq == std::string::npos)
      return unexpected("--auth-token: option \"" + parts[i] + "\" is not key=value");
    std::string k = parts[i].substr(0, eq), v = parts[i].substr(eq + 1);
    if (k == "pub-key") {
      out.jwt_options.pub_key_path = v;
    } else if (k == "priv-key") {
      out.jwt_options.priv_key_path = v;
    } else if (k == "sign-method") {
      if (!method_of(v)) return unexpected("--auth-token: unsupported sign-method \"" + v + "\"");
      out.jwt_options.sign_method = v;
    } else if (k == "ttl") {
      auto d = parse_duration(v);
      if (!d || d->count() <= 0) return unexpected("--auth-token: invalid ttl \"" + v + "\"");
      out.jwt_options.ttl = *d;
    } else {
      return unexpected("--auth-token: unknown option \"" + k + "\"");
    }
  }
  if (out.jwt_options.pub_key_path.empty() || out.jwt_options.priv_key_path.empty())
    return unexpected(std::string("--auth-token jwt needs pub-key=PATH and priv-key=PATH"));
  return out;
}

}  // namespace cairn::server::auth
