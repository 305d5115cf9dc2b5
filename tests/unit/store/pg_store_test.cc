// PgStore and PgBatchStore on the throwaway PostgreSQL server of the ctest
// fixture `postgres`: the Store contract suite, then what only PostgreSQL
// has (migrations racing between replicas, a newer schema, a server that
// cannot be reached).
#include "server/store/pg_store.h"

#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg_batch_store.h"
#include "server/store/pg_change_listener.h"
#include "server/store/pg_replicas.h"
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

// A database a previous build left (every migration but the last) is brought
// up to date at open and keeps its rows, which then carry on.
TEST_F(PgStoreTest, ADatabaseOfThePreviousVersionIsUpgradedAndKeepsItsRows) {
  GF_ASSERT_OK_AND_ASSIGN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir_, 1));
  std::vector<PgMigration> previous = PgMigrations();
  previous.pop_back();
  GF_ASSERT_OK(MigratePgSchema(*pool, previous, absl::Now()));
  GF_ASSERT_OK(pool->InTransaction([](PgSession& s) {
    return s.ExecScript(
        "INSERT INTO onboardings (id, tenant, request_id, state, version, guest_email, options, "
        "create_time, update_time, due_time) VALUES ('ob-old', 'contoso', 'req-1', 'WAITING', 3, "
        "'ada@example.com', '{\"roles\":[\"Salesperson\"]}', 1000, 2000, 3000);"
        "INSERT INTO steps (onboarding_id, position, kind, state, attempts, outputs) VALUES "
        "('ob-old', 0, 'invite', 'SUCCEEDED', 1, '{\"user_id\":\"u1\"}'), "
        "('ob-old', 1, 'profile', 'WAITING', 2, '{}');"
        "INSERT INTO events (onboarding_id, sequence, time, type, message) VALUES "
        "('ob-old', 1, 1000, 'created', ''), ('ob-old', 2, 1500, 'step_succeeded', 'ok');",
        "rows of the previous version");
  }));
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgStore> store, PgStore::Open(pool));
  GF_ASSERT_OK_AND_ASSIGN(int version, PgSchemaVersion(*pool));
  EXPECT_EQ(version, static_cast<int>(PgMigrations().size()));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding old, store->GetOnboarding("ob-old"));
  EXPECT_EQ(old.version, 3);
  EXPECT_EQ(old.state, OnboardingState::kWaiting);
  EXPECT_THAT(old.options.roles, ::testing::ElementsAre("Salesperson"));
  ASSERT_EQ(old.steps.size(), 2u);
  EXPECT_EQ(old.steps[0].outputs.at("user_id"), "u1");
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store->LeaseDue("w", absl::FromUnixMicros(5000), absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated,
                          store->UpdateOnboarding(old, {NewEvent("resumed")}, "w"));
  EXPECT_EQ(updated.version, 4);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store->ListEvents("ob-old", 0, 10));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].sequence, 3);
}

// Another replica's listener hears every committed create and update, with
// the batch and the origin; a write that is refused announces nothing.
TEST_F(PgStoreTest, CommittedWritesAreAnnouncedToListenersAndRefusedOnesAreNot) {
  GF_ASSERT_OK_AND_ASSIGN(std::string dsn, ScratchSchemaDsn(scratch_dir_));
  GF_ASSERT_OK_AND_ASSIGN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir_));
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgStore> store, PgStore::Open(pool, "replica-a"));
  absl::Mutex mu;
  std::vector<PgChange> heard;
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgChangeListener> listener,
                          PgChangeListener::Start(dsn, [&](const PgChange& change) {
                            // The channel is the database's: other tests'
                            // stores announce on it too.
                            if (change.origin != "replica-a") return;
                            absl::MutexLock lock(&mu);
                            heard.push_back(change);
                          }));
  Onboarding o = NewOnboarding("ob-1", "contoso");
  o.batch_id = "batch-7";
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created, store->CreateOnboarding(o, NewEvent("created")));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated,
                          store->UpdateOnboarding(created.onboarding, {NewEvent("changed")}));
  // Stale: refused, rolled back, not announced.
  EXPECT_EQ(store->UpdateOnboarding(created.onboarding, {}).status().code(),
            absl::StatusCode::kAborted);
  auto two_heard = [&] { return heard.size() >= 2; };
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&two_heard), absl::Seconds(10)));
  mu.AwaitWithTimeout(absl::Condition(
                          +[](std::vector<PgChange>* h) { return h->size() > 2; }, &heard),
                      absl::Milliseconds(300));
  ASSERT_EQ(heard.size(), 2u);
  for (const PgChange& change : heard) {
    EXPECT_EQ(change.id, "ob-1");
    EXPECT_EQ(change.batch_id, "batch-7");
    EXPECT_EQ(change.origin, "replica-a");
  }
}

TEST_F(PgStoreTest, TheRegistryCountsLiveReplicasForgetsSilentOnesAndLetsOneLeave) {
  GF_ASSERT_OK_AND_ASSIGN(std::shared_ptr<PgPool> pool, ScratchPool(scratch_dir_));
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgStore> store, PgStore::Open(pool));
  PgReplicaRegistry registry(pool);
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  const absl::Duration ttl = absl::Seconds(10);
  GF_ASSERT_OK_AND_ASSIGN(int alive, registry.Beat("a", t0, ttl));
  EXPECT_EQ(alive, 1);
  GF_ASSERT_OK_AND_ASSIGN(alive, registry.Beat("b", t0 + absl::Seconds(1), ttl));
  EXPECT_EQ(alive, 2);
  GF_ASSERT_OK_AND_ASSIGN(alive, registry.Beat("a", t0 + absl::Seconds(2), ttl));
  EXPECT_EQ(alive, 2) << "a beat again: still two";
  // b dies silently: gone once its last beat is older than the ttl.
  GF_ASSERT_OK_AND_ASSIGN(alive, registry.Beat("a", t0 + absl::Seconds(10), ttl));
  EXPECT_EQ(alive, 2);
  GF_ASSERT_OK_AND_ASSIGN(alive, registry.Beat("a", t0 + absl::Seconds(12), ttl));
  EXPECT_EQ(alive, 1);
  // c comes and leaves (SIGTERM).
  GF_ASSERT_OK_AND_ASSIGN(alive, registry.Beat("c", t0 + absl::Seconds(13), ttl));
  EXPECT_EQ(alive, 2);
  GF_ASSERT_OK(registry.Leave("c"));
  GF_ASSERT_OK_AND_ASSIGN(alive, registry.Beat("a", t0 + absl::Seconds(14), ttl));
  EXPECT_EQ(alive, 1);
}

TEST(PgChangeTest, APayloadRoundTripsWithEmptyParts) {
  const PgChange full = ParseChange(FormatChange("ob-1", "b-2", "guestflowd-h-1-00ff"));
  EXPECT_EQ(full.id, "ob-1");
  EXPECT_EQ(full.batch_id, "b-2");
  EXPECT_EQ(full.origin, "guestflowd-h-1-00ff");
  const PgChange bare = ParseChange(FormatChange("ob-1", "", ""));
  EXPECT_EQ(bare.id, "ob-1");
  EXPECT_EQ(bare.batch_id, "");
  EXPECT_EQ(bare.origin, "");
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
