// The one conversion from absl::Status to grpc::Status, at the RPC edge.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace guestflow {

// Same canonical code; the message is truncated to a size a client can show.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace guestflow
