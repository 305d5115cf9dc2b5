// Conversions between the wire form (guestflow.v1 protos) and the model.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "guestflow/v1/admin_service.pb.h"
#include "guestflow/v1/onboarding.pb.h"
#include "guestflow/v1/onboarding_service.pb.h"
#include "server/model/cloud_call.h"
#include "server/model/onboarding.h"

namespace guestflow {

void ToProto(const Onboarding& in, v1::Onboarding* out);
void ToProto(const OnboardingEvent& in, v1::OnboardingEvent* out);
void ToProto(const CloudCall& in, v1::CloudCall* out);
v1::OnboardingState ToProto(OnboardingState state);
v1::StepKind ToProto(StepKind kind);
std::optional<OnboardingState> FromProto(v1::OnboardingState state);

Guest FromProto(const v1::Guest& in);
OnboardingOptions FromProto(const v1::OnboardingOptions& in);

// "onboardings/{id}" → id. INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<std::string> ParseOnboardingName(const std::string& name, const char* field);
std::string OnboardingName(const std::string& id);

// "batches/{id}" → id; "" → "".
absl::StatusOr<std::string> ParseBatchName(const std::string& name, const char* field);

}  // namespace guestflow
