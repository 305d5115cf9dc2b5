// EchoService: the bare gRPC C++ server bench/rpc measures guestflowd
// against. Callback API, the default reactor finished inline on the gRPC
// thread: the least work a unary RPC can cost the server.
#pragma once

#include "grpcpp/support/server_callback.h"
#include "load/echo.grpc.pb.h"
#include "server/engine/worker_pool.h"

namespace guestflow::bench {

// Thread-safe (it only reads its response). Answers every call OK with
// `response`, whatever the request; checks no credentials. With a `pool`
// (not owned; must outlive the server), each call is answered from one of
// its threads instead, as guestflowd's RPCs are (server/api/rpc_executor.h
// RunAndFinish): that isolates what the hand-off costs.
class EchoService final : public Echo::CallbackService {
 public:
  EchoService(EchoResponse response, WorkerPool* pool)
      : response_(std::move(response)), pool_(pool) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const EchoRequest* request,
                                 EchoResponse* response) override;

 private:
  const EchoResponse response_;
  WorkerPool* const pool_;
};

}  // namespace guestflow::bench
