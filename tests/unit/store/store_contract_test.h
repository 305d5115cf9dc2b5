// The Store contract as a value-parameterized GoogleTest suite: every Store
// implementation runs these very tests.
//
// Use: in exactly one .cc of a test binary (the TEST_Ps below are defined
// here, so a second inclusion in the same binary would define them twice):
//
//   #include "tests/unit/store/store_contract_test.h"
//   INSTANTIATE_TEST_SUITE_P(
//       Sqlite, StoreContractTest,
//       ::testing::Values(guestflow::testing::StoreContractParam{"Sqlite", &OpenSqlite}),
//       guestflow::testing::StoreContractParamName);
//
// The factory gets a fresh empty folder per test (removed afterwards) and
// must open the store whose data belongs to that folder: the first call gives
// an empty store; another call with the same folder, after the earlier store
// is destroyed or while it is still open, opens the same data again (a second
// connection). A PostgreSQL factory can map the folder to a database name.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/model/onboarding.h"
#include "server/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace guestflow::testing {

using StoreFactory =
    std::function<absl::StatusOr<std::unique_ptr<Store>>(const std::string& scratch_dir)>;

struct StoreContractParam {
  std::string name;  // a test-name suffix: letters, digits, '_'
  StoreFactory factory;
};

// So that gtest names the implementation instead of dumping the struct's bytes.
inline void PrintTo(const StoreContractParam& param, std::ostream* os) { *os << param.name; }

inline std::string StoreContractParamName(
    const ::testing::TestParamInfo<StoreContractParam>& info) {
  return info.param.name;
}

class StoreContractTest : public ::testing::TestWithParam<StoreContractParam> {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "store_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp " << pattern;
    scratch_dir_ = pattern;
    absl::StatusOr<std::unique_ptr<Store>> store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir_, ignored);
  }

  // Another handle on this test's data.
  absl::StatusOr<std::unique_ptr<Store>> Open() { return GetParam().factory(scratch_dir_); }

  // Creates `o` with a "created" event and returns what was stored.
  absl::StatusOr<Onboarding> Create(const Onboarding& o) {
    absl::StatusOr<CreateResult> result = store_->CreateOnboarding(o, NewEvent("created"));
    if (!result.ok()) return result.status();
    if (!result->created) return absl::InternalError("not created");
    return result->onboarding;
  }

  absl::StatusOr<std::vector<std::string>> AllIds(ListOnboardingsQuery query) {
    std::vector<std::string> ids;
    do {
      absl::StatusOr<OnboardingPage> page = store_->ListOnboardings(query);
      if (!page.ok()) return page.status();
      for (const Onboarding& o : page->onboardings) ids.push_back(o.id);
      query.page_token = page->next_page_token;
    } while (!query.page_token.empty());
    return ids;
  }

  std::string scratch_dir_;
  std::unique_ptr<Store> store_;
};

// ---- create and get ---------------------------------------------------------

TEST_P(StoreContractTest, CreateThenGetKeepsEveryField) {
  const Onboarding want = FullyPopulatedOnboarding("ob-full");
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store_->CreateOnboarding(want, NewEvent("created")));
  EXPECT_TRUE(created.created);
  EXPECT_EQ(created.onboarding.version, 1);
  ExpectSameOnboarding(want, created.onboarding);

  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-full"));
  EXPECT_EQ(got.version, 1);
  ExpectSameOnboarding(want, got);
}

TEST_P(StoreContractTest, CreateThenGetKeepsEmptyValues) {
  Onboarding want;
  want.id = "ob-bare";
  want.tenant = "contoso";
  want.create_time = kT0;
  want.update_time = kT0;
  Step step;  // every optional empty, no outputs
  want.steps.push_back(step);
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store_->CreateOnboarding(want, NewEvent("created")));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-bare"));
  ExpectSameOnboarding(want, got);
  EXPECT_FALSE(got.options.send_invitation_message.has_value());
  EXPECT_FALSE(got.options.update_dynamics_email.has_value());
  EXPECT_FALSE(got.due_time.has_value());
  EXPECT_FALSE(got.finish_time.has_value());
}

TEST_P(StoreContractTest, CreateIgnoresTheCallersVersion) {
  Onboarding o = NewOnboarding("ob-1");
  o.version = 17;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(o));
  EXPECT_EQ(stored.version, 1);
}

TEST_P(StoreContractTest, CreateStoresTheFirstEventAsSequenceOne) {
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store_->CreateOnboarding(NewOnboarding("ob-1"),
                                                   NewEvent("created", kT0 + absl::Microseconds(7),
                                                            StepKind::kInvite, "accepted \"ok\"")));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-1", 0, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 1);
  EXPECT_EQ(events[0].time, kT0 + absl::Microseconds(7));
  EXPECT_EQ(events[0].type, "created");
  EXPECT_EQ(events[0].step, StepKind::kInvite);
  EXPECT_EQ(events[0].message, "accepted \"ok\"");
}

TEST_P(StoreContractTest, UnknownIdIsNotFound) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding other, Create(NewOnboarding("ob-1")));
  EXPECT_EQ(store_->GetOnboarding("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListEvents("nope", 0, 10).status().code(), absl::StatusCode::kNotFound);
  Onboarding ghost = NewOnboarding("nope");
  ghost.version = 1;
  EXPECT_EQ(store_->UpdateOnboarding(ghost, {NewEvent("x")}).status().code(),
            absl::StatusCode::kNotFound);
  GF_ASSERT_OK(store_->ReleaseLease("nope", "worker"));
  EXPECT_EQ(store_->GetOnboarding("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreContractTest, CreateWithATakenIdIsAlreadyExistsAndWritesNothing) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding first, Create(NewOnboarding("ob-1", "contoso")));
  Onboarding again = NewOnboarding("ob-1", "fabrikam");
  again.state = OnboardingState::kFailed;
  EXPECT_EQ(store_->CreateOnboarding(again, NewEvent("created")).status().code(),
            absl::StatusCode::kAlreadyExists);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.tenant, "contoso");
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-1", 0, 10));
  EXPECT_EQ(events.size(), 1u);
}

// ---- request_id idempotency ---------------------------------------------------

TEST_P(StoreContractTest, RequestIdMakesCreateIdempotent) {
  Onboarding first = NewOnboarding("ob-1", "contoso");
  first.request_id = "req-1";
  first.request_fingerprint = "fp-1";
  GF_ASSERT_OK_AND_ASSIGN(CreateResult a, store_->CreateOnboarding(first, NewEvent("created")));
  ASSERT_TRUE(a.created);

  // A retry under another id: the first one comes back, nothing is written.
  Onboarding retry = NewOnboarding("ob-2", "contoso");
  retry.request_id = "req-1";
  retry.request_fingerprint = "fp-2";
  GF_ASSERT_OK_AND_ASSIGN(CreateResult b, store_->CreateOnboarding(retry, NewEvent("created")));
  EXPECT_FALSE(b.created);
  EXPECT_EQ(b.onboarding.id, "ob-1");
  EXPECT_EQ(b.onboarding.request_fingerprint, "fp-1");
  EXPECT_EQ(b.onboarding.version, 1);
  EXPECT_EQ(store_->GetOnboarding("ob-2").status().code(), absl::StatusCode::kNotFound);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-1", 0, 10));
  EXPECT_EQ(events.size(), 1u);

  // What comes back is the current row, not the first one.
  Onboarding running = a.onboarding;
  running.state = OnboardingState::kRunning;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated, store_->UpdateOnboarding(running, {}));
  GF_ASSERT_OK_AND_ASSIGN(CreateResult c, store_->CreateOnboarding(retry, NewEvent("created")));
  EXPECT_FALSE(c.created);
  EXPECT_EQ(c.onboarding.version, 2);
  EXPECT_EQ(c.onboarding.state, OnboardingState::kRunning);

  // The key is per tenant.
  Onboarding other_tenant = NewOnboarding("ob-3", "fabrikam");
  other_tenant.request_id = "req-1";
  GF_ASSERT_OK_AND_ASSIGN(CreateResult d,
                          store_->CreateOnboarding(other_tenant, NewEvent("created")));
  EXPECT_TRUE(d.created);
  EXPECT_EQ(d.onboarding.id, "ob-3");
}

TEST_P(StoreContractTest, EmptyRequestIdNeverDeduplicates) {
  GF_ASSERT_OK_AND_ASSIGN(CreateResult a,
                          store_->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created")));
  GF_ASSERT_OK_AND_ASSIGN(CreateResult b,
                          store_->CreateOnboarding(NewOnboarding("ob-2"), NewEvent("created")));
  EXPECT_TRUE(a.created);
  EXPECT_TRUE(b.created);
  EXPECT_EQ(b.onboarding.id, "ob-2");
}

// Eight callers race with one request_id, half on the shared handle and half
// on handles of their own (other connections): exactly one creates, everyone
// gets the winner back. Several rounds, to give the race a fair chance.
TEST_P(StoreContractTest, RacingCreatesWithOneRequestIdCreateExactlyOne) {
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<Store>> own(kThreads);
  for (int i = 1; i < kThreads; i += 2) {
    GF_ASSERT_OK_AND_ASSIGN(own[i], Open());
  }
  for (int round = 0; round < 5; ++round) {
    const std::string request_id = absl::StrCat("req-", round);
    std::vector<absl::StatusOr<CreateResult>> results(kThreads, absl::UnknownError("not run"));
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        Store* store = own[i] != nullptr ? own[i].get() : store_.get();
        Onboarding o = NewOnboarding(absl::StrCat("ob-", round, "-", i), "contoso");
        o.request_id = request_id;
        start.arrive_and_wait();
        results[i] = store->CreateOnboarding(o, NewEvent("created"));
      });
    }
    for (std::thread& t : threads) t.join();

    int created = 0;
    std::set<std::string> ids;
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_TRUE(results[i].ok())
          << "round " << round << " thread " << i << ": " << results[i].status();
      created += results[i]->created ? 1 : 0;
      ids.insert(results[i]->onboarding.id);
      EXPECT_EQ(results[i]->onboarding.request_id, request_id);
    }
    EXPECT_EQ(created, 1) << "round " << round;
    EXPECT_EQ(ids.size(), 1u) << "round " << round;
  }
  GF_ASSERT_OK_AND_ASSIGN(std::vector<std::string> all, AllIds(Query().Tenant("contoso")));
  EXPECT_EQ(all.size(), 5u);
}

// ---- update -------------------------------------------------------------------

TEST_P(StoreContractTest, UpdateBumpsVersionReplacesStepsAndAppendsEvents) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(NewOnboarding("ob-1")));
  Onboarding next = FullyPopulatedOnboarding("ob-1");
  // Identity as created; everything else changes.
  next.tenant = stored.tenant;
  next.request_id = stored.request_id;
  next.request_fingerprint = stored.request_fingerprint;
  next.create_time = stored.create_time;
  next.requested_by = "someone-else";  // kept as created, whatever the update says
  next.steps.pop_back();               // fewer steps than before: the old ones must go
  next.version = stored.version;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated,
                          store_->UpdateOnboarding(
                              next, {NewEvent("step_succeeded", kT0, StepKind::kInvite),
                                     NewEvent("waiting", kT0, StepKind::kProfile, "replication")}));
  EXPECT_EQ(updated.version, 2);
  EXPECT_EQ(updated.requested_by, stored.requested_by);
  next.requested_by = stored.requested_by;
  ExpectSameOnboarding(next, updated);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.version, 2);
  ExpectSameOnboarding(next, got);

  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-1", 0, 10));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].sequence, 2);
  EXPECT_EQ(events[1].type, "step_succeeded");
  EXPECT_EQ(events[2].sequence, 3);
  EXPECT_EQ(events[2].step, StepKind::kProfile);
  EXPECT_EQ(events[2].message, "replication");

  // An update without events is still an update.
  got.state = OnboardingState::kSucceeded;
  got.due_time.reset();
  GF_ASSERT_OK_AND_ASSIGN(Onboarding third, store_->UpdateOnboarding(got, {}));
  EXPECT_EQ(third.version, 3);
  EXPECT_FALSE(third.due_time.has_value());
}

// What CreateOnboarding and UpdateOnboarding give back is what a read gives
// afterwards, to the field: times cut to the microsecond, bytes that are not
// UTF-8 in options and outputs as they read back, the identity as created,
// the steps as many as written (more, or fewer, than before).
TEST_P(StoreContractTest, WritesGiveBackWhatAReadGives) {
  Onboarding first = NewOnboarding("ob-1");
  first.create_time = kT0 + absl::Nanoseconds(2500);
  first.update_time = first.create_time;
  first.due_time = first.create_time;
  first.options.roles = {"\xc0role"};
  first.steps[0].outputs["bad"] = "\xff";
  first.steps[0].start_time = kT0 + absl::Nanoseconds(1001);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(first));
  EXPECT_EQ(stored.version, 1);
  EXPECT_EQ(stored.create_time, kT0 + absl::Microseconds(2));
  EXPECT_EQ(stored.options.roles, std::vector<std::string>{"\uFFFDrole"});
  {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
    EXPECT_EQ(got.version, 1);
    ExpectSameOnboarding(got, stored);
  }

  Onboarding next = FullyPopulatedOnboarding("ob-1");
  next.version = stored.version;
  next.tenant = "not-the-tenant";  // the identity stays as created
  next.request_id = "not-the-request";
  next.create_time = kT0 + absl::Hours(9);
  next.update_time = kT0 + absl::Nanoseconds(1234567891);
  next.due_time = kT0 + absl::Nanoseconds(999);
  next.options.roles.push_back("r\xff\xfeole");
  next.steps[0].outputs["odd"] = "a\xc3 b";
  next.steps[1].wait_since = kT0 + absl::Nanoseconds(1500);
  auto expect_read_back = [&](const Onboarding& updated, int64_t version) {
    SCOPED_TRACE(absl::StrCat("version ", version));
    EXPECT_EQ(updated.version, version);
    GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
    EXPECT_EQ(got.version, version);
    ExpectSameOnboarding(got, updated);
  };
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v2, store_->UpdateOnboarding(next, {NewEvent("x")}));
  expect_read_back(v2, 2);
  EXPECT_EQ(v2.tenant, stored.tenant);
  EXPECT_EQ(v2.create_time, stored.create_time);
  EXPECT_EQ(v2.update_time, kT0 + absl::Microseconds(1234567));
  EXPECT_EQ(v2.due_time, kT0);
  EXPECT_EQ(v2.options.roles.back(), "r\uFFFD\uFFFDole");

  // One step changes, the rest stay; then two fewer; then back to five.
  Onboarding v = v2;
  v.steps[2].state = StepState::kRunning;
  v.steps[2].start_time = kT0 + absl::Seconds(7);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v3, store_->UpdateOnboarding(v, {}));
  expect_read_back(v3, 3);
  ExpectSameStep(v.steps[2], v3.steps[2]);
  v = v3;
  v.steps.resize(3);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v4, store_->UpdateOnboarding(v, {}));
  expect_read_back(v4, 4);
  ASSERT_EQ(v4.steps.size(), 3u);
  v = v4;
  v.steps = FullyPopulatedOnboarding("ob-1").steps;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v5, store_->UpdateOnboarding(v, {}));
  expect_read_back(v5, 5);
  ASSERT_EQ(v5.steps.size(), 5u);
}

// Each column an index holds (state, batch, finish and due times, the lease)
// moves the onboarding in the queries that read that index, both ways.
TEST_P(StoreContractTest, UpdateMovesTheOnboardingInEveryQueryByWhatChanged) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v, Create(NewOnboarding("ob-1")));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("worker-a", kT0, absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  auto ids = [&](ListOnboardingsQuery query) { return AllIds(std::move(query)); };

  v.state = OnboardingState::kSucceeded;
  v.batch_id = "batch-1";
  v.finish_time = kT0 + absl::Seconds(3);
  v.due_time.reset();
  GF_ASSERT_OK_AND_ASSIGN(v, store_->UpdateOnboarding(v, {}, "worker-a"));
  EXPECT_THAT(OkValue(ids(Query().State(OnboardingState::kSucceeded))),
              ::testing::ElementsAre("ob-1"));
  EXPECT_THAT(OkValue(ids(Query().State(OnboardingState::kQueued))), ::testing::IsEmpty());
  EXPECT_THAT(OkValue(ids(Query().Batch("batch-1"))), ::testing::ElementsAre("ob-1"));
  EXPECT_EQ(OkValue(store_->CountUnfinished()), 0);
  EXPECT_EQ(OkValue(store_->NextDueTime()), std::nullopt);

  // The same values again: nothing moves.
  GF_ASSERT_OK_AND_ASSIGN(v, store_->UpdateOnboarding(v, {}));
  EXPECT_THAT(OkValue(ids(Query().Batch("batch-1"))), ::testing::ElementsAre("ob-1"));
  EXPECT_EQ(OkValue(store_->CountUnfinished()), 0);

  v.state = OnboardingState::kQueued;
  v.batch_id = "batch-2";
  v.finish_time.reset();
  v.due_time = kT0 + absl::Seconds(5);
  GF_ASSERT_OK_AND_ASSIGN(v, store_->UpdateOnboarding(v, {}));
  EXPECT_THAT(OkValue(ids(Query().State(OnboardingState::kQueued))),
              ::testing::ElementsAre("ob-1"));
  EXPECT_THAT(OkValue(ids(Query().Batch("batch-1"))), ::testing::IsEmpty());
  EXPECT_THAT(OkValue(ids(Query().Batch("batch-2"))), ::testing::ElementsAre("ob-1"));
  EXPECT_EQ(OkValue(store_->CountUnfinished()), 1);
  EXPECT_EQ(OkValue(store_->NextDueTime()), kT0 + absl::Seconds(5));
  GF_ASSERT_OK_AND_ASSIGN(
      leased, store_->LeaseDue("worker-b", kT0 + absl::Seconds(5), absl::Minutes(1), 10));
  EXPECT_THAT(Ids(leased), ::testing::ElementsAre("ob-1"));
  EXPECT_FALSE(v.finish_time.has_value());
}

TEST_P(StoreContractTest, StaleUpdateIsAbortedAndWritesNothing) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v1, Create(NewOnboarding("ob-1")));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("worker-a", kT0, absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  Onboarding cancelled = v1;
  cancelled.state = OnboardingState::kCancelled;
  cancelled.due_time.reset();
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v2,
                          store_->UpdateOnboarding(cancelled, {NewEvent("cancelled")}));
  ASSERT_EQ(v2.version, 2);

  // A worker still holding version 1.
  Onboarding stale = v1;
  stale.state = OnboardingState::kSucceeded;
  stale.steps[0].state = StepState::kSucceeded;
  stale.error = "should not be written";
  absl::StatusOr<Onboarding> result = store_->UpdateOnboarding(
      stale, {NewEvent("succeeded"), NewEvent("also not written")}, "worker-a");
  ASSERT_EQ(result.status().code(), absl::StatusCode::kAborted) << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              ::testing::HasSubstr("onboarding ob-1 was changed concurrently (version 2, "
                                   "expected 1)"));

  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.version, 2);
  ExpectSameOnboarding(v2, got);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-1", 0, 10));
  EXPECT_EQ(events.size(), 2u);
  // Nor was the lease released by the refused write.
  got.due_time = kT0;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v3, store_->UpdateOnboarding(got, {}));
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-b", kT0, absl::Minutes(1), 10));
  EXPECT_TRUE(leased.empty());
}

// Eight workers read version 1 and write at once: one wins, seven are ABORTED.
TEST_P(StoreContractTest, RacingUpdatesOfOneVersionLetExactlyOneWin) {
  constexpr int kThreads = 8;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v1, Create(NewOnboarding("ob-1")));
  std::vector<std::unique_ptr<Store>> own(kThreads);
  for (int i = 1; i < kThreads; i += 2) {
    GF_ASSERT_OK_AND_ASSIGN(own[i], Open());
  }
  std::vector<absl::Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Store* store = own[i] != nullptr ? own[i].get() : store_.get();
      Onboarding mine = v1;
      mine.error = absl::StrCat("written by ", i);
      start.arrive_and_wait();
      results[i] = store->UpdateOnboarding(mine, {NewEvent(absl::StrCat("by-", i))}).status();
    });
  }
  for (std::thread& t : threads) t.join();
  int won = -1;
  for (int i = 0; i < kThreads; ++i) {
    if (results[i].ok()) {
      EXPECT_EQ(won, -1) << "two winners: " << won << " and " << i;
      won = i;
    } else {
      EXPECT_EQ(results[i].code(), absl::StatusCode::kAborted) << results[i];
    }
  }
  ASSERT_NE(won, -1);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.version, 2);
  EXPECT_EQ(got.error, absl::StrCat("written by ", won));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-1", 0, 100));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, absl::StrCat("by-", won));
}

TEST_P(StoreContractTest, UpdateReleasesTheLeaseOnlyOfItsHolder) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding v1, Create(NewOnboarding("ob-1")));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("worker-a", kT0, absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);

  GF_ASSERT_OK_AND_ASSIGN(Onboarding v2, store_->UpdateOnboarding(v1, {}));  // no release
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-b", kT0, absl::Minutes(1), 10));
  EXPECT_TRUE(leased.empty());

  GF_ASSERT_OK_AND_ASSIGN(Onboarding v3, store_->UpdateOnboarding(v2, {}, "worker-b"));
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-b", kT0, absl::Minutes(1), 10));
  EXPECT_TRUE(leased.empty()) << "a non-holder released worker-a's lease";

  GF_ASSERT_OK_AND_ASSIGN(Onboarding v4, store_->UpdateOnboarding(v3, {}, "worker-a"));
  EXPECT_EQ(v4.version, 4);
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-b", kT0, absl::Minutes(1), 10));
  EXPECT_THAT(Ids(leased), ::testing::ElementsAre("ob-1"));
}

// ---- events -------------------------------------------------------------------

TEST_P(StoreContractTest, EventsAreNumberedInOrderAndPaged) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding("ob-1")));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding other, Create(NewOnboarding("ob-2")));
  int n = 1;
  for (int count : {2, 0, 3}) {
    std::vector<OnboardingEvent> events;
    for (int i = 0; i < count; ++i) {
      ++n;
      events.push_back(NewEvent(absl::StrCat("e", n), kT0 + absl::Seconds(n)));
    }
    GF_ASSERT_OK_AND_ASSIGN(o, store_->UpdateOnboarding(o, events));
  }
  ASSERT_EQ(n, 6);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> all, store_->ListEvents("ob-1", 0, 100));
  ASSERT_EQ(all.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(all[i].sequence, i + 1);
    if (i > 0) {
      EXPECT_EQ(all[i].type, absl::StrCat("e", i + 1));
      EXPECT_EQ(all[i].time, kT0 + absl::Seconds(i + 1));
    }
  }
  std::vector<int64_t> paged;
  int64_t after = 0;
  while (true) {
    GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> page,
                            store_->ListEvents("ob-1", after, 4));
    ASSERT_LE(page.size(), 4u);
    if (page.empty()) break;
    for (const OnboardingEvent& e : page) paged.push_back(e.sequence);
    after = page.back().sequence;
  }
  EXPECT_THAT(paged, ::testing::ElementsAre(1, 2, 3, 4, 5, 6));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> tail, store_->ListEvents("ob-1", 4, 100));
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].sequence, 5);
  // The other onboarding's log is its own.
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> others, store_->ListEvents("ob-2", 0, 100));
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].sequence, 1);
}

// ---- list ---------------------------------------------------------------------

TEST_P(StoreContractTest, ListFiltersByTenantStateAndBatch) {
  struct Row {
    const char* id;
    const char* tenant;
    OnboardingState state;
    const char* batch;
  };
  const Row rows[] = {
      {"a", "contoso", OnboardingState::kQueued, ""},
      {"b", "contoso", OnboardingState::kSucceeded, "batch-1"},
      {"c", "contoso", OnboardingState::kQueued, "batch-1"},
      {"d", "fabrikam", OnboardingState::kQueued, "batch-1"},
      {"e", "fabrikam", OnboardingState::kFailed, ""},
      {"f", "contoso", OnboardingState::kQueued, "batch-2"},
  };
  int n = 0;
  for (const Row& row : rows) {
    Onboarding o = NewOnboarding(row.id, row.tenant, kT0 + absl::Seconds(n++));
    o.state = row.state;
    o.batch_id = row.batch;
    GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(o));
  }
  using ::testing::ElementsAre;
  auto ids = [&](ListOnboardingsQuery q) { return AllIds(std::move(q)); };
  GF_ASSERT_OK_AND_ASSIGN(auto all, ids(Query()));
  EXPECT_THAT(all, ElementsAre("f", "e", "d", "c", "b", "a"));
  GF_ASSERT_OK_AND_ASSIGN(auto contoso, ids(Query().Tenant("contoso")));
  EXPECT_THAT(contoso, ElementsAre("f", "c", "b", "a"));
  GF_ASSERT_OK_AND_ASSIGN(auto queued, ids(Query().State(OnboardingState::kQueued)));
  EXPECT_THAT(queued, ElementsAre("f", "d", "c", "a"));
  GF_ASSERT_OK_AND_ASSIGN(auto batch1, ids(Query().Batch("batch-1")));
  EXPECT_THAT(batch1, ElementsAre("d", "c", "b"));
  GF_ASSERT_OK_AND_ASSIGN(auto contoso_queued,
                          ids(Query().Tenant("contoso").State(OnboardingState::kQueued)));
  EXPECT_THAT(contoso_queued, ElementsAre("f", "c", "a"));
  GF_ASSERT_OK_AND_ASSIGN(
      auto all_three,
      ids(Query().Tenant("contoso").State(OnboardingState::kQueued).Batch("batch-1")));
  EXPECT_THAT(all_three, ElementsAre("c"));
  GF_ASSERT_OK_AND_ASSIGN(auto none, ids(Query().Tenant("northwind")));
  EXPECT_THAT(none, ::testing::IsEmpty());
  GF_ASSERT_OK_AND_ASSIGN(auto cancelled, ids(Query().State(OnboardingState::kCancelled)));
  EXPECT_THAT(cancelled, ::testing::IsEmpty());

  // A caller's grants: a set of tenants, with the other filters and paging.
  GF_ASSERT_OK_AND_ASSIGN(auto granted, ids(Query().TenantIn({"fabrikam", "northwind"})));
  EXPECT_THAT(granted, ElementsAre("e", "d"));
  GF_ASSERT_OK_AND_ASSIGN(auto both, ids(Query().TenantIn({"contoso", "fabrikam"}).PageSize(2)));
  EXPECT_THAT(both, ElementsAre("f", "e", "d", "c", "b", "a"));
  GF_ASSERT_OK_AND_ASSIGN(auto granted_queued,
                          ids(Query().TenantIn({"fabrikam"}).State(OnboardingState::kQueued)));
  EXPECT_THAT(granted_queued, ElementsAre("d"));
  GF_ASSERT_OK_AND_ASSIGN(auto outside, ids(Query().TenantIn({"fabrikam"}).Tenant("contoso")));
  EXPECT_THAT(outside, ::testing::IsEmpty());
  GF_ASSERT_OK_AND_ASSIGN(auto nothing_granted, ids(Query().TenantIn({})));
  EXPECT_THAT(nothing_granted, ::testing::IsEmpty());

  // Listed onboardings are whole, steps included.
  GF_ASSERT_OK_AND_ASSIGN(OnboardingPage page, store_->ListOnboardings(Query().PageSize(1)));
  ASSERT_EQ(page.onboardings.size(), 1u);
  EXPECT_EQ(page.onboardings[0].steps.size(), 5u);
  EXPECT_EQ(page.onboardings[0].version, 1);
}

// 23 onboardings, with create_time ties broken by id, read in pages of every
// size: the pages join up to exactly the full newest-first order.
TEST_P(StoreContractTest, ListPagesNewestFirstWithoutDuplicatesOrGaps) {
  std::vector<std::pair<absl::Time, std::string>> keys;
  for (int i = 0; i < 23; ++i) {
    // Ids in an order unrelated to creation; times with ties (i / 3).
    std::string id = absl::StrCat("ob-", (i * 7) % 23 < 10 ? "0" : "", (i * 7) % 23);
    absl::Time t = kT0 + absl::Seconds(i / 3);
    Onboarding o = NewOnboarding(id, i % 2 == 0 ? "contoso" : "fabrikam", t);
    GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(o));
    keys.emplace_back(t, id);
  }
  std::sort(keys.begin(), keys.end(), std::greater<>());
  std::vector<std::string> want;
  for (const auto& [t, id] : keys) want.push_back(id);

  for (int page_size : {1, 2, 5, 7, 22, 23, 24, 100}) {
    SCOPED_TRACE(absl::StrCat("page_size ", page_size));
    std::vector<std::string> got;
    ListOnboardingsQuery query = Query().PageSize(page_size);
    int pages = 0;
    while (true) {
      GF_ASSERT_OK_AND_ASSIGN(OnboardingPage page, store_->ListOnboardings(query));
      ++pages;
      ASSERT_LE(page.onboardings.size(), static_cast<size_t>(page_size));
      ASSERT_FALSE(page.onboardings.empty()) << "an empty page";
      for (const Onboarding& o : page.onboardings) got.push_back(o.id);
      if (page.next_page_token.empty()) break;
      ASSERT_EQ(page.onboardings.size(), static_cast<size_t>(page_size));
      query.page_token = page.next_page_token;
      ASSERT_LE(pages, 30);
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(pages, (23 + page_size - 1) / page_size);
  }

  // Paging a filtered list.
  std::vector<std::string> want_contoso;
  for (const std::string& id : want) {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding o, store_->GetOnboarding(id));
    if (o.tenant == "contoso") want_contoso.push_back(id);
  }
  GF_ASSERT_OK_AND_ASSIGN(auto contoso, AllIds(Query().Tenant("contoso").PageSize(4)));
  EXPECT_EQ(contoso, want_contoso);
}

// Keyset pages: onboardings created while a client pages through the list
// neither repeat nor hide the ones it has not seen yet.
TEST_P(StoreContractTest, ListPagingIsStableWhileOnboardingsAreCreated) {
  for (int i = 0; i < 10; ++i) {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding(absl::StrCat("old-", i), "contoso",
                                                               kT0 + absl::Seconds(i))));
  }
  GF_ASSERT_OK_AND_ASSIGN(OnboardingPage first, store_->ListOnboardings(Query().PageSize(4)));
  EXPECT_THAT(Ids(first.onboardings), ::testing::ElementsAre("old-9", "old-8", "old-7", "old-6"));
  for (int i = 0; i < 3; ++i) {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding o,
                            Create(NewOnboarding(absl::StrCat("new-", i), "contoso",
                                                 kT0 + absl::Minutes(1) + absl::Seconds(i))));
  }
  GF_ASSERT_OK_AND_ASSIGN(auto rest, AllIds(Query().PageSize(4).PageToken(first.next_page_token)));
  EXPECT_THAT(rest, ::testing::ElementsAre("old-5", "old-4", "old-3", "old-2", "old-1", "old-0"));
}

TEST_P(StoreContractTest, ListRejectsABadPageTokenOrPageSize) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding("ob-1")));
  std::string not_a_key;
  absl::WebSafeBase64Escape("no key in here", &not_a_key);
  for (const std::string& token : {std::string("%%%not base64%%%"), not_a_key}) {
    absl::StatusOr<OnboardingPage> page =
        store_->ListOnboardings(Query().PageSize(10).PageToken(token));
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_THAT(std::string(page.status().message()), ::testing::HasSubstr("invalid page_token"));
  }
  EXPECT_EQ(store_->ListOnboardings(Query().PageSize(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListOnboardings(Query().PageSize(-3)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- leases -------------------------------------------------------------------

TEST_P(StoreContractTest, LeaseDueTakesDueFreeOnboardingsOldestFirst) {
  struct Row {
    const char* id;
    absl::Duration age;                 // created at kT0 - age
    std::optional<absl::Duration> due;  // from kT0
  };
  // Oldest first, whenever each became due: "first" was created first and
  // came due last (a step retried), "now" was created last.
  const Row rows[] = {{"late", absl::Seconds(50), absl::Seconds(-5)},
                      {"first", absl::Seconds(90), absl::ZeroDuration()},
                      {"future", absl::Seconds(80), absl::Seconds(10)},
                      {"done", absl::Seconds(70), std::nullopt},
                      {"second", absl::Seconds(60), absl::Seconds(-1)},
                      {"now", absl::Seconds(1), absl::Seconds(-30)}};
  for (const Row& row : rows) {
    Onboarding o = NewOnboarding(row.id, "contoso", kT0 - row.age);
    o.due_time.reset();
    if (row.due.has_value()) o.due_time = kT0 + *row.due;
    GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(o));
  }
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> a,
                          store_->LeaseDue("worker-a", kT0, absl::Seconds(30), 10));
  EXPECT_THAT(Ids(a), ::testing::ElementsAre("first", "second", "late", "now"));
  for (const Onboarding& o : a) {
    EXPECT_EQ(o.version, 1) << "leasing must not bump the version";
    EXPECT_EQ(o.steps.size(), 5u);
  }

  // Leased ones are nobody else's (nor the holder's again) until the lease ends.
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> b,
                          store_->LeaseDue("worker-b", kT0, absl::Seconds(30), 10));
  EXPECT_TRUE(b.empty());
  GF_ASSERT_OK_AND_ASSIGN(b, store_->LeaseDue("worker-a", kT0, absl::Seconds(30), 10));
  EXPECT_TRUE(b.empty());
  GF_ASSERT_OK_AND_ASSIGN(
      b, store_->LeaseDue("worker-b", kT0 + absl::Seconds(10), absl::Seconds(30), 10));
  EXPECT_THAT(Ids(b), ::testing::ElementsAre("future"));
  GF_ASSERT_OK_AND_ASSIGN(
      b, store_->LeaseDue("worker-b", kT0 + absl::Seconds(29), absl::Seconds(30), 10));
  EXPECT_TRUE(b.empty());
  // worker-a's leases end at kT0 + 30 s, exactly.
  GF_ASSERT_OK_AND_ASSIGN(
      b, store_->LeaseDue("worker-b", kT0 + absl::Seconds(30), absl::Seconds(30), 10));
  EXPECT_THAT(Ids(b), ::testing::ElementsAre("first", "second", "late", "now"));

  // Leasing changed no version: an update over version 1 still goes through.
  GF_ASSERT_OK_AND_ASSIGN(Onboarding first, store_->GetOnboarding("first"));
  EXPECT_EQ(first.version, 1);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated, store_->UpdateOnboarding(first, {}));
  EXPECT_EQ(updated.version, 2);
}

TEST_P(StoreContractTest, LeaseDueHonoursTheLimit) {
  for (int i = 0; i < 5; ++i) {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding(absl::StrCat("ob-", i), "contoso",
                                                               kT0 - absl::Seconds(10 - i))));
  }
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> none,
                          store_->LeaseDue("w", kT0, absl::Seconds(30), 0));
  EXPECT_TRUE(none.empty());
  std::vector<std::vector<std::string>> batches;
  for (int i = 0; i < 4; ++i) {
    GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                            store_->LeaseDue("w", kT0, absl::Seconds(30), 2));
    batches.push_back(Ids(leased));
  }
  using ::testing::ElementsAre;
  EXPECT_THAT(batches, ElementsAre(ElementsAre("ob-0", "ob-1"), ElementsAre("ob-2", "ob-3"),
                                   ElementsAre("ob-4"), ::testing::IsEmpty()));
}

// A lease with a change stores what the change made of each onboarding it
// leases, with its events, in the same write; one the change refuses is leased
// unchanged. The lease is kept either way.
TEST_P(StoreContractTest, LeaseDueWithAChangeStoresItInTheSameWrite) {
  for (const char* id : {"ob-a", "ob-b"}) {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding o,
                            Create(NewOnboarding(id, "contoso", kT0 - absl::Seconds(10))));
  }
  int calls = 0;
  GF_ASSERT_OK_AND_ASSIGN(
      std::vector<Onboarding> leased,
      store_->LeaseDue("worker-a", kT0, absl::Minutes(1), 10,
                       [&](Onboarding& o) -> absl::StatusOr<std::vector<OnboardingEvent>> {
                         ++calls;
                         if (o.id == "ob-b") return absl::FailedPreconditionError("not this one");
                         o.state = OnboardingState::kRunning;
                         o.steps[0].state = StepState::kRunning;
                         o.steps[0].start_time = kT0;
                         o.update_time = kT0;
                         return std::vector<OnboardingEvent>{NewEvent("step_started")};
                       }));
  EXPECT_GE(calls, 2);
  ASSERT_THAT(Ids(leased), ::testing::ElementsAre("ob-a", "ob-b"));
  // Given back as stored: changed and version 2, or as it was.
  EXPECT_EQ(leased[0].version, 2);
  EXPECT_EQ(leased[0].state, OnboardingState::kRunning);
  EXPECT_EQ(leased[0].steps[0].state, StepState::kRunning);
  EXPECT_EQ(leased[1].version, 1);
  EXPECT_EQ(leased[1].steps[0].state, StepState::kPending);

  GF_ASSERT_OK_AND_ASSIGN(Onboarding a, store_->GetOnboarding("ob-a"));
  EXPECT_EQ(a.version, 2);
  EXPECT_EQ(a.state, OnboardingState::kRunning);
  EXPECT_EQ(a.steps[0].state, StepState::kRunning);
  EXPECT_EQ(a.steps[0].start_time, kT0);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-a", 0, 10));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].sequence, 2);
  EXPECT_EQ(events[1].type, "step_started");
  GF_ASSERT_OK_AND_ASSIGN(Onboarding b, store_->GetOnboarding("ob-b"));
  EXPECT_EQ(b.version, 1);
  GF_ASSERT_OK_AND_ASSIGN(events, store_->ListEvents("ob-b", 0, 10));
  EXPECT_EQ(events.size(), 1u);

  // Both stay leased to worker-a; its next write (version 2) goes through.
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> again,
                          store_->LeaseDue("worker-b", kT0, absl::Minutes(1), 10));
  EXPECT_TRUE(again.empty());
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated, store_->UpdateOnboarding(a, {}, "worker-a"));
  EXPECT_EQ(updated.version, 3);
}

// Four workers on their own handles lease in small bites at once: every due
// onboarding goes to exactly one of them.
TEST_P(StoreContractTest, RacingWorkersNeverLeaseOneOnboardingTwice) {
  constexpr int kOnboardings = 30;
  constexpr int kWorkers = 4;
  for (int i = 0; i < kOnboardings; ++i) {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding(absl::StrCat("ob-", i), "contoso",
                                                               kT0 - absl::Seconds(i))));
  }
  std::vector<std::unique_ptr<Store>> stores(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    GF_ASSERT_OK_AND_ASSIGN(stores[w], Open());
  }
  std::vector<std::vector<std::string>> got(kWorkers);
  std::vector<absl::Status> errors(kWorkers);
  std::latch start(kWorkers);
  std::vector<std::thread> threads;
  threads.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      start.arrive_and_wait();
      for (int round = 0; round < 100; ++round) {
        absl::StatusOr<std::vector<Onboarding>> leased =
            stores[w]->LeaseDue(absl::StrCat("worker-", w), kT0, absl::Minutes(5), 3);
        if (!leased.ok()) {
          errors[w] = leased.status();
          return;
        }
        if (leased->empty()) return;
        for (const Onboarding& o : *leased) got[w].push_back(o.id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::multiset<std::string> all;
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_TRUE(errors[w].ok()) << errors[w];
    all.insert(got[w].begin(), got[w].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kOnboardings));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(),
            static_cast<size_t>(kOnboardings));
}

TEST_P(StoreContractTest, ReleaseLeaseFreesOnlyTheHoldersLease) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding("ob-1")));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("worker-a", kT0, absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  GF_ASSERT_OK(store_->ReleaseLease("ob-1", "worker-b"));
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-b", kT0, absl::Minutes(1), 10));
  EXPECT_TRUE(leased.empty());
  GF_ASSERT_OK(store_->ReleaseLease("ob-1", "worker-a"));
  GF_ASSERT_OK(store_->ReleaseLease("ob-1", "worker-a"));  // not held any more: no error
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-b", kT0, absl::Minutes(1), 10));
  EXPECT_THAT(Ids(leased), ::testing::ElementsAre("ob-1"));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.version, 1);
}

TEST_P(StoreContractTest, RenewLeaseExtendsOnlyTheHoldersLease) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding("ob-1")));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("worker-a", kT0, absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  GF_ASSERT_OK_AND_ASSIGN(bool held,
                          store_->RenewLease("ob-1", "worker-a", kT0 + absl::Minutes(5)));
  EXPECT_TRUE(held);
  GF_ASSERT_OK_AND_ASSIGN(held, store_->RenewLease("ob-1", "worker-b", kT0 + absl::Hours(1)));
  EXPECT_FALSE(held);
  // Past the first lease, within the renewed one: nobody else gets it.
  GF_ASSERT_OK_AND_ASSIGN(
      leased, store_->LeaseDue("worker-b", kT0 + absl::Minutes(2), absl::Minutes(1), 10));
  EXPECT_TRUE(leased.empty());
  GF_ASSERT_OK_AND_ASSIGN(
      leased, store_->LeaseDue("worker-b", kT0 + absl::Minutes(5), absl::Minutes(1), 10));
  EXPECT_THAT(Ids(leased), ::testing::ElementsAre("ob-1"));
  // worker-a lost it: renewing says so.
  GF_ASSERT_OK_AND_ASSIGN(held, store_->RenewLease("ob-1", "worker-a", kT0 + absl::Hours(1)));
  EXPECT_FALSE(held);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.version, 1) << "renewing is not a change of the onboarding";
}

TEST_P(StoreContractTest, ReleaseAllLeasesFreesEveryLease) {
  for (const char* id : {"ob-1", "ob-2", "ob-3"}) {
    GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(NewOnboarding(id)));
  }
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("worker-a", kT0, absl::Hours(1), 2));
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-b", kT0, absl::Hours(1), 2));
  ASSERT_EQ(leased.size(), 1u);
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-c", kT0, absl::Hours(1), 10));
  ASSERT_TRUE(leased.empty());
  GF_ASSERT_OK(store_->ReleaseAllLeases());
  GF_ASSERT_OK_AND_ASSIGN(leased, store_->LeaseDue("worker-c", kT0, absl::Hours(1), 10));
  EXPECT_EQ(leased.size(), 3u);
}

TEST_P(StoreContractTest, FindByRequestIdFindsTheTenantsOnboardingOnly) {
  Onboarding o = NewOnboarding("with-id");
  o.request_id = "req-7";
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(o));
  GF_ASSERT_OK_AND_ASSIGN(std::optional<Onboarding> found,
                          store_->FindByRequestId("contoso", "req-7"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, "with-id");
  EXPECT_EQ(found->steps.size(), 5u);
  GF_ASSERT_OK_AND_ASSIGN(found, store_->FindByRequestId("fabrikam", "req-7"));
  EXPECT_FALSE(found.has_value());
  GF_ASSERT_OK_AND_ASSIGN(found, store_->FindByRequestId("contoso", "req-8"));
  EXPECT_FALSE(found.has_value());
  GF_ASSERT_OK_AND_ASSIGN(found, store_->FindByRequestId("contoso", ""));
  EXPECT_FALSE(found.has_value());
}

TEST_P(StoreContractTest, CountUnfinishedCountsWhatHasNotEnded) {
  GF_ASSERT_OK_AND_ASSIGN(int64_t count, store_->CountUnfinished());
  EXPECT_EQ(count, 0);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding a, Create(NewOnboarding("a")));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding b, Create(NewOnboarding("b")));
  Onboarding done = NewOnboarding("done");
  done.state = OnboardingState::kSucceeded;
  done.due_time.reset();
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(done));
  GF_ASSERT_OK_AND_ASSIGN(count, store_->CountUnfinished());
  EXPECT_EQ(count, 2);
  // Leased (running) still counts; ended does not.
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("w", kT0, absl::Seconds(30), 10));
  ASSERT_EQ(leased.size(), 2u);
  GF_ASSERT_OK_AND_ASSIGN(count, store_->CountUnfinished());
  EXPECT_EQ(count, 2);
  a.state = OnboardingState::kFailed;
  a.due_time.reset();
  GF_ASSERT_OK_AND_ASSIGN(Onboarding failed, store_->UpdateOnboarding(a, {}, "w"));
  GF_ASSERT_OK_AND_ASSIGN(count, store_->CountUnfinished());
  EXPECT_EQ(count, 1);
}

TEST_P(StoreContractTest, StatsCountByTenantAndStateWithTheQueueAndTheLeases) {
  GF_ASSERT_OK_AND_ASSIGN(OnboardingStats empty, store_->Stats(kT0));
  EXPECT_TRUE(empty.by_tenant_and_state.empty());
  EXPECT_EQ(empty.due, 0);
  EXPECT_EQ(empty.leased, 0);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding a, Create(NewOnboarding("a", "contoso", kT0)));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding b, Create(NewOnboarding("b", "contoso", kT0)));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding c, Create(NewOnboarding("c", "fabrikam", kT0)));
  Onboarding later = NewOnboarding("later", "fabrikam", kT0);
  later.due_time = kT0 + absl::Hours(1);  // waiting: not due yet
  later.state = OnboardingState::kWaiting;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored_later, Create(later));
  Onboarding done = NewOnboarding("done", "fabrikam", kT0);
  done.state = OnboardingState::kSucceeded;
  done.due_time.reset();
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored_done, Create(done));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("w", kT0, absl::Seconds(30), 1));
  ASSERT_EQ(leased.size(), 1u);

  GF_ASSERT_OK_AND_ASSIGN(OnboardingStats stats, store_->Stats(kT0));
  using Key = std::pair<std::string, OnboardingState>;
  EXPECT_THAT(stats.by_tenant_and_state,
              ::testing::UnorderedElementsAre(
                  ::testing::Pair(Key{"contoso", OnboardingState::kQueued}, 2),
                  ::testing::Pair(Key{"fabrikam", OnboardingState::kQueued}, 1),
                  ::testing::Pair(Key{"fabrikam", OnboardingState::kWaiting}, 1),
                  ::testing::Pair(Key{"fabrikam", OnboardingState::kSucceeded}, 1)));
  EXPECT_EQ(stats.due, 2);  // three due, one of them leased
  EXPECT_EQ(stats.leased, 1);
  // Once the lease has expired, that one is due again and leased no more.
  GF_ASSERT_OK_AND_ASSIGN(stats, store_->Stats(kT0 + absl::Minutes(1)));
  EXPECT_EQ(stats.due, 3);
  EXPECT_EQ(stats.leased, 0);
  // And in an hour the waiting one is due too.
  GF_ASSERT_OK_AND_ASSIGN(stats, store_->Stats(kT0 + absl::Hours(2)));
  EXPECT_EQ(stats.due, 4);
}

TEST_P(StoreContractTest, NextDueTimeIsTheEarliestFreeDueTime) {
  GF_ASSERT_OK_AND_ASSIGN(std::optional<absl::Time> next, store_->NextDueTime());
  EXPECT_FALSE(next.has_value()) << "empty store";

  Onboarding done = NewOnboarding("done");
  done.state = OnboardingState::kSucceeded;
  done.due_time.reset();
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored, Create(done));
  GF_ASSERT_OK_AND_ASSIGN(next, store_->NextDueTime());
  EXPECT_FALSE(next.has_value()) << "only terminal onboardings";

  GF_ASSERT_OK_AND_ASSIGN(stored, Create(NewOnboarding("a", "contoso", kT0 + absl::Seconds(5))));
  GF_ASSERT_OK_AND_ASSIGN(stored, Create(NewOnboarding("b", "contoso", kT0 + absl::Seconds(2))));
  GF_ASSERT_OK_AND_ASSIGN(next, store_->NextDueTime());
  EXPECT_EQ(next, kT0 + absl::Seconds(2));

  // b leased until kT0 + 3 s + 60 s: a is next.
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("w", kT0 + absl::Seconds(3), absl::Seconds(60), 10));
  ASSERT_THAT(Ids(leased), ::testing::ElementsAre("b"));
  GF_ASSERT_OK_AND_ASSIGN(next, store_->NextDueTime());
  EXPECT_EQ(next, kT0 + absl::Seconds(5));

  // Both leased: the earlier lease expiry.
  GF_ASSERT_OK_AND_ASSIGN(leased,
                          store_->LeaseDue("w", kT0 + absl::Seconds(6), absl::Seconds(60), 10));
  ASSERT_THAT(Ids(leased), ::testing::ElementsAre("a"));
  GF_ASSERT_OK_AND_ASSIGN(next, store_->NextDueTime());
  EXPECT_EQ(next, kT0 + absl::Seconds(63));

  // A leased onboarding pushed to later than its lease: that later time.
  GF_ASSERT_OK_AND_ASSIGN(Onboarding b, store_->GetOnboarding("b"));
  b.due_time = kT0 + absl::Hours(1);
  GF_ASSERT_OK_AND_ASSIGN(b, store_->UpdateOnboarding(b, {}));
  GF_ASSERT_OK_AND_ASSIGN(next, store_->NextDueTime());
  EXPECT_EQ(next, kT0 + absl::Seconds(66));

  GF_ASSERT_OK(store_->ReleaseAllLeases());
  GF_ASSERT_OK_AND_ASSIGN(next, store_->NextDueTime());
  EXPECT_EQ(next, kT0 + absl::Seconds(5));
}

// ---- durability -----------------------------------------------------------------

// A crash mid-onboarding: invite done, profile done, license RUNNING, the rest
// PENDING, due to be looked at again. After the store is closed and opened
// again, all of it is there, lease included.
TEST_P(StoreContractTest, ReopenedStoreHasTheHalfFinishedOnboarding) {
  GF_ASSERT_OK_AND_ASSIGN(Onboarding o, Create(FullyPopulatedOnboarding("ob-1")));
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("worker-a", kT0 + absl::Hours(1), absl::Hours(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  o.state = OnboardingState::kRunning;
  o.error.clear();
  o.finish_time.reset();
  o.steps[1].state = StepState::kSucceeded;
  o.steps[1].finish_time = kT0 + absl::Seconds(30);
  o.steps[1].outputs = {{"dynamics_user_id", "5d1e"}};
  o.steps[2].state = StepState::kRunning;
  o.steps[2].attempts = 2;
  o.steps[2].start_time = kT0 + absl::Seconds(31);
  o.steps[2].next_attempt_time.reset();
  o.steps[3].state = StepState::kPending;
  o.steps[4].state = StepState::kPending;
  o.due_time = kT0 + absl::Minutes(10);
  o.update_time = kT0 + absl::Seconds(31);
  GF_ASSERT_OK_AND_ASSIGN(
      Onboarding half,
      store_->UpdateOnboarding(o, {NewEvent("step_succeeded", kT0, StepKind::kProfile),
                                   NewEvent("step_started", kT0, StepKind::kLicense)}));

  store_.reset();
  GF_ASSERT_OK_AND_ASSIGN(store_, Open());

  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.version, 2);
  ExpectSameOnboarding(half, got);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("ob-1", 0, 10));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].sequence, 3);
  EXPECT_EQ(events[2].step, StepKind::kLicense);
  GF_ASSERT_OK_AND_ASSIGN(std::optional<absl::Time> next, store_->NextDueTime());
  EXPECT_EQ(next, kT0 + absl::Hours(2)) << "the lease survived the reopen";
  GF_ASSERT_OK_AND_ASSIGN(leased,
                          store_->LeaseDue("worker-b", kT0 + absl::Hours(1), absl::Hours(1), 10));
  EXPECT_TRUE(leased.empty());
  GF_ASSERT_OK(store_->ReleaseAllLeases());
  GF_ASSERT_OK_AND_ASSIGN(leased,
                          store_->LeaseDue("worker-b", kT0 + absl::Hours(1), absl::Hours(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  ExpectSameOnboarding(half, leased[0]);
  // The next write carries on from the reopened state.
  GF_ASSERT_OK_AND_ASSIGN(Onboarding next_write,
                          store_->UpdateOnboarding(leased[0], {NewEvent("resumed")}));
  EXPECT_EQ(next_write.version, 3);
  GF_ASSERT_OK_AND_ASSIGN(events, store_->ListEvents("ob-1", 3, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 4);
}

// ---- audit trail ----------------------------------------------------------------

inline CloudCall NewCloudCall(absl::string_view onboarding, absl::string_view tenant,
                              absl::string_view method, int status) {
  CloudCall c;
  c.onboarding_id = std::string(onboarding);
  c.tenant = std::string(tenant);
  c.step = "invite";
  c.plugin = "azure_ad_invite";
  c.actor = "guestflowd-host-42-0000beef";
  c.caller = "ipv4:10.1.2.3:50311";
  c.time = absl::FromUnixMicros(1'700'000'000'123'456);
  c.duration = absl::Microseconds(15'250);
  c.method = std::string(method);
  c.url = "https://graph.microsoft.com/v1.0/invitations";
  c.service = "graph";
  c.status = status;
  c.request_id = absl::StrCat("req-", onboarding, "-", method, "-", status);
  return c;
}

TEST_P(StoreContractTest, CloudCallsKeepEveryFieldInOrderByOnboardingAndTenant) {
  CloudCall failed = NewCloudCall("ob-1", "contoso", "PATCH", 0);
  failed.transport_error = "connection reset by peer";
  failed.request_id.clear();
  GF_ASSERT_OK(store_->AppendCloudCalls({NewCloudCall("ob-1", "contoso", "POST", 201),
                                         NewCloudCall("ob-2", "fabrikam", "POST", 201)}));
  GF_ASSERT_OK(store_->AppendCloudCalls({failed, NewCloudCall("ob-1", "contoso", "PUT", 204)}));
  GF_ASSERT_OK(store_->AppendCloudCalls({}));

  CloudCallQuery by_onboarding;
  by_onboarding.onboarding_id = "ob-1";
  GF_ASSERT_OK_AND_ASSIGN(CloudCallPage page, store_->ListCloudCalls(by_onboarding));
  ASSERT_EQ(page.calls.size(), 3u);
  EXPECT_TRUE(page.next_page_token.empty());
  EXPECT_EQ(page.calls[0].method, "POST");
  EXPECT_EQ(page.calls[1].method, "PATCH");
  EXPECT_EQ(page.calls[2].method, "PUT");
  EXPECT_LT(page.calls[0].sequence, page.calls[1].sequence);
  EXPECT_LT(page.calls[1].sequence, page.calls[2].sequence);
  const CloudCall& first = page.calls[0];
  const CloudCall want = NewCloudCall("ob-1", "contoso", "POST", 201);
  EXPECT_EQ(first.onboarding_id, want.onboarding_id);
  EXPECT_EQ(first.tenant, want.tenant);
  EXPECT_EQ(first.step, want.step);
  EXPECT_EQ(first.plugin, want.plugin);
  EXPECT_EQ(first.actor, want.actor);
  EXPECT_EQ(first.caller, want.caller);
  EXPECT_EQ(first.time, want.time);
  EXPECT_EQ(first.duration, want.duration);
  EXPECT_EQ(first.url, want.url);
  EXPECT_EQ(first.service, want.service);
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(first.request_id, want.request_id);
  EXPECT_EQ(page.calls[1].status, 0);
  EXPECT_EQ(page.calls[1].transport_error, "connection reset by peer");

  CloudCallQuery by_tenant;
  by_tenant.tenant = "fabrikam";
  GF_ASSERT_OK_AND_ASSIGN(CloudCallPage fabrikam, store_->ListCloudCalls(by_tenant));
  ASSERT_EQ(fabrikam.calls.size(), 1u);
  EXPECT_EQ(fabrikam.calls[0].onboarding_id, "ob-2");

  CloudCallQuery nobody;
  nobody.tenant = "northwind";
  GF_ASSERT_OK_AND_ASSIGN(CloudCallPage none, store_->ListCloudCalls(nobody));
  EXPECT_TRUE(none.calls.empty());
}

// A step's outcome and the calls it sent are stored in one write: with the
// update, or (a version conflict) neither.
TEST_P(StoreContractTest, UpdateStoresTheCloudCallsWithTheOutcomeOrNeither) {
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store_->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created")));
  Onboarding o = created.onboarding;
  o.state = OnboardingState::kRunning;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding stored,
                          store_->UpdateOnboarding(o, {NewEvent("step_succeeded")}, "",
                                                   {NewCloudCall("ob-1", "contoso", "POST", 201),
                                                    NewCloudCall("ob-1", "contoso", "PUT", 204)}));
  EXPECT_EQ(stored.version, 2);
  // `o` is one version behind now: refused, and its calls are not stored.
  absl::StatusOr<Onboarding> stale = store_->UpdateOnboarding(
      o, {NewEvent("stale")}, "", {NewCloudCall("ob-1", "contoso", "PATCH", 200)});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  CloudCallQuery query;
  query.onboarding_id = "ob-1";
  GF_ASSERT_OK_AND_ASSIGN(CloudCallPage page, store_->ListCloudCalls(query));
  ASSERT_EQ(page.calls.size(), 2u);
  EXPECT_EQ(page.calls[0].method, "POST");
  EXPECT_EQ(page.calls[1].method, "PUT");
  EXPECT_EQ(page.calls[1].request_id, "req-ob-1-PUT-204");
}

TEST_P(StoreContractTest, CloudCallsPageWithoutGapsAndRefuseBadQueries) {
  std::vector<CloudCall> calls;
  for (int i = 0; i < 11; ++i) calls.push_back(NewCloudCall("ob-1", "contoso", "POST", 200 + i));
  GF_ASSERT_OK(store_->AppendCloudCalls(calls));
  CloudCallQuery query;
  query.tenant = "contoso";
  query.page_size = 4;
  std::vector<int> statuses;
  int pages = 0;
  do {
    GF_ASSERT_OK_AND_ASSIGN(CloudCallPage page, store_->ListCloudCalls(query));
    EXPECT_LE(page.calls.size(), 4u);
    for (const CloudCall& c : page.calls) statuses.push_back(c.status);
    query.page_token = page.next_page_token;
    ++pages;
  } while (!query.page_token.empty());
  EXPECT_EQ(pages, 3);
  std::vector<int> want;
  for (int i = 0; i < 11; ++i) want.push_back(200 + i);
  EXPECT_EQ(statuses, want);

  CloudCallQuery empty;
  EXPECT_EQ(store_->ListCloudCalls(empty).status().code(), absl::StatusCode::kInvalidArgument);
  CloudCallQuery bad_token;
  bad_token.tenant = "contoso";
  bad_token.page_token = "not-a-token";
  EXPECT_EQ(store_->ListCloudCalls(bad_token).status().code(), absl::StatusCode::kInvalidArgument);
  CloudCallQuery bad_size;
  bad_size.tenant = "contoso";
  bad_size.page_size = 0;
  EXPECT_EQ(store_->ListCloudCalls(bad_size).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace guestflow::testing
