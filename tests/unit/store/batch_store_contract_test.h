// The BatchStore contract as a value-parameterized GoogleTest suite: every
// BatchStore implementation runs these very tests.
//
// Use: in exactly one .cc of a test binary (the TEST_Ps below are defined
// here, so a second inclusion in the same binary would define them twice):
//
//   #include "tests/unit/store/batch_store_contract_test.h"
//   INSTANTIATE_TEST_SUITE_P(
//       Sqlite, BatchStoreContractTest,
//       ::testing::Values(guestflow::testing::BatchStoreContractParam{"Sqlite", &OpenSqlite}),
//       guestflow::testing::BatchStoreContractParamName);
//
// The factory gets a fresh empty folder per test (removed afterwards) and
// must open both stores whose data belongs to that folder: a Store and a
// BatchStore over the same data, since a batch's counts come from the
// onboardings the Store holds (tagged with the batch id). The first call
// gives empty stores; another call with the same folder, after the earlier
// stores are destroyed or while they are still open, opens the same data
// again (second connections). A PostgreSQL factory can map the folder to a
// database name.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
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
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/model/onboarding.h"
#include "server/store/batch_store.h"
#include "server/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace guestflow::testing {

// A Store and a BatchStore over the same data.
struct StoreAndBatchStore {
  std::unique_ptr<Store> store;
  std::unique_ptr<BatchStore> batch_store;
};

using BatchStoreFactory =
    std::function<absl::StatusOr<StoreAndBatchStore>(const std::string& scratch_dir)>;

struct BatchStoreContractParam {
  std::string name;  // a test-name suffix: letters, digits, '_'
  BatchStoreFactory factory;
};

// So that gtest names the implementation instead of dumping the struct's bytes.
inline void PrintTo(const BatchStoreContractParam& param, std::ostream* os) { *os << param.name; }

inline std::string BatchStoreContractParamName(
    const ::testing::TestParamInfo<BatchStoreContractParam>& info) {
  return info.param.name;
}

// A new batch of `tenant`, created and updated at kT0, input not complete.
inline BatchRecord NewBatch(absl::string_view id, absl::string_view request_id = "",
                            absl::string_view tenant = "contoso") {
  BatchRecord b;
  b.id = std::string(id);
  b.tenant = std::string(tenant);
  b.request_id = std::string(request_id);
  b.request_fingerprint = "fp";
  b.create_time = kT0;
  b.update_time = kT0;
  return b;
}

// The input row at `line`; an empty `onboarding_id` is a refused row.
inline BatchItemRecord NewItem(int64_t line, absl::string_view email,
                               absl::string_view onboarding_id, absl::string_view error = "") {
  BatchItemRecord item;
  item.line = line;
  item.email = std::string(email);
  item.onboarding_id = std::string(onboarding_id);
  item.error = std::string(error);
  return item;
}

// Stores onboarding `id` of batch `batch_id` in `state` (finished at
// `finish_time` when terminal), with its `failed` step FAILED if given and
// `error` as its error.
inline absl::Status AddBatchOnboarding(Store& store, absl::string_view id,
                                       absl::string_view batch_id, OnboardingState state,
                                       absl::Time finish_time = kT0,
                                       std::optional<StepKind> failed = std::nullopt,
                                       absl::string_view error = "") {
  Onboarding o = NewOnboarding(id, "contoso", kT0);
  o.batch_id = std::string(batch_id);
  absl::StatusOr<CreateResult> created = store.CreateOnboarding(o, NewEvent("created"));
  if (!created.ok()) return created.status();
  if (!created->created) return absl::InternalError(absl::StrCat(id, " not created"));
  Onboarding next = created->onboarding;
  next.state = state;
  next.error = std::string(error);
  if (IsTerminal(state)) next.finish_time = finish_time;
  if (failed.has_value()) next.FindStep(*failed)->state = StepState::kFailed;
  return store.UpdateOnboarding(next, {}).status();
}

inline std::vector<int64_t> Lines(const std::vector<BatchItemRecord>& items) {
  std::vector<int64_t> lines;
  lines.reserve(items.size());
  for (const BatchItemRecord& item : items) lines.push_back(item.line);
  return lines;
}

class BatchStoreContractTest : public ::testing::TestWithParam<BatchStoreContractParam> {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "batch_store_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp " << pattern;
    scratch_dir_ = pattern;
    absl::StatusOr<StoreAndBatchStore> stores = Open();
    ASSERT_TRUE(stores.ok()) << stores.status();
    ASSERT_NE(stores->store, nullptr);
    ASSERT_NE(stores->batch_store, nullptr);
    store_ = std::move(stores->store);
    batches_ = std::move(stores->batch_store);
  }

  void TearDown() override {
    batches_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir_, ignored);
  }

  // Other handles on this test's data.
  absl::StatusOr<StoreAndBatchStore> Open() { return GetParam().factory(scratch_dir_); }

  absl::Status AddOnboarding(absl::string_view id, absl::string_view batch_id,
                             OnboardingState state, absl::Time finish_time = kT0,
                             std::optional<StepKind> failed = std::nullopt,
                             absl::string_view error = "") {
    return AddBatchOnboarding(*store_, id, batch_id, state, finish_time, failed, error);
  }

  // Every item of `query`, page after page.
  absl::StatusOr<std::vector<BatchItemRecord>> AllItems(BatchItemQuery query) {
    std::vector<BatchItemRecord> items;
    do {
      absl::StatusOr<BatchItemPage> page = batches_->ListItems(query);
      if (!page.ok()) return page.status();
      if (page->items.size() > static_cast<size_t>(query.page_size)) {
        return absl::InternalError(
            absl::StrCat("a page of ", page->items.size(), " items, page_size ", query.page_size));
      }
      for (BatchItemRecord& item : page->items) items.push_back(std::move(item));
      query.page_token = page->next_page_token;
    } while (!query.page_token.empty());
    return items;
  }

  std::string scratch_dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<BatchStore> batches_;
};

// ---- create and get -----------------------------------------------------------

TEST_P(BatchStoreContractTest, CreateThenGetKeepsEveryField) {
  BatchRecord want = NewBatch("b1", "req-1", "fabrikam");
  want.request_fingerprint = "sha256:abc \"quoted\" o'neil";
  want.create_time = kT0 + absl::Microseconds(123456);
  want.update_time = kT0 + absl::Seconds(90);
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult created, batches_->CreateBatch(want));
  EXPECT_TRUE(created.created);
  GF_ASSERT_OK_AND_ASSIGN(BatchRecord got, batches_->GetBatch("b1"));
  for (const BatchRecord* b : {&created.batch, &got}) {
    EXPECT_EQ(b->id, "b1");
    EXPECT_EQ(b->tenant, "fabrikam");
    EXPECT_EQ(b->request_id, "req-1");
    EXPECT_EQ(b->request_fingerprint, want.request_fingerprint);
    EXPECT_FALSE(b->input_complete);
    EXPECT_EQ(b->create_time, want.create_time);
    EXPECT_EQ(b->update_time, want.update_time);
  }
}

TEST_P(BatchStoreContractTest, CreateIsIdempotentOnTheRequestId) {
  BatchRecord first = NewBatch("b1", "req-1");
  first.request_fingerprint = "fp-1";
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult created, batches_->CreateBatch(first));
  EXPECT_TRUE(created.created);
  EXPECT_EQ(created.batch.id, "b1");

  // A retry under another id: the first batch comes back, nothing is written.
  BatchRecord retry = NewBatch("b2", "req-1");
  retry.request_fingerprint = "fp-2";
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult again, batches_->CreateBatch(retry));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.batch.id, "b1");
  EXPECT_EQ(again.batch.request_fingerprint, "fp-1");
  EXPECT_EQ(batches_->GetBatch("b2").status().code(), absl::StatusCode::kNotFound);

  // No request id: always a new batch.
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult other, batches_->CreateBatch(NewBatch("b3")));
  EXPECT_TRUE(other.created);
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult other2, batches_->CreateBatch(NewBatch("b4")));
  EXPECT_TRUE(other2.created);
  EXPECT_EQ(other2.batch.id, "b4");

  // The key is per tenant.
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult elsewhere,
                          batches_->CreateBatch(NewBatch("b5", "req-1", "fabrikam")));
  EXPECT_TRUE(elsewhere.created);
  EXPECT_EQ(elsewhere.batch.id, "b5");
  EXPECT_EQ(elsewhere.batch.tenant, "fabrikam");
}

TEST_P(BatchStoreContractTest, CreateWithAnEmptyIdIsInvalidAndWritesNothing) {
  absl::StatusOr<CreateBatchResult> result = batches_->CreateBatch(NewBatch("", "req-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_EQ(batches_->GetBatch("").status().code(), absl::StatusCode::kNotFound);
  // The refused call did not take the request id.
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult created,
                          batches_->CreateBatch(NewBatch("b1", "req-1")));
  EXPECT_TRUE(created.created);
  EXPECT_EQ(created.batch.id, "b1");
}

// A taken id is the caller's mistake, not the database's: ALREADY_EXISTS,
// and the stored batch is left as it was.
TEST_P(BatchStoreContractTest, CreateWithATakenIdIsAlreadyExistsAndWritesNothing) {
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult first, batches_->CreateBatch(NewBatch("b1", "req-1")));
  ASSERT_TRUE(first.created);
  absl::StatusOr<CreateBatchResult> again = batches_->CreateBatch(NewBatch("b1", "req-2"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_THAT(again.status().message(), ::testing::HasSubstr("b1"));
  GF_ASSERT_OK_AND_ASSIGN(BatchRecord stored, batches_->GetBatch("b1"));
  EXPECT_EQ(stored.request_id, "req-1");
  // The refused call did not take req-2 either.
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult other, batches_->CreateBatch(NewBatch("b2", "req-2")));
  EXPECT_TRUE(other.created);
}

// Lines are 1-based: a line 0 or below would be counted but never listed.
TEST_P(BatchStoreContractTest, ALineBelowOneIsInvalidAndNothingOfTheCallIsStored) {
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult created, batches_->CreateBatch(NewBatch("b1")));
  ASSERT_TRUE(created.created);
  absl::Status added =
      batches_->AddItems("b1", {NewItem(1, "a@example.com", ""), NewItem(0, "z@example.com", "")});
  EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument) << added;
  GF_ASSERT_OK_AND_ASSIGN(BatchSummary summary, batches_->Summarize("b1"));
  EXPECT_EQ(summary.rows_total, 0);
}

// Two callers race with one (tenant, request_id): exactly one creates and
// both get the winner back. Even rounds share one handle, odd rounds use two
// (another connection); several rounds, to give the race a fair chance.
TEST_P(BatchStoreContractTest, RacingCreatesWithOneRequestIdCreateExactlyOne) {
  GF_ASSERT_OK_AND_ASSIGN(StoreAndBatchStore other, Open());
  constexpr int kThreads = 2;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const std::string request_id = absl::StrCat("req-", round);
    std::vector<absl::StatusOr<CreateBatchResult>> results(kThreads, absl::UnknownError("not run"));
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        BatchStore* batches = (round % 2 == 1 && i == 1) ? other.batch_store.get() : batches_.get();
        const BatchRecord b = NewBatch(absl::StrCat("b-", round, "-", i), request_id);
        start.arrive_and_wait();
        results[i] = batches->CreateBatch(b);
      });
    }
    for (std::thread& t : threads) t.join();

    int created = 0;
    std::set<std::string> ids;
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_TRUE(results[i].ok())
          << "round " << round << " thread " << i << ": " << results[i].status();
      created += results[i]->created ? 1 : 0;
      ids.insert(results[i]->batch.id);
      EXPECT_EQ(results[i]->batch.request_id, request_id);
    }
    EXPECT_EQ(created, 1) << "round " << round;
    ASSERT_EQ(ids.size(), 1u) << "round " << round;
    const std::string winner = *ids.begin();
    for (int i = 0; i < kThreads; ++i) {
      const std::string id = absl::StrCat("b-", round, "-", i);
      EXPECT_EQ(batches_->GetBatch(id).status().code(),
                id == winner ? absl::StatusCode::kOk : absl::StatusCode::kNotFound)
          << "round " << round << " " << id;
    }
  }
}

// ---- unknown batches and bad arguments -------------------------------------------

TEST_P(BatchStoreContractTest, UnknownBatchIsNotFound) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1")).status());
  GF_ASSERT_OK(AddOnboarding("o1", "nope", OnboardingState::kSucceeded));
  EXPECT_EQ(batches_->GetBatch("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(batches_->AddItems("nope", {NewItem(1, "a@x.com", "o1")}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(batches_->MarkInputComplete("nope", kT0).code(), absl::StatusCode::kNotFound);
  // Not even when onboardings name it.
  EXPECT_EQ(batches_->Summarize("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(batches_->ListItems({"nope", {}, false, 10, ""}).status().code(),
            absl::StatusCode::kNotFound);
  // Nor did the refused calls create it, or write to another batch.
  EXPECT_EQ(batches_->GetBatch("nope").status().code(), absl::StatusCode::kNotFound);
  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage page, batches_->ListItems({"b1", {}, false, 10, ""}));
  EXPECT_TRUE(page.items.empty());
  GF_ASSERT_OK_AND_ASSIGN(BatchRecord b1, batches_->GetBatch("b1"));
  EXPECT_FALSE(b1.input_complete);
}

TEST_P(BatchStoreContractTest, BadPageTokenOrPageSizeIsInvalidArgument) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1")).status());
  GF_ASSERT_OK(batches_->AddItems("b1", {NewItem(2, "a@x.com", ""), NewItem(3, "b@x.com", "")}));
  for (const char* token : {"x", "not a page token", "%%%", "\xff\xfe"}) {
    EXPECT_EQ(batches_->ListItems({"b1", {}, false, 10, token}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "token " << token;
  }
  for (int page_size : {0, -1, -100}) {
    EXPECT_EQ(batches_->ListItems({"b1", {}, false, page_size, ""}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "page_size " << page_size;
  }
  // A real token with a bad page size is still refused.
  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage first, batches_->ListItems({"b1", {}, false, 1, ""}));
  ASSERT_FALSE(first.next_page_token.empty());
  EXPECT_EQ(batches_->ListItems({"b1", {}, false, 0, first.next_page_token}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- items, counts and summaries ----------------------------------------------

TEST_P(BatchStoreContractTest, ItemsAreNeverOverwrittenAndCountsComeFromTheOnboardings) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1")).status());
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b2")).status());
  GF_ASSERT_OK(AddOnboarding("o1", "b1", OnboardingState::kSucceeded, kT0 + absl::Seconds(5)));
  GF_ASSERT_OK(AddOnboarding("o2", "b1", OnboardingState::kFailed, kT0 + absl::Seconds(9),
                             StepKind::kLicense, "license: no seats left"));
  GF_ASSERT_OK(AddOnboarding("o3", "b1", OnboardingState::kRunning));
  GF_ASSERT_OK(
      AddOnboarding("elsewhere", "b2", OnboardingState::kSucceeded, kT0 + absl::Seconds(50)));
  GF_ASSERT_OK(
      AddOnboarding("unbatched", "", OnboardingState::kSucceeded, kT0 + absl::Seconds(60)));
  GF_ASSERT_OK(batches_->AddItems("b1", {NewItem(2, "a@x.com", "o1"), NewItem(3, "b@x.com", "o2"),
                                         NewItem(4, "bad", "", "guest.email: invalid")}));
  // Re-sent rows: line 2 is kept as it was, line 5 is new.
  GF_ASSERT_OK(
      batches_->AddItems("b1", {NewItem(2, "changed@x.com", ""), NewItem(5, "c@x.com", "o3")}));
  // No items at all is fine.
  GF_ASSERT_OK(batches_->AddItems("b1", {}));

  GF_ASSERT_OK_AND_ASSIGN(BatchSummary s, batches_->Summarize("b1"));
  EXPECT_EQ(s.rows_total, 4);
  EXPECT_EQ(s.rows_invalid, 1);
  EXPECT_THAT(s.counts, ::testing::ElementsAre(::testing::Pair(OnboardingState::kRunning, 1),
                                               ::testing::Pair(OnboardingState::kSucceeded, 1),
                                               ::testing::Pair(OnboardingState::kFailed, 1)));
  EXPECT_EQ(s.last_finish_time, kT0 + absl::Seconds(9));

  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage all, batches_->ListItems({"b1", {}, false, 10, ""}));
  ASSERT_EQ(all.items.size(), 4u);
  EXPECT_TRUE(all.next_page_token.empty());
  EXPECT_THAT(Lines(all.items), ::testing::ElementsAre(2, 3, 4, 5));
  EXPECT_EQ(all.items[0].email, "a@x.com");
  EXPECT_EQ(all.items[0].onboarding_id, "o1");
  EXPECT_EQ(all.items[0].tenant, "contoso");  // the onboarding's, for access checks
  EXPECT_EQ(all.items[0].state, OnboardingState::kSucceeded);
  EXPECT_FALSE(all.items[0].failed_step.has_value());
  EXPECT_EQ(all.items[1].state, OnboardingState::kFailed);
  EXPECT_EQ(all.items[1].failed_step, StepKind::kLicense);
  EXPECT_EQ(all.items[1].onboarding_error, "license: no seats left");
  EXPECT_TRUE(all.items[2].onboarding_id.empty());
  EXPECT_TRUE(all.items[2].tenant.empty());
  EXPECT_FALSE(all.items[2].state.has_value());
  EXPECT_EQ(all.items[2].error, "guest.email: invalid");
  EXPECT_EQ(all.items[3].line, 5);
  EXPECT_EQ(all.items[3].state, OnboardingState::kRunning);

  // Another batch's counts are its own.
  GF_ASSERT_OK_AND_ASSIGN(BatchSummary s2, batches_->Summarize("b2"));
  EXPECT_EQ(s2.rows_total, 0);
  EXPECT_THAT(s2.counts, ::testing::ElementsAre(::testing::Pair(OnboardingState::kSucceeded, 1)));
  EXPECT_EQ(s2.last_finish_time, kT0 + absl::Seconds(50));
}

TEST_P(BatchStoreContractTest, SummaryOfAnEmptyBatchIsEmpty) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1")).status());
  GF_ASSERT_OK_AND_ASSIGN(BatchSummary s, batches_->Summarize("b1"));
  EXPECT_EQ(s.rows_total, 0);
  EXPECT_EQ(s.rows_invalid, 0);
  EXPECT_TRUE(s.counts.empty());
  EXPECT_FALSE(s.last_finish_time.has_value());
  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage page, batches_->ListItems({"b1", {}, false, 10, ""}));
  EXPECT_TRUE(page.items.empty());
  EXPECT_TRUE(page.next_page_token.empty());
}

// The latest finish_time of any state wins, whatever order the onboardings
// finished or were stored in; unfinished onboardings have none.
TEST_P(BatchStoreContractTest, SummaryLastFinishTimeIsTheLatestFinishTime) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1")).status());
  GF_ASSERT_OK(AddOnboarding("o-running", "b1", OnboardingState::kRunning));
  GF_ASSERT_OK_AND_ASSIGN(BatchSummary none, batches_->Summarize("b1"));
  EXPECT_FALSE(none.last_finish_time.has_value());

  const absl::Time latest = kT0 + absl::Seconds(30) + absl::Microseconds(7);
  GF_ASSERT_OK(AddOnboarding("o-s1", "b1", OnboardingState::kSucceeded, kT0 + absl::Seconds(5)));
  GF_ASSERT_OK(AddOnboarding("o-s2", "b1", OnboardingState::kSucceeded, latest));
  GF_ASSERT_OK(AddOnboarding("o-s3", "b1", OnboardingState::kSucceeded, kT0 + absl::Seconds(12)));
  GF_ASSERT_OK(AddOnboarding("o-f", "b1", OnboardingState::kFailed, kT0 + absl::Seconds(20),
                             StepKind::kInvite));
  GF_ASSERT_OK(AddOnboarding("o-c", "b1", OnboardingState::kCancelled, kT0 + absl::Seconds(25)));
  // Later, but of another batch.
  GF_ASSERT_OK(AddOnboarding("o-other", "b2", OnboardingState::kFailed, kT0 + absl::Hours(1)));

  GF_ASSERT_OK_AND_ASSIGN(BatchSummary s, batches_->Summarize("b1"));
  EXPECT_EQ(s.last_finish_time, latest);
  EXPECT_THAT(s.counts, ::testing::ElementsAre(::testing::Pair(OnboardingState::kRunning, 1),
                                               ::testing::Pair(OnboardingState::kSucceeded, 3),
                                               ::testing::Pair(OnboardingState::kFailed, 1),
                                               ::testing::Pair(OnboardingState::kCancelled, 1)));
}

TEST_P(BatchStoreContractTest, MarkInputCompleteSetsItAndTheUpdateTime) {
  BatchRecord want = NewBatch("b1", "req-1");
  GF_ASSERT_OK(batches_->CreateBatch(want).status());
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b2")).status());
  GF_ASSERT_OK_AND_ASSIGN(BatchRecord before, batches_->GetBatch("b1"));
  EXPECT_FALSE(before.input_complete);

  const absl::Time now = kT0 + absl::Seconds(1) + absl::Microseconds(250);
  GF_ASSERT_OK(batches_->MarkInputComplete("b1", now));
  GF_ASSERT_OK_AND_ASSIGN(BatchRecord b, batches_->GetBatch("b1"));
  EXPECT_TRUE(b.input_complete);
  EXPECT_EQ(b.update_time, now);
  // Nothing else changes.
  EXPECT_EQ(b.id, "b1");
  EXPECT_EQ(b.tenant, want.tenant);
  EXPECT_EQ(b.request_id, want.request_id);
  EXPECT_EQ(b.request_fingerprint, want.request_fingerprint);
  EXPECT_EQ(b.create_time, want.create_time);
  // Nor does another batch.
  GF_ASSERT_OK_AND_ASSIGN(BatchRecord b2, batches_->GetBatch("b2"));
  EXPECT_FALSE(b2.input_complete);
  EXPECT_EQ(b2.update_time, kT0);

  // Marking again is fine, and a retried create sees the mark.
  GF_ASSERT_OK(batches_->MarkInputComplete("b1", now + absl::Seconds(1)));
  GF_ASSERT_OK_AND_ASSIGN(b, batches_->GetBatch("b1"));
  EXPECT_TRUE(b.input_complete);
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult retry, batches_->CreateBatch(NewBatch("b9", "req-1")));
  EXPECT_FALSE(retry.created);
  EXPECT_TRUE(retry.batch.input_complete);
}

// ---- listing items ---------------------------------------------------------------

TEST_P(BatchStoreContractTest, ItemsPageByLineAndFilter) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1")).status());
  std::vector<BatchItemRecord> items;
  for (int i = 0; i < 25; ++i) {
    const std::string id = absl::StrCat("o", i);
    GF_ASSERT_OK(AddOnboarding(id, "b1",
                               i % 5 == 0 ? OnboardingState::kFailed : OnboardingState::kSucceeded,
                               kT0 + absl::Seconds(i)));
    items.push_back(NewItem(i + 2, absl::StrCat("g", i, "@x.com"), id));
  }
  items.push_back(NewItem(100, "bad", "", "refused"));
  // Stored out of order, listed by line.
  std::reverse(items.begin(), items.end());
  GF_ASSERT_OK(batches_->AddItems("b1", items));

  GF_ASSERT_OK_AND_ASSIGN(std::vector<BatchItemRecord> all, AllItems({"b1", {}, false, 7, ""}));
  std::vector<int64_t> lines = Lines(all);
  ASSERT_EQ(lines.size(), 26u);
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
  EXPECT_EQ(std::set<int64_t>(lines.begin(), lines.end()).size(), 26u);
  EXPECT_EQ(lines.front(), 2);
  EXPECT_EQ(lines.back(), 100);

  // A page exactly as big as what is left has no next page.
  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage whole, batches_->ListItems({"b1", {}, false, 26, ""}));
  EXPECT_EQ(whole.items.size(), 26u);
  EXPECT_TRUE(whole.next_page_token.empty());

  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage failed,
                          batches_->ListItems({"b1", OnboardingState::kFailed, false, 100, ""}));
  EXPECT_THAT(Lines(failed.items), ::testing::ElementsAre(2, 7, 12, 17, 22));
  for (const BatchItemRecord& item : failed.items) {
    EXPECT_EQ(item.state, OnboardingState::kFailed) << item.line;
  }
  // The filter holds across pages.
  GF_ASSERT_OK_AND_ASSIGN(std::vector<BatchItemRecord> failed_paged,
                          AllItems({"b1", OnboardingState::kFailed, false, 2, ""}));
  EXPECT_THAT(Lines(failed_paged), ::testing::ElementsAre(2, 7, 12, 17, 22));

  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage invalid, batches_->ListItems({"b1", {}, true, 100, ""}));
  ASSERT_EQ(invalid.items.size(), 1u);
  EXPECT_EQ(invalid.items[0].line, 100);
  EXPECT_EQ(invalid.items[0].error, "refused");

  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage none,
                          batches_->ListItems({"b1", OnboardingState::kCancelled, false, 100, ""}));
  EXPECT_TRUE(none.items.empty());
  EXPECT_TRUE(none.next_page_token.empty());
}

// ---- durability ---------------------------------------------------------------------

// A second factory call on the same folder sees the same data, both while the
// first handles are open (writes go both ways) and after they are closed.
TEST_P(BatchStoreContractTest, AnotherOpenSeesTheSameData) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1", "req-1")).status());
  GF_ASSERT_OK(
      AddOnboarding("o1", "b1", OnboardingState::kFailed, kT0 + absl::Seconds(3), StepKind::kRole));
  GF_ASSERT_OK(
      batches_->AddItems("b1", {NewItem(2, "a@x.com", "o1"), NewItem(3, "bad", "", "refused")}));
  GF_ASSERT_OK(batches_->MarkInputComplete("b1", kT0 + absl::Seconds(4)));

  auto expect_b1 = [](BatchStore& batches) {
    GF_ASSERT_OK_AND_ASSIGN(BatchRecord b, batches.GetBatch("b1"));
    EXPECT_EQ(b.request_id, "req-1");
    EXPECT_TRUE(b.input_complete);
    EXPECT_EQ(b.update_time, kT0 + absl::Seconds(4));
    GF_ASSERT_OK_AND_ASSIGN(BatchSummary s, batches.Summarize("b1"));
    EXPECT_EQ(s.rows_total, 2);
    EXPECT_EQ(s.rows_invalid, 1);
    EXPECT_THAT(s.counts, ::testing::ElementsAre(::testing::Pair(OnboardingState::kFailed, 1)));
    EXPECT_EQ(s.last_finish_time, kT0 + absl::Seconds(3));
    GF_ASSERT_OK_AND_ASSIGN(BatchItemPage page, batches.ListItems({"b1", {}, false, 10, ""}));
    ASSERT_EQ(page.items.size(), 2u);
    EXPECT_EQ(page.items[0].failed_step, StepKind::kRole);
    EXPECT_EQ(page.items[1].error, "refused");
  };

  {
    SCOPED_TRACE("second handles, first still open");
    GF_ASSERT_OK_AND_ASSIGN(StoreAndBatchStore second, Open());
    expect_b1(*second.batch_store);
    // And the other way round: what the second writes, the first sees.
    GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult retry,
                            second.batch_store->CreateBatch(NewBatch("b9", "req-1")));
    EXPECT_FALSE(retry.created);
    EXPECT_EQ(retry.batch.id, "b1");
    GF_ASSERT_OK(second.batch_store->CreateBatch(NewBatch("b2")).status());
    GF_ASSERT_OK(AddBatchOnboarding(*second.store, "o2", "b2", OnboardingState::kSucceeded,
                                    kT0 + absl::Seconds(8)));
    GF_ASSERT_OK(second.batch_store->AddItems("b2", {NewItem(1, "c@x.com", "o2")}));
    GF_ASSERT_OK_AND_ASSIGN(BatchSummary s2, batches_->Summarize("b2"));
    EXPECT_EQ(s2.rows_total, 1);
    EXPECT_THAT(s2.counts, ::testing::ElementsAre(::testing::Pair(OnboardingState::kSucceeded, 1)));
  }

  batches_.reset();
  store_.reset();
  {
    SCOPED_TRACE("reopened after closing");
    GF_ASSERT_OK_AND_ASSIGN(StoreAndBatchStore reopened, Open());
    expect_b1(*reopened.batch_store);
    GF_ASSERT_OK_AND_ASSIGN(BatchItemPage page,
                            reopened.batch_store->ListItems({"b2", {}, false, 10, ""}));
    ASSERT_EQ(page.items.size(), 1u);
    EXPECT_EQ(page.items[0].state, OnboardingState::kSucceeded);
    store_ = std::move(reopened.store);
    batches_ = std::move(reopened.batch_store);
  }
}

}  // namespace guestflow::testing
