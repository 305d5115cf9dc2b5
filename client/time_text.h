// Protobuf timestamps (and durations) as people read them: UTC, ISO 8601. Pure functions, safe
// from any thread.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace guestflow::cli {

// False for the zero timestamp, which proto3 uses for "never".
bool IsSet(const google::protobuf::Timestamp& timestamp);

absl::Time ToAbslTime(const google::protobuf::Timestamp& timestamp);

absl::Duration ToAbslDuration(const google::protobuf::Duration& duration);

// `2026-11-28T10:04:05Z` (whole seconds, truncated), or `-` when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

}  // namespace guestflow::cli
