// Durations as people type and read them. Pure functions, safe from any
// thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace guestflow::cli {

// Parses `30s`, `500ms`, `2m`, `1m30s`, `1.5h` (Go/Abseil syntax) or a bare
// number of seconds (`45`, `2.5`). `0` parses to zero. INVALID_ARGUMENT for
// anything else, negative and infinite durations included.
absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text);

// A short, rounded text: `850ms`, `4.2s`, `42s`, `4m05s`, `1h02m03s`,
// `2d03h`. Negative durations get a leading `-`; infinite ones read `forever`.
std::string FormatDurationText(absl::Duration duration);

}  // namespace guestflow::cli
