// Secrets are referenced from config ({env: NAME} or {file: PATH}) and
// resolved only when used, so they never sit in the config object or a log.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "server/config/config.h"

namespace guestflow {

// The secret's value. Errors name the variable or file, never the value:
// NOT_FOUND (variable unset or empty, file missing), PERMISSION_DENIED (file
// unreadable, or readable or writable by others: a secret file must be
// 0600 or 0640), FAILED_PRECONDITION (no source configured). A trailing newline
// in a file is dropped.
absl::StatusOr<std::string> ResolveSecret(const SecretRef& ref);

}  // namespace guestflow
