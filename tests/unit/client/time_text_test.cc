#include "client/time_text.h"

#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(nanos);
  return timestamp;
}

TEST(FormatTimestampTest, UtcIso8601WholeSeconds) {
  // 2026-11-28T10:04:05Z
  EXPECT_EQ(FormatTimestamp(At(1795860245)), "2026-11-28T10:04:05Z");
  EXPECT_EQ(FormatTimestamp(At(1795860245, 999999999)), "2026-11-28T10:04:05Z");
  EXPECT_EQ(FormatTimestamp(At(0, 1)), "1970-01-01T00:00:00Z");
}

TEST(FormatTimestampTest, UnsetIsADash) {
  EXPECT_FALSE(IsSet(google::protobuf::Timestamp()));
  EXPECT_EQ(FormatTimestamp(google::protobuf::Timestamp()), "-");
}

TEST(ToAbslTimeTest, KeepsNanoseconds) {
  EXPECT_EQ(ToAbslTime(At(10, 500)), absl::FromUnixSeconds(10) + absl::Nanoseconds(500));
}

TEST(ToAbslDurationTest, KeepsNanoseconds) {
  google::protobuf::Duration duration;
  duration.set_seconds(2);
  duration.set_nanos(250000000);
  EXPECT_EQ(ToAbslDuration(duration), absl::Milliseconds(2250));
  EXPECT_EQ(ToAbslDuration(google::protobuf::Duration()), absl::ZeroDuration());
}

}  // namespace
}  // namespace guestflow::cli
