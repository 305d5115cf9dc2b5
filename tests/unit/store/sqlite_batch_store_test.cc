// SqliteBatchStore on the same file as a SqliteStore: idempotent batches,
// items that are never overwritten, counts from the batch's onboardings,
// items listed with their onboarding's outcome, and query plans that stay
// index-bound however big a batch grows.
#include "server/store/sqlite_batch_store.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_store.h"
#include "tests/unit/store/sqlite_test_util.h"
#include "tests/unit/store/store_test_util.h"

namespace guestflow::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

class SqliteBatchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("guestflow.db");
    GF_ASSERT_OK_AND_ASSIGN(onboardings_, SqliteStore::Open(path_));
    GF_ASSERT_OK_AND_ASSIGN(batches_, SqliteBatchStore::Open(path_));
  }

  static BatchRecord Batch(const std::string& id, const std::string& request_id = "") {
    BatchRecord b;
    b.id = id;
    b.tenant = "contoso";
    b.request_id = request_id;
    b.request_fingerprint = "fp";
    b.create_time = kT0;
    b.update_time = kT0;
    return b;
  }

  // Onboarding `id` of batch `batch` in `state` (finished at kT0 + finish_s
  // when terminal), with its `failed` step FAILED if given.
  void AddOnboarding(const std::string& id, const std::string& batch, OnboardingState state,
                     int finish_s = 0, std::optional<StepKind> failed = std::nullopt) {
    Onboarding o = NewOnboarding(id, "contoso", kT0);
    o.batch_id = batch;
    GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                            onboardings_->CreateOnboarding(o, NewEvent("created")));
    Onboarding next = created.onboarding;
    next.state = state;
    if (IsTerminal(state)) next.finish_time = kT0 + absl::Seconds(finish_s);
    if (failed.has_value()) next.FindStep(*failed)->state = StepState::kFailed;
    GF_ASSERT_OK(onboardings_->UpdateOnboarding(next, {}).status());
  }

  static BatchItemRecord Item(int64_t line, const std::string& email,
                              const std::string& onboarding_id, const std::string& error = "") {
    BatchItemRecord item;
    item.line = line;
    item.email = email;
    item.onboarding_id = onboarding_id;
    item.error = error;
    return item;
  }

  ScratchDir dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> onboardings_;
  std::unique_ptr<SqliteBatchStore> batches_;
};

TEST_F(SqliteBatchStoreTest, CreateIsIdempotentOnTheRequestId) {
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult first, batches_->CreateBatch(Batch("b1", "req-1")));
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.batch.id, "b1");
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult again, batches_->CreateBatch(Batch("b2", "req-1")));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.batch.id, "b1");
  // No request id: always a new batch.
  GF_ASSERT_OK_AND_ASSIGN(CreateBatchResult other, batches_->CreateBatch(Batch("b3")));
  EXPECT_TRUE(other.created);
  EXPECT_EQ(batches_->GetBatch("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteBatchStoreTest, ItemsAreNeverOverwrittenAndCountsComeFromTheOnboardings) {
  GF_ASSERT_OK(batches_->CreateBatch(Batch("b1")).status());
  AddOnboarding("o1", "b1", OnboardingState::kSucceeded, 5);
  AddOnboarding("o2", "b1", OnboardingState::kFailed, 9, StepKind::kLicense);
  AddOnboarding("o3", "b1", OnboardingState::kRunning);
  AddOnboarding("elsewhere", "b2", OnboardingState::kSucceeded, 50);
  GF_ASSERT_OK(batches_->AddItems("b1", {Item(2, "a@x.com", "o1"), Item(3, "b@x.com", "o2"),
                                         Item(4, "bad", "", "guest.email: invalid")}));
  // Re-sent rows: line 2 is kept as it was, line 5 is new.
  GF_ASSERT_OK(batches_->AddItems("b1", {Item(2, "changed@x.com", ""), Item(5, "c@x.com", "o3")}));

  GF_ASSERT_OK_AND_ASSIGN(BatchSummary s, batches_->Summarize("b1"));
  EXPECT_EQ(s.rows_total, 4);
  EXPECT_EQ(s.rows_invalid, 1);
  EXPECT_THAT(s.counts,
              ElementsAre(Pair(OnboardingState::kRunning, 1), Pair(OnboardingState::kSucceeded, 1),
                          Pair(OnboardingState::kFailed, 1)));
  EXPECT_EQ(s.last_finish_time, kT0 + absl::Seconds(9));

  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage all, batches_->ListItems({"b1", {}, false, 10, ""}));
  ASSERT_EQ(all.items.size(), 4u);
  EXPECT_TRUE(all.next_page_token.empty());
  EXPECT_EQ(all.items[0].email, "a@x.com");
  EXPECT_EQ(all.items[0].state, OnboardingState::kSucceeded);
  EXPECT_EQ(all.items[1].state, OnboardingState::kFailed);
  EXPECT_EQ(all.items[1].failed_step, StepKind::kLicense);
  EXPECT_FALSE(all.items[2].state.has_value());
  EXPECT_EQ(all.items[2].error, "guest.email: invalid");
  EXPECT_EQ(all.items[3].line, 5);

  GF_ASSERT_OK(batches_->MarkInputComplete("b1", kT0 + absl::Seconds(1)));
  GF_ASSERT_OK_AND_ASSIGN(BatchRecord b, batches_->GetBatch("b1"));
  EXPECT_TRUE(b.input_complete);
  EXPECT_EQ(batches_->AddItems("nope", {Item(1, "a@x.com", "")}).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SqliteBatchStoreTest, ItemsPageByLineAndFilter) {
  GF_ASSERT_OK(batches_->CreateBatch(Batch("b1")).status());
  std::vector<BatchItemRecord> items;
  for (int i = 0; i < 25; ++i) {
    const std::string id = absl::StrCat("o", i);
    AddOnboarding(id, "b1", i % 5 == 0 ? OnboardingState::kFailed : OnboardingState::kSucceeded, i);
    items.push_back(Item(i + 2, absl::StrCat("g", i, "@x.com"), id));
  }
  items.push_back(Item(100, "bad", "", "refused"));
  GF_ASSERT_OK(batches_->AddItems("b1", items));

  std::vector<int64_t> lines;
  BatchItemQuery query{"b1", {}, false, 7, ""};
  do {
    GF_ASSERT_OK_AND_ASSIGN(BatchItemPage page, batches_->ListItems(query));
    ASSERT_LE(page.items.size(), 7u);
    for (const auto& item : page.items) lines.push_back(item.line);
    query.page_token = page.next_page_token;
  } while (!query.page_token.empty());
  EXPECT_EQ(lines.size(), 26u);
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));

  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage failed,
                          batches_->ListItems({"b1", OnboardingState::kFailed, false, 100, ""}));
  EXPECT_EQ(failed.items.size(), 5u);
  GF_ASSERT_OK_AND_ASSIGN(BatchItemPage invalid, batches_->ListItems({"b1", {}, true, 100, ""}));
  ASSERT_EQ(invalid.items.size(), 1u);
  EXPECT_EQ(invalid.items[0].line, 100);

  EXPECT_EQ(batches_->ListItems({"b1", {}, false, 10, "x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batches_->ListItems({"b1", {}, false, 0, ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// None of the batch queries reads a whole table or sorts.
TEST_F(SqliteBatchStoreTest, EveryQueryUsesAnIndexAndNoSort) {
  GF_ASSERT_OK(batches_->CreateBatch(Batch("b1", "r")).status());
  GF_ASSERT_OK(batches_->CreateBatch(Batch("b2", "r")).status());
  AddOnboarding("o1", "b1", OnboardingState::kFailed, 1, StepKind::kRole);
  GF_ASSERT_OK(batches_->AddItems("b1", {Item(2, "a@x.com", "o1")}));
  GF_ASSERT_OK(batches_->MarkInputComplete("b1", kT0));
  GF_ASSERT_OK(batches_->Summarize("b1").status());
  GF_ASSERT_OK(batches_->ListItems({"b1", OnboardingState::kFailed, false, 1, ""}).status());

  RawDb raw(path_);
  ASSERT_TRUE(raw.ok());
  for (const std::string& sql : batches_->PreparedSqlForTesting()) {
    if (absl::StartsWith(sql, "BEGIN") || sql == "COMMIT" || sql == "ROLLBACK") continue;
    GF_ASSERT_OK_AND_ASSIGN(auto plan, raw.Query("EXPLAIN QUERY PLAN " + sql));
    std::vector<std::string> details;
    for (const auto& row : plan) details.push_back(row.back());
    SCOPED_TRACE(absl::StrCat(sql, "\n  plan: ", absl::StrJoin(details, " | ")));
    for (const std::string& detail : details) {
      EXPECT_FALSE(absl::StartsWith(detail, "SCAN") && !absl::StrContains(detail, "USING"))
          << "reads a whole table";
      EXPECT_FALSE(absl::StrContains(detail, "TEMP B-TREE")) << "sorts";
    }
  }
}

}  // namespace
}  // namespace guestflow::testing
