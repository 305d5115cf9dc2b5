// SqliteStore: the embedded Store, one SQLite file in WAL mode.
//
// Lifecycle: Open() creates the file (and its parent folders) if needed, sets
// the connection up (journal_mode=WAL, synchronous=FULL, foreign_keys=ON,
// busy_timeout) and migrates the schema (server/store/sqlite_schema.h); the
// destructor closes the file. Destroy the store only when no call is running.
//
// Thread safety: every method may be called from any thread. Calls are
// serialized on one connection, whose prepared statements are cached for the
// store's life. Several SqliteStore objects (threads or processes) may open
// the same file: every write takes SQLite's write lock up front (BEGIN
// IMMEDIATE), waiting up to kBusyTimeout for it, so the store.h contract
// (idempotent create, version checks, leases) holds across them too.
//
// Storage, beyond store.h:
// - Times are int64 microseconds since the Unix epoch (finer parts are
//   dropped); absl::InfinitePast()/InfiniteFuture() are kept as the int64
//   minimum/maximum, an empty optional as NULL.
// - Options and step outputs are JSON; a string that is not valid UTF-8 is
//   stored with U+FFFD in place of the bad bytes rather than failing the write.
// - UpdateOnboarding keeps id, tenant, request_id, request_fingerprint and
//   create_time as they were created: they identify the request.
//
// Error codes, beyond store.h: Open gives FAILED_PRECONDITION for a database
// whose schema is newer than this build (naming both versions) and
// UNAVAILABLE/INTERNAL when the file cannot be opened or set up.
// CreateOnboarding gives ALREADY_EXISTS for an id that is taken.
// ListOnboardings (page_size <= 0), ListEvents (limit <= 0) and LeaseDue
// (lease <= 0) give INVALID_ARGUMENT; LeaseDue with limit <= 0 leases nothing.
// UNAVAILABLE when the file stays locked by another connection past
// kBusyTimeout or the disk fails; INTERNAL for other database errors and for
// rows this build cannot read.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/group_commit.h"
#include "server/store/store.h"

namespace guestflow {

class SqliteStore : public Store {
 public:
  // How long a call waits for another connection's write lock.
  static constexpr absl::Duration kBusyTimeout = absl::Seconds(5);

  // The most writes one shared transaction takes.
  static constexpr int kMaxGroup = 128;

  struct Options {
    // Group commit: concurrent writes (CreateOnboarding, UpdateOnboarding,
    // LeaseDue, RenewLease, ReleaseLease, AppendCloudCalls) share one
    // transaction, so one fsync of the WAL makes all of them durable (each
    // in a savepoint: one that fails is rolled back alone). Every call still
    // returns only once its write is committed. false: one transaction per
    // call.
    bool group_commit = true;
  };

  // `path` is a file path; ":memory:" gives a private in-memory database
  // (tests only: it is not WAL and dies with the store).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                                         const Options& options);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path) {
    return Open(path, Options());
  }

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  [[nodiscard]] absl::StatusOr<CreateResult> CreateOnboarding(
      const Onboarding& onboarding, const OnboardingEvent& first_event) override;
  [[nodiscard]] absl::StatusOr<Onboarding> GetOnboarding(absl::string_view id) override;
  [[nodiscard]] absl::StatusOr<OnboardingPage> ListOnboardings(
      const ListOnboardingsQuery& query) override;
  [[nodiscard]] absl::Status ReleaseLease(absl::string_view id, absl::string_view owner) override;
  [[nodiscard]] absl::Status ReleaseAllLeases() override;
  [[nodiscard]] absl::StatusOr<std::optional<Onboarding>> FindByRequestId(
      absl::string_view tenant, absl::string_view request_id) override;
  [[nodiscard]] absl::StatusOr<int64_t> CountUnfinished() override;
  [[nodiscard]] absl::StatusOr<OnboardingStats> Stats(absl::Time now) override;
  [[nodiscard]] absl::StatusOr<bool> RenewLease(absl::string_view id, absl::string_view owner,
                                                absl::Time until) override;
  [[nodiscard]] absl::StatusOr<std::optional<absl::Time>> NextDueTime() override;
  [[nodiscard]] absl::Status AppendCloudCalls(const std::vector<CloudCall>& calls) override;
  [[nodiscard]] absl::StatusOr<CloudCallPage> ListCloudCalls(const CloudCallQuery& query) override;
  [[nodiscard]] absl::StatusOr<std::vector<OnboardingEvent>> ListEvents(absl::string_view id,
                                                                        int64_t after_sequence,
                                                                        int limit) override;

  // The SQL text of every statement prepared so far, for the test that runs
  // EXPLAIN QUERY PLAN over them.
  std::vector<std::string> PreparedSqlForTesting() const;

  // The shared transactions committed so far, and how many writes they held
  // (zero without group commit).
  GroupCommit::Counts GroupCommitCounts() const;

 protected:
  [[nodiscard]] absl::StatusOr<Onboarding> DoUpdateOnboarding(
      const Onboarding& onboarding, const std::vector<OnboardingEvent>& events,
      absl::string_view release_lease_of, const std::vector<CloudCall>& cloud_calls) override;
  [[nodiscard]] absl::StatusOr<std::vector<Onboarding>> DoLeaseDue(
      absl::string_view owner, absl::Time now, absl::Duration lease, int limit,
      const LeaseChange& change) override;

 private:
  class Impl;  // the connection, its statement cache and the queries
  SqliteStore(std::unique_ptr<Impl> impl, std::unique_ptr<GroupCommit> group_commit);

  // Runs `body` in a write transaction: a shared one with group commit, else
  // its own. Returns once that transaction has committed (or failed).
  absl::Status Write(absl::FunctionRef<absl::Status()> body);

  std::unique_ptr<Impl> impl_;
  std::unique_ptr<GroupCommit> group_commit_;  // null: one transaction per write
};

}  // namespace guestflow
