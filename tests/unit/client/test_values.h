// Small values the CLI's tests build in more than one file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "guestflow/v1/batch_service.pb.h"

namespace guestflow::cli::testing {

// The non-empty lines of `text`.
inline std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// A row the server refused at the door.
inline v1::BatchItem Refused(int64_t line, const std::string& email, const std::string& reason) {
  v1::BatchItem item;
  item.set_line(line);
  item.set_email(email);
  item.set_error(reason);
  return item;
}

}  // namespace guestflow::cli::testing
