// What the end-to-end tests say to guestflowd over gRPC, written once: a
// deadline, a guest's StartOnboarding request, and waiting for the end.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"

namespace guestflow::itest {

// A client context that gives up after `seconds`.
inline std::unique_ptr<grpc::ClientContext> Deadline(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Ada Lovelace (GB) with this email, for `tenant`.
inline v1::StartOnboardingRequest GuestRequest(const std::string& tenant,
                                               const std::string& email) {
  v1::StartOnboardingRequest r;
  r.set_tenant(tenant);
  r.mutable_guest()->set_email(email);
  r.mutable_guest()->set_first_name("Ada");
  r.mutable_guest()->set_last_name("Lovelace");
  r.mutable_guest()->set_usage_location("GB");
  return r;
}

inline bool HasEnded(const v1::Onboarding& o) {
  return o.state() == v1::ONBOARDING_STATE_SUCCEEDED || o.state() == v1::ONBOARDING_STATE_FAILED ||
         o.state() == v1::ONBOARDING_STATE_CANCELLED;
}

// Polls GetOnboarding until the onboarding has ended or `seconds` pass; the
// last state seen.
inline v1::Onboarding WaitForEnd(v1::OnboardingService::Stub& stub, const std::string& name,
                                 int seconds = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  v1::Onboarding o;
  while (std::chrono::steady_clock::now() < deadline) {
    v1::GetOnboardingRequest r;
    r.set_name(name);
    const grpc::Status s = stub.GetOnboarding(Deadline().get(), r, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (HasEnded(o)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return o;
}

// Polls GetBatch (each call on a fresh stub of `channel_of()`, so that a
// restarted server is reached) until the batch is done or `seconds` pass;
// the last batch seen.
template <typename ChannelOf>
v1::Batch WaitForBatch(ChannelOf channel_of, const std::string& name, int seconds = 180) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  v1::Batch batch;
  while (std::chrono::steady_clock::now() < deadline) {
    v1::GetBatchRequest r;
    r.set_name(name);
    const grpc::Status s =
        v1::BatchService::NewStub(channel_of())->GetBatch(Deadline().get(), r, &batch);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (batch.done()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return batch;
}

}  // namespace guestflow::itest
