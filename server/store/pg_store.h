// PgStore: the Store on PostgreSQL, for several guestflowd replicas sharing
// one database with no coordinator between them.
//
// Lifecycle: Open() takes a pool (server/store/pg_connection.h; PgBatchStore
// may share it) and migrates the schema (server/store/pg_schema.h).
//
// How the store.h contract holds across replicas:
// - Leasing: LeaseDue picks due rows with SELECT ... FOR UPDATE SKIP LOCKED,
//   so two replicas leasing at the same moment skip each other's rows instead
//   of waiting or taking the same ones, and stamps them with the owner and an
//   expiry in the same statement. A replica that dies leaves its leases to
//   expire; RenewLease extends them while a step runs.
// - Writes: UpdateOnboarding is `UPDATE ... WHERE id = $1 AND version = $2`,
//   so a replica that lost its lease (and whose onboarding someone else has
//   since written) gets ABORTED and changes nothing. The row lock that UPDATE
//   takes also orders the event sequence numbers.
// - Creates: INSERT ... ON CONFLICT DO NOTHING, then a look-up by request_id:
//   of two racing creates with one request_id, the second waits for the
//   first's commit and finds its row.
//
// - Announcements: every create and update also sends pg_notify on
//   kPgChangeChannel at commit (server/store/pg_change_listener.h).
//
// Storage and error codes as SqliteStore's (server/store/sqlite_store.h),
// plus the pool's (pg_connection.h): UNAVAILABLE when the server cannot be
// reached, DEADLINE_EXCEEDED past the statement timeout.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/pg_connection.h"
#include "server/store/store.h"

namespace guestflow {

class PgStore : public Store {
 public:
  // `origin` names this process in the change announcements every create and
  // update makes (pg_change_listener.h), so that its listener can tell its
  // own changes from other replicas'.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PgStore>> Open(std::shared_ptr<PgPool> pool,
                                                                     std::string origin = "");

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

 protected:
  [[nodiscard]] absl::StatusOr<Onboarding> DoUpdateOnboarding(
      const Onboarding& onboarding, const std::vector<OnboardingEvent>& events,
      absl::string_view release_lease_of, const std::vector<CloudCall>& cloud_calls) override;
  [[nodiscard]] absl::StatusOr<std::vector<Onboarding>> DoLeaseDue(
      absl::string_view owner, absl::Time now, absl::Duration lease, int limit,
      const LeaseChange& change) override;

 private:
  PgStore(std::shared_ptr<PgPool> pool, std::string origin)
      : pool_(std::move(pool)), origin_(std::move(origin)) {}

  std::shared_ptr<PgPool> pool_;
  const std::string origin_;
};

}  // namespace guestflow
