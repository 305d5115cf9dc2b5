#include "load/byte_buffers.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/slice.h"

namespace guestflow::bench {

grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status ParseByteBuffer(grpc::ByteBuffer* buffer, google::protobuf::MessageLite* message,
                             const std::string& what) {
  const size_t length = buffer->Length();
  std::vector<grpc::Slice> slices;
  if (!buffer->Dump(&slices).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " cannot be read"));
  }
  bool parsed = false;
  if (slices.size() == 1) {
    parsed = message->ParseFromArray(slices[0].begin(), static_cast<int>(slices[0].size()));
  } else {
    std::string bytes;
    bytes.reserve(length);
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    parsed = message->ParseFromString(bytes);
  }
  buffer->Clear();
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " (", length, " bytes) does not parse"));
  }
  return absl::OkStatus();
}

absl::Status CheckLength(const grpc::ByteBuffer& buffer, size_t bytes, const std::string& what) {
  if (buffer.Length() == bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the ", what, " is ", buffer.Length(), " bytes, not ", bytes));
}

}  // namespace guestflow::bench
