// Echo messages of an exact serialized size: bench/rpc makes the bare
// server's request and response as large as guestflowd's GetOnboardingRequest
// and Onboarding, so that both servers move the same bytes.
#pragma once

#include <cstddef>

#include "absl/status/statusor.h"
#include "load/echo.pb.h"

namespace guestflow::bench {

// A message whose ByteSizeLong() is exactly `bytes`: `payload` filled with
// 'x', plus `pad` where the payload's length prefix alone would skip that
// size. INVALID_ARGUMENT for 1 byte (no message of these fields has it).
absl::StatusOr<EchoRequest> SizedEchoRequest(size_t bytes);
absl::StatusOr<EchoResponse> SizedEchoResponse(size_t bytes);

}  // namespace guestflow::bench
