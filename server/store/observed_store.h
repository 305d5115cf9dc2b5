// ObservedStore: a Store that forwards every call to another one and, after
// every write of an onboarding (CreateOnboarding, UpdateOnboarding, a
// LeaseDue with a change) returns,
// whatever it returned, tells an observer that onboarding's id. What keeps a
// cache of onboardings coherent with the store (server/api/onboarding_cache.h)
// without trusting each writer to say what it wrote: every writer of a
// process (engine, scheduler, batch import, admin) holds this one object.
//
// It sees the writes of this process only: it is for a store that one
// process owns (SQLite). Replicas sharing a PostgreSQL database write behind
// each other's backs, and hear of it only later (LISTEN/NOTIFY).
//
// Thread-safe as the inner store is; the observer is called on the writing
// thread, with no lock held, and must be thread-safe and quick.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/store/store.h"

namespace guestflow {

class ObservedStore final : public Store {
 public:
  using Observer = std::function<void(absl::string_view onboarding_id)>;

  ObservedStore(std::unique_ptr<Store> inner, Observer after_write)
      : inner_(std::move(inner)), after_write_(std::move(after_write)) {}

  [[nodiscard]] absl::StatusOr<CreateResult> CreateOnboarding(
      const Onboarding& onboarding, const OnboardingEvent& first_event) override;
  [[nodiscard]] absl::StatusOr<Onboarding> GetOnboarding(absl::string_view id) override;
  [[nodiscard]] absl::StatusOr<OnboardingPage> ListOnboardings(
      const ListOnboardingsQuery& query) override;
  [[nodiscard]] absl::StatusOr<std::optional<Onboarding>> FindByRequestId(
      absl::string_view tenant, absl::string_view request_id) override;
  [[nodiscard]] absl::StatusOr<int64_t> CountUnfinished() override;
  [[nodiscard]] absl::StatusOr<OnboardingStats> Stats(absl::Time now) override;
  [[nodiscard]] absl::StatusOr<bool> RenewLease(absl::string_view id, absl::string_view owner,
                                                absl::Time until) override;
  [[nodiscard]] absl::Status ReleaseLease(absl::string_view id, absl::string_view owner) override;
  [[nodiscard]] absl::Status ReleaseAllLeases() override;
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
  const std::unique_ptr<Store> inner_;
  const Observer after_write_;
};

}  // namespace guestflow
