#include "server/api/rpc_executor.h"

#include "gtest/gtest.h"

namespace guestflow {
namespace {

constexpr absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TEST(StillWantedTest, ARequestWithinItsDeadlineRuns) {
  EXPECT_TRUE(StillWanted(false, kNow + absl::Milliseconds(1), kNow).ok());
  EXPECT_TRUE(StillWanted(false, absl::InfiniteFuture(), kNow).ok());
}

TEST(StillWantedTest, ARequestPastItsDeadlineIsAnsweredWithoutRunning) {
  for (absl::Time deadline : {kNow, kNow - absl::Seconds(3)}) {
    const absl::Status s = StillWanted(false, deadline, kNow);
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
    EXPECT_NE(s.message().find("nothing was done"), absl::string_view::npos) << s;
  }
}

TEST(StillWantedTest, ACancelledRequestIsNotRunEvenWithTimeLeft) {
  EXPECT_EQ(StillWanted(true, absl::InfiniteFuture(), kNow).code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace guestflow
