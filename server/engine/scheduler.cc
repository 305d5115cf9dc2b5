#include "server/engine/scheduler.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "server/common/logging.h"
#include "server/common/status_macros.h"
#include "server/engine/state_machine.h"
#include "server/metrics/metrics.h"

namespace guestflow {
namespace {

// How often a stale write (the record changed while the step ran) is merged
// and tried again before giving up to the lease expiry.
constexpr int kMaxConflictRetries = 5;

std::string Context(const Onboarding& o, const Step* step) {
  return absl::StrCat(
      "onboarding=", o.id, " tenant=", o.tenant,
      step != nullptr ? absl::StrCat(" step=", StepName(step->kind)) : "",
      step != nullptr && !step->plugin.empty() ? absl::StrCat(" plugin=", step->plugin) : "");
}

metrics::Counter* const step_outcomes = metrics::Counter::New(
    "guestflow_step_outcomes_total",
    "Step runs, by step, plugin and the state the run left the step in (SUCCEEDED, FAILED, "
    "WAITING for a retry or for the cloud, ...).",
    {"step", "plugin", "outcome"});
metrics::Histogram* const step_duration = metrics::Histogram::New(
    "guestflow_step_duration_seconds", "Time one run of a step takes in its plugin.",
    {"step", "plugin"}, metrics::Histogram::LatencyBuckets());

}  // namespace

Scheduler::Scheduler(Store* store, StepRunner* runner, Clock* clock, ChangeFeed* feed,
                     SchedulerOptions options)
    : store_(store), runner_(runner), clock_(clock), feed_(feed), options_(std::move(options)) {}

Scheduler::~Scheduler() { Stop(absl::ZeroDuration()); }

void Scheduler::Start() {
  // The queue never holds more than the free worker slots: the loop leases
  // only as much as it can start.
  pool_ = std::make_unique<WorkerPool>("steps", options_.workers,
                                       static_cast<size_t>(options_.workers) * 2);
  loop_ = std::thread([this] { Loop(); });
}

bool Scheduler::SlotFreed() const { return slot_freed_ || stopping_; }
bool Scheduler::WokenUp() const { return wake_ || slot_freed_ || stopping_; }

void Scheduler::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void Scheduler::Stop(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (loop_.joinable()) loop_.join();
  if (pool_ == nullptr) return;
  const absl::Time deadline = absl::Now() + grace;
  while (pool_->Pending() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  if (pool_->Pending() == 0) {
    pool_->Shutdown();
  } else {
    LogWarn(
        absl::StrCat("stopping with ", in_flight_.load(),
                     " step(s) still running; their leases will expire and they will run again"));
    // The threads cannot be interrupted inside a plugin call; leave them to
    // the process exit rather than block shutdown forever.
    pool_.release();  // NOLINT(bugprone-unused-return-value): deliberately leaked
  }
}

void Scheduler::RenewLeases() {
  const absl::Time now = clock_->Now();
  if (now - renewed_at_ < options_.lease / 3) return;
  renewed_at_ = now;
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&running_mu_);
    ids.assign(running_.begin(), running_.end());
  }
  for (const std::string& id : ids) {
    absl::StatusOr<bool> held = store_->RenewLease(id, options_.owner, now + options_.lease);
    if (!held.ok()) {
      LogError(absl::StrCat("cannot renew a lease: ", held.status().ToString()),
               absl::StrCat("onboarding=", id));
    } else if (!*held) {
      // Its step ended meanwhile, or the lease expired and was taken: then
      // the version check refuses this worker's late write.
      LogDebug("lease no longer held while renewing", absl::StrCat("onboarding=", id));
    }
  }
}

void Scheduler::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      wake_ = false;
      slot_freed_ = false;
    }
    RenewLeases();
    const int free_slots = options_.workers - in_flight_.load();
    if (free_slots > 0) {
      absl::StatusOr<std::vector<Leased>> leased = LeaseAndBegin(free_slots);
      if (!leased.ok()) {
        LogError(absl::StrCat("cannot lease due onboardings: ", leased.status().ToString()));
      } else {
        for (Leased& l : *leased) {
          ++in_flight_;
          std::string id = l.onboarding.id;
          {
            absl::MutexLock lock(&running_mu_);
            running_.insert(id);
          }
          if (!pool_->TrySubmit([this, l = std::move(l)]() mutable {
                const std::string id = l.onboarding.id;
                RunLeased(std::move(l), /*go_on=*/true);
                absl::MutexLock lock(&running_mu_);
                running_.erase(id);
              })) {
            // Only when the pool is shutting down or full (it has room for
            // a task per free slot).
            // The step the lease began stays RUNNING: whoever leases it
            // next resumes it (step_resumed), as after a crash.
            --in_flight_;
            {
              absl::MutexLock lock(&running_mu_);
              running_.erase(id);
            }
            (void)store_->ReleaseLease(id, options_.owner);
          }
        }
      }
    }
    // Sleep until the next due time, a wake-up, or the idle poll.
    absl::Duration wait = options_.idle_poll;
    // With every worker busy nothing can be leased, so a Wake() (a new
    // onboarding, every StartOnboarding) is left for when a worker frees a
    // slot: it does not wake the loop only to find the pool full again.
    const bool full = in_flight_.load() >= options_.workers;
    if (!full) {
      absl::StatusOr<std::optional<absl::Time>> next = store_->NextDueTime();
      if (next.ok() && next->has_value()) {
        wait = std::clamp(**next - clock_->Now(), absl::ZeroDuration(), options_.idle_poll);
      }
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, full ? &Scheduler::SlotFreed : &Scheduler::WokenUp),
                         std::max(wait, absl::Milliseconds(1)));
  }
}

absl::StatusOr<int> Scheduler::RunDueNow(int limit) {
  GF_ASSIGN_OR_RETURN(std::vector<Leased> leased, LeaseAndBegin(limit));
  int ran = 0;
  for (Leased& l : leased) {
    ++in_flight_;
    RunLeased(std::move(l), /*go_on=*/false);
    ++ran;
  }
  return ran;
}

absl::StatusOr<std::vector<Scheduler::Leased>> Scheduler::LeaseAndBegin(int limit) {
  const absl::Time now = clock_->Now();
  // The version each onboarding had when BeginStep changed it. The store may
  // call the change again (a transaction tried twice) and gives back what it
  // stored: the change was stored when the version given back is the next.
  absl::flat_hash_map<std::string, int64_t> begun;
  GF_ASSIGN_OR_RETURN(
      std::vector<Onboarding> onboardings,
      store_->LeaseDue(options_.owner, now, options_.lease, limit,
                       [&](Onboarding& o) -> absl::StatusOr<std::vector<OnboardingEvent>> {
                         GF_ASSIGN_OR_RETURN(std::vector<OnboardingEvent> events,
                                             BeginStep(o, now, options_.owner));
                         begun[o.id] = o.version;
                         return events;
                       }));
  std::vector<Leased> leased;
  leased.reserve(onboardings.size());
  for (Onboarding& o : onboardings) {
    const auto it = begun.find(o.id);
    const bool was_begun = it != begun.end() && o.version == it->second + 1;
    if (was_begun) Announce(o);
    leased.push_back(Leased{std::move(o), was_begun});
  }
  return leased;
}

bool Scheduler::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void Scheduler::RunLeased(Leased leased, bool go_on) {
  const std::string id = leased.onboarding.id;
  absl::Status status = RunSteps(std::move(leased), go_on);
  if (!status.ok()) {
    LogError(absl::StrCat("step not stored: ", status.ToString()), absl::StrCat("onboarding=", id));
    (void)store_->ReleaseLease(id, options_.owner);
  }
  --in_flight_;
  // A finished worker frees a slot: let the loop lease more at once.
  absl::MutexLock lock(&mu_);
  slot_freed_ = true;
}

void Scheduler::Announce(const Onboarding& o) {
  feed_->Publish(o.id);
  if (!o.batch_id.empty()) feed_->Publish(BatchFeedKey(o.batch_id));
}

absl::Status Scheduler::RunSteps(Leased leased, bool go_on) {
  Onboarding o = std::move(leased.onboarding);
  // Record that the step is running, so that a crash from here on is seen as
  // "this step was started" and the step (idempotent) runs again. The lease
  // usually did (LeaseAndBegin).
  if (!leased.begun) {
    GF_ASSIGN_OR_RETURN(std::vector<OnboardingEvent> begin_events,
                        BeginStep(o, clock_->Now(), options_.owner));
    GF_ASSIGN_OR_RETURN(o, store_->UpdateOnboarding(o, begin_events));
    Announce(o);
  }
  while (true) {
    GF_ASSIGN_OR_RETURN(std::optional<Onboarding> next, RunStepOf(std::move(o), go_on));
    if (!next.has_value()) return absl::OkStatus();
    o = *std::move(next);
  }
}

absl::StatusOr<std::optional<Onboarding>> Scheduler::RunStepOf(Onboarding o, bool go_on) {
  // 1. The step is RUNNING in the store (the lease, RunSteps, or the
  //    previous step's outcome write).
  const StepKind kind = CurrentStep(o)->kind;
  LogInfo("step started", Context(o, CurrentStep(o)));

  // 2. Run it. This may take seconds; nothing is locked meanwhile.
  const absl::Time run_start = clock_->Now();
  StepOutcome outcome = runner_->Run(o, kind);
  const double run_seconds = absl::ToDoubleSeconds(clock_->Now() - run_start);

  // The audit trail of what the step sent, whatever happens to its outcome
  // next: those calls took place. They are stored with the outcome, or on
  // their own when the outcome cannot be.
  for (CloudCall& c : outcome.cloud_calls) {
    c.actor = options_.owner;
    c.caller = o.requested_by;
  }
  const std::string id = o.id;
  absl::StatusOr<std::optional<Onboarding>> stored =
      StoreOutcome(std::move(o), kind, outcome, go_on, run_seconds);
  if (!stored.ok() && !outcome.cloud_calls.empty()) {
    if (absl::Status audited = store_->AppendCloudCalls(outcome.cloud_calls); !audited.ok()) {
      LogError(absl::StrCat("cannot store ", outcome.cloud_calls.size(),
                            " cloud call(s) in the audit trail: ", audited.ToString()),
               absl::StrCat("onboarding=", id, " step=", StepName(kind)));
    }
  }
  return stored;
}

absl::StatusOr<std::optional<Onboarding>> Scheduler::StoreOutcome(Onboarding o, StepKind kind,
                                                                  const StepOutcome& outcome,
                                                                  bool go_on, double run_seconds) {
  // 3. Store the outcome and the step's cloud calls, in one write. If the
  //    record changed meanwhile (cancelled), keep the outputs the step
  //    produced, which a later retry needs to stay idempotent, and drop the
  //    rest. When the next step is due at once, the same write marks it
  //    RUNNING and keeps the lease, and this worker goes on with it: a step
  //    then costs one write, not four (lease, begin, calls, outcome).
  //    Otherwise the write gives the lease back.
  for (int i = 0; i < kMaxConflictRetries; ++i) {
    Onboarding next = o;
    std::vector<OnboardingEvent> events;
    bool goes_on = false;
    const bool stopping = go_on && Stopping();
    {
      absl::MutexLock lock(&rng_mu_);
      const absl::Time now = clock_->Now();
      absl::StatusOr<std::vector<OnboardingEvent>> applied =
          ApplyOutcome(next, kind, outcome, now, options_.retry, rng_);
      if (applied.ok()) {
        events = *std::move(applied);
        goes_on = go_on && !IsTerminal(next.state) && next.due_time.has_value() &&
                  *next.due_time <= now && !stopping;
        if (goes_on) {
          absl::StatusOr<std::vector<OnboardingEvent>> begun = BeginStep(next, now, options_.owner);
          goes_on = begun.ok();
          if (goes_on) events.insert(events.end(), begun->begin(), begun->end());
        }
      } else {
        // Not running this step any more: only merge the outputs.
        if (Step* s = next.FindStep(kind)) {
          for (const auto& [k, v] : outcome.outputs) s->outputs[k] = v;
        }
        events.push_back(OnboardingEvent{
            0, now, "step_result_ignored", kind,
            absl::StrCat(StepName(kind),
                         " finished after the onboarding changed: ", applied.status().message())});
      }
    }
    absl::StatusOr<Onboarding> stored =
        store_->UpdateOnboarding(next, events, goes_on ? "" : options_.owner, outcome.cloud_calls);
    if (stored.ok()) {
      Announce(*stored);
      const Step* step = stored->FindStep(kind);
      const std::string plugin = step->plugin.empty() ? "-" : step->plugin;
      step_outcomes->Add(
          {std::string(StepName(kind)), plugin, std::string(StepStateName(step->state))});
      step_duration->Observe({std::string(StepName(kind)), plugin}, run_seconds);
      LogInfo(absl::StrCat("step ", StepStateName(step->state)),
              absl::StrCat(Context(*stored, step), " state=", OnboardingStateName(stored->state)));
      if (!goes_on) return std::nullopt;
      return *std::move(stored);
    }
    if (!absl::IsAborted(stored.status())) return stored.status();
    GF_ASSIGN_OR_RETURN(o, store_->GetOnboarding(o.id));
  }
  return absl::AbortedError(
      absl::StrCat("onboarding ", o.id, " kept changing while storing step ", StepName(kind)));
}

}  // namespace guestflow
