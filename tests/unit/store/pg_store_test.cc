// PgStore and PgBatchStore on the throwaway PostgreSQL server of the ctest
// fixture `postgres`: the Store contract suite, then what only PostgreSQL
// has (migrations racing between replicas, a newer schema, a server that
// cannot be reached).
#include "server/store/pg_store.h"

#include <latch>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg_batch_store.h"
#include "server/store/pg_schema.h"
#include "tests/unit/store/batch_store_contract_test.h"
#include "tests/unit/store/pg_test_util.h"
#include "tests/unit/store/store_contract_test.h"

namespace guestflow::testing {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::unique_ptr<Store>> OpenPostgres(const std::string& scratch_dir) {
  GF_ASSIGN_OR_RETURN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir));
  GF_ASSIGN_OR_RETURN(std::unique_ptr<PgStore> store, PgStore::Open(std::move(pool)));
  return std::unique_ptr<Store>(std::move(store));
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContractTest,
                         ::testing::Values(StoreContractParam{"Postgres", &OpenPostgres}),
                         StoreContractParamName);

absl::StatusOr<StoreAndBatchStore> OpenPostgresBoth(const std::string& scratch_dir) {
  GF_ASSIGN_OR_RETURN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir));
  StoreAndBatchStore stores;
  GF_ASSIGN_OR_RETURN(stores.store, PgStore::Open(pool));
  GF_ASSIGN_OR_RETURN(stores.batch_store, PgBatchStore::Open(pool));
  return stores;
}

INSTANTIATE_TEST_SUITE_P(Postgres, BatchStoreContractTest,
                         ::testing::Values(BatchStoreContractParam{"Postgres", &OpenPostgresBoth}),
                         BatchStoreContractParamName);

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "pg_store_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    scratch_dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir_, ignored);
  }
  std::string scratch_dir_;
};

TEST_F(PgStoreTest, ReplicasStartingTogetherMigrateOnceAndAllOpen) {
  constexpr int kReplicas = 6;
  std::vector<absl::Status> results(kReplicas);
  std::latch start(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = OpenPostgres(scratch_dir_).status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  GF_ASSERT_OK_AND_ASSIGN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir_, 1));
  GF_ASSERT_OK_AND_ASSIGN(int version, PgSchemaVersion(*pool));
  EXPECT_EQ(version, static_cast<int>(PgMigrations().size()));
  int64_t rows = 0;
  GF_ASSERT_OK(pool->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(PgResult r, s.Exec("SELECT COUNT(*) FROM schema_migrations"));
    rows = r.Int(0, 0);
    return absl::OkStatus();
  }));
  EXPECT_EQ(rows, static_cast<int64_t>(PgMigrations().size()));
}

TEST_F(PgStoreTest, ADatabaseNewerThanTheBuildIsRefusedByName) {
  GF_ASSERT_OK_AND_ASSIGN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir_, 1));
  std::vector<PgMigration> newer = PgMigrations();
  newer.push_back({static_cast<int>(newer.size()) + 1, "from the future", "SELECT 1"});
  GF_ASSERT_OK(MigratePgSchema(*pool, newer, absl::Now()));
  absl::StatusOr<std::unique_ptr<PgStore>> store = PgStore::Open(pool);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat("version ", newer.size(), " is newer than this build knows (",
                                     PgMigrations().size(), ")")));
}

TEST_F(PgStoreTest, AServerThatCannotBeReachedIsUnavailableWithLibpqsReason) {
  // A port nobody listens on: connect() is refused at once.
  absl::StatusOr<std::unique_ptr<PgPool>> pool =
      PgPool::Open("host=127.0.0.1 port=1 user=gf dbname=none connect_timeout=2", {});
  ASSERT_EQ(pool.status().code(), absl::StatusCode::kUnavailable) << pool.status();
  EXPECT_THAT(pool.status().message(), HasSubstr("postgres: cannot connect"));
  EXPECT_THAT(pool.status().message(), HasSubstr("127.0.0.1"));
}

TEST_F(PgStoreTest, AStatementPastTheTimeoutIsDeadlineExceededAndTheConnectionLivesOn) {
  GF_ASSERT_OK_AND_ASSIGN(std::string dsn, ScratchSchemaDsn(scratch_dir_));
  PgPoolOptions options;
  options.size = 1;
  options.statement_timeout = absl::Milliseconds(200);
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgPool> pool, PgPool::Open(dsn, options));
  absl::Status slow =
      pool->InTransaction([](PgSession& s) { return s.Exec("SELECT pg_sleep(5)").status(); });
  EXPECT_EQ(slow.code(), absl::StatusCode::kDeadlineExceeded) << slow;
  EXPECT_THAT(slow.message(), HasSubstr("57014"));
  // The one connection was rolled back and is usable again.
  absl::Status again =
      pool->InTransaction([](PgSession& s) { return s.Exec("SELECT 1").status(); });
  EXPECT_TRUE(again.ok()) << again;
}

TEST_F(PgStoreTest, ARolledBackTransactionWritesNothing) {
  GF_ASSERT_OK_AND_ASSIGN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir_, 1));
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgStore> store, PgStore::Open(pool));
  absl::Status failed = pool->InTransaction([](PgSession& s) -> absl::Status {
    GF_RETURN_IF_ERROR(s.Exec("INSERT INTO batches (id, tenant, create_time, update_time) "
                              "VALUES ('b1', 't', 0, 0)")
                           .status());
    return absl::InternalError("the body gave up");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  int64_t rows = -1;
  GF_ASSERT_OK(pool->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(PgResult r, s.Exec("SELECT COUNT(*) FROM batches"));
    rows = r.Int(0, 0);
    return absl::OkStatus();
  }));
  EXPECT_EQ(rows, 0);
}

}  // namespace
}  // namespace guestflow::testing
