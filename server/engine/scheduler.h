// Scheduler: runs due steps. It leases due onboardings from the store, runs
// their current step on a bounded worker pool through the StepRunner, and
// stores the outcome. A step that must wait is written back with its due time
// and the worker moves on: nothing sleeps in a worker thread. A step whose
// predecessor has just succeeded is due at once: the worker goes on with it
// under the same lease, and the write that stores one step's outcome also
// marks the next one running (one store write per step).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/engine/change_feed.h"
#include "server/engine/retry_policy.h"
#include "server/engine/step_runner.h"
#include "server/engine/worker_pool.h"
#include "server/store/store.h"

namespace guestflow {

struct SchedulerOptions {
  std::string owner = "guestflowd";  // lease owner name, unique per process
  int workers = 4;
  absl::Duration lease = absl::Seconds(60);
  // Longest sleep between looks at the store when nothing is known to be due
  // (picks up work written by someone else).
  absl::Duration idle_poll = absl::Seconds(2);
  RetryPolicy retry;
};

// Thread-safe. Lifecycle: construct, Start() once, Wake() any time, Stop()
// once (also done by the destructor). The store, runner, clock and feed are
// borrowed and must outlive the scheduler.
class Scheduler {
 public:
  Scheduler(Store* store, StepRunner* runner, Clock* clock, ChangeFeed* feed,
            SchedulerOptions options);
  ~Scheduler();

  // Starts the lease loop and the workers.
  void Start();

  // Something became due (a new onboarding, a retry): look now.
  void Wake();

  // Stops leasing, lets running steps finish for up to `grace` (their
  // outcomes are stored), and releases the leases of what did not start.
  // Steps still running after `grace` are abandoned to their lease expiry.
  void Stop(absl::Duration grace);

  // Leases what is due now and runs it on the calling thread, one step per
  // onboarding; returns how many steps ran. For tests with a FakeClock; do not
  // mix with Start(). (The workers of Start() go on with an onboarding's next
  // step when it is due at once, without leasing it again.)
  absl::StatusOr<int> RunDueNow(int limit = 1000);

  // Steps running now.
  int InFlight() const { return in_flight_.load(); }

  // Whether Stop() has been called.
  bool Stopping();

 private:
  void Loop();
  // Extends the leases of the steps running now, every lease / 3: a step
  // may take longer than one lease (slow answers, waits for a rate limit),
  // and an expired lease would hand it to another worker while it runs.
  void RenewLeases();
  // An onboarding this scheduler leased; `begun` when the lease's write also
  // marked its current step RUNNING (and announced it).
  struct Leased {
    Onboarding onboarding;
    bool begun = false;
  };
  // Leases at most `limit` due onboardings and, in the same write, marks the
  // current step of each RUNNING (BeginStep): one write where a lease and a
  // begin took two. An onboarding BeginStep refuses is leased as it was.
  absl::StatusOr<std::vector<Leased>> LeaseAndBegin(int limit);
  // Runs the current step of a leased onboarding and stores its outcome;
  // with `go_on`, then every next step that is due at once, under the same
  // lease (see RunStepOf). Gives the lease back when it stops.
  void RunLeased(Leased leased, bool go_on);
  // Marks the current step RUNNING in the store unless the lease did, then
  // runs steps as RunLeased says.
  absl::Status RunSteps(Leased leased, bool go_on);
  // Runs the step `onboarding` has RUNNING in the store and stores its
  // outcome. With `go_on`, when the next step is due at once and the
  // scheduler is not stopping, that write also marks the next step RUNNING
  // and keeps the lease: returns the onboarding so stored, whose step to
  // run next. Otherwise the write releases the lease: returns nullopt.
  absl::StatusOr<std::optional<Onboarding>> RunStepOf(Onboarding onboarding, bool go_on);
  // RunStepOf's write: the outcome of step `kind` and its cloud calls (and
  // the start of the next step), retried over a concurrent change.
  absl::StatusOr<std::optional<Onboarding>> StoreOutcome(Onboarding onboarding, StepKind kind,
                                                         const StepOutcome& outcome, bool go_on,
                                                         double run_seconds);
  // Tells the watchers of the onboarding (and of its batch) it changed.
  void Announce(const Onboarding& onboarding);

  Store* const store_;
  StepRunner* const runner_;
  Clock* const clock_;
  ChangeFeed* const feed_;
  const SchedulerOptions options_;

  absl::Mutex mu_;
  // The loop's conditions to stop waiting: with every worker busy, and not.
  bool SlotFreed() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool WokenUp() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  bool wake_ ABSL_GUARDED_BY(mu_) = false;        // Wake(): something may be due
  bool slot_freed_ ABSL_GUARDED_BY(mu_) = false;  // a worker finished
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
  std::atomic<int> in_flight_{0};
  absl::Mutex running_mu_;
  std::set<std::string> running_ ABSL_GUARDED_BY(running_mu_);  // ids leased by Loop
  absl::Time renewed_at_ = absl::InfinitePast();                // Loop's thread only
  std::unique_ptr<WorkerPool> pool_;
  std::thread loop_;
};

}  // namespace guestflow
