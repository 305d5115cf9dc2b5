#include "server/engine/state_machine.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

std::vector<std::string> Types(const std::vector<OnboardingEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

Onboarding MakeOnboarding() {
  OnboardingEvent created;
  Guest g{"ada@fabrikam.com", "Ada", "Lovelace", "", "GB"};
  std::map<StepKind, std::string> plugins = {{StepKind::kInvite, "inv"},
                                             {StepKind::kProfile, "inv"},
                                             {StepKind::kLicense, "lic"},
                                             {StepKind::kRole, "role"},
                                             {StepKind::kNotify, "note"}};
  Onboarding o = NewOnboarding("id1", "contoso", g, {}, plugins, kT0, &created);
  EXPECT_EQ(created.type, "created");
  return o;
}

StepOutcome Outcome(StepOutcome::Kind kind, std::string error = "",
                    std::optional<absl::Duration> retry_after = std::nullopt) {
  StepOutcome out;
  out.kind = kind;
  out.error = std::move(error);
  out.retry_after = retry_after;
  return out;
}

class StateMachineTest : public ::testing::Test {
 protected:
  RetryPolicy policy_;
  absl::BitGen rng_;
};

TEST_F(StateMachineTest, NewOnboardingIsQueuedWithFivePendingStepsDueNow) {
  Onboarding o = MakeOnboarding();
  EXPECT_EQ(o.state, OnboardingState::kQueued);
  ASSERT_EQ(o.steps.size(), 5u);
  EXPECT_EQ(o.steps[0].kind, StepKind::kInvite);
  EXPECT_EQ(o.steps[4].kind, StepKind::kNotify);
  EXPECT_EQ(o.steps[2].plugin, "lic");
  for (const Step& s : o.steps) EXPECT_EQ(s.state, StepState::kPending);
  EXPECT_EQ(o.due_time, kT0);
}

TEST_F(StateMachineTest, AllStepsSucceedingEndsSucceeded) {
  Onboarding o = MakeOnboarding();
  absl::Time now = kT0;
  for (StepKind kind : kAllSteps) {
    auto begin = BeginStep(o, now);
    ASSERT_TRUE(begin.ok()) << begin.status();
    EXPECT_EQ(o.state, OnboardingState::kRunning);
    EXPECT_EQ(o.FindStep(kind)->state, StepState::kRunning);
    StepOutcome ok = Outcome(StepOutcome::Kind::kSucceeded);
    ok.outputs["k"] = std::string(StepName(kind));
    auto applied = ApplyOutcome(o, kind, ok, now, policy_, rng_);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_EQ(o.FindStep(kind)->state, StepState::kSucceeded);
    EXPECT_EQ(o.FindStep(kind)->outputs.at("k"), StepName(kind));
    now += absl::Seconds(1);
  }
  EXPECT_EQ(o.state, OnboardingState::kSucceeded);
  EXPECT_FALSE(o.due_time.has_value());
  EXPECT_TRUE(o.finish_time.has_value());
  EXPECT_EQ(CurrentStep(o), nullptr);
}

TEST_F(StateMachineTest, RetryWaitsWithBackoffThenRunsOutOfAttempts) {
  policy_.max_attempts = 3;
  Onboarding o = MakeOnboarding();
  absl::Time now = kT0;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_TRUE(BeginStep(o, now).ok());
    auto events = ApplyOutcome(o, StepKind::kInvite, Outcome(StepOutcome::Kind::kRetry, "503"), now,
                               policy_, rng_);
    ASSERT_TRUE(events.ok());
    EXPECT_THAT(Types(*events), ElementsAre("step_retry"));
    EXPECT_EQ(o.state, OnboardingState::kWaiting);
    EXPECT_EQ(o.steps[0].state, StepState::kWaiting);
    EXPECT_EQ(o.steps[0].attempts, attempt);
    ASSERT_TRUE(o.due_time.has_value());
    // Full jitter in [base/2, base], base = initial * 2^(attempt-1).
    const absl::Duration base = policy_.initial * (1 << (attempt - 1));
    EXPECT_GE(*o.due_time - now, base / 2);
    EXPECT_LE(*o.due_time - now, base);
    now = *o.due_time;
  }
  ASSERT_TRUE(BeginStep(o, now).ok());
  auto events = ApplyOutcome(o, StepKind::kInvite, Outcome(StepOutcome::Kind::kRetry, "503 again"),
                             now, policy_, rng_);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Types(*events), ElementsAre("step_failed", "failed"));
  EXPECT_EQ(o.state, OnboardingState::kFailed);
  EXPECT_THAT(o.error, HasSubstr("gave up after 3 attempts: 503 again"));
  EXPECT_FALSE(o.due_time.has_value());
}

// With replicas, an onboarding's history says which process ran a step, and
// which one took it over after the first died mid-step.
TEST_F(StateMachineTest, BeginStepNamesTheWorkerThatStartedOrResumedTheStep) {
  Onboarding o = MakeOnboarding();
  auto started = BeginStep(o, kT0, "guestflowd-a-11-0000beef");
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_THAT(Types(*started), ElementsAre("step_started"));
  EXPECT_THAT((*started)[0].message, HasSubstr(" on guestflowd-a-11-0000beef"));
  // The step stays RUNNING: its worker died. Another one resumes it.
  auto resumed = BeginStep(o, kT0 + absl::Minutes(1), "guestflowd-b-22-0000cafe");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_THAT(Types(*resumed), ElementsAre("step_resumed"));
  EXPECT_THAT((*resumed)[0].message, HasSubstr(" on guestflowd-b-22-0000cafe"));
  // No worker named (a single process's tests): no trailing " on ".
  Onboarding plain = MakeOnboarding();
  auto unnamed = BeginStep(plain, kT0);
  ASSERT_TRUE(unnamed.ok());
  EXPECT_THAT((*unnamed)[0].message, ::testing::Not(HasSubstr(" on ")));
}

TEST_F(StateMachineTest, RetryAfterFromTheCloudWins) {
  Onboarding o = MakeOnboarding();
  ASSERT_TRUE(BeginStep(o, kT0).ok());
  ASSERT_TRUE(ApplyOutcome(o, StepKind::kInvite,
                           Outcome(StepOutcome::Kind::kRetry, "429", absl::Seconds(7)), kT0,
                           policy_, rng_)
                  .ok());
  EXPECT_EQ(o.due_time, kT0 + absl::Seconds(7));
  EXPECT_EQ(o.steps[0].next_attempt_time, kT0 + absl::Seconds(7));
}

TEST_F(StateMachineTest, WaitDoesNotUseAttemptsButIsBoundedInTime) {
  policy_.max_step_wait = absl::Minutes(1);
  Onboarding o = MakeOnboarding();
  absl::Time now = kT0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(BeginStep(o, now).ok());
    auto events = ApplyOutcome(o, StepKind::kInvite,
                               Outcome(StepOutcome::Kind::kWait, "syncing", absl::Seconds(10)), now,
                               policy_, rng_);
    ASSERT_TRUE(events.ok());
    EXPECT_EQ(Types(*events).size(), i == 0 ? 1u : 0u) << "only the first wait is an event";
    EXPECT_EQ(o.steps[0].attempts, 0);
    EXPECT_EQ(o.due_time, now + absl::Seconds(10));
    now += absl::Seconds(10);
  }
  now = kT0 + absl::Minutes(1);
  ASSERT_TRUE(BeginStep(o, now).ok());
  ASSERT_TRUE(ApplyOutcome(o, StepKind::kInvite, Outcome(StepOutcome::Kind::kWait, "syncing"), now,
                           policy_, rng_)
                  .ok());
  EXPECT_EQ(o.state, OnboardingState::kFailed);
  EXPECT_THAT(o.error, HasSubstr("still waiting after 1m"));
}

TEST_F(StateMachineTest, ThrottlingDoesNotUseAttemptsButIsBoundedInTime) {
  policy_.max_attempts = 3;
  policy_.max_step_wait = absl::Minutes(10);
  Onboarding o = MakeOnboarding();
  absl::Time now = kT0;
  // Far more throttled answers than max_attempts: a large batch under a
  // tight limit is paced, not failed.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(BeginStep(o, now).ok());
    auto events =
        ApplyOutcome(o, StepKind::kInvite,
                     Outcome(StepOutcome::Kind::kThrottled, "Graph answered 429", absl::Seconds(2)),
                     now, policy_, rng_);
    ASSERT_TRUE(events.ok());
    if (i == 0) {
      EXPECT_THAT(Types(*events), ElementsAre("step_throttled"));
    } else {
      EXPECT_THAT(Types(*events), ElementsAre()) << "only the first throttling is an event";
    }
    EXPECT_EQ(o.state, OnboardingState::kWaiting);
    EXPECT_EQ(o.steps[0].attempts, 0);
    EXPECT_EQ(o.steps[0].last_error, "Graph answered 429");
    EXPECT_EQ(o.due_time, now + absl::Seconds(2));  // the Retry-After
    now += absl::Seconds(2);
  }
  // A real failure in between still counts.
  ASSERT_TRUE(BeginStep(o, now).ok());
  ASSERT_TRUE(ApplyOutcome(o, StepKind::kInvite, Outcome(StepOutcome::Kind::kRetry, "503"), now,
                           policy_, rng_)
                  .ok());
  EXPECT_EQ(o.steps[0].attempts, 1);
  // Throttled for max_step_wait since the first throttling: failed.
  now = kT0 + absl::Minutes(10);
  ASSERT_TRUE(BeginStep(o, now).ok());
  ASSERT_TRUE(ApplyOutcome(o, StepKind::kInvite,
                           Outcome(StepOutcome::Kind::kThrottled, "Graph answered 429"), now,
                           policy_, rng_)
                  .ok());
  EXPECT_EQ(o.state, OnboardingState::kFailed);
  EXPECT_THAT(o.error, HasSubstr("still throttled after 10m"));
}

TEST_F(StateMachineTest, PermanentFailureFailsAtOnceAndKeepsOutputs) {
  Onboarding o = MakeOnboarding();
  ASSERT_TRUE(BeginStep(o, kT0).ok());
  StepOutcome failed = Outcome(StepOutcome::Kind::kFailed, "Guest invitations not allowed");
  failed.outputs["invited_user_id"] = "u1";
  ASSERT_TRUE(ApplyOutcome(o, StepKind::kInvite, failed, kT0, policy_, rng_).ok());
  EXPECT_EQ(o.state, OnboardingState::kFailed);
  EXPECT_EQ(o.steps[0].state, StepState::kFailed);
  EXPECT_EQ(o.steps[0].attempts, 1);
  EXPECT_EQ(o.steps[0].outputs.at("invited_user_id"), "u1");
  EXPECT_EQ(o.error, "invite: Guest invitations not allowed");
}

TEST_F(StateMachineTest, OutcomeForAStepThatIsNotRunningIsRefused) {
  Onboarding o = MakeOnboarding();
  EXPECT_EQ(
      ApplyOutcome(o, StepKind::kInvite, Outcome(StepOutcome::Kind::kSucceeded), kT0, policy_, rng_)
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(BeginStep(o, kT0).ok());
  EXPECT_FALSE(ApplyOutcome(o, StepKind::kLicense, Outcome(StepOutcome::Kind::kSucceeded), kT0,
                            policy_, rng_)
                   .ok());
}

TEST_F(StateMachineTest, CancelStopsPendingStepsAndIsRefusedWhenFinished) {
  Onboarding o = MakeOnboarding();
  ASSERT_TRUE(BeginStep(o, kT0).ok());
  ASSERT_TRUE(
      ApplyOutcome(o, StepKind::kInvite, Outcome(StepOutcome::Kind::kSucceeded), kT0, policy_, rng_)
          .ok());
  auto events = Cancel(o, kT0);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Types(*events), ElementsAre("cancelled"));
  EXPECT_EQ(o.state, OnboardingState::kCancelled);
  EXPECT_EQ(o.steps[0].state, StepState::kSucceeded);
  for (size_t i = 1; i < o.steps.size(); ++i) EXPECT_EQ(o.steps[i].state, StepState::kCancelled);
  EXPECT_FALSE(o.due_time.has_value());
  EXPECT_EQ(Cancel(o, kT0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(BeginStep(o, kT0).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(StateMachineTest, RetryResumesFromTheFailedStepWithFreshAttempts) {
  Onboarding o = MakeOnboarding();
  ASSERT_TRUE(BeginStep(o, kT0).ok());
  ASSERT_TRUE(
      ApplyOutcome(o, StepKind::kInvite, Outcome(StepOutcome::Kind::kSucceeded), kT0, policy_, rng_)
          .ok());
  ASSERT_TRUE(BeginStep(o, kT0).ok());
  ASSERT_TRUE(ApplyOutcome(o, StepKind::kProfile, Outcome(StepOutcome::Kind::kFailed, "bad"), kT0,
                           policy_, rng_)
                  .ok());
  Onboarding queued = MakeOnboarding();
  EXPECT_EQ(Retry(queued, kT0).status().code(), absl::StatusCode::kFailedPrecondition);
  const absl::Time later = kT0 + absl::Minutes(3);
  auto events = Retry(o, later);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Types(*events), ElementsAre("retried"));
  EXPECT_THAT((*events)[0].message, HasSubstr("profile"));
  EXPECT_EQ(o.state, OnboardingState::kQueued);
  EXPECT_EQ(o.steps[0].state, StepState::kSucceeded);
  EXPECT_EQ(o.steps[1].state, StepState::kPending);
  EXPECT_EQ(o.steps[1].attempts, 0);
  EXPECT_TRUE(o.error.empty());
  EXPECT_EQ(o.due_time, later);
  EXPECT_EQ(CurrentStep(o)->kind, StepKind::kProfile);
}

TEST_F(StateMachineTest, AStepLeftRunningByACrashIsResumed) {
  Onboarding o = MakeOnboarding();
  ASSERT_TRUE(BeginStep(o, kT0).ok());
  // The process died here. The next BeginStep runs the same step again.
  auto events = BeginStep(o, kT0 + absl::Seconds(30));
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Types(*events), ElementsAre("step_resumed"));
  EXPECT_EQ(o.steps[0].start_time, kT0);
  // The plugin learns when: a call of the interrupted run may have taken
  // effect without an answer.
  EXPECT_EQ(o.steps[0].outputs.at("interrupted_at_ms"),
            absl::StrCat(absl::ToUnixMillis(kT0 + absl::Seconds(30))));
}

}  // namespace
}  // namespace guestflow
