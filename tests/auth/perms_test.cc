// KeyRangeSet (server/auth/perms.h) against a naive model: random grants and requests over a small
// alphabet, where the model enumerates every key of up to three letters. With the alphabet including
// "\0" and endpoints of at most two letters, every non-empty gap between intervals starts at a key of
// the universe, so the model is exact.
#include <gtest/gtest.h>

#include <random>

#include "server/auth/perms.h"

namespace cairn::server::auth {
namespace {

const std::string kAlphabet = std::string("\0ab", 3);

std::vector<std::string> universe() {
  std::vector<std::string> u;
  std::vector<std::string> layer{""};
  for (int len = 1; len <= 3; ++len) {
    std::vector<std::string> next;
    for (const auto& p : layer)
      for (char c : kAlphabet)
        next.push_back(p + c);
    u.insert(u.end(), next.begin(), next.end());
    layer = next;
  }
  return u;
}

bool in(const std::string& k, const std::string& key, const std::string& end) {
  if (end.empty()) return k == key;
  if (end == std::string(1, '\0')) return k >= key;
  return k >= key && k < end;
}

std::string random_key(std::mt19937& rng, int max_len) {
  std::string s;
  int len = std::uniform_int_distribution<int>(1, max_len)(rng);
  for (int i = 0; i < len; ++i)
    s.push_back(kAlphabet[std::uniform_int_distribution<size_t>(0, kAlphabet.size() - 1)(rng)]);
  return s;
}

std::pair<std::string, std::string> random_range(std::mt19937& rng) {
  std::string key = random_key(rng, 2);
  switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
    case 0:
      return {key, ""};
    case 1:
      return {key, std::string(1, '\0')};
    default:
      return {key, random_key(rng, 2)};
  }
}

TEST(KeyRange, EtcdEncodings) {
  EXPECT_EQ(*key_range("a", ""), (KeyRange{"a", std::string("a\0", 2)}));
  EXPECT_EQ(*key_range("a", std::string(1, '\0')), (KeyRange{"a", ""}));
  EXPECT_EQ(*key_range("a", "c"), (KeyRange{"a", "c"}));
  EXPECT_FALSE(key_range("c", "a").has_value());
  EXPECT_EQ(key_range("", std::string(1, '\0'))->begin, std::string(1, '\0'));  // "" = "\0"
  EXPECT_TRUE(valid_permission_range("a", ""));
  EXPECT_TRUE(valid_permission_range("a", std::string(1, '\0')));
  EXPECT_TRUE(valid_permission_range("a", "b"));
  EXPECT_FALSE(valid_permission_range("b", "a"));
  EXPECT_FALSE(valid_permission_range("a", "a"));
  EXPECT_FALSE(valid_permission_range("", "a"));
}

TEST(KeyRangeSet, AdjacentGrantsMerge) {
  KeyRangeSet s;
  s.add(*key_range("a", "m"));
  s.add(*key_range("m", "z"));
  EXPECT_EQ(s.intervals().size(), 1u);
  EXPECT_TRUE(s.contains(*key_range("b", "y")));
  EXPECT_FALSE(s.contains(*key_range("b", std::string(1, '\0'))));
  s.add(*key_range("z", std::string(1, '\0')));
  EXPECT_TRUE(s.contains(*key_range("b", std::string(1, '\0'))));
}

TEST(KeyRangeSet, MatchesNaiveModel) {
  const auto keys = universe();
  std::mt19937 rng(12);
  for (int round = 0; round < 400; ++round) {
    std::vector<std::pair<std::string, std::string>> grants;
    KeyRangeSet set;
    int n = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int i = 0; i < n; ++i) {
      auto g = random_range(rng);
      if (!valid_permission_range(g.first, g.second)) continue;
      grants.push_back(g);
      set.add(*key_range(g.first, g.second));
    }
    // Invariant: sorted, disjoint, not adjacent.
    const auto& iv = set.intervals();
    for (size_t i = 1; i < iv.size(); ++i) {
      ASSERT_FALSE(iv[i - 1].end.empty());
      ASSERT_LT(iv[i - 1].end, iv[i].begin);
    }
    for (int q = 0; q < 50; ++q) {
      auto r = random_range(rng);
      auto kr = key_range(r.first, r.second);
      if (!kr) continue;
      bool want = true;
      for (const auto& k : keys) {
        if (!in(k, r.first, r.second)) continue;
        bool covered = false;
        for (const auto& g : grants)
          covered = covered || in(k, g.first, g.second);
        if (!covered) {
          want = false;
          break;
        }
      }
      ASSERT_EQ(set.contains(*kr), want)
          << "round " << round << " request [" << r.first << ", " << r.second << ")";
    }
  }
}

}  // namespace
}  // namespace cairn::server::auth
