// The engine and the scheduler over a real SQLite store, with a scripted
// StepRunner and a fake clock.
#include "server/engine/engine.h"

#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/scheduler.h"
#include "server/engine/state_machine.h"
#include "server/store/sqlite_store.h"
#include "tests/unit/engine/mock_step_runner.h"

namespace guestflow {
namespace {

using ::guestflow::testing::MockStepRunner;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::StrictMock;

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

StepOutcome SucceededWithCalls(const std::string& id, int calls) {
  StepOutcome o;
  for (int i = 0; i < calls; ++i) {
    CloudCall c;
    c.onboarding_id = id;
    c.tenant = "contoso";
    c.step = "invite";
    c.method = "POST";
    c.url = absl::StrCat("https://graph.example/call-", i);
    c.status = 201;
    o.cloud_calls.push_back(c);
  }
  return o;
}

std::vector<CloudCall> CallsOf(Store* store, const std::string& id) {
  CloudCallQuery query;
  query.onboarding_id = id;
  auto page = store->ListCloudCalls(query);
  EXPECT_TRUE(page.ok()) << page.status();
  return page.ok() ? page->calls : std::vector<CloudCall>{};
}

// The calls a step sent are stored in the write that stores its outcome,
// with the worker (actor) and the onboarding's caller.
TEST_F(EngineTest, AStepsCloudCallsAreStoredWithItsOutcome) {
  StartRequest request = Request();
  request.requested_by = "ops@contoso";
  auto started = engine_->Start(request);
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->onboarding.id;
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite)).WillOnce(Return(SucceededWithCalls(id, 2)));
  EXPECT_EQ(*scheduler_->RunDueNow(), 1);
  EXPECT_EQ(Get(id).version, 3) << "created, started, outcome with its calls";
  const std::vector<CloudCall> calls = CallsOf(store_.get(), id);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].url, "https://graph.example/call-0");
  EXPECT_EQ(calls[0].actor, "test");
  EXPECT_EQ(calls[0].caller, "ops@contoso");
}

// Forwards to a real store and counts UpdateOnboarding calls; fails every
// update that carries cloud calls while `fail_outcomes` is set (a step's
// outcome that cannot be stored), and leases without the caller's change while
// `drop_lease_changes` is (a store that leases only).
class OutcomeFailingStore : public Store {
 public:
  explicit OutcomeFailingStore(Store* store) : store_(store) {}
  bool fail_outcomes = false;
  bool drop_lease_changes = false;
  int updates = 0;

  absl::StatusOr<CreateResult> CreateOnboarding(const Onboarding& o,
                                                const OnboardingEvent& e) override {
    return store_->CreateOnboarding(o, e);
  }
  absl::StatusOr<Onboarding> GetOnboarding(absl::string_view id) override {
    return store_->GetOnboarding(id);
  }
  absl::StatusOr<OnboardingPage> ListOnboardings(const ListOnboardingsQuery& q) override {
    return store_->ListOnboardings(q);
  }
  absl::StatusOr<std::optional<Onboarding>> FindByRequestId(absl::string_view tenant,
                                                            absl::string_view id) override {
    return store_->FindByRequestId(tenant, id);
  }
  absl::StatusOr<int64_t> CountUnfinished() override { return store_->CountUnfinished(); }
  absl::StatusOr<OnboardingStats> Stats(absl::Time now) override { return store_->Stats(now); }
  absl::StatusOr<bool> RenewLease(absl::string_view id, absl::string_view owner,
                                  absl::Time until) override {
    return store_->RenewLease(id, owner, until);
  }
  absl::Status ReleaseLease(absl::string_view id, absl::string_view owner) override {
    return store_->ReleaseLease(id, owner);
  }
  absl::Status ReleaseAllLeases() override { return store_->ReleaseAllLeases(); }
  absl::StatusOr<std::optional<absl::Time>> NextDueTime() override { return store_->NextDueTime(); }
  absl::Status AppendCloudCalls(const std::vector<CloudCall>& calls) override {
    return store_->AppendCloudCalls(calls);
  }
  absl::StatusOr<CloudCallPage> ListCloudCalls(const CloudCallQuery& q) override {
    return store_->ListCloudCalls(q);
  }
  absl::StatusOr<std::vector<OnboardingEvent>> ListEvents(absl::string_view id, int64_t after,
                                                          int limit) override {
    return store_->ListEvents(id, after, limit);
  }

 protected:
  absl::StatusOr<Onboarding> DoUpdateOnboarding(const Onboarding& o,
                                                const std::vector<OnboardingEvent>& events,
                                                absl::string_view release_lease_of,
                                                const std::vector<CloudCall>& calls) override {
    ++updates;
    if (fail_outcomes && !calls.empty()) return absl::UnavailableError("disk on fire");
    return store_->UpdateOnboarding(o, events, release_lease_of, calls);
  }
  absl::StatusOr<std::vector<Onboarding>> DoLeaseDue(absl::string_view owner, absl::Time now,
                                                     absl::Duration lease, int limit,
                                                     const LeaseChange& change) override {
    return store_->LeaseDue(owner, now, lease, limit, drop_lease_changes ? nullptr : change);
  }

 private:
  Store* const store_;
};

// When the outcome cannot be stored, the calls the step sent still go to
// the audit trail on their own: they took place.
TEST_F(EngineTest, AStepsCloudCallsAreAuditedEvenWhenItsOutcomeIsNot) {
  OutcomeFailingStore failing(store_.get());
  failing.fail_outcomes = true;
  Scheduler scheduler(&failing, &runner_, &clock_, &feed_, SchedulerOptions{});
  const std::string id = StartOne();
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite)).WillOnce(Return(SucceededWithCalls(id, 2)));
  EXPECT_EQ(*scheduler.RunDueNow(), 1);
  EXPECT_EQ(CallsOf(store_.get(), id).size(), 2u);
  const Onboarding o = Get(id);
  EXPECT_EQ(o.FindStep(StepKind::kInvite)->state, StepState::kRunning) << "outcome not stored";
}

// The lease marks the first step RUNNING in its own write: a step run from
// the queue costs one more write (its outcome), not two (start, outcome). A
// store that leased without the change gets the start written apart. The
// history is the same both ways.
TEST_F(EngineTest, TheLeaseStartsTheStepInTheSameWrite) {
  for (const bool drop : {false, true}) {
    SCOPED_TRACE(drop ? "the store dropped the change" : "the lease started the step");
    OutcomeFailingStore counting(store_.get());
    counting.drop_lease_changes = drop;
    Scheduler scheduler(&counting, &runner_, &clock_, &feed_, SchedulerOptions{});
    const std::string id = StartOne();
    int announced = 0;  // the step's start is announced before it runs, as its outcome after
    const int64_t token = feed_.Subscribe(id, [&] { ++announced; });
    EXPECT_CALL(runner_, Run(_, StepKind::kInvite))
        .WillOnce(Invoke([&](const Onboarding& o, StepKind) {
          // What the step sees is what the store holds: RUNNING.
          EXPECT_EQ(o.FindStep(StepKind::kInvite)->state, StepState::kRunning);
          EXPECT_EQ(Get(id).FindStep(StepKind::kInvite)->state, StepState::kRunning);
          EXPECT_EQ(announced, 1);
          return Succeeded();
        }));
    EXPECT_EQ(*scheduler.RunDueNow(), 1);
    EXPECT_EQ(announced, 2);
    feed_.Unsubscribe(token);
    EXPECT_EQ(counting.updates, drop ? 2 : 1);
    const Onboarding o = Get(id);
    EXPECT_EQ(o.version, 3) << "created, started, outcome";
    EXPECT_EQ(o.FindStep(StepKind::kInvite)->state, StepState::kSucceeded);
    auto events = engine_->Events(id, 0, 100);
    ASSERT_TRUE(events.ok());
    std::vector<std::string> types;
    for (const OnboardingEvent& e : *events) types.push_back(e.type);
    EXPECT_THAT(types, ::testing::ElementsAre("created", "step_started", "step_succeeded"));
    ASSERT_TRUE(engine_->Cancel(id).ok());
  }
}

// Waits (real time, bounded) until `done` holds.
bool Eventually(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// A worker of the background loop takes an onboarding through all its steps
// under one lease: each step's outcome is stored together with the start of
// the next one, so the record is written once per step after the first
// start (version 1 created, 2 invite started, 3..7 one per outcome), not
// three times (lease, start, outcome). The history is the same as step by
// step, and the lease is given back at the end.
TEST_F(EngineTest, AWorkerGoesOnWithTheNextStepInTheSameWrite) {
  EXPECT_CALL(runner_, Run(_, _)).Times(5).WillRepeatedly(Return(Succeeded()));
  scheduler_->Start();
  const std::string id = StartOne();
  ASSERT_TRUE(Eventually([&] { return Get(id).state == OnboardingState::kSucceeded; }));
  scheduler_->Stop(absl::Seconds(5));
  const Onboarding o = Get(id);
  EXPECT_EQ(o.version, 7);
  for (const Step& s : o.steps) EXPECT_EQ(s.attempts, 1) << StepName(s.kind);
  auto events = engine_->Events(id, 0, 100);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> types;
  for (const OnboardingEvent& e : *events) types.push_back(e.type);
  std::vector<std::string> expected = {"created"};
  for (int i = 0; i < 5; ++i) {
    expected.push_back("step_started");
    expected.push_back("step_succeeded");
  }
  expected.push_back("succeeded");
  EXPECT_EQ(types, expected);
  auto stats = store_->Stats(clock_.Now());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->leased, 0);
}

// A step that has to wait is stored with its due time and its lease given
// back: the worker does not go on, and another process may take it when it
// is due.
TEST_F(EngineTest, AStepThatMustWaitGivesItsLeaseBack) {
  StepOutcome later;
  later.kind = StepOutcome::Kind::kRetry;
  later.error = "try again";
  later.retry_after = absl::Hours(1);
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite)).WillOnce(Return(Succeeded()));
  EXPECT_CALL(runner_, Run(_, StepKind::kProfile)).WillOnce(Return(later));
  scheduler_->Start();
  const std::string id = StartOne();
  ASSERT_TRUE(Eventually([&] { return Get(id).state == OnboardingState::kWaiting; }));
  scheduler_->Stop(absl::Seconds(5));
  EXPECT_EQ(Get(id).FindStep(StepKind::kLicense)->state, StepState::kPending);
  clock_.Advance(absl::Hours(2));
  auto taken = store_->LeaseDue("another-process", clock_.Now(), absl::Minutes(1), 10);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 1u) << "the waiting onboarding's lease was not given back";
  EXPECT_EQ(taken->front().id, id);
}

// Stopping lets the running step finish and stores its outcome, but the
// worker does not start the next step: it stays PENDING and the lease is
// given back for the next process.
TEST_F(EngineTest, AStoppingSchedulerDoesNotGoOnToTheNextStep) {
  absl::Notification started, release;
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite)).WillOnce(Invoke([&](const Onboarding&, StepKind) {
    started.Notify();
    release.WaitForNotification();
    return Succeeded();
  }));
  scheduler_->Start();
  const std::string id = StartOne();
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::thread stop([&] { scheduler_->Stop(absl::Seconds(10)); });
  // Stop() has begun (and waits for the step) before the step ends.
  ASSERT_TRUE(Eventually([&] { return scheduler_->Stopping(); }));
  release.Notify();
  stop.join();
  const Onboarding o = Get(id);
  EXPECT_EQ(o.FindStep(StepKind::kInvite)->state, StepState::kSucceeded);
  EXPECT_EQ(o.FindStep(StepKind::kProfile)->state, StepState::kPending);
  auto taken = store_->LeaseDue("next-process", clock_.Now(), absl::Minutes(1), 10);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 1u) << "the lease was not given back";
}

}  // namespace
}  // namespace guestflow
