// Callers' tokens: random, and kept only as a salted SHA-256 that a token
// matches exactly.
#include "server/auth/caller_token.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

using ::testing::MatchesRegex;

struct Hash {
  std::string salt;
  std::string digest;
};

Hash Split(const std::string& token_hash) {
  std::vector<std::string> parts = absl::StrSplit(token_hash, ':');
  EXPECT_EQ(parts.size(), 3u) << token_hash;
  EXPECT_EQ(parts[0], "sha256");
  return parts.size() == 3 ? Hash{parts[1], parts[2]} : Hash{};
}

TEST(CallerTokenTest, NewTokensAreLongRandomAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::string> token = NewCallerToken();
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_THAT(*token, MatchesRegex("gft_[A-Za-z0-9_-]{43}"));
    seen.insert(*token);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(CallerTokenTest, AHashIsMatchedByItsTokenOnly) {
  absl::StatusOr<std::string> hash = HashCallerToken("gft_the-token");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_THAT(*hash, MatchesRegex("sha256:[0-9a-f]{32}:[0-9a-f]{64}"));
  const Hash h = Split(*hash);
  EXPECT_TRUE(CallerTokenMatches(h.salt, h.digest, "gft_the-token"));
  for (const char* other : {"gft_the-toke", "gft_the-token ", "GFT_THE-TOKEN", "", "x"}) {
    EXPECT_FALSE(CallerTokenMatches(h.salt, h.digest, other)) << other;
  }
}

TEST(CallerTokenTest, TheSaltMakesEachHashOfOneTokenDifferent) {
  absl::StatusOr<std::string> a = HashCallerToken("gft_same");
  absl::StatusOr<std::string> b = HashCallerToken("gft_same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(Split(*a).digest, Split(*b).digest);
  // Each still matches, and a salt with another's digest does not.
  EXPECT_TRUE(CallerTokenMatches(Split(*b).salt, Split(*b).digest, "gft_same"));
  EXPECT_FALSE(CallerTokenMatches(Split(*a).salt, Split(*b).digest, "gft_same"));
}

TEST(CallerTokenTest, MatchesAHashWrittenByOtherTools) {
  // sha256(bytes.fromhex(salt) + token), as Python's hashlib computes it: the
  // admin token of tests/support/test_callers.h.
  EXPECT_TRUE(CallerTokenMatches("5eed0f3b6e2a11d49c07a1b2c3d4e5f6",
                                 "88fbfbd478529bc284cc024ba201447d4305e745b23803065c86045056a13000",
                                 "gft_local-development-admin-0f3b6e2a"));
}

}  // namespace
}  // namespace guestflow
