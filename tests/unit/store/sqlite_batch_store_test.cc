// SqliteBatchStore: the BatchStore contract (batch_store_contract_test.h) on
// a SqliteStore and a SqliteBatchStore sharing one file, and SQLite's own
// test: query plans that stay index-bound however big a batch grows.
#include "server/store/sqlite_batch_store.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_store.h"
#include "tests/unit/store/batch_store_contract_test.h"
#include "tests/unit/store/sqlite_test_util.h"
#include "tests/unit/store/store_test_util.h"

namespace guestflow::testing {
namespace {

absl::StatusOr<StoreAndBatchStore> OpenSqlite(const std::string& scratch_dir) {
  const std::string path = (std::filesystem::path(scratch_dir) / "guestflow.db").string();
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::unique_ptr<SqliteBatchStore>> batch_store = SqliteBatchStore::Open(path);
  if (!batch_store.ok()) return batch_store.status();
  StoreAndBatchStore stores;
  stores.store = *std::move(store);
  stores.batch_store = *std::move(batch_store);
  return stores;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, BatchStoreContractTest,
                         ::testing::Values(BatchStoreContractParam{"Sqlite", &OpenSqlite}),
                         BatchStoreContractParamName);

class SqliteBatchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("guestflow.db");
    GF_ASSERT_OK_AND_ASSIGN(onboardings_, SqliteStore::Open(path_));
    GF_ASSERT_OK_AND_ASSIGN(batches_, SqliteBatchStore::Open(path_));
  }

  ScratchDir dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> onboardings_;
  std::unique_ptr<SqliteBatchStore> batches_;
};

// None of the batch queries reads a whole table or sorts.
TEST_F(SqliteBatchStoreTest, EveryQueryUsesAnIndexAndNoSort) {
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b1", "r")).status());
  GF_ASSERT_OK(batches_->CreateBatch(NewBatch("b2", "r")).status());
  GF_ASSERT_OK(AddBatchOnboarding(*onboardings_, "o1", "b1", OnboardingState::kFailed,
                                  kT0 + absl::Seconds(1), StepKind::kRole));
  GF_ASSERT_OK(batches_->AddItems("b1", {NewItem(2, "a@x.com", "o1")}));
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
