#include "server/engine/retry_policy.h"

#include "gtest/gtest.h"

namespace guestflow {
namespace {

TEST(RetryPolicyTest, ExponentialWithJitterCappedAtMax) {
  RetryPolicy p;
  p.initial = absl::Seconds(1);
  p.multiplier = 2;
  p.max = absl::Seconds(30);
  absl::BitGen rng;
  for (int attempts = 1; attempts <= 40; ++attempts) {
    absl::Duration base = absl::Seconds(1) * (1LL << std::min(attempts - 1, 20));
    if (base > p.max) base = p.max;
    for (int i = 0; i < 20; ++i) {
      const absl::Duration d = p.DelayAfter(attempts, std::nullopt, rng);
      EXPECT_GE(d, base / 2) << attempts;
      EXPECT_LE(d, base) << attempts;
    }
  }
}

TEST(RetryPolicyTest, JitterSpreadsDelays) {
  RetryPolicy p;
  absl::BitGen rng;
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 200; ++i) {
    const absl::Duration d = p.DelayAfter(4, std::nullopt, rng);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GT(hi - lo, absl::Seconds(1)) << "delays for the same attempt must differ";
}

TEST(RetryPolicyTest, RetryAfterWinsEvenWhenLongerThanMax) {
  RetryPolicy p;
  p.max = absl::Seconds(10);
  absl::BitGen rng;
  EXPECT_EQ(p.DelayAfter(1, absl::Milliseconds(2128), rng), absl::Milliseconds(2128));
  EXPECT_EQ(p.DelayAfter(1, absl::Seconds(60), rng), absl::Seconds(60));
}

TEST(RetryPolicyTest, Exhausted) {
  RetryPolicy p;
  p.max_attempts = 3;
  EXPECT_FALSE(p.Exhausted(2));
  EXPECT_TRUE(p.Exhausted(3));
}

}  // namespace
}  // namespace guestflow
