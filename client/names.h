// Resource names and enum values as people type and read them. Pure functions,
// safe from any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "guestflow/v1/onboarding.pb.h"

namespace guestflow::cli {

// Turns `abc` or `<collection>/abc` into `<collection>/abc`, trimming
// surrounding whitespace. INVALID_ARGUMENT when the id is empty, holds a `/`
// or whitespace, or the text names another collection (`batches/x` where
// `onboardings` is expected).
absl::StatusOr<std::string> NormalizeResourceName(absl::string_view collection,
                                                  absl::string_view text);

// NormalizeResourceName("onboardings", text).
absl::StatusOr<std::string> NormalizeOnboardingName(absl::string_view text);

// NormalizeResourceName("batches", text).
absl::StatusOr<std::string> NormalizeBatchName(absl::string_view text);

// The parent of ListCloudCalls: `tenants/x` stays a tenant; `onboardings/x`
// and a bare `x` become `onboardings/x`. INVALID_ARGUMENT as for
// NormalizeResourceName, and for any other collection.
absl::StatusOr<std::string> NormalizeCloudCallParent(absl::string_view text);

// Accepts `failed`, `FAILED`, `Failed` or `ONBOARDING_STATE_FAILED` (any
// case, `-` for `_`). INVALID_ARGUMENT, listing the valid words, for anything
// else, UNSPECIFIED included.
absl::StatusOr<v1::OnboardingState> ParseOnboardingState(absl::string_view text);

// The valid words for ParseOnboardingState, lower case, joined by ", ".
std::string OnboardingStateWords();

// `FAILED` for ONBOARDING_STATE_FAILED; `STATE_<n>` for a value this client
// does not know (a newer server).
std::string OnboardingStateText(v1::OnboardingState state);

// `invite` for STEP_KIND_INVITE, as the design names the steps; `-` for
// UNSPECIFIED; `step_<n>` for an unknown value.
std::string StepKindText(v1::StepKind kind);

// `SUCCEEDED` for STEP_STATE_SUCCEEDED; `STATE_<n>` for an unknown value.
std::string StepStateText(v1::StepState state);

// SUCCEEDED, FAILED and CANCELLED.
bool IsTerminal(v1::OnboardingState state);

}  // namespace guestflow::cli
