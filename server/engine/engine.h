// Engine: the commands of the onboarding API (start, get, list, cancel,
// retry, history) over the store, and the scheduler that runs the steps.
// The gRPC services are thin wrappers around it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/common/clock.h"
#include "server/engine/change_feed.h"
#include "server/engine/scheduler.h"
#include "server/engine/step_runner.h"
#include "server/engine/tenant_catalog.h"
#include "server/model/onboarding.h"
#include "server/store/store.h"

namespace guestflow {

struct StartRequest {
  std::string tenant;
  Guest guest;
  OnboardingOptions options;
  std::string request_id;
  bool validate_only = false;
  // Not supported by Dynamics 365 for guests; refused when set.
  bool approve_mailbox = false;
  bool enable_server_side_sync = false;
  std::string batch_id;
  std::string requested_by;  // the caller, as Onboarding::requested_by
};

// Thread-safe; every method may block on the store, so call it from a worker
// thread, not a gRPC thread. Borrows everything it is given.
class Engine {
 public:
  Engine(Store* store, StepRunner* runner, const TenantCatalog* tenants, Clock* clock,
         ChangeFeed* feed, Scheduler* scheduler);

  // Validates and stores a new onboarding (or returns the one `request_id`
  // already started, with created=false). Errors: INVALID_ARGUMENT,
  // NOT_FOUND (tenant), FAILED_PRECONDITION (mailbox approval / server-side
  // sync), ALREADY_EXISTS (request_id reused with other parameters),
  // RESOURCE_EXHAUSTED (the store holds max_unfinished onboardings that have
  // not ended; the message says when to try again). With validate_only,
  // stores nothing and returns the onboarding it would store (no id).
  absl::StatusOr<CreateResult> Start(const StartRequest& request);

  // The bound Start keeps (EngineConfig::max_unfinished; 0: none). The count
  // of unfinished onboardings is read from the store at most once a second
  // and counted up in between, so the bound is approximate by the starts of
  // one second (and by other processes' starts).
  void SetMaxUnfinished(int64_t max);

  absl::StatusOr<Onboarding> Get(absl::string_view id);
  absl::StatusOr<OnboardingPage> List(const ListOnboardingsQuery& query);
  // The audit trail (Store::ListCloudCalls); NOT_FOUND for an unknown
  // onboarding_id.
  absl::StatusOr<CloudCallPage> ListCloudCalls(const CloudCallQuery& query);
  // FAILED_PRECONDITION when already finished.
  absl::StatusOr<Onboarding> Cancel(absl::string_view id);
  // FAILED_PRECONDITION unless FAILED or CANCELLED.
  absl::StatusOr<Onboarding> Retry(absl::string_view id);
  absl::StatusOr<std::vector<OnboardingEvent>> Events(absl::string_view id, int64_t after_sequence,
                                                      int limit);

  // The tenant's configuration, or NOT_FOUND naming it.
  absl::StatusOr<TenantInfo> FindTenant(absl::string_view id) const {
    return tenants_->FindTenant(id);
  }

  ChangeFeed* feed() const { return feed_; }

 private:
  // Applies a command (Cancel/Retry) with optimistic concurrency.
  template <typename Command>
  absl::StatusOr<Onboarding> Apply(absl::string_view id, Command command);

  // OK, or RESOURCE_EXHAUSTED when the bound is reached; counts one start.
  absl::Status ReserveCapacity();
  // Gives back what ReserveCapacity counted (the start found an existing one).
  void ReleaseCapacity();

  Store* const store_;
  StepRunner* const runner_;
  const TenantCatalog* const tenants_;
  Clock* const clock_;
  ChangeFeed* const feed_;
  Scheduler* const scheduler_;

  absl::Mutex capacity_mu_;
  int64_t max_unfinished_ ABSL_GUARDED_BY(capacity_mu_) = 0;
  int64_t unfinished_ ABSL_GUARDED_BY(capacity_mu_) = 0;
  absl::Time counted_at_ ABSL_GUARDED_BY(capacity_mu_) = absl::InfinitePast();
};

// A new onboarding id: time-ordered (so ids sort by creation) and random.
std::string NewOnboardingId();

// A stable fingerprint of what a StartRequest asks for (tenant, guest,
// options), to tell a retried request from another that reuses its id.
std::string RequestFingerprint(const StartRequest& request);

}  // namespace guestflow
