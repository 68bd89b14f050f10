#include "server/auth/bcrypt.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

namespace cairn::server::auth {

namespace {
constexpr size_t kSaltRandomBytes = 16;  // bcrypt's 128-bit salt

// $2b$ (what we write), $2a$ (what Go's bcrypt, and so etcd, writes: the same algorithm for passwords
// under 255 bytes, and bcrypt reads only 72) and $2y$; libxcrypt verifies all three.
bool is_bcrypt(std::string_view hash) {
  return hash.size() >= 7 && hash[0] == '$' && hash[1] == '2' &&
         (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') && hash[3] == '$';
}
}  // namespace

Expected<std::string, std::string> bcrypt_hash(std::string_view password, int cost) {
  if (cost < kBcryptCostMin || cost > kBcryptCostMax) return unexpected("bcrypt cost out of range");
  if (password.find('\0') != std::string_view::npos) return unexpected("password contains a NUL byte");
  unsigned char rnd[kSaltRandomBytes];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return unexpected("no random bytes for a salt");
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), reinterpret_cast<const char*>(rnd),
                        sizeof rnd, setting, sizeof setting))
    return unexpected("crypt_gensalt_rn failed");
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  std::string pw(password);
  const char* h = crypt_r(pw.c_str(), setting, data.get());
  OPENSSL_cleanse(pw.data(), pw.size());
  if (!h || h[0] == '*') return unexpected("crypt_r failed");
  std::string out(h);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return out;
}

bool bcrypt_verify(std::string_view password, std::string_view hash) {
  if (!is_bcrypt(hash)) return false;
  if (password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  std::string pw(password), setting(hash);
  const char* h = crypt_r(pw.c_str(), setting.c_str(), data.get());
  OPENSSL_cleanse(pw.data(), pw.size());
  bool ok = h && std::strlen(h) == hash.size() && CRYPTO_memcmp(h, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

int bcrypt_cost(std::string_view hash) {
  if (!is_bcrypt(hash)) return 0;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9' || hash[6] != '$') return 0;
  return (hash[4] - '0') * 10 + (hash[5] - '0');
}

}  // namespace cairn::server::auth
