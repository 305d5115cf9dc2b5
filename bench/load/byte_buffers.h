// Protobuf messages to and from the serialized bytes GenericStub carries.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message_lite.h"
#include "grpcpp/support/byte_buffer.h"

namespace guestflow::bench {

// `message` serialized into one slice.
grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message);

// Parses `buffer` (consumed) into `message`; INVALID_ARGUMENT naming
// `what` when it does not parse.
absl::Status ParseByteBuffer(grpc::ByteBuffer* buffer, google::protobuf::MessageLite* message,
                             const std::string& what);

// OK when `buffer` is exactly `bytes` long; INVALID_ARGUMENT naming `what`
// otherwise.
absl::Status CheckLength(const grpc::ByteBuffer& buffer, size_t bytes, const std::string& what);

}  // namespace guestflow::bench
