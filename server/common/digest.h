// SHA-256 digests (OpenSSL's libcrypto), as lowercase hex: what `sha256sum`
// prints, so that an operator can write an allowlist with it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace guestflow {

std::string Sha256Hex(absl::string_view data);

// The digest of the file at `path`, read in blocks. NOT_FOUND / PERMISSION_DENIED
// / INTERNAL (naming the file) when it cannot be read.
absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path);

}  // namespace guestflow
