#include "load/echo_service.h"

#include <chrono>

namespace guestflow::bench {

grpc::ServerUnaryReactor* EchoService::Echo(grpc::CallbackServerContext* context,
                                            const EchoRequest* request, EchoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (pool_ == nullptr) {
    *response = response_;
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  // What RunAndFinish does around the body: the same queue, the same checks.
  const bool queued = pool_->TrySubmit([this, context, reactor, response] {
    if (context->IsCancelled() || std::chrono::system_clock::now() >= context->deadline()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "gave up waiting"));
      return;
    }
    *response = response_;
    reactor->Finish(grpc::Status::OK);
  });
  if (!queued) reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy"));
  return reactor;
}

}  // namespace guestflow::bench
