#include "server/engine/state_machine.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace guestflow {
namespace {

OnboardingEvent Event(absl::Time now, std::string type, std::optional<StepKind> step,
                      std::string message) {
  OnboardingEvent e;
  e.time = now;
  e.type = std::move(type);
  e.step = step;
  e.message = std::move(message);
  return e;
}

std::string Seconds(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

void Finish(Onboarding& o, OnboardingState state, absl::Time now) {
  o.state = state;
  o.finish_time = now;
  o.due_time.reset();
  o.update_time = now;
}

void FailOnboarding(Onboarding& o, Step& step, const std::string& error, absl::Time now,
                    std::vector<OnboardingEvent>& events) {
  step.state = StepState::kFailed;
  step.finish_time = now;
  step.next_attempt_time.reset();
  step.last_error = error;
  o.error = absl::StrCat(StepName(step.kind), ": ", error);
  Finish(o, OnboardingState::kFailed, now);
  events.push_back(Event(now, "step_failed", step.kind, error));
  events.push_back(Event(now, "failed", std::nullopt, o.error));
}

void WaitUntil(Onboarding& o, Step& step, absl::Time due, absl::Time now) {
  step.state = StepState::kWaiting;
  step.next_attempt_time = due;
  o.state = OnboardingState::kWaiting;
  o.due_time = due;
  o.update_time = now;
}

}  // namespace

Onboarding NewOnboarding(std::string id, std::string tenant, Guest guest, OnboardingOptions options,
                         const std::map<StepKind, std::string>& plugins, absl::Time now,
                         OnboardingEvent* created_event) {
  Onboarding o;
  o.id = std::move(id);
  o.tenant = std::move(tenant);
  o.guest = std::move(guest);
  o.options = std::move(options);
  o.state = OnboardingState::kQueued;
  for (StepKind kind : kAllSteps) {
    Step s;
    s.kind = kind;
    s.state = StepState::kPending;
    auto it = plugins.find(kind);
    if (it != plugins.end()) s.plugin = it->second;
    o.steps.push_back(std::move(s));
  }
  o.create_time = now;
  o.update_time = now;
  o.due_time = now;
  if (created_event != nullptr) {
    *created_event =
        Event(now, "created", std::nullopt,
              absl::StrCat("onboarding of ", o.guest.email, " into tenant ", o.tenant, " queued"));
  }
  return o;
}

Step* CurrentStep(Onboarding& onboarding) {
  for (Step& s : onboarding.steps) {
    if (s.state != StepState::kSucceeded) return &s;
  }
  return nullptr;
}

const Step* CurrentStep(const Onboarding& onboarding) {
  for (const Step& s : onboarding.steps) {
    if (s.state != StepState::kSucceeded) return &s;
  }
  return nullptr;
}

absl::StatusOr<std::vector<OnboardingEvent>> BeginStep(Onboarding& o, absl::Time now,
                                                       absl::string_view worker) {
  const std::string on = worker.empty() ? "" : absl::StrCat(" on ", worker);
  if (IsTerminal(o.state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("onboarding ", o.id, " is ", OnboardingStateName(o.state)));
  }
  Step* step = CurrentStep(o);
  if (step == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("onboarding ", o.id, " has no step left"));
  }
  std::vector<OnboardingEvent> events;
  if (step->state == StepState::kPending) {
    step->start_time = now;
    events.push_back(
        Event(now, "step_started", step->kind,
              absl::StrCat(StepName(step->kind), " started with plugin ", step->plugin, on)));
  } else if (step->state == StepState::kRunning) {
    // Left RUNNING by a process that stopped mid-step: the step is idempotent
    // and runs again. Its plugin learns when (a call it made may have taken
    // effect without an answer).
    step->outputs[std::string(kInterruptedAtOutput)] = absl::StrCat(absl::ToUnixMillis(now));
    events.push_back(
        Event(now, "step_resumed", step->kind,
              absl::StrCat(StepName(step->kind), " resumed after an interruption", on)));
  }
  step->state = StepState::kRunning;
  step->next_attempt_time.reset();
  o.state = OnboardingState::kRunning;
  o.update_time = now;
  return events;
}

absl::StatusOr<std::vector<OnboardingEvent>> ApplyOutcome(Onboarding& o, StepKind kind,
                                                          const StepOutcome& outcome,
                                                          absl::Time now, const RetryPolicy& policy,
                                                          absl::BitGenRef rng) {
  Step* step = CurrentStep(o);
  if (IsTerminal(o.state) || step == nullptr || step->kind != kind ||
      step->state != StepState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("onboarding ", o.id, " is no longer running step ", StepName(kind), " (it is ",
                     OnboardingStateName(o.state), ")"));
  }
  for (const auto& [key, value] : outcome.outputs) step->outputs[key] = value;
  if (!outcome.plugin.empty()) step->plugin = outcome.plugin;

  std::vector<OnboardingEvent> events;
  switch (outcome.kind) {
    case StepOutcome::Kind::kSucceeded: {
      ++step->attempts;
      step->state = StepState::kSucceeded;
      step->finish_time = now;
      step->last_error.clear();
      step->wait_since.reset();
      events.push_back(Event(now, "step_succeeded", kind,
                             absl::StrCat(StepName(kind), " succeeded after ", step->attempts,
                                          step->attempts == 1 ? " attempt" : " attempts")));
      if (CurrentStep(o) == nullptr) {
        o.error.clear();
        Finish(o, OnboardingState::kSucceeded, now);
        events.push_back(Event(now, "succeeded", std::nullopt,
                               absl::StrCat(o.guest.email, " is onboarded into ", o.tenant)));
      } else {
        o.state = OnboardingState::kRunning;
        // Due at once. A due_time already past says the same, and kept as it
        // is it spares the store two index writes per step.
        if (!o.due_time.has_value() || *o.due_time > now) o.due_time = now;
        o.update_time = now;
      }
      break;
    }
    case StepOutcome::Kind::kRetry: {
      ++step->attempts;
      step->last_error = outcome.error;
      if (policy.Exhausted(step->attempts)) {
        FailOnboarding(o, *step,
                       absl::StrCat("gave up after ", step->attempts, " attempts: ", outcome.error),
                       now, events);
        break;
      }
      const absl::Duration delay = policy.DelayAfter(step->attempts, outcome.retry_after, rng);
      WaitUntil(o, *step, now + delay, now);
      events.push_back(Event(now, "step_retry", kind,
                             absl::StrCat("attempt ", step->attempts, " failed: ", outcome.error,
                                          "; next attempt in ", Seconds(delay))));
      break;
    }
    case StepOutcome::Kind::kWait: {
      if (!step->wait_since.has_value()) {
        step->wait_since = now;
        events.push_back(Event(now, "step_waiting", kind,
                               outcome.error.empty() ? "waiting on the cloud" : outcome.error));
      }
      if (now - *step->wait_since >= policy.max_step_wait) {
        FailOnboarding(o, *step,
                       absl::StrCat("still waiting after ", Seconds(now - *step->wait_since),
                                    outcome.error.empty() ? "" : ": ", outcome.error),
                       now, events);
        break;
      }
      step->last_error = outcome.error;
      const absl::Duration delay = outcome.retry_after.value_or(policy.default_poll);
      WaitUntil(o, *step, now + std::max(delay, absl::ZeroDuration()), now);
      break;
    }
    case StepOutcome::Kind::kThrottled: {
      // The cloud sets the pace: no attempt is used up, however long a
      // large batch keeps the limit reached, but the step does not wait
      // forever either.
      if (!step->wait_since.has_value()) {
        step->wait_since = now;
        events.push_back(
            Event(now, "step_throttled", kind, absl::StrCat("throttled: ", outcome.error)));
      }
      if (now - *step->wait_since >= policy.max_step_wait) {
        FailOnboarding(o, *step,
                       absl::StrCat("still throttled after ", Seconds(now - *step->wait_since),
                                    ": ", outcome.error),
                       now, events);
        break;
      }
      step->last_error = outcome.error;
      // Without a Retry-After: the first retry's back-off.
      const absl::Duration delay = policy.DelayAfter(1, outcome.retry_after, rng);
      WaitUntil(o, *step, now + std::max(delay, absl::ZeroDuration()), now);
      break;
    }
    case StepOutcome::Kind::kFailed: {
      ++step->attempts;
      FailOnboarding(o, *step, outcome.error.empty() ? "failed" : outcome.error, now, events);
      break;
    }
  }
  return events;
}

absl::StatusOr<std::vector<OnboardingEvent>> Cancel(Onboarding& o, absl::Time now) {
  if (IsTerminal(o.state)) {
    return absl::FailedPreconditionError(absl::StrCat("onboarding ", o.id, " is already ",
                                                      OnboardingStateName(o.state),
                                                      "; there is nothing to cancel"));
  }
  for (Step& s : o.steps) {
    if (s.state != StepState::kSucceeded) {
      s.state = StepState::kCancelled;
      s.next_attempt_time.reset();
    }
  }
  Finish(o, OnboardingState::kCancelled, now);
  return std::vector<OnboardingEvent>{
      Event(now, "cancelled", std::nullopt, "cancelled; steps that already ran are not undone")};
}

absl::StatusOr<std::vector<OnboardingEvent>> Retry(Onboarding& o, absl::Time now) {
  if (o.state != OnboardingState::kFailed && o.state != OnboardingState::kCancelled) {
    return absl::FailedPreconditionError(
        absl::StrCat("onboarding ", o.id, " is ", OnboardingStateName(o.state),
                     "; only FAILED or CANCELLED onboardings can be retried"));
  }
  const Step* first = nullptr;
  for (Step& s : o.steps) {
    if (s.state == StepState::kSucceeded) continue;
    if (first == nullptr) first = &s;
    s.state = StepState::kPending;
    s.attempts = 0;
    s.last_error.clear();
    s.next_attempt_time.reset();
    s.finish_time.reset();
    s.wait_since.reset();
  }
  o.error.clear();
  if (first == nullptr) {  // every step had succeeded before it was cancelled
    Finish(o, OnboardingState::kSucceeded, now);
    return std::vector<OnboardingEvent>{
        Event(now, "succeeded", std::nullopt, "every step had already succeeded")};
  }
  o.state = OnboardingState::kQueued;
  o.finish_time.reset();
  o.due_time = now;
  o.update_time = now;
  return std::vector<OnboardingEvent>{Event(
      now, "retried", std::nullopt, absl::StrCat("retrying from step ", StepName(first->kind)))};
}

}  // namespace guestflow
