// CallKind: what guestflow-bench-load sends, and how it checks the answers.
// Each --call has one: get, list, echo, start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/byte_buffer.h"

namespace guestflow::bench {

// One unary method driven through grpc::GenericStub with serialized bytes.
// Thread-safe: the load threads call NextRequest and CheckResponse
// concurrently. Lifecycle: made by a New*Call below, used by RunLoad, then
// Finish once, after the last call ended and before the result is printed.
class CallKind {
 public:
  virtual ~CallKind() = default;

  // "/package.Service/Method".
  virtual const std::string& method() const = 0;

  // The request of the next call.
  virtual grpc::ByteBuffer NextRequest() = 0;

  // Checks the answer of a call that ended OK and records what must be
  // recorded (start: the ack). `response` may be consumed. An error makes
  // the call count as failed (BAD_RESPONSE, with this status's message).
  virtual absl::Status CheckResponse(grpc::ByteBuffer* response) = 0;

  // Flushes and closes whatever the kind writes; errors are the run's.
  virtual absl::Status Finish() { return absl::OkStatus(); }
};

// GetOnboarding, the name of each call taken from `names_file` (one
// `onboardings/{id}` per line; blank lines skipped) in an order shuffled
// with `seed` and then repeated. The answer must parse as an Onboarding, or
// with `size_only`, be exactly `response_bytes` long (unparsed: a comparison
// with the echo server then charges the client the same per call).
// NOT_FOUND / INVALID_ARGUMENT for a missing or empty file, or size_only
// without a response size.
absl::StatusOr<std::unique_ptr<CallKind>> NewGetCall(const std::string& names_file, uint64_t seed,
                                                     bool size_only = false,
                                                     int64_t response_bytes = -1);

// ListOnboardings, first page: `page_size` (0: the server's default) and
// `tenant` (empty: every tenant the caller sees). The answer must parse as a
// ListOnboardingsResponse.
absl::StatusOr<std::unique_ptr<CallKind>> NewListCall(int page_size, const std::string& tenant);

// guestflow.bench.Echo/Echo with a request of exactly `request_bytes`
// serialized. The answer must parse as an EchoResponse (not with
// `size_only`) and, when `response_bytes` is not negative, be exactly that
// long. INVALID_ARGUMENT for size_only without a response size.
absl::StatusOr<std::unique_ptr<CallKind>> NewEchoCall(size_t request_bytes, int64_t response_bytes,
                                                      bool size_only = false);

// StartOnboarding for `tenant`: every call a fresh request_id and guest email
// (unique to this process run), first and last name, usage_location "US".
// The name of every onboarding answered OK is appended to `ack_file` (when
// not empty) as one line, written and flushed once the OK arrived and never
// before: after a crash of the server, every name in the file is one the
// server said it had stored.
absl::StatusOr<std::unique_ptr<CallKind>> NewStartCall(const std::string& tenant,
                                                       const std::string& ack_file);

}  // namespace guestflow::bench
