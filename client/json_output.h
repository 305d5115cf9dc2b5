// `--json` output: protobuf messages in the canonical proto3 JSON mapping
// (lowerCamelCase field names, enum names as strings, RFC 3339 timestamps),
// every field printed even when it holds its default, one object per line.
#pragma once

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace guestflow::cli {

// The message as one line of JSON, without a trailing newline. INTERNAL if
// protobuf refuses to print it (it does not for this API's messages).
absl::StatusOr<std::string> ToJsonLine(const google::protobuf::Message& message);

// Writes ToJsonLine(message) and '\n' to `out`, and flushes it so a reader
// of a stream sees each object as it arrives.
absl::Status WriteJsonLine(std::ostream& out, const google::protobuf::Message& message);

}  // namespace guestflow::cli
