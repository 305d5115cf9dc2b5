#include "server/model/onboarding.h"

namespace guestflow {

absl::string_view StepName(StepKind kind) {
  switch (kind) {
    case StepKind::kInvite:
      return "invite";
    case StepKind::kProfile:
      return "profile";
    case StepKind::kLicense:
      return "license";
    case StepKind::kRole:
      return "role";
    case StepKind::kNotify:
      return "notify";
  }
  return "unknown";
}

std::optional<StepKind> StepFromName(absl::string_view name) {
  for (StepKind kind : kAllSteps) {
    if (StepName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::optional<OnboardingState> OnboardingStateFromName(absl::string_view name) {
  for (OnboardingState state : kAllOnboardingStates) {
    if (OnboardingStateName(state) == name) return state;
  }
  return std::nullopt;
}

absl::string_view PluginKindOf(StepKind kind) {
  switch (kind) {
    case StepKind::kInvite:
    case StepKind::kProfile:
      return "invite";
    case StepKind::kLicense:
      return "license";
    case StepKind::kRole:
      return "role";
    case StepKind::kNotify:
      return "notifier";
  }
  return "unknown";
}

absl::string_view OnboardingStateName(OnboardingState state) {
  switch (state) {
    case OnboardingState::kQueued:
      return "QUEUED";
    case OnboardingState::kRunning:
      return "RUNNING";
    case OnboardingState::kWaiting:
      return "WAITING";
    case OnboardingState::kSucceeded:
      return "SUCCEEDED";
    case OnboardingState::kFailed:
      return "FAILED";
    case OnboardingState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

absl::string_view StepStateName(StepState state) {
  switch (state) {
    case StepState::kPending:
      return "PENDING";
    case StepState::kRunning:
      return "RUNNING";
    case StepState::kWaiting:
      return "WAITING";
    case StepState::kSucceeded:
      return "SUCCEEDED";
    case StepState::kFailed:
      return "FAILED";
    case StepState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

bool IsTerminal(OnboardingState state) {
  return state == OnboardingState::kSucceeded || state == OnboardingState::kFailed ||
         state == OnboardingState::kCancelled;
}

Step* Onboarding::FindStep(StepKind kind) {
  for (Step& s : steps) {
    if (s.kind == kind) return &s;
  }
  return nullptr;
}

const Step* Onboarding::FindStep(StepKind kind) const {
  for (const Step& s : steps) {
    if (s.kind == kind) return &s;
  }
  return nullptr;
}

}  // namespace guestflow
