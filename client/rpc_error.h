// How a failed RPC is told to the user: `error: <CODE>: <message>`.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace guestflow::cli {

// The canonical name of a gRPC code: `NOT_FOUND`, `UNAVAILABLE`...;
// `CODE_<n>` for a number outside the canonical set.
std::string GrpcCodeName(grpc::StatusCode code);

// `error: <CODE>: <message>` (no trailing newline). UNAVAILABLE names
// `server`, the address the CLI tried to reach; DEADLINE_EXCEEDED names the
// `deadline` it waited (unless infinite) and the flag that raises it.
std::string FormatRpcError(const grpc::Status& status, absl::string_view server,
                           absl::Duration deadline);

}  // namespace guestflow::cli
