// RunLoad: the closed-loop driver of guestflow-bench-load. K channels on K
// separate connections, T threads each with its own CompletionQueue, C calls
// always outstanding (a call that ends starts the next one on its slot).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "load/call_kind.h"
#include "load/latency_histogram.h"

namespace guestflow::bench {

struct LoadOptions {
  // gRPC target, `host:port`; plain text.
  std::string target;
  // Sent as `authorization: Bearer <token>` metadata on every call; empty:
  // none.
  std::string token;
  // Channels, each forced onto a connection of its own; calls are spread
  // over them evenly.
  int connections = 1;
  // Calls outstanding at any time, in total.
  int concurrency = 1;
  // Threads driving completion queues (at most `concurrency` are used).
  int threads = 1;
  // Calls are started for `warmup` and not counted, then measured: for
  // `duration`, or, when `requests` > 0, until that many have been started.
  absl::Duration warmup = absl::ZeroDuration();
  absl::Duration duration = absl::Seconds(10);
  int64_t requests = 0;
  // Each call's deadline.
  absl::Duration deadline = absl::Seconds(10);
  // How long every channel may take to connect before the run gives up.
  absl::Duration connect_timeout = absl::Seconds(10);
};

// One status code's failed calls.
struct ErrorTally {
  int64_t count = 0;
  std::string sample;  // the message of the first one
};

// What the measured calls did (those started after the warmup).
struct LoadResult {
  int64_t calls = 0;
  int64_t ok = 0;
  // By gRPC status code name (NOT_FOUND, UNAVAILABLE...), or BAD_RESPONSE
  // for an OK call whose answer failed CallKind::CheckResponse.
  std::map<std::string, ErrorTally> errors;
  // Calls that ended during the warmup, and how many of them failed.
  int64_t warmup_calls = 0;
  int64_t warmup_errors = 0;
  // From the end of the warmup to the end of the last measured call.
  double elapsed_seconds = 0;
  // Every measured call, failed ones included, from just before it was
  // started to its completion leaving the queue.
  LatencyHistogram latency_us;
  // Serialized size of one request, and of the first answer that passed
  // the check (0 if none did).
  size_t request_bytes = 0;
  size_t response_bytes = 0;
};

// Runs the load and waits for every call it started. UNAVAILABLE when a
// channel cannot connect within `connect_timeout` (nothing is measured then);
// INVALID_ARGUMENT for options out of range. Failed calls are results, not
// errors of the run.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, CallKind* kind);

// "NOT_FOUND" for grpc::StatusCode::NOT_FOUND, and so on.
std::string StatusCodeName(int code);

}  // namespace guestflow::bench
