// The onboarding record as the engine and the store see it. Plain values, no
// behaviour: the state machine lives in server/engine/state_machine.h, the
// wire form in proto/guestflow/v1/onboarding.proto (converted at the API edge).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace guestflow {

enum class OnboardingState { kQueued = 1, kRunning, kWaiting, kSucceeded, kFailed, kCancelled };
enum class StepKind { kInvite = 1, kProfile, kLicense, kRole, kNotify };
enum class StepState { kPending = 1, kRunning, kWaiting, kSucceeded, kFailed, kCancelled };

inline constexpr OnboardingState kAllOnboardingStates[] = {
    OnboardingState::kQueued,    OnboardingState::kRunning, OnboardingState::kWaiting,
    OnboardingState::kSucceeded, OnboardingState::kFailed,  OnboardingState::kCancelled};

// The steps in the order they run.
inline constexpr StepKind kAllSteps[] = {StepKind::kInvite, StepKind::kProfile, StepKind::kLicense,
                                         StepKind::kRole, StepKind::kNotify};

// "invite", "profile", "license", "role", "notify".
absl::string_view StepName(StepKind kind);
std::optional<StepKind> StepFromName(absl::string_view name);
// The plugin kind that runs a step: "invite", "license", "role", "notifier".
absl::string_view PluginKindOf(StepKind kind);
absl::string_view OnboardingStateName(OnboardingState state);  // "QUEUED", ...
std::optional<OnboardingState> OnboardingStateFromName(absl::string_view name);
absl::string_view StepStateName(StepState state);  // "PENDING", ...
bool IsTerminal(OnboardingState state);

struct Guest {
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::string usage_location;
};

struct OnboardingOptions {
  std::vector<std::string> roles;
  std::optional<bool> send_invitation_message;
  std::string invitation_message;
  std::optional<bool> update_dynamics_email;
};

struct Step {
  StepKind kind = StepKind::kInvite;
  StepState state = StepState::kPending;
  std::string plugin;
  int attempts = 0;
  std::string last_error;
  std::optional<absl::Time> next_attempt_time;
  std::optional<absl::Time> start_time;
  std::optional<absl::Time> finish_time;
  // When the step first had to WAIT; bounds the total wait.
  std::optional<absl::Time> wait_since;
  std::map<std::string, std::string> outputs;
};

struct Onboarding {
  std::string id;  // the {onboarding} of `onboardings/{onboarding}`
  std::string tenant;
  Guest guest;
  OnboardingOptions options;
  OnboardingState state = OnboardingState::kQueued;
  std::vector<Step> steps;
  std::string request_id;
  // Fingerprint of the request that created it, to tell a retried request
  // from a different one that reuses the request_id.
  std::string request_fingerprint;
  std::string batch_id;
  // Who asked for it: the caller's identity as the RPC edge knew it (until
  // callers authenticate, the gRPC peer address). Kept as created.
  std::string requested_by;
  std::string error;
  std::string instance_url;
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
  std::optional<absl::Time> finish_time;
  // When the engine should look at it next; empty when nothing is due
  // (terminal states).
  std::optional<absl::Time> due_time;
  // Incremented by every store write; optimistic concurrency.
  int64_t version = 0;

  Step* FindStep(StepKind kind);
  const Step* FindStep(StepKind kind) const;
};

// One entry of an onboarding's append-only history.
struct OnboardingEvent {
  int64_t sequence = 0;  // assigned by the store, from 1
  absl::Time time = absl::InfinitePast();
  std::string type;
  std::optional<StepKind> step;
  std::string message;
};

}  // namespace guestflow
