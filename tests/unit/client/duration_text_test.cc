#include "client/duration_text.h"

#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

TEST(ParseDurationTextTest, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(ParseDurationText("30s").value(), absl::Seconds(30));
  EXPECT_EQ(ParseDurationText("500ms").value(), absl::Milliseconds(500));
  EXPECT_EQ(ParseDurationText("2m").value(), absl::Minutes(2));
  EXPECT_EQ(ParseDurationText("1m30s").value(), absl::Seconds(90));
  EXPECT_EQ(ParseDurationText("1.5h").value(), absl::Minutes(90));
  EXPECT_EQ(ParseDurationText("45").value(), absl::Seconds(45));
  EXPECT_EQ(ParseDurationText("2.5").value(), absl::Milliseconds(2500));
  EXPECT_EQ(ParseDurationText(" 10s ").value(), absl::Seconds(10));
  EXPECT_EQ(ParseDurationText("0").value(), absl::ZeroDuration());
}

TEST(ParseDurationTextTest, RefusesGarbageNegativeAndInfinite) {
  for (const char* text : {"", "abc", "10 s", "-5s", "-3", "inf", "nan", "5x", "s"}) {
    const auto duration = ParseDurationText(text);
    EXPECT_EQ(duration.status().code(), absl::StatusCode::kInvalidArgument) << "'" << text << "'";
  }
}

TEST(FormatDurationTextTest, RoundsToAShortText) {
  EXPECT_EQ(FormatDurationText(absl::ZeroDuration()), "0ms");
  EXPECT_EQ(FormatDurationText(absl::Milliseconds(850)), "850ms");
  EXPECT_EQ(FormatDurationText(absl::Microseconds(999600)), "1000ms");
  EXPECT_EQ(FormatDurationText(absl::Milliseconds(4240)), "4.2s");
  EXPECT_EQ(FormatDurationText(absl::Seconds(42)), "42s");
  EXPECT_EQ(FormatDurationText(absl::Milliseconds(59600)), "1m00s");
  EXPECT_EQ(FormatDurationText(absl::Seconds(245)), "4m05s");
  EXPECT_EQ(FormatDurationText(absl::Seconds(3723)), "1h02m03s");
  EXPECT_EQ(FormatDurationText(absl::Hours(51)), "2d03h");
  EXPECT_EQ(FormatDurationText(-absl::Seconds(42)), "-42s");
  EXPECT_EQ(FormatDurationText(absl::InfiniteDuration()), "forever");
}

TEST(DurationTextTest, FormattedWholeDurationsParseBack) {
  for (const absl::Duration d : {absl::Milliseconds(850), absl::Seconds(42), absl::Seconds(3723)}) {
    // "1h02m03s" is valid Abseil syntax; the round trip keeps the value.
    EXPECT_EQ(ParseDurationText(FormatDurationText(d)).value(), d);
  }
}

}  // namespace
}  // namespace guestflow::cli
