// Idempotency keys for requests the CLI may send more than once.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace guestflow::cli {

// Formats 16 bytes as a RFC 4122 version 4 UUID (`xxxxxxxx-xxxx-4xxx-Yxxx-
// xxxxxxxxxxxx`, lower case, Y in 8..b): the version and variant bits are
// overwritten, the other 122 bits kept.
std::string FormatUuidV4(std::array<uint8_t, 16> bytes);

// A fresh random UUID v4 from std::random_device (the kernel's CSPRNG on
// Linux). Thread-safe.
std::string NewRequestId();

}  // namespace guestflow::cli
