#include "server/store/observed_store.h"

#include <algorithm>
#include <string>
#include <vector>

namespace guestflow {

// A write that failed may still have committed (an error after the commit,
// or an ABORTED that means someone else wrote meanwhile): the observer hears
// of every attempt, which costs a reader one store read at most.
absl::StatusOr<CreateResult> ObservedStore::CreateOnboarding(const Onboarding& onboarding,
                                                             const OnboardingEvent& first_event) {
  absl::StatusOr<CreateResult> result = inner_->CreateOnboarding(onboarding, first_event);
  after_write_(onboarding.id);
  return result;
}

absl::StatusOr<Onboarding> ObservedStore::DoUpdateOnboarding(
    const Onboarding& onboarding, const std::vector<OnboardingEvent>& events,
    absl::string_view release_lease_of, const std::vector<CloudCall>& cloud_calls) {
  absl::StatusOr<Onboarding> result =
      inner_->UpdateOnboarding(onboarding, events, release_lease_of, cloud_calls);
  after_write_(onboarding.id);
  return result;
}

// Leases and the audit trail are not part of an onboarding as read
// (GetOnboarding): those writes go through unobserved, but for a lease that
// changes the onboardings it leases (DoLeaseDue).

absl::StatusOr<Onboarding> ObservedStore::GetOnboarding(absl::string_view id) {
  return inner_->GetOnboarding(id);
}

absl::StatusOr<OnboardingPage> ObservedStore::ListOnboardings(const ListOnboardingsQuery& query) {
  return inner_->ListOnboardings(query);
}

absl::StatusOr<std::optional<Onboarding>> ObservedStore::FindByRequestId(
    absl::string_view tenant, absl::string_view request_id) {
  return inner_->FindByRequestId(tenant, request_id);
}

absl::StatusOr<int64_t> ObservedStore::CountUnfinished() { return inner_->CountUnfinished(); }

absl::StatusOr<OnboardingStats> ObservedStore::Stats(absl::Time now) { return inner_->Stats(now); }

absl::StatusOr<std::vector<Onboarding>> ObservedStore::DoLeaseDue(absl::string_view owner,
                                                                  absl::Time now,
                                                                  absl::Duration lease, int limit,
                                                                  const LeaseChange& change) {
  // A lease alone changes nothing a reader sees; a lease with a change
  // does. As for any write, the observer hears of every onboarding the
  // change was applied to, whatever the lease returns: a failed commit may
  // still have stored it. The change runs while this call waits (on this
  // thread or, in a shared SQLite transaction, on the one that commits it).
  if (!change) return inner_->LeaseDue(owner, now, lease, limit, nullptr);
  std::vector<std::string> changed;
  absl::StatusOr<std::vector<Onboarding>> leased = inner_->LeaseDue(
      owner, now, lease, limit, [&](Onboarding& o) -> absl::StatusOr<std::vector<OnboardingEvent>> {
        absl::StatusOr<std::vector<OnboardingEvent>> events = change(o);
        if (events.ok()) changed.push_back(o.id);
        return events;
      });
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  for (const std::string& id : changed) after_write_(id);
  return leased;
}

absl::StatusOr<bool> ObservedStore::RenewLease(absl::string_view id, absl::string_view owner,
                                               absl::Time until) {
  return inner_->RenewLease(id, owner, until);
}

absl::Status ObservedStore::ReleaseLease(absl::string_view id, absl::string_view owner) {
  return inner_->ReleaseLease(id, owner);
}

absl::Status ObservedStore::ReleaseAllLeases() { return inner_->ReleaseAllLeases(); }

absl::StatusOr<std::optional<absl::Time>> ObservedStore::NextDueTime() {
  return inner_->NextDueTime();
}

absl::Status ObservedStore::AppendCloudCalls(const std::vector<CloudCall>& calls) {
  return inner_->AppendCloudCalls(calls);
}

absl::StatusOr<CloudCallPage> ObservedStore::ListCloudCalls(const CloudCallQuery& query) {
  return inner_->ListCloudCalls(query);
}

absl::StatusOr<std::vector<OnboardingEvent>> ObservedStore::ListEvents(absl::string_view id,
                                                                       int64_t after_sequence,
                                                                       int limit) {
  return inner_->ListEvents(id, after_sequence, limit);
}

}  // namespace guestflow
