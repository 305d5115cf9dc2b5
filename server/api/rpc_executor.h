// Runs the blocking body of an RPC (store, plugins) off the gRPC threads and
// finishes the RPC with its status: the one place where absl::Status becomes
// grpc::Status.
#pragma once

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "grpcpp/support/server_callback.h"
#include "server/api/grpc_status.h"
#include "server/engine/worker_pool.h"

namespace guestflow {

// Queues `body` on `pool`; when it has run, finishes `reactor` with its
// status. A full queue answers RESOURCE_EXHAUSTED at once.
inline void RunAndFinish(WorkerPool* pool, grpc::ServerUnaryReactor* reactor,
                         std::function<absl::Status()> body) {
  const bool queued =
      pool->TrySubmit([reactor, body = std::move(body)] { reactor->Finish(ToGrpcStatus(body())); });
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

}  // namespace guestflow
