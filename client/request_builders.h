// Requests built from parsed command-line arguments. Pure functions, safe
// from any thread.
#pragma once

#include "client/command_line.h"
#include "guestflow/v1/batch_service.pb.h"
#include "guestflow/v1/onboarding_service.pb.h"

namespace guestflow::cli {

// Copies the flags that were given; unset ones stay unset so that the
// tenant's configuration decides.
v1::OnboardingOptions BuildOnboardingOptions(const GuestOptionFlags& flags);

// The StartOnboarding request, with `args.request_id` as given (the caller
// fills an empty one).
v1::StartOnboardingRequest BuildStartOnboardingRequest(const OnboardArgs& args);

// The first message of a CreateBatch stream.
v1::CreateBatchRequest BuildBatchHeaderRequest(const ImportArgs& args);

}  // namespace guestflow::cli
