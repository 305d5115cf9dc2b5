// guestflow.v1.OnboardingService over the Engine. Handlers do not block: each
// hands its work to the API worker pool and returns its reactor, except
// GetOnboarding when the read cache holds its answer.
#pragma once

#include "grpcpp/support/byte_buffer.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "server/api/access.h"
#include "server/api/onboarding_cache.h"
#include "server/engine/engine.h"
#include "server/engine/worker_pool.h"

namespace guestflow {

// The generated CallbackService with GetOnboarding raw (bytes in, bytes
// out), method by method: wrapping CallbackService itself would keep the
// typed GetOnboarding too, hidden. A method added to the proto and not listed
// here would be served synchronously (UNIMPLEMENTED); a test checks that
// none is (onboarding_service_test).
using OnboardingServiceBase = v1::OnboardingService::WithCallbackMethod_StartOnboarding<
    v1::OnboardingService::WithRawCallbackMethod_GetOnboarding<
        v1::OnboardingService::WithCallbackMethod_ListOnboardings<
            v1::OnboardingService::WithCallbackMethod_WatchOnboarding<
                v1::OnboardingService::WithCallbackMethod_CancelOnboarding<
                    v1::OnboardingService::WithCallbackMethod_RetryOnboarding<
                        v1::OnboardingService::WithCallbackMethod_ListCloudCalls<
                            v1::OnboardingService::Service>>>>>>>;

// Every RPC first admits its caller (access.h): readers get, list, watch
// and read the audit trail; operators also start, cancel and retry. An
// onboarding of a tenant the caller is not granted is NOT_FOUND, as if it did
// not exist; lists hold only the caller's tenants.
//
// GetOnboarding is the hot read: it takes and answers bytes (a raw method),
// admits the caller and checks the name on the gRPC thread, and answers a
// cache hit there too, with the cached bytes. A miss (or no cache) reads the
// store on the API pool, serializes once and offers the bytes to the cache
// (onboarding_cache.h says why that stays coherent with the store).
//
// Thread-safe. Borrows the engine, the pool, the access checks and the cache
// (null: none; for a store other processes write too), which must outlive
// the gRPC server it is registered with.
class OnboardingServiceImpl final : public OnboardingServiceBase {
 public:
  using OnboardingServiceBase::GetOnboarding;  // the synchronous one, disabled
  OnboardingServiceImpl(Engine* engine, WorkerPool* pool, const Access* access,
                        OnboardingCache* cache)
      : engine_(engine), pool_(pool), access_(access), cache_(cache) {}

  grpc::ServerUnaryReactor* StartOnboarding(grpc::CallbackServerContext* context,
                                            const v1::StartOnboardingRequest* request,
                                            v1::Onboarding* response) override;
  // request: a serialized v1::GetOnboardingRequest; response: a serialized
  // v1::Onboarding.
  grpc::ServerUnaryReactor* GetOnboarding(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
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

  // The serialized onboarding `id` for `caller`, read from the store (on
  // the API pool), and offered to the cache.
  absl::StatusOr<grpc::Slice> ReadSerialized(const Caller& caller, const std::string& id);

  Engine* const engine_;
  WorkerPool* const pool_;
  const Access* const access_;
  OnboardingCache* const cache_;
};

}  // namespace guestflow
