#include "server/store/sqlite_schema.h"

#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_store.h"
#include "tests/unit/store/sqlite_test_util.h"
#include "tests/unit/store/store_test_util.h"

namespace guestflow::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<SqliteMigration> FirstMigrations(int count) {
  const std::vector<SqliteMigration>& all = SqliteMigrations();
  return std::vector<SqliteMigration>(all.begin(), all.begin() + count);
}

TEST(SqliteMigrationsTest, AreNumberedOneToLatest) {
  const std::vector<SqliteMigration>& all = SqliteMigrations();
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(all[i].name.empty());
  }
  EXPECT_EQ(LatestSqliteSchemaVersion(), all.back().version);
  // The upgrade tests below need an older version to upgrade from.
  EXPECT_GE(LatestSqliteSchemaVersion(), 2);
}

TEST(SqliteMigrationsTest, ANewDatabaseGetsEveryMigrationInOrder) {
  ScratchDir dir;
  std::string path = dir.File("new.db");
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
  RawDb raw(path);
  GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, LatestSqliteSchemaVersion());
  GF_ASSERT_OK_AND_ASSIGN(auto rows,
                          raw.Query("SELECT version, applied_at > 0 FROM schema_migrations "
                                    "ORDER BY version"));
  std::vector<std::string> versions;
  for (const auto& row : rows) {
    versions.push_back(row[0]);
    EXPECT_EQ(row[1], "1") << "applied_at of " << row[0];
  }
  std::vector<std::string> want;
  for (int v = 1; v <= LatestSqliteSchemaVersion(); ++v) want.push_back(absl::StrCat(v));
  EXPECT_EQ(versions, want);
}

TEST(SqliteMigrationsTest, VersionOfAnEmptyFileIsZero) {
  ScratchDir dir;
  RawDb raw(dir.File("empty.db"));
  GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, 0);
  GF_ASSERT_OK(raw.Exec("CREATE TABLE schema_migrations (version INTEGER, applied_at INTEGER)"));
  GF_ASSERT_OK_AND_ASSIGN(version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, 0);
}

// A file at version 0 that already holds something (here: a table of
// someone's notes) is migrated around it.
TEST(SqliteMigrationsTest, AVersionZeroDatabaseIsUpgradedAndKeepsItsRows) {
  ScratchDir dir;
  std::string path = dir.File("v0.db");
  {
    RawDb raw(path);
    GF_ASSERT_OK(raw.Exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('keep me')"));
  }
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created")));
  RawDb raw(path);
  GF_ASSERT_OK_AND_ASSIGN(std::string note, raw.Value("SELECT text FROM notes"));
  EXPECT_EQ(note, "keep me");
  GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, LatestSqliteSchemaVersion());
}

// A database left by a build that knew only migration 1 (tables, no access
// path indexes), with an onboarding in flight: opening it with this build
// adds what is missing and the onboarding reads back whole.
TEST(SqliteMigrationsTest, AnOlderDatabaseIsUpgradedAndKeepsItsRows) {
  ScratchDir dir;
  std::string path = dir.File("v1.db");
  {
    RawDb raw(path);
    GF_ASSERT_OK(MigrateSqliteSchema(raw.get(), FirstMigrations(1), kT0));
    GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
    ASSERT_EQ(version, 1);
    // Written by hand, as that older build would have.
    const int64_t t0 = absl::ToUnixMicros(kT0);
    GF_ASSERT_OK(raw.Exec(absl::StrCat(
        "INSERT INTO onboardings (id, tenant, request_id, request_fingerprint, state, version, "
        "guest_email, guest_first_name, guest_last_name, guest_display_name, "
        "guest_usage_location, options, batch_id, error, instance_url, create_time, "
        "update_time, finish_time, due_time, lease_owner, lease_expires) VALUES ("
        "'ob-old', 'contoso', 'req-1', 'fp', 'RUNNING', 4, 'ada@example.com', 'Ada', "
        "'Lovelace', 'Ada Lovelace', 'GB', "
        "'{\"roles\":[\"Salesperson\"],\"send_invitation_message\":true,"
        "\"invitation_message\":\"hi\"}', 'batch-1', '', 'https://contoso.crm.dynamics.com', ",
        t0, ", ", t0 + 1, ", NULL, ", t0 + 2, ", NULL, NULL);",
        "INSERT INTO steps (onboarding_id, position, kind, state, plugin, attempts, last_error, "
        "next_attempt_time, start_time, finish_time, wait_since, outputs) VALUES "
        "('ob-old', 0, 'invite', 'SUCCEEDED', 'graph', 1, '', NULL, ",
        t0, ", ", t0 + 1,
        ", NULL, '{\"user_id\":\"u1\"}'), "
        "('ob-old', 1, 'profile', 'RUNNING', 'graph', 2, 'busy', NULL, ",
        t0 + 1, ", NULL, NULL, '{}');",
        "INSERT INTO events (onboarding_id, sequence, time, type, step, message) VALUES "
        "('ob-old', 1, ",
        t0, ", 'created', NULL, ''), ('ob-old', 2, ", t0, ", 'step_succeeded', 'invite', 'ok');")));
  }

  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
  {
    RawDb raw(path);
    GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
    EXPECT_EQ(version, LatestSqliteSchemaVersion());
    GF_ASSERT_OK_AND_ASSIGN(
        std::string indexes,
        raw.Value("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                  "('onboardings_by_due_time', 'onboardings_by_create_time')"));
    EXPECT_EQ(indexes, "2");
  }
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store->GetOnboarding("ob-old"));
  EXPECT_EQ(got.version, 4);
  EXPECT_EQ(got.state, OnboardingState::kRunning);
  EXPECT_EQ(got.guest.display_name, "Ada Lovelace");
  EXPECT_THAT(got.options.roles, ElementsAre("Salesperson"));
  EXPECT_EQ(got.options.send_invitation_message, true);
  EXPECT_FALSE(got.options.update_dynamics_email.has_value());
  EXPECT_EQ(got.due_time, kT0 + absl::Microseconds(2));
  ASSERT_EQ(got.steps.size(), 2u);
  EXPECT_EQ(got.steps[0].outputs.at("user_id"), "u1");
  EXPECT_EQ(got.steps[1].state, StepState::kRunning);
  EXPECT_EQ(got.steps[1].last_error, "busy");
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store->ListEvents("ob-old", 0, 10));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].step, StepKind::kInvite);
  // And it carries on: leased, updated, its events numbered after the old ones.
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store->LeaseDue("w", kT0 + absl::Seconds(1), absl::Minutes(1), 10));
  ASSERT_THAT(Ids(leased), ElementsAre("ob-old"));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated,
                          store->UpdateOnboarding(got, {NewEvent("resumed")}, "w"));
  EXPECT_EQ(updated.version, 5);
  GF_ASSERT_OK_AND_ASSIGN(events, store->ListEvents("ob-old", 2, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 3);
}

// Migration 8 rebuilds the audit trail without AUTOINCREMENT: the calls of a
// database at version 7 keep their sequences and every column, the next call
// is numbered after the last, and no insert writes sqlite_sequence any more.
TEST(SqliteMigrationsTest, TheAuditTrailKeepsItsSequencesWithoutAutoincrement) {
  ScratchDir dir;
  std::string path = dir.File("v7.db");
  {
    RawDb raw(path);
    GF_ASSERT_OK(MigrateSqliteSchema(raw.get(), FirstMigrations(7), kT0));
    // AUTOINCREMENT numbers 1, 2 and 3; the 3rd is left with the largest
    // number, 40, as a call numbered by an older build could be.
    GF_ASSERT_OK(raw.Exec(
        "INSERT INTO cloud_calls (onboarding_id, tenant, step, plugin, actor, time, duration_us, "
        "method, url, service, status, transport_error, request_id, caller) VALUES "
        "('ob-1', 'contoso', 'invite', 'azure_ad_invite', 'w1', 10, 5, 'POST', "
        "'https://graph/invitations', 'graph', 201, '', 'r-1', 'ops'), "
        "('ob-1', 'contoso', 'license', 'graph_license', 'w1', 11, 6, 'POST', "
        "'https://graph/assignLicense', 'graph', 200, '', 'r-2', 'ops'), "
        "('ob-2', 'fabrikam', 'role', 'dataverse_role', 'w2', 12, 7, 'POST', "
        "'https://crm/associate', 'dataverse', 0, 'timed out', 'r-3', '');"
        "UPDATE cloud_calls SET sequence = 40 WHERE sequence = 3;"));
  }
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
  {
    RawDb raw(path);
    GF_ASSERT_OK_AND_ASSIGN(
        auto rows, raw.Query("SELECT sequence, onboarding_id, tenant, step, plugin, actor, time, "
                             "duration_us, method, url, service, status, transport_error, "
                             "request_id, caller FROM cloud_calls ORDER BY sequence"));
    EXPECT_THAT(
        rows,
        ElementsAre(
            ElementsAre("1", "ob-1", "contoso", "invite", "azure_ad_invite", "w1", "10", "5",
                        "POST", "https://graph/invitations", "graph", "201", "", "r-1", "ops"),
            ElementsAre("2", "ob-1", "contoso", "license", "graph_license", "w1", "11", "6", "POST",
                        "https://graph/assignLicense", "graph", "200", "", "r-2", "ops"),
            ElementsAre("40", "ob-2", "fabrikam", "role", "dataverse_role", "w2", "12", "7", "POST",
                        "https://crm/associate", "dataverse", "0", "timed out", "r-3", "")));
    GF_ASSERT_OK_AND_ASSIGN(
        std::string autoincrement,
        raw.Value("SELECT COUNT(*) FROM sqlite_master WHERE name = 'cloud_calls' "
                  "AND sql LIKE '%AUTOINCREMENT%'"));
    EXPECT_EQ(autoincrement, "0");
    GF_ASSERT_OK_AND_ASSIGN(
        std::string strict,
        raw.Value("SELECT strict FROM pragma_table_list WHERE name = 'cloud_calls'"));
    EXPECT_EQ(strict, "1");
    // The columns' defaults stay: a call inserted with the required ones only.
    GF_ASSERT_OK(
        raw.Exec("INSERT INTO cloud_calls (onboarding_id, tenant, time, method, url) VALUES "
                 "('ob-3', 'contoso', 13, 'GET', 'https://graph/users'); "
                 "DELETE FROM cloud_calls WHERE onboarding_id = 'ob-3';"));
    GF_ASSERT_OK_AND_ASSIGN(
        std::string indexes,
        raw.Value("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                  "'cloud_calls' AND name IN ('cloud_calls_by_onboarding', "
                  "'cloud_calls_by_tenant')"));
    EXPECT_EQ(indexes, "2");
  }
  CloudCall next;
  next.onboarding_id = "ob-2";
  next.tenant = "fabrikam";
  next.step = "notify";
  next.method = "POST";
  next.url = "https://mail/send";
  next.time = kT0;
  GF_ASSERT_OK(store->AppendCloudCalls({next}));
  CloudCallQuery query;
  query.tenant = "fabrikam";
  GF_ASSERT_OK_AND_ASSIGN(CloudCallPage page, store->ListCloudCalls(query));
  ASSERT_EQ(page.calls.size(), 2u);
  EXPECT_EQ(page.calls[0].sequence, 40);
  EXPECT_EQ(page.calls[1].sequence, 41) << "numbered after the last";
  RawDb raw(path);
  GF_ASSERT_OK_AND_ASSIGN(std::string counters,
                          raw.Value("SELECT COUNT(*) FROM sqlite_sequence WHERE name = "
                                    "'cloud_calls'"));
  EXPECT_EQ(counters, "0");
}

TEST(SqliteMigrationsTest, ADatabaseNewerThanThisBuildIsRefused) {
  ScratchDir dir;
  std::string path = dir.File("future.db");
  {
    GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
    GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                            store->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created")));
  }
  const int latest = LatestSqliteSchemaVersion();
  {
    RawDb raw(path);
    GF_ASSERT_OK(
        raw.Exec(absl::StrCat("INSERT INTO schema_migrations VALUES (", latest + 1, ", 1)")));
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr(absl::StrCat("database schema version ", latest + 1,
                                     " is newer than this build knows (", latest, ")")));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(path));
  // Refusing touched nothing.
  RawDb raw(path);
  GF_ASSERT_OK_AND_ASSIGN(std::string count, raw.Value("SELECT COUNT(*) FROM onboardings"));
  EXPECT_EQ(count, "1");
  GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, latest + 1);
}

// A later build's migration (simulated by appending one) applies over a
// database with rows and keeps them; this build then refuses the result.
TEST(SqliteMigrationsTest, AnAppendedMigrationKeepsRows) {
  ScratchDir dir;
  std::string path = dir.File("next.db");
  {
    GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
    GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                            store->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created")));
  }
  std::vector<SqliteMigration> next = SqliteMigrations();
  const int latest = LatestSqliteSchemaVersion();
  next.push_back({latest + 1, "a column for priorities",
                  "ALTER TABLE onboardings ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
                  "UPDATE onboardings SET priority = 3;"});
  RawDb raw(path);
  GF_ASSERT_OK(MigrateSqliteSchema(raw.get(), next, kT0));
  GF_ASSERT_OK_AND_ASSIGN(auto rows, raw.Query("SELECT id, priority FROM onboardings"));
  EXPECT_THAT(rows, ElementsAre(ElementsAre("ob-1", "3")));
  GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, latest + 1);
  // Applying again is a no-op.
  GF_ASSERT_OK(MigrateSqliteSchema(raw.get(), next, kT0));
  GF_ASSERT_OK_AND_ASSIGN(std::string count, raw.Value("SELECT COUNT(*) FROM schema_migrations"));
  EXPECT_EQ(count, absl::StrCat(latest + 1));
  EXPECT_EQ(SqliteStore::Open(path).status().code(), absl::StatusCode::kFailedPrecondition);
}

// A migration that fails halfway leaves no trace: its earlier statements are
// rolled back and the version stays where it was.
TEST(SqliteMigrationsTest, AFailingMigrationIsRolledBackWhole) {
  ScratchDir dir;
  std::string path = dir.File("broken.db");
  RawDb raw(path);
  std::vector<SqliteMigration> migrations = FirstMigrations(1);
  migrations.push_back(
      {2, "broken", "CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);"});
  absl::Status status = MigrateSqliteSchema(raw.get(), migrations, kT0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), HasSubstr("schema migration 2 (broken)"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("nowhere"));
  GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, 1) << "migration 1 stays applied";
  GF_ASSERT_OK_AND_ASSIGN(std::string tables,
                          raw.Value("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'"));
  EXPECT_EQ(tables, "0");
  // The real migration 2 still applies afterwards.
  GF_ASSERT_OK(MigrateSqliteSchema(raw.get(), SqliteMigrations(), kT0));
  GF_ASSERT_OK_AND_ASSIGN(version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, LatestSqliteSchemaVersion());
}

TEST(SqliteMigrationsTest, AGapInTheListIsAnError) {
  ScratchDir dir;
  RawDb raw(dir.File("gap.db"));
  std::vector<SqliteMigration> gap = {{1, "one", "CREATE TABLE a (x INTEGER);"},
                                      {3, "three", "CREATE TABLE c (x INTEGER);"}};
  absl::Status status = MigrateSqliteSchema(raw.get(), gap, kT0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  GF_ASSERT_OK_AND_ASSIGN(int version, SqliteSchemaVersion(raw.get()));
  EXPECT_EQ(version, 0);
}

// Two processes starting on one new file at once must not both apply a
// migration (the second would fail on CREATE TABLE).
TEST(SqliteMigrationsTest, ConcurrentOpensOfANewFileMigrateOnce) {
  ScratchDir dir;
  std::string path = dir.File("race.db");
  constexpr int kThreads = 6;
  std::vector<absl::Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = SqliteStore::Open(path).status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  RawDb raw(path);
  GF_ASSERT_OK_AND_ASSIGN(std::string count, raw.Value("SELECT COUNT(*) FROM schema_migrations"));
  EXPECT_EQ(count, absl::StrCat(LatestSqliteSchemaVersion()));
}

}  // namespace
}  // namespace guestflow::testing
