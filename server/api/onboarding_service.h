// guestflow.v1.OnboardingService over the Engine. Handlers do not block: each
// hands its work to the API worker pool and returns its reactor.
#pragma once

#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "server/api/access.h"
#include "server/engine/engine.h"
#include "server/engine/worker_pool.h"

namespace guestflow {

// Every RPC first admits its caller (access.h): readers get, list, watch
// and read the audit trail; operators also start, cancel and retry. An
// onboarding of a tenant the caller is not granted is NOT_FOUND, as if it did
// not exist; lists hold only the caller's tenants.
//
// Thread-safe. Borrows the engine, the pool and the access checks, which must
// outlive the gRPC server it is registered with.
class OnboardingServiceImpl final : public v1::OnboardingService::CallbackService {
 public:
  OnboardingServiceImpl(Engine* engine, WorkerPool* pool, const Access* access)
      : engine_(engine), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* StartOnboarding(grpc::CallbackServerContext* context,
                                            const v1::StartOnboardingRequest* request,
                                            v1::Onboarding* response) override;
  grpc::ServerUnaryReactor* GetOnboarding(grpc::CallbackServerContext* context,
                                          const v1::GetOnboardingRequest* request,
                                          v1::Onboarding* response) override;
  grpc::ServerUnaryReactor* ListCloudCalls(grpc::CallbackServerContext* context,
                                           const v1::ListCloudCallsRequest* request,
                                           v1::ListCloudCallsResponse* response) override;
  grpc::ServerUnaryReactor* ListOnboardings(grpc::CallbackServerContext* context,
                                            const v1::ListOnboardingsRequest* request,
                                            v1::ListOnboardingsResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchOnboardingResponse>* WatchOnboarding(
      grpc::CallbackServerContext* context, const v1::WatchOnboardingRequest* request) override;
  grpc::ServerUnaryReactor* CancelOnboarding(grpc::CallbackServerContext* context,
                                             const v1::CancelOnboardingRequest* request,
                                             v1::Onboarding* response) override;
  grpc::ServerUnaryReactor* RetryOnboarding(grpc::CallbackServerContext* context,
                                            const v1::RetryOnboardingRequest* request,
                                            v1::Onboarding* response) override;

 private:
  // The onboarding `name` names, if the caller may see it; NOT_FOUND alike
  // for one that does not exist and one of another tenant.
  absl::StatusOr<Onboarding> Visible(const Caller& caller, const std::string& name);

  Engine* const engine_;
  WorkerPool* const pool_;
  const Access* const access_;
};

}  // namespace guestflow
