// Store: the durable home of onboardings, their steps and their event logs.
//
// Contract for every implementation (SQLite now, PostgreSQL later):
// - Every method is atomic: it commits all it writes, or nothing.
// - Thread-safe: any method may be called from any thread at any time.
// - Optimistic concurrency: each stored onboarding has a `version`, bumped by
//   every write. UpdateOnboarding writes only over the version it was read at,
//   so a stale writer (a worker whose onboarding was cancelled meanwhile, or a
//   replica that lost its lease) gets ABORTED and changes nothing.
// - Leases: a worker leases due onboardings for a while; nobody else leases
//   them until the lease is released or expires.
// - Errors: NOT_FOUND for an unknown id, ABORTED for a version conflict,
//   INVALID_ARGUMENT for a bad page token, INTERNAL / UNAVAILABLE for the
//   database itself (with the database's message).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/model/cloud_call.h"
#include "server/model/onboarding.h"

namespace guestflow {

struct ListOnboardingsQuery {
  std::string tenant;  // empty: all tenants
  // Set: only these tenants (an empty list matches nothing), as well as
  // `tenant`. What a caller is granted.
  std::optional<std::vector<std::string>> tenant_in;
  std::optional<OnboardingState> state;  // empty: all states
  std::string batch_id;                  // empty: any
  int page_size = 50;                    // > 0
  std::string page_token;                // from a previous ListPage
};

// What the store holds, for the metrics: onboardings by tenant and state,
// how many are due and free to run (the scheduler's queue), and how many
// are leased (a step running on some replica).
struct OnboardingStats {
  std::map<std::pair<std::string, OnboardingState>, int64_t> by_tenant_and_state;
  int64_t due = 0;
  int64_t leased = 0;
};

struct OnboardingPage {
  std::vector<Onboarding> onboardings;  // newest first (create_time, then id)
  std::string next_page_token;          // empty on the last page
};

struct CreateResult {
  Onboarding onboarding;  // as stored (new, or the existing one)
  bool created = false;   // false: (tenant, request_id) already existed
};

// The audit trail of one onboarding or one tenant, oldest first.
struct CloudCallQuery {
  std::string onboarding_id;  // one of the two; onboarding_id wins
  std::string tenant;
  int page_size = 100;  // > 0
  std::string page_token;
};

struct CloudCallPage {
  std::vector<CloudCall> calls;  // by sequence
  std::string next_page_token;   // empty on the last page
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores a new onboarding (with its steps) and `first_event`. When
  // `onboarding.request_id` is not empty and the tenant already has an
  // onboarding with that request_id, stores nothing and returns that one with
  // created=false. The stored version is 1.
  [[nodiscard]] virtual absl::StatusOr<CreateResult> CreateOnboarding(
      const Onboarding& onboarding, const OnboardingEvent& first_event) = 0;

  [[nodiscard]] virtual absl::StatusOr<Onboarding> GetOnboarding(absl::string_view id) = 0;

  [[nodiscard]] virtual absl::StatusOr<OnboardingPage> ListOnboardings(
      const ListOnboardingsQuery& query) = 0;

  // Replaces the stored onboarding (and its steps) with `onboarding` if the
  // stored version equals `onboarding.version`, appends `events` (sequence
  // numbers assigned here), and returns what is now stored (version + 1).
  // If `release_lease_of` is not empty and that owner holds the lease, the
  // lease is released in the same transaction. `cloud_calls` are appended to
  // the audit trail in the same transaction too, as AppendCloudCalls does: a
  // step's outcome and the record of the calls it sent are stored together.
  // ABORTED on a version conflict (then nothing is stored, calls included).
  [[nodiscard]] absl::StatusOr<Onboarding> UpdateOnboarding(
      const Onboarding& onboarding, const std::vector<OnboardingEvent>& events,
      absl::string_view release_lease_of = {}, const std::vector<CloudCall>& cloud_calls = {}) {
    return DoUpdateOnboarding(onboarding, events, release_lease_of, cloud_calls);
  }

  // The tenant's onboarding started with `request_id`, if any.
  [[nodiscard]] virtual absl::StatusOr<std::optional<Onboarding>> FindByRequestId(
      absl::string_view tenant, absl::string_view request_id) = 0;

  // How many onboardings have not ended (queued, running or waiting).
  [[nodiscard]] virtual absl::StatusOr<int64_t> CountUnfinished() = 0;

  // Counts for the metrics, as of `now` (due and leased are judged by it).
  [[nodiscard]] virtual absl::StatusOr<OnboardingStats> Stats(absl::Time now) = 0;

  // What a lease may change in the same write: called on each onboarding
  // leased, it changes the onboarding and gives back the events to append.
  // An error leaves that onboarding leased and as it was.
  using LeaseChange = std::function<absl::StatusOr<std::vector<OnboardingEvent>>(Onboarding&)>;

  // Leases to `owner`, until now + `lease`, at most `limit` onboardings whose
  // due_time <= now and whose lease is free or expired, oldest (create_time,
  // then id) first: onboardings already under way finish before newer ones
  // start, so a large batch moves through its rows in order instead of
  // starting all of them and finishing none.
  // With `change`, each leased onboarding is also changed as it says and
  // stored in the lease's transaction, as UpdateOnboarding would store it
  // (version + 1, its events appended): the scheduler marks the first step
  // RUNNING there, one write instead of two. What comes back is as stored.
  [[nodiscard]] absl::StatusOr<std::vector<Onboarding>> LeaseDue(
      absl::string_view owner, absl::Time now, absl::Duration lease, int limit,
      const LeaseChange& change = nullptr) {
    return DoLeaseDue(owner, now, lease, limit, change);
  }

  // Extends `owner`'s lease on `id` to `until`. False when `owner` no longer
  // holds it (it expired and someone else took it, or it was released).
  [[nodiscard]] virtual absl::StatusOr<bool> RenewLease(absl::string_view id,
                                                        absl::string_view owner,
                                                        absl::Time until) = 0;

  // Releases `owner`'s lease on `id`, if it holds it. No error if it does not.
  [[nodiscard]] virtual absl::Status ReleaseLease(absl::string_view id,
                                                  absl::string_view owner) = 0;

  // Releases every lease (used at start by a single-process store: a lease
  // left by a process that died is nobody's).
  [[nodiscard]] virtual absl::Status ReleaseAllLeases() = 0;

  // The earliest due_time of an onboarding that is not leased (or whose lease
  // expires sooner: then the expiry), or nullopt when nothing is due ever.
  [[nodiscard]] virtual absl::StatusOr<std::optional<absl::Time>> NextDueTime() = 0;

  // Appends `calls` to the audit trail, each with a new sequence number (the
  // callers' are ignored). Never changes a stored call.
  [[nodiscard]] virtual absl::Status AppendCloudCalls(const std::vector<CloudCall>& calls) = 0;

  // A page of the audit trail of query.onboarding_id, or else of
  // query.tenant. INVALID_ARGUMENT without either, for a bad page token or a
  // page_size <= 0. An onboarding or tenant without calls gives an empty page.
  [[nodiscard]] virtual absl::StatusOr<CloudCallPage> ListCloudCalls(
      const CloudCallQuery& query) = 0;

  // Events of `id` with sequence > after_sequence, oldest first, at most
  // `limit`. NOT_FOUND for an unknown id.
  [[nodiscard]] virtual absl::StatusOr<std::vector<OnboardingEvent>> ListEvents(
      absl::string_view id, int64_t after_sequence, int limit) = 0;

 protected:
  // UpdateOnboarding's and LeaseDue's implementations (virtuals take no
  // default arguments).
  [[nodiscard]] virtual absl::StatusOr<Onboarding> DoUpdateOnboarding(
      const Onboarding& onboarding, const std::vector<OnboardingEvent>& events,
      absl::string_view release_lease_of, const std::vector<CloudCall>& cloud_calls) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<Onboarding>> DoLeaseDue(
      absl::string_view owner, absl::Time now, absl::Duration lease, int limit,
      const LeaseChange& change) = 0;
};

}  // namespace guestflow
