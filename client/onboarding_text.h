// Onboardings and their events as text for people. Pure functions, safe from
// any thread.
#pragma once

#include <string>

#include "google/protobuf/repeated_ptr_field.h"
#include "guestflow/v1/onboarding.pb.h"
#include "guestflow/v1/onboarding_service.pb.h"

namespace guestflow::cli {

// `onboardings/x SUCCEEDED`, or `onboardings/x FAILED: <error>` when the
// onboarding holds an error.
std::string RenderOnboardingSummary(const v1::Onboarding& onboarding);

// The `get` block: labelled lines (name, tenant, guest, state, error, request
// id, batch, instance, roles, created, updated, finished), a blank line, the
// steps table (STEP STATE ATTEMPTS PLUGIN LAST-ERROR), the next attempt of
// waiting steps, and the outputs as `step.key = value` lines sorted by step
// order then key. `terminal` cuts LAST-ERROR to fit a screen (the full text
// is in --json).
std::string RenderOnboardingDetail(const v1::Onboarding& onboarding, bool terminal);

// The `list` table: NAME TENANT EMAIL STATE UPDATED.
std::string RenderOnboardingTable(
    const google::protobuf::RepeatedPtrField<v1::Onboarding>& onboardings);

// The `calls` table: TIME STEP METHOD STATUS DURATION REQUEST-ID ACTOR URL,
// with ONBOARDING after TIME when `with_onboarding` (a tenant's calls). STATUS
// is the HTTP status, or the transport error when no answer came; `terminal`
// cuts that error to fit a screen (the full text is in --json).
std::string RenderCloudCallTable(const google::protobuf::RepeatedPtrField<v1::CloudCall>& calls,
                                 bool with_onboarding, bool terminal);

// One `watch` line, no newline: `<time>  <step>  <type>  <message>` with the
// step and type padded so that consecutive lines align.
std::string RenderEventLine(const v1::OnboardingEvent& event);

}  // namespace guestflow::cli
