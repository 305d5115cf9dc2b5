#include "client/duration_text.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace guestflow::cli {

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  absl::Duration duration;
  double seconds = 0;
  // A bare number reads as seconds: `--timeout 5` is what people type.
  if (absl::SimpleAtod(trimmed, &seconds) && !trimmed.empty() &&
      (absl::ascii_isdigit(trimmed.back()) || trimmed.back() == '.')) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(trimmed, &duration)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a duration: use for example 30s, 500ms, 2m or 1m30s"));
  }
  if (duration < absl::ZeroDuration() || duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a finite duration of zero or more"));
  }
  return duration;
}

std::string FormatDurationText(absl::Duration duration) {
  if (duration == absl::InfiniteDuration()) return "forever";
  if (duration < absl::ZeroDuration()) return absl::StrCat("-", FormatDurationText(-duration));
  if (duration < absl::Seconds(1)) {
    return absl::StrCat(absl::ToInt64Milliseconds(duration + absl::Microseconds(500)), "ms");
  }
  if (duration < absl::Seconds(10)) {
    // Rounded to tenths; 9.96s would print as 10.0s, which still reads right.
    return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(duration));
  }
  const int64_t total = absl::ToInt64Seconds(duration + absl::Milliseconds(500));
  const int64_t days = total / 86400;
  const int64_t hours = total / 3600 % 24;
  const int64_t minutes = total / 60 % 60;
  const int64_t seconds = total % 60;
  if (days > 0) return absl::StrFormat("%dd%02dh", days, hours);
  if (hours > 0) return absl::StrFormat("%dh%02dm%02ds", hours, minutes, seconds);
  if (minutes > 0) return absl::StrFormat("%dm%02ds", minutes, seconds);
  return absl::StrCat(seconds, "s");
}

}  // namespace guestflow::cli
