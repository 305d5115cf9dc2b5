#include "server/store/sqlite_store.h"

#include <sqlite3.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/store/sqlite_test_util.h"
#include "tests/unit/store/store_contract_test.h"

namespace guestflow::testing {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::unique_ptr<Store>> OpenSqlite(const std::string& scratch_dir) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open((std::filesystem::path(scratch_dir) / "guestflow.db").string());
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(*std::move(store));
}

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteOneTransactionPerCreate(
    const std::string& scratch_dir) {
  SqliteStore::Options options;
  options.group_commit = false;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open((std::filesystem::path(scratch_dir) / "guestflow.db").string(), options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(*std::move(store));
}

// The default (group commit) and one transaction per create both keep the
// contract.
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
                         ::testing::Values(StoreContractParam{"Sqlite", &OpenSqlite},
                                           StoreContractParam{"SqliteOneTransactionPerCreate",
                                                              &OpenSqliteOneTransactionPerCreate}),
                         StoreContractParamName);

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("guestflow.db");
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  ScratchDir dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, OpenCreatesTheFileAndItsFolders) {
  std::string nested = dir_.File("a/b/c/state.db");
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(nested));
  EXPECT_TRUE(std::filesystem::exists(nested));
}

TEST_F(SqliteStoreTest, OpenFailsWhenTheFolderCannotBeMade) {
  // A regular file where a folder should be.
  RawDb blocker(dir_.File("not-a-folder"));
  ASSERT_TRUE(blocker.ok());
  GF_ASSERT_OK(blocker.Exec("CREATE TABLE t (x)"));
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open(dir_.File("not-a-folder/state.db"));
  EXPECT_FALSE(store.ok());
  EXPECT_EQ(SqliteStore::Open("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, OpenRefusesAFileThatIsNotADatabase) {
  std::string path = dir_.File("garbage.db");
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("this is not an SQLite database, not even close, but long enough to have a header\n", f);
    fclose(f);
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  EXPECT_FALSE(store.ok());
}

TEST_F(SqliteStoreTest, TheFileIsInWalMode) {
  RawDb raw(path_);
  ASSERT_TRUE(raw.ok());
  GF_ASSERT_OK_AND_ASSIGN(std::string mode, raw.Value("PRAGMA journal_mode"));
  EXPECT_EQ(mode, "wal");
}

TEST_F(SqliteStoreTest, InMemoryDatabaseWorks) {
  GF_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(":memory:"));
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created")));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store->GetOnboarding("ob-1"));
  EXPECT_EQ(got.version, 1);
}

// Times are kept to the microsecond; the infinities survive as themselves.
TEST_F(SqliteStoreTest, TimesKeepMicrosecondsAndInfinities) {
  Onboarding o = NewOnboarding("ob-1");
  o.create_time = absl::InfinitePast();
  o.update_time = kT0 + absl::Microseconds(5) + absl::Nanoseconds(999);
  o.due_time = absl::InfiniteFuture();
  o.steps[0].start_time = absl::UnixEpoch();
  o.steps[0].finish_time = absl::UnixEpoch() - absl::Microseconds(3);
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created, store_->CreateOnboarding(o, NewEvent("created")));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_EQ(got.create_time, absl::InfinitePast());
  EXPECT_EQ(got.update_time, kT0 + absl::Microseconds(5));
  EXPECT_EQ(got.due_time, absl::InfiniteFuture());
  EXPECT_EQ(got.steps[0].start_time, absl::UnixEpoch());
  EXPECT_EQ(got.steps[0].finish_time, absl::UnixEpoch() - absl::Microseconds(3));

  RawDb raw(path_);
  GF_ASSERT_OK_AND_ASSIGN(std::string micros,
                          raw.Value("SELECT update_time FROM onboardings WHERE id = 'ob-1'"));
  EXPECT_EQ(micros, absl::StrCat(absl::ToUnixMicros(kT0) + 5));
}

TEST_F(SqliteStoreTest, UpdateKeepsTheFieldsThatIdentifyTheRequest) {
  Onboarding o = NewOnboarding("ob-1", "contoso");
  o.request_id = "req-1";
  o.request_fingerprint = "fp-1";
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created, store_->CreateOnboarding(o, NewEvent("created")));
  Onboarding changed = created.onboarding;
  changed.tenant = "fabrikam";
  changed.request_id = "req-2";
  changed.request_fingerprint = "fp-2";
  changed.create_time = kT0 + absl::Hours(1);
  changed.error = "changed";
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated, store_->UpdateOnboarding(changed, {}));
  EXPECT_EQ(updated.tenant, "contoso");
  EXPECT_EQ(updated.request_id, "req-1");
  EXPECT_EQ(updated.request_fingerprint, "fp-1");
  EXPECT_EQ(updated.create_time, kT0);
  EXPECT_EQ(updated.error, "changed");
}

TEST_F(SqliteStoreTest, InvalidUtf8InJsonIsReplacedNotFatal) {
  Onboarding o = NewOnboarding("ob-1");
  o.options.roles = {"ok", "bad\xff"};
  o.steps[0].outputs = {{"raw", "a\xc3"}};
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created, store_->CreateOnboarding(o, NewEvent("created")));
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  EXPECT_THAT(got.options.roles, ::testing::ElementsAre("ok", "bad\xef\xbf\xbd"));
  EXPECT_EQ(got.steps[0].outputs.at("raw"), "a\xef\xbf\xbd");
}

TEST_F(SqliteStoreTest, RowsThisBuildCannotReadAreInternalErrors) {
  for (const char* id : {"ob-state", "ob-options", "ob-outputs", "ob-kind"}) {
    GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                            store_->CreateOnboarding(NewOnboarding(id), NewEvent("created")));
  }
  RawDb raw(path_);
  GF_ASSERT_OK(raw.Exec("UPDATE onboardings SET state = 'PAUSED' WHERE id = 'ob-state'"));
  GF_ASSERT_OK(
      raw.Exec("UPDATE onboardings SET options = '{\"roles\": 7}' WHERE id = 'ob-options'"));
  GF_ASSERT_OK(
      raw.Exec("UPDATE steps SET outputs = 'not json' WHERE onboarding_id = 'ob-outputs'"));
  GF_ASSERT_OK(
      raw.Exec("UPDATE steps SET kind = 'teleport' WHERE onboarding_id = 'ob-kind' AND "
               "position = 0"));
  for (const char* id : {"ob-state", "ob-options", "ob-outputs", "ob-kind"}) {
    absl::StatusOr<Onboarding> got = store_->GetOnboarding(id);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInternal) << id << ": " << got.status();
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(id));
  }
}

// A writer on another connection holds the write lock longer than the busy
// timeout: the store gives UNAVAILABLE, and works again once it is free.
TEST_F(SqliteStoreTest, ALockedDatabaseIsUnavailable) {
  RawDb other(path_);
  ASSERT_TRUE(other.ok());
  GF_ASSERT_OK(other.Exec("BEGIN IMMEDIATE"));
  absl::Time start = absl::Now();
  absl::StatusOr<CreateResult> blocked =
      store_->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created"));
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kUnavailable) << blocked.status();
  EXPECT_GE(absl::Now() - start, SqliteStore::kBusyTimeout - absl::Milliseconds(100));
  // Readers are not blocked by a writer in WAL mode.
  GF_ASSERT_OK_AND_ASSIGN(OnboardingPage page, store_->ListOnboardings(Query()));
  EXPECT_TRUE(page.onboardings.empty());
  GF_ASSERT_OK(other.Exec("ROLLBACK"));
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store_->CreateOnboarding(NewOnboarding("ob-1"), NewEvent("created")));
  EXPECT_TRUE(created.created);
}

// Creates `n` onboardings "group-<i>" from n threads while another
// connection holds the write lock for `hold`, so that they queue behind the
// first and commit in few transactions; `adjust` may change each before it
// is created. Returns each thread's result.
std::vector<absl::StatusOr<CreateResult>> CreateWhileLocked(
    SqliteStore* store, const std::string& path, int n, absl::Duration hold,
    const std::function<void(int, Onboarding&)>& adjust = nullptr) {
  std::vector<absl::StatusOr<CreateResult>> results(n, absl::UnknownError("not run"));
  RawDb other(path);
  EXPECT_TRUE(other.ok());
  EXPECT_TRUE(other.Exec("BEGIN IMMEDIATE").ok());
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      Onboarding o = NewOnboarding(absl::StrCat("group-", i));
      o.guest.email = absl::StrCat("guest", i, "@example.com");
      if (adjust) adjust(i, o);
      results[i] = store->CreateOnboarding(o, NewEvent("created"));
    });
  }
  absl::SleepFor(hold);
  EXPECT_TRUE(other.Exec("ROLLBACK").ok());
  for (std::thread& t : threads) t.join();
  return results;
}

// 64 creates arrive while the file is locked: the first waits for the lock
// alone, the rest queue behind it and share one transaction (one fsync).
// Every one is stored, with its steps and event, when its call returns.
TEST_F(SqliteStoreTest, ConcurrentCreatesShareTransactions) {
  constexpr int kCreates = 64;
  std::vector<absl::StatusOr<CreateResult>> results =
      CreateWhileLocked(store_.get(), path_, kCreates, absl::Milliseconds(500));
  for (int i = 0; i < kCreates; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_TRUE(results[i]->created);
    EXPECT_EQ(results[i]->onboarding.guest.email, absl::StrCat("guest", i, "@example.com"));
  }
  const GroupCommit::Counts counts = store_->GroupCommitCounts();
  EXPECT_EQ(counts.members, kCreates);
  EXPECT_LE(counts.groups, 3) << "64 creates queued behind a lock took " << counts.groups
                              << " transactions";
  RawDb raw(path_);
  GF_ASSERT_OK_AND_ASSIGN(std::string onboardings,
                          raw.Value("SELECT COUNT(*) FROM onboardings WHERE id LIKE 'group-%'"));
  EXPECT_EQ(onboardings, "64");
  GF_ASSERT_OK_AND_ASSIGN(std::string steps, raw.Value("SELECT COUNT(*) FROM steps"));
  EXPECT_EQ(steps, absl::StrCat(kCreates * NewOnboarding("x").steps.size()));
  GF_ASSERT_OK_AND_ASSIGN(std::string events, raw.Value("SELECT COUNT(*) FROM events"));
  EXPECT_EQ(events, "64");
}

// In one shared transaction: a create whose id is taken fails alone (its
// savepoint is rolled back, the onboarding already stored is untouched), and
// two creates with one request_id make one onboarding, the second finding
// the first.
TEST_F(SqliteStoreTest, ACreateThatFailsInASharedTransactionFailsAlone) {
  Onboarding taken = NewOnboarding("group-3", "fabrikam");
  GF_ASSERT_OK(store_->CreateOnboarding(taken, NewEvent("created")).status());
  constexpr int kCreates = 8;
  std::vector<absl::StatusOr<CreateResult>> results = CreateWhileLocked(
      store_.get(), path_, kCreates, absl::Milliseconds(300), [](int i, Onboarding& o) {
        if (i == 5 || i == 6) o.request_id = "same-request";
      });
  std::set<std::string> request_ids;
  int created_by_request = 0;
  for (int i = 0; i < kCreates; ++i) {
    if (i == 3) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kAlreadyExists)
          << results[i].status();
      continue;
    }
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    if (i == 5 || i == 6) {
      request_ids.insert(results[i]->onboarding.id);
      created_by_request += results[i]->created ? 1 : 0;
    }
  }
  EXPECT_EQ(request_ids.size(), 1u);
  EXPECT_EQ(created_by_request, 1);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding kept, store_->GetOnboarding("group-3"));
  EXPECT_EQ(kept.tenant, "fabrikam");
  RawDb raw(path_);
  // 8 threads: one refused, two made one onboarding; plus the one taken.
  GF_ASSERT_OK_AND_ASSIGN(std::string onboardings, raw.Value("SELECT COUNT(*) FROM onboardings"));
  EXPECT_EQ(onboardings, "7");
  GF_ASSERT_OK_AND_ASSIGN(std::string events,
                          raw.Value("SELECT COUNT(*) FROM events WHERE onboarding_id = 'group-3'"));
  EXPECT_EQ(events, "1");
}

// The lock outlasts the busy timeout: the group that waited for it fails
// UNAVAILABLE as a whole and nothing of it is stored; the creates queued
// behind it commit once the lock is free. An answer is never OK for an
// onboarding that is not stored, nor an error for one that is.
TEST_F(SqliteStoreTest, AGroupWhoseTransactionFailsStoresNoneOfItsCreates) {
  constexpr int kCreates = 4;
  std::vector<absl::StatusOr<CreateResult>> results = CreateWhileLocked(
      store_.get(), path_, kCreates, SqliteStore::kBusyTimeout + absl::Milliseconds(500));
  RawDb raw(path_);
  int unavailable = 0;
  for (int i = 0; i < kCreates; ++i) {
    GF_ASSERT_OK_AND_ASSIGN(
        std::string stored,
        raw.Value(absl::StrCat("SELECT COUNT(*) FROM onboardings WHERE id = 'group-", i, "'")));
    if (results[i].ok()) {
      EXPECT_EQ(stored, "1") << i;
    } else {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kUnavailable) << results[i].status();
      EXPECT_EQ(stored, "0") << i;
      ++unavailable;
    }
  }
  EXPECT_GE(unavailable, 1);
  GF_ASSERT_OK_AND_ASSIGN(std::string steps,
                          raw.Value("SELECT COUNT(*) FROM steps WHERE onboarding_id NOT IN "
                                    "(SELECT id FROM onboardings)"));
  EXPECT_EQ(steps, "0");
}

// The steps' writes share transactions too: 32 updates, 8 appends to the
// audit trail, a lease and a lease renewal arrive while the file is locked
// and commit in few transactions. Each is stored when its call returns; an
// update over a stale version fails alone (ABORTED), its savepoint rolled
// back, the others committed.
TEST_F(SqliteStoreTest, ConcurrentUpdatesLeasesAndCloudCallsShareTransactions) {
  constexpr int kUpdates = 32;
  constexpr int kAppends = 8;
  std::vector<Onboarding> stored;
  for (int i = 0; i < kUpdates; ++i) {
    GF_ASSERT_OK_AND_ASSIGN(
        CreateResult created,
        store_->CreateOnboarding(
            NewOnboarding(absl::StrCat("ob-", i), "contoso", kT0 + absl::Seconds(i)),
            NewEvent("created")));
    stored.push_back(created.onboarding);
  }
  // The two oldest: "renewed" is leased now (and renewed below), "leased"
  // is the one the concurrent LeaseDue takes, whatever order the group
  // runs its writes in.
  GF_ASSERT_OK(store_
                   ->CreateOnboarding(NewOnboarding("renewed", "contoso", kT0 - absl::Seconds(2)),
                                      NewEvent("created"))
                   .status());
  GF_ASSERT_OK(store_
                   ->CreateOnboarding(NewOnboarding("leased", "contoso", kT0 - absl::Seconds(1)),
                                      NewEvent("created"))
                   .status());
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> first,
                          store_->LeaseDue("w", kT0 + absl::Hours(1), absl::Minutes(1), 1));
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first.front().id, "renewed");
  const GroupCommit::Counts before = store_->GroupCommitCounts();
  std::vector<absl::StatusOr<Onboarding>> updated(kUpdates, absl::UnknownError("not run"));
  absl::StatusOr<Onboarding> stale = absl::UnknownError("not run");
  std::vector<absl::Status> appended(kAppends, absl::UnknownError("not run"));
  absl::StatusOr<std::vector<Onboarding>> leased = absl::UnknownError("not run");
  absl::StatusOr<bool> renewed = absl::UnknownError("not run");
  {
    RawDb other(path_);
    ASSERT_TRUE(other.ok());
    GF_ASSERT_OK(other.Exec("BEGIN IMMEDIATE"));
    std::vector<std::thread> threads;
    for (int i = 0; i < kUpdates; ++i) {
      threads.emplace_back([&, i] {
        Onboarding o = stored[i];
        o.state = OnboardingState::kRunning;
        o.steps[0].state = StepState::kRunning;
        o.due_time = kT0 + absl::Hours(2);
        updated[i] = store_->UpdateOnboarding(o, {NewEvent("step_started")});
      });
    }
    threads.emplace_back([&] {
      Onboarding o = stored[0];
      o.version = 99;  // read at a version the record never had
      o.error = "stale";
      stale = store_->UpdateOnboarding(o, {NewEvent("stale")});
    });
    for (int i = 0; i < kAppends; ++i) {
      threads.emplace_back([&, i] {
        CloudCall c;
        c.onboarding_id = absl::StrCat("ob-", i);
        c.tenant = "contoso";
        c.method = "POST";
        c.status = 201;
        c.time = kT0;
        appended[i] = store_->AppendCloudCalls({c});
      });
    }
    threads.emplace_back(
        [&] { leased = store_->LeaseDue("w", kT0 + absl::Hours(1), absl::Minutes(1), 1); });
    threads.emplace_back(
        [&] { renewed = store_->RenewLease(first.front().id, "w", kT0 + absl::Hours(3)); });
    absl::SleepFor(absl::Milliseconds(500));
    GF_ASSERT_OK(other.Exec("ROLLBACK"));
    for (std::thread& t : threads) t.join();
  }
  for (int i = 0; i < kUpdates; ++i) {
    ASSERT_TRUE(updated[i].ok()) << i << ": " << updated[i].status();
    EXPECT_EQ(updated[i]->version, 2);
    EXPECT_EQ(updated[i]->state, OnboardingState::kRunning);
  }
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  for (int i = 0; i < kAppends; ++i) EXPECT_TRUE(appended[i].ok()) << i << ": " << appended[i];
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ(leased->front().id, "leased");
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_TRUE(*renewed);
  const GroupCommit::Counts after = store_->GroupCommitCounts();
  EXPECT_EQ(after.members - before.members, kUpdates + 1 + kAppends + 2);
  EXPECT_LE(after.groups - before.groups, 4)
      << kUpdates + kAppends + 3 << " writes queued behind a lock took "
      << after.groups - before.groups << " transactions";
  RawDb raw(path_);
  GF_ASSERT_OK_AND_ASSIGN(std::string running,
                          raw.Value("SELECT COUNT(*) FROM onboardings WHERE state = 'RUNNING'"));
  EXPECT_EQ(running, absl::StrCat(kUpdates));
  GF_ASSERT_OK_AND_ASSIGN(std::string stale_events,
                          raw.Value("SELECT COUNT(*) FROM events WHERE type = 'stale'"));
  EXPECT_EQ(stale_events, "0");
  GF_ASSERT_OK_AND_ASSIGN(std::string calls, raw.Value("SELECT COUNT(*) FROM cloud_calls"));
  EXPECT_EQ(calls, absl::StrCat(kAppends));
  GF_ASSERT_OK_AND_ASSIGN(
      std::string leases,
      raw.Value("SELECT group_concat(id) FROM (SELECT id FROM onboardings WHERE lease_owner = 'w' "
                "ORDER BY id)"));
  EXPECT_EQ(leases, "leased,renewed");
  GF_ASSERT_OK_AND_ASSIGN(std::string renewed_until,
                          raw.Value("SELECT lease_expires FROM onboardings WHERE id = 'renewed'"));
  EXPECT_EQ(renewed_until, absl::StrCat(absl::ToUnixMicros(kT0 + absl::Hours(3))));
}

// Files created in a folder while the object lives (inotify).
class FileCreations {
 public:
  explicit FileCreations(const std::string& dir) : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ >= 0) inotify_add_watch(fd_, dir.c_str(), IN_CREATE);
  }
  ~FileCreations() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  int Count() {
    int n = 0;
    alignas(inotify_event) char buffer[4096];
    while (true) {
      const ssize_t len = read(fd_, buffer, sizeof(buffer));
      if (len <= 0) return n;
      for (ssize_t at = 0; at < len;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        ++n;
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }

 private:
  const int fd_;
};

// A shared transaction keeps each write in a savepoint, whose undo record
// (SQLite's statement journal) grows with the pages the group changes.
// It stays in memory: a big group creates no temporary file (SQLite would
// spill it past 64 KiB into a new file in its temporary folder, created and
// deleted per transaction).
TEST_F(SqliteStoreTest, ABigSharedTransactionCreatesNoTemporaryFile) {
  constexpr int kUpdates = 64;
  std::vector<Onboarding> stored;
  for (int i = 0; i < 400; ++i) {
    Onboarding o = NewOnboarding(absl::StrCat("ob-", i), "contoso", kT0 + absl::Seconds(i));
    o.guest.email = absl::StrCat("guest-with-a-long-address-", i, "@example.com");
    GF_ASSERT_OK_AND_ASSIGN(CreateResult created, store_->CreateOnboarding(o, NewEvent("created")));
    if (i % (400 / kUpdates) == 0 && stored.size() < kUpdates) stored.push_back(created.onboarding);
  }
  ScratchDir temp;
  ASSERT_FALSE(temp.path().empty());
  char* const was = sqlite3_temp_directory;
  sqlite3_temp_directory = sqlite3_mprintf("%s", temp.path().c_str());
  FileCreations created(temp.path());
  ASSERT_TRUE(created.ok());
  {
    RawDb other(path_);
    ASSERT_TRUE(other.ok());
    GF_ASSERT_OK(other.Exec("BEGIN IMMEDIATE"));
    std::vector<std::thread> threads;
    std::vector<absl::Status> results(stored.size(), absl::UnknownError("not run"));
    for (size_t i = 0; i < stored.size(); ++i) {
      threads.emplace_back([&, i] {
        Onboarding o = stored[i];
        o.state = OnboardingState::kRunning;
        o.error = std::string(200, 'x');
        o.due_time = kT0 + absl::Hours(1) + absl::Seconds(static_cast<int64_t>(i));
        results[i] = store_
                         ->UpdateOnboarding(o, {NewEvent("step_started")}, "",
                                            {NewCloudCall(o.id, "contoso", "POST", 201)})
                         .status();
      });
    }
    absl::SleepFor(absl::Milliseconds(300));
    GF_ASSERT_OK(other.Exec("ROLLBACK"));
    for (std::thread& t : threads) t.join();
    for (const absl::Status& r : results) GF_ASSERT_OK(r);
  }
  const int files = created.Count();
  sqlite3_free(sqlite3_temp_directory);
  sqlite3_temp_directory = was;
  EXPECT_EQ(files, 0) << "temporary files made while the group was committed";
}

// Every statement the store prepares, EXPLAINed: none reads a whole table or
// sorts, so listing, leasing and NextDueTime cost the rows they return (plus,
// for the scheduler, the onboardings currently leased), however big the
// tables grow. Runs every operation with every list filter first, so that
// each query shape is in the statement cache.
TEST_F(SqliteStoreTest, EveryQueryUsesAnIndexAndNoSort) {
  for (int i = 0; i < 5; ++i) {
    Onboarding o = NewOnboarding(absl::StrCat("ob-", i), i % 2 == 0 ? "contoso" : "fabrikam",
                                 kT0 + absl::Seconds(i));
    o.request_id = absl::StrCat("req-", i);
    o.batch_id = i < 3 ? "batch-1" : "";
    GF_ASSERT_OK_AND_ASSIGN(CreateResult created, store_->CreateOnboarding(o, NewEvent("created")));
    GF_ASSERT_OK_AND_ASSIGN(Onboarding updated,
                            store_->UpdateOnboarding(created.onboarding, {NewEvent("x")}, "w"));
  }
  for (int mask = 0; mask < 8; ++mask) {
    ListOnboardingsQuery query = Query().PageSize(1);
    if (mask & 1) query.tenant = "contoso";
    if (mask & 2) query.state = OnboardingState::kQueued;
    if (mask & 4) query.batch_id = "batch-1";
    GF_ASSERT_OK_AND_ASSIGN(OnboardingPage page, store_->ListOnboardings(query));
    ASSERT_FALSE(page.next_page_token.empty()) << mask;
    query.page_token = page.next_page_token;
    GF_ASSERT_OK_AND_ASSIGN(page, store_->ListOnboardings(query));
  }
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("w", kT0 + absl::Seconds(2), absl::Minutes(1), 2));
  ASSERT_EQ(leased.size(), 2u);
  GF_ASSERT_OK(store_->ReleaseLease("ob-0", "w"));
  GF_ASSERT_OK(store_->ReleaseAllLeases());
  GF_ASSERT_OK_AND_ASSIGN(std::optional<absl::Time> next, store_->NextDueTime());
  EXPECT_EQ(next, kT0);
  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("ob-1"));
  // A retried create finds the existing one by request_id.
  Onboarding retry = NewOnboarding("ob-9", "contoso");
  retry.request_id = "req-0";
  GF_ASSERT_OK_AND_ASSIGN(CreateResult again, store_->CreateOnboarding(retry, NewEvent("created")));
  ASSERT_FALSE(again.created);

  std::vector<std::string> statements = store_->PreparedSqlForTesting();
  ASSERT_GE(statements.size(), 30u);
  RawDb raw(path_);
  ASSERT_TRUE(raw.ok());
  int explained = 0;
  for (const std::string& sql : statements) {
    GF_ASSERT_OK_AND_ASSIGN(auto plan, raw.Query("EXPLAIN QUERY PLAN " + sql));
    std::vector<std::string> details;
    details.reserve(plan.size());
    for (const auto& row : plan) details.push_back(row.back());
    std::string plan_text = absl::StrJoin(details, " | ");
    SCOPED_TRACE(absl::StrCat(sql, "\n  plan: ", plan_text));
    for (const std::string& detail : details) {
      ++explained;
      EXPECT_FALSE(absl::StartsWith(detail, "SCAN") && !absl::StrContains(detail, "USING INDEX") &&
                   !absl::StrContains(detail, "USING COVERING INDEX") &&
                   !absl::StrContains(detail, "USING PRIMARY KEY"))
          << "reads a whole table";
      EXPECT_FALSE(absl::StrContains(detail, "TEMP B-TREE")) << "sorts";
    }
    // The scheduler's queries use the indexes made for them.
    if (absl::StrContains(sql, "due_time <= ?1")) {
      EXPECT_THAT(plan_text, HasSubstr("onboardings_due_by_age"));
    }
    if (absl::StrContains(sql, "SELECT due_time FROM onboardings")) {
      EXPECT_THAT(plan_text, HasSubstr("onboardings_by_due_time"));
    }
    if (absl::StrContains(sql, "WHERE lease_owner IS NOT NULL")) {
      EXPECT_THAT(plan_text, HasSubstr("onboardings_leased"));
    }
    if (absl::StrContains(sql, "request_id = ?2")) {
      EXPECT_THAT(plan_text, HasSubstr("onboardings_by_request"));
    }
  }
  EXPECT_GT(explained, 20);
}

}  // namespace
}  // namespace guestflow::testing
