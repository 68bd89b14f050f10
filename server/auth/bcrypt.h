// Password hashing: bcrypt ($2b$) through libxcrypt's crypt_r, salts from OpenSSL's RAND_bytes.
// bcrypt reads at most 72 bytes of a password (as Go's bcrypt, which etcd uses); passwords with NUL
// bytes are refused before hashing (crypt_r would stop at the NUL). Verification compares the whole
// hash in constant time (CRYPTO_memcmp), and an unknown user is checked against a dummy hash of the
// same cost, so a wrong name answers no faster than a wrong password.
#pragma once

#include <string>
#include <string_view>

#include "base/expected.h"

namespace cairn::server::auth {

inline constexpr int kBcryptCostMin = 4;
inline constexpr int kBcryptCostMax = 31;
inline constexpr int kBcryptCostDefault = 10;  // etcd's --bcrypt-cost default

// "$2b$<cost>$<salt><hash>" (60 characters), or a message when hashing failed.
Expected<std::string, std::string> bcrypt_hash(std::string_view password, int cost);
// True iff `password` hashes to `hash` (a $2b$ hash from bcrypt_hash, or a $2a$/$2y$ one such as etcd's,
// made by Go's bcrypt, in a restored etcd snapshot). Constant time in the hash.
bool bcrypt_verify(std::string_view password, std::string_view hash);
// The cost a hash was made with (0: not a bcrypt hash).
int bcrypt_cost(std::string_view hash);

}  // namespace cairn::server::auth
