// Runs the blocking body of an RPC (store, plugins) off the gRPC threads and
// finishes the RPC with its status: the one place where absl::Status becomes
// grpc::Status.
#pragma once

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/api/grpc_status.h"
#include "server/engine/worker_pool.h"

namespace guestflow {

// Whether a request that waited for a worker should still run: not when its
// caller cancelled it or its deadline passed meanwhile (the caller has its
// answer, DEADLINE_EXCEEDED, and runs nothing twice: a write it retries with
// the same request_id is done once). OK: run it.
inline absl::Status StillWanted(bool cancelled, absl::Time deadline, absl::Time now) {
  if (cancelled) return absl::CancelledError("the caller cancelled the request");
  if (now >= deadline) {
    return absl::DeadlineExceededError(
        "the deadline passed while the request waited for a worker; nothing was done");
  }
  return absl::OkStatus();
}

// Queues `body` on `pool`; when it has run, finishes `reactor` with its
// status. A full queue answers RESOURCE_EXHAUSTED at once; a request whose
// caller gave up while it waited is answered without running (StillWanted).
inline void RunAndFinish(WorkerPool* pool, grpc::CallbackServerContext* context,
                         grpc::ServerUnaryReactor* reactor, std::function<absl::Status()> body) {
  const bool queued = pool->TrySubmit([context, reactor, body = std::move(body)] {
    const absl::Status wanted =
        StillWanted(context->IsCancelled(), absl::FromChrono(context->deadline()), absl::Now());
    reactor->Finish(ToGrpcStatus(wanted.ok() ? body() : wanted));
  });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the server is busy; retry with back-off"));
  }
}

// A server stream that only reports `status` (a request refused before any
// work). Deletes itself when gRPC is done with it.
template <typename Response>
class RefusedWriteReactor : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriteReactor(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// A client stream refused before its first message is read. Deletes itself
// when gRPC is done with it.
template <typename Request>
class RefusedReadReactor : public grpc::ServerReadReactor<Request> {
 public:
  explicit RefusedReadReactor(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace guestflow
