// The engine and the scheduler over a real SQLite store, with a scripted
// StepRunner and a fake clock.
#include "server/engine/engine.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/scheduler.h"
#include "server/engine/state_machine.h"
#include "server/store/sqlite_store.h"

namespace guestflow {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::StrictMock;

class MockStepRunner : public StepRunner {
 public:
  MOCK_METHOD(StepOutcome, Run, (const Onboarding&, StepKind), (override));
  MOCK_METHOD(absl::StatusOr<std::string>, PluginFor, (absl::string_view, StepKind), (override));
};

class OneTenant : public TenantCatalog {
 public:
  absl::StatusOr<TenantInfo> FindTenant(absl::string_view id) const override {
    if (id != "contoso")
      return absl::NotFoundError(absl::StrCat("tenant \"", id, "\" is not configured"));
    return TenantInfo{"contoso", "https://contoso.crm.dynamics.com"};
  }
};

StepOutcome Succeeded(std::map<std::string, std::string> outputs = {}) {
  StepOutcome o;
  o.outputs = std::move(outputs);
  return o;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("gf_engine_test_", getpid(), "_", reinterpret_cast<uintptr_t>(this));
    std::filesystem::create_directories(dir_);
    OpenAll();
    ON_CALL(runner_, PluginFor(_, _)).WillByDefault(Return(absl::StatusOr<std::string>("fake")));
    EXPECT_CALL(runner_, PluginFor(_, _)).Times(::testing::AnyNumber());
  }
  void TearDown() override {
    engine_.reset();
    scheduler_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenAll(std::string owner = "test") {
    engine_.reset();
    scheduler_.reset();
    store_.reset();
    auto store = SqliteStore::Open((dir_ / "gf.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    SchedulerOptions options;
    options.owner = owner;
    options.retry.max_attempts = 3;
    scheduler_ = std::make_unique<Scheduler>(store_.get(), &runner_, &clock_, &feed_, options);
    engine_ = std::make_unique<Engine>(store_.get(), &runner_, &tenants_, &clock_, &feed_,
                                       scheduler_.get());
  }

  StartRequest Request(std::string request_id = "") {
    StartRequest r;
    r.tenant = "contoso";
    r.guest = Guest{"ada@fabrikam.com", "Ada", "Lovelace", "", "GB"};
    r.request_id = std::move(request_id);
    return r;
  }

  std::string StartOne(std::string request_id = "") {
    auto result = engine_->Start(Request(std::move(request_id)));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->onboarding.id : "";
  }

  Onboarding Get(const std::string& id) {
    auto o = engine_->Get(id);
    EXPECT_TRUE(o.ok()) << o.status();
    return o.ok() ? *o : Onboarding{};
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  ChangeFeed feed_;
  OneTenant tenants_;
  StrictMock<MockStepRunner> runner_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, RunsAllFiveStepsInOrderOnceEach) {
  const std::string id = StartOne();
  ::testing::InSequence in_order;
  for (StepKind kind : kAllSteps) {
    EXPECT_CALL(runner_, Run(_, kind)).WillOnce(Invoke([kind](const Onboarding& o, StepKind) {
      // Earlier steps' outputs are visible to later steps.
      if (kind == StepKind::kProfile) {
        EXPECT_EQ(o.FindStep(StepKind::kInvite)->outputs.at("invited_user_id"), "u-1");
      }
      std::map<std::string, std::string> out = {{"ran", std::string(StepName(kind))}};
      if (kind == StepKind::kInvite) out["invited_user_id"] = "u-1";
      return Succeeded(out);
    }));
  }
  for (int i = 0; i < 5; ++i) {
    auto ran = scheduler_->RunDueNow();
    ASSERT_TRUE(ran.ok()) << ran.status();
    EXPECT_EQ(*ran, 1);
  }
  EXPECT_EQ(*scheduler_->RunDueNow(), 0) << "nothing is due after success";
  const Onboarding o = Get(id);
  EXPECT_EQ(o.state, OnboardingState::kSucceeded);
  for (const Step& s : o.steps) {
    EXPECT_EQ(s.state, StepState::kSucceeded);
    EXPECT_EQ(s.attempts, 1);
    EXPECT_EQ(s.outputs.at("ran"), StepName(s.kind));
  }
  auto events = engine_->Events(id, 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->front().type, "created");
  EXPECT_EQ(events->back().type, "succeeded");
}

TEST_F(EngineTest, StartRefusesNewOnboardingsWhileMaxUnfinishedHaveNotEnded) {
  engine_->SetMaxUnfinished(2);
  const std::string first = StartOne("r1");
  StartOne("r2");
  auto refused = engine_->Start(Request("r3"));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("engine.max_unfinished 2); retry in 30 s"));
  // Nothing stored for it.
  ListOnboardingsQuery all;
  all.page_size = 10;
  EXPECT_EQ(engine_->List(all)->onboardings.size(), 2u);
  // A re-sent request finds what it started, full or not.
  auto again = engine_->Start(Request("r1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->onboarding.id, first);
  // Checking only is never refused.
  StartRequest check = Request("r3");
  check.validate_only = true;
  EXPECT_TRUE(engine_->Start(check).ok());

  // One ends: a second later the store is asked again, and there is room.
  ASSERT_TRUE(engine_->Cancel(first).ok());
  EXPECT_EQ(engine_->Start(Request("r3")).status().code(), absl::StatusCode::kResourceExhausted)
      << "the count is a second old";
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(engine_->Start(Request("r3")).ok());
  EXPECT_EQ(engine_->Start(Request("r4")).status().code(), absl::StatusCode::kResourceExhausted);
  // No bound.
  engine_->SetMaxUnfinished(0);
  EXPECT_TRUE(engine_->Start(Request("r4")).ok());
}

TEST_F(EngineTest, ARetryIsRescheduledInTheStoreNotSleptOn) {
  const std::string id = StartOne();
  StepOutcome throttled;
  throttled.kind = StepOutcome::Kind::kRetry;
  throttled.error = "429 Too Many Requests";
  throttled.retry_after = absl::Seconds(30);
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite))
      .WillOnce(Return(throttled))
      .WillOnce(Return(Succeeded()));
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  EXPECT_EQ(Get(id).state, OnboardingState::kWaiting);
  clock_.Advance(absl::Seconds(29));
  EXPECT_EQ(*scheduler_->RunDueNow(), 0) << "not due before Retry-After";
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  const Onboarding o = Get(id);
  EXPECT_EQ(o.steps[0].state, StepState::kSucceeded);
  EXPECT_EQ(o.steps[0].attempts, 2);
  EXPECT_EQ(o.state, OnboardingState::kRunning);
}

TEST_F(EngineTest, CancelDuringAStepKeepsItsOutputsAndStopsTheRest) {
  const std::string id = StartOne();
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite)).WillOnce(Invoke([&](const Onboarding&, StepKind) {
    auto cancelled = engine_->Cancel(id);  // a caller cancels while the step runs
    EXPECT_TRUE(cancelled.ok()) << cancelled.status();
    return Succeeded({{"invited_user_id", "u-1"}});
  }));
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  EXPECT_EQ(*scheduler_->RunDueNow(), 0);
  const Onboarding o = Get(id);
  EXPECT_EQ(o.state, OnboardingState::kCancelled);
  EXPECT_EQ(o.steps[0].outputs.at("invited_user_id"), "u-1");
  EXPECT_EQ(engine_->Cancel(id).status().code(), absl::StatusCode::kFailedPrecondition);

  // Retry resumes from the invite step, which sees its earlier output.
  ASSERT_TRUE(engine_->Retry(id).ok());
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite))
      .WillOnce(Invoke([](const Onboarding& o, StepKind) {
        EXPECT_EQ(o.steps[0].outputs.at("invited_user_id"), "u-1");
        return Succeeded();
      }));
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  EXPECT_EQ(Get(id).steps[0].state, StepState::kSucceeded);
}

TEST_F(EngineTest, AFailedStepCanBeRetried) {
  const std::string id = StartOne();
  StepOutcome failed;
  failed.kind = StepOutcome::Kind::kFailed;
  failed.error = "no free seats";
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite))
      .WillOnce(Return(failed))
      .WillOnce(Return(Succeeded()));
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  Onboarding o = Get(id);
  EXPECT_EQ(o.state, OnboardingState::kFailed);
  EXPECT_EQ(o.error, "invite: no free seats");
  EXPECT_EQ(*scheduler_->RunDueNow(), 0) << "a failed onboarding is not due";
  auto retried = engine_->Retry(id);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->state, OnboardingState::kQueued);
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  EXPECT_EQ(Get(id).steps[0].state, StepState::kSucceeded);
}

TEST_F(EngineTest, RestartResumesFromTheLastCommittedStepWithoutRepeatingDoneOnes) {
  const std::string id = StartOne();
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite)).WillOnce(Return(Succeeded()));
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  // The process dies in the middle of the profile step: RUNNING in the store,
  // leased by the dead process.
  {
    auto leased = store_->LeaseDue("dead-process", clock_.Now(), absl::Minutes(10), 10);
    ASSERT_TRUE(leased.ok());
    ASSERT_EQ(leased->size(), 1u);
    Onboarding o = leased->front();
    auto events = BeginStep(o, clock_.Now());
    ASSERT_TRUE(events.ok());
    ASSERT_TRUE(store_->UpdateOnboarding(o, *events).ok());
  }
  OpenAll("new-process");
  EXPECT_EQ(*scheduler_->RunDueNow(), 0) << "still leased by the dead process";
  ASSERT_TRUE(store_->ReleaseAllLeases().ok());  // what guestflowd does at start
  ::testing::InSequence in_order;
  EXPECT_CALL(runner_, Run(_, StepKind::kProfile)).WillOnce(Return(Succeeded()));
  EXPECT_CALL(runner_, Run(_, StepKind::kLicense)).WillOnce(Return(Succeeded()));
  EXPECT_CALL(runner_, Run(_, StepKind::kRole)).WillOnce(Return(Succeeded()));
  EXPECT_CALL(runner_, Run(_, StepKind::kNotify)).WillOnce(Return(Succeeded()));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  const Onboarding o = Get(id);
  EXPECT_EQ(o.state, OnboardingState::kSucceeded);
  EXPECT_EQ(o.steps[0].attempts, 1) << "the invite step did not run again";
  auto events = engine_->Events(id, 0, 100);
  ASSERT_TRUE(events.ok());
  bool resumed = false;
  for (const auto& e : *events) resumed = resumed || e.type == "step_resumed";
  EXPECT_TRUE(resumed);
}

TEST_F(EngineTest, RequestIdMakesStartIdempotent) {
  const std::string a = StartOne("req-1");
  const std::string b = StartOne("req-1");
  EXPECT_EQ(a, b);
  auto page = engine_->List(ListOnboardingsQuery{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->onboardings.size(), 1u);

  StartRequest other = Request("req-1");
  other.guest.email = "someone.else@fabrikam.com";
  auto conflict = engine_->Start(other);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(conflict.status().message(), HasSubstr("different parameters"));
}

TEST_F(EngineTest, BadRequestsAreRefusedBeforeAnythingIsStored) {
  StartRequest mailbox = Request();
  mailbox.approve_mailbox = true;
  EXPECT_EQ(engine_->Start(mailbox).status().code(), absl::StatusCode::kFailedPrecondition);
  StartRequest sync = Request();
  sync.enable_server_side_sync = true;
  auto refused = engine_->Start(sync);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("not support"));
  StartRequest uk = Request();
  uk.guest.usage_location = "UK";
  auto bad = engine_->Start(uk);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("GB"));
  StartRequest unknown = Request();
  unknown.tenant = "fabrikam";
  EXPECT_EQ(engine_->Start(unknown).status().code(), absl::StatusCode::kNotFound);
  StartRequest long_id = Request(std::string(200, 'x'));
  EXPECT_EQ(engine_->Start(long_id).status().code(), absl::StatusCode::kInvalidArgument);
  StartRequest dry = Request();
  dry.validate_only = true;
  auto validated = engine_->Start(dry);
  ASSERT_TRUE(validated.ok()) << validated.status();
  EXPECT_TRUE(validated->onboarding.id.empty());
  EXPECT_EQ(validated->onboarding.guest.display_name, "Ada Lovelace");

  auto page = engine_->List(ListOnboardingsQuery{});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->onboardings.empty()) << "nothing half-written stays behind";
}

TEST_F(EngineTest, ALongStepKeepsItsLeaseWhileItRuns) {
  SchedulerOptions options;
  options.owner = "long-step";
  options.workers = 1;
  options.lease = absl::Seconds(3);
  options.idle_poll = absl::Milliseconds(5);
  engine_.reset();
  scheduler_ = std::make_unique<Scheduler>(store_.get(), &runner_, &clock_, &feed_, options);
  engine_ = std::make_unique<Engine>(store_.get(), &runner_, &tenants_, &clock_, &feed_,
                                     scheduler_.get());
  absl::Notification started, release;
  EXPECT_CALL(runner_, Run(_, _))
      .WillOnce(Invoke([&](const Onboarding&, StepKind) {
        started.Notify();
        release.WaitForNotification();
        return Succeeded();
      }))
      .WillRepeatedly(Return(Succeeded()));
  StartOne();
  scheduler_->Start();
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The step runs past its first lease (3 s): the loop renews it every 1 s
  // of the clock.
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(absl::Seconds(2));
    absl::SleepFor(absl::Milliseconds(200));
  }
  auto taken = store_->LeaseDue("another-worker", clock_.Now(), absl::Seconds(3), 10);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_TRUE(taken->empty()) << "the running step's lease expired under it";
  release.Notify();
  scheduler_->Stop(absl::Seconds(5));
}

TEST_F(EngineTest, TheBackgroundLoopRunsEverythingToTheEnd) {
  // Real time for the loop's waits; the fake clock only stamps records.
  EXPECT_CALL(runner_, Run(_, _)).Times(15).WillRepeatedly(Return(Succeeded()));
  scheduler_->Start();
  std::vector<std::string> ids = {StartOne(), StartOne(), StartOne()};
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool all_done = false;
  while (!all_done && absl::Now() < deadline) {
    all_done = true;
    for (const auto& id : ids) all_done = all_done && Get(id).state == OnboardingState::kSucceeded;
    if (!all_done) absl::SleepFor(absl::Milliseconds(10));
  }
  scheduler_->Stop(absl::Seconds(5));
  EXPECT_TRUE(all_done);
}

}  // namespace
}  // namespace guestflow
