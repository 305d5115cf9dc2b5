#include "server/api/grpc_status.h"

#include <string>

namespace guestflow {
namespace {

// Long messages (a plugin that echoes a whole HTTP body) would bloat trailers
// and logs; a person needs the start.
constexpr size_t kMaxMessageBytes = 1024;

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  if (message.size() > kMaxMessageBytes) {
    message.resize(kMaxMessageBytes);
    message += "...";
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

}  // namespace guestflow
