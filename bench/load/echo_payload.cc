#include "load/echo_payload.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace guestflow::bench {
namespace {

size_t VarintSize(size_t n) {
  size_t size = 1;
  while (n >= 0x80) {
    n >>= 7;
    ++size;
  }
  return size;
}

// The payload length whose field (tag byte, length prefix, bytes) is exactly
// `bytes` long, if there is one. 0 bytes: no field at all (proto3 leaves an
// empty `bytes` out).
bool PayloadLengthFor(size_t bytes, size_t* length) {
  if (bytes == 0) {
    *length = 0;
    return true;
  }
  for (size_t prefix = 1; prefix <= 10 && prefix + 1 < bytes; ++prefix) {
    const size_t candidate = bytes - 1 - prefix;
    if (candidate > 0 && VarintSize(candidate) == prefix) {
      *length = candidate;
      return true;
    }
  }
  return false;
}

template <typename Message>
absl::StatusOr<Message> Sized(size_t bytes) {
  constexpr size_t kPadField = 2;  // tag byte and `true`
  Message m;
  size_t length = 0;
  if (PayloadLengthFor(bytes, &length)) {
    m.set_payload(std::string(length, 'x'));
  } else if (bytes >= kPadField && PayloadLengthFor(bytes - kPadField, &length)) {
    m.set_payload(std::string(length, 'x'));
    m.set_pad(true);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("no ", Message::descriptor()->name(), " serializes to ", bytes, " bytes"));
  }
  if (m.ByteSizeLong() != bytes) {
    return absl::InternalError(absl::StrCat(Message::descriptor()->name(), " of ", bytes,
                                            " bytes came out ", m.ByteSizeLong()));
  }
  return m;
}

}  // namespace

absl::StatusOr<EchoRequest> SizedEchoRequest(size_t bytes) { return Sized<EchoRequest>(bytes); }

absl::StatusOr<EchoResponse> SizedEchoResponse(size_t bytes) { return Sized<EchoResponse>(bytes); }

}  // namespace guestflow::bench
