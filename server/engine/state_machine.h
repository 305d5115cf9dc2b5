// The onboarding state machine of DESIGN.md, as pure functions over an
// Onboarding record: no I/O, no clock of its own, no threads. The scheduler
// and the commands call these, then store the result together with the events
// they return.
//
//   QUEUED → RUNNING → (WAITING ↔ RUNNING)* → SUCCEEDED | FAILED | CANCELLED
//
// A step is PENDING → RUNNING → (WAITING ↔ RUNNING)* → SUCCEEDED | FAILED, or
// CANCELLED with its onboarding. FAILED and CANCELLED onboardings can be
// retried: they go back to QUEUED and resume at the first unfinished step.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/engine/retry_policy.h"
#include "server/engine/step_runner.h"
#include "server/model/onboarding.h"

namespace guestflow {

// A new QUEUED onboarding with one PENDING step per kind, due now, and its
// `created` event. `plugins` names the plugin of each step.
Onboarding NewOnboarding(std::string id, std::string tenant, Guest guest, OnboardingOptions options,
                         const std::map<StepKind, std::string>& plugins, absl::Time now,
                         OnboardingEvent* created_event);

// The first step that has not succeeded, or nullptr when all have.
Step* CurrentStep(Onboarding& onboarding);
const Step* CurrentStep(const Onboarding& onboarding);

// The output BeginStep sets on a step a process left RUNNING (it died
// mid-step): the time of the resumption in Unix milliseconds. A plugin whose
// side effect may have happened unseen (a call sent, no answer kept) reads it
// as PreviousOutput("interrupted_at_ms") and looks harder before acting again.
inline constexpr absl::string_view kInterruptedAtOutput = "interrupted_at_ms";

// Marks the current step RUNNING (and the onboarding RUNNING). Returns the
// events to append (`step_started` the first time a step starts; for a step
// left RUNNING, `step_resumed` and the kInterruptedAtOutput output).
// FAILED_PRECONDITION when the onboarding is terminal or has no step left.
// `worker` (the lease owner, naming the replica) ends the event's message,
// so that an onboarding's history says which process ran each step.
absl::StatusOr<std::vector<OnboardingEvent>> BeginStep(Onboarding& onboarding, absl::Time now,
                                                       absl::string_view worker = {});

// Applies what a run of step `kind` came to: outputs are kept whatever the
// outcome; success moves on to the next step (or SUCCEEDED); a retryable
// failure waits per `policy` until it runs out of attempts; a wait polls
// until the policy's max_step_wait; a permanent failure fails the onboarding.
// Returns the events to append. FAILED_PRECONDITION when `kind` is not the
// running step (the record moved on meanwhile).
absl::StatusOr<std::vector<OnboardingEvent>> ApplyOutcome(Onboarding& onboarding, StepKind kind,
                                                          const StepOutcome& outcome,
                                                          absl::Time now, const RetryPolicy& policy,
                                                          absl::BitGenRef rng);

// Cancels an onboarding that has not finished. FAILED_PRECONDITION if it has.
absl::StatusOr<std::vector<OnboardingEvent>> Cancel(Onboarding& onboarding, absl::Time now);

// Resumes a FAILED or CANCELLED onboarding from its first unfinished step,
// with fresh attempts. FAILED_PRECONDITION otherwise.
absl::StatusOr<std::vector<OnboardingEvent>> Retry(Onboarding& onboarding, absl::Time now);

}  // namespace guestflow
