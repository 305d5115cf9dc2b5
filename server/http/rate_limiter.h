// RateLimiter: keeps the plugins' calls to Microsoft under the documented
// service limits, per app and tenant, and turns one 429 into a pause of
// everything that goes to the same place.
//
// Buckets. Every request belongs to one bucket, its RateKey:
//   graph      client_id + directory. Only writes (any method but GET, HEAD
//              and OPTIONS) count against limits.graph_writes; reads are not
//              limited, but wait out a pause like writes.
//   dataverse  client_id + the host of instance_url. Every request counts
//              against limits.dataverse (rate and concurrency).
//   admin      client_id + directory + the request's URL host (the Power
//              Platform admin API, addUser). Every request counts against
//              limits.admin.
//   any other  ("login", "webhook"...): client_id + directory + the request's
//              URL host. Never limited, only paused.
// A request without a service is taken as "graph" or "dataverse" when its URL
// host is the tenant's graph_url or instance_url host.
//
// Rate, the way Microsoft documents each limit counts:
//   graph      a token bucket (GCRA, no timer): `requests` tokens, refilled
//              evenly over `per`. The whole bucket can go at once, then one
//              request per per / requests.
//   dataverse, a sliding window log: a request may leave when fewer than
//   admin      `requests` requests left in the `per` before it, so no window
//              ever holds more. The whole allowance can go at once; then each
//              slot frees one `per` after the request that took it. The log
//              keeps the times of the last `requests` requests (16 bytes
//              each). (The admin API's counting is not documented; a window
//              is the stricter guess.)
// Either way guestflowd sends what the cloud's own counting allows, less
// RateLimiterOptions::transit_guard.
// Waiting requests of a bucket leave in FIFO order.
//
// Pauses. A response 429, or 503 with Retry-After, pauses the whole bucket
// until Retry-After (delay-seconds, fractional allowed, or an HTTP-date;
// capped at one hour); without Retry-After for 1 s, doubling on each further
// 429 to a request sent after the previous pause began, up to 30 s, and back
// to 1 s after any other answer that is not a 5xx. A pause never gets
// shorter. After a pause, limited requests leave evenly spaced (per /
// requests apart), not in a burst that would likely be throttled again: a
// token bucket starts empty, a window is paced for one `per`.
//
// Waiting. Acquire blocks the calling thread (an engine worker) until its
// slot. When the slot is further away than limits.max_wait, or it has not
// come when max_wait has passed (a pause arrived, no concurrency slot freed),
// the request is refused: the permit says not granted and how long to wait,
// and the caller answers the plugin as throttled without sending.
//
// Time comes from the injected Clock. Each waiting request sleeps on a
// CondVar of its own until its planned slot (the one it gets when those
// before it leave on time), and is woken sooner only when that slot moved
// nearer (one before it gave up) or by a pause, new limits or StopWaiting:
// a request queued behind others sleeps once, and a grant wakes nobody
// else. Behind a concurrency cap, where a slot frees when an answer comes,
// a request waits until it is first (a grant or a freed slot wakes the
// first, and only it), then for its slot. With the
// real clock a wait ends exactly at its slot; with a FakeClock the
// waiter looks at the clock again every RateLimiterOptions::wait_slice of
// real time (tests use 1 ms), so that a test moves time with
// FakeClock::Advance and never sleeps.
//
// Lifecycle: one limiter per process, made at start and kept across config
// reloads; SetLimits applies a reloaded config to the buckets it has, keeping
// their state. Buckets are never dropped (a handful per tenant). The limiter
// must outlive every Permit; no Acquire may be in progress at destruction.
// Thread-safety: every method may be called from any number of threads.
// Errors: none; a refusal is a Permit that is not granted.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/config/config.h"
#include "server/http/http_client.h"

namespace guestflow {

// The bucket a request belongs to (see above).
struct RateKey {
  std::string service;  // "graph", "dataverse", or the request's service
  std::string app;      // the tenant's client_id
  std::string scope;    // graph: directory; dataverse: instance host;
                        // others: "<directory>@<URL host>"

  bool operator<(const RateKey& other) const;
  bool operator==(const RateKey& other) const;
  // "graph app=<client_id> scope=<directory>", for log lines.
  std::string ToString() const;
};

// What happened in one bucket since the limiter was made.
struct RateKeyStats {
  RateKey key;
  int64_t sent = 0;                                  // requests let through
  int64_t waits = 0;                                 // of those, the ones that waited first
  absl::Duration total_wait = absl::ZeroDuration();  // their waits, summed
  int64_t throttled = 0;                             // requests refused locally (never sent)
  int64_t cloud_429 = 0;                             // answers 429 (or 503 with Retry-After) seen
  absl::Time paused_until = absl::InfinitePast();    // past: not paused
  int64_t in_flight = 0;                             // requests holding a concurrency slot now
  int64_t waiting = 0;                               // requests waiting in Acquire now
  // Times a waiting request woke up to look at its slot again: about two per
  // request that waited (once first in line, once at its slot), however
  // many wait behind it.
  int64_t wakeups = 0;
};

struct RateLimiterOptions {
  Clock* clock = nullptr;  // null: Clock::Real()
  // The longest real time a waiter sleeps before it reads the clock again.
  // Infinite (the default) is right for the real clock; set it (e.g. 1 ms)
  // with a FakeClock.
  absl::Duration wait_slice = absl::InfiniteDuration();
  // The cloud counts a request when it arrives, and two requests' trips
  // differ by a few milliseconds: one sent exactly at its slot may arrive a
  // hair early by the cloud's count. Window slots are this much later, and a
  // token bucket holds this much time's worth of tokens less.
  absl::Duration transit_guard = absl::Milliseconds(20);
};

// One replica's share of `limits` when `replicas` processes send for the
// same apps and tenants (they share one database, and so the work): every
// count and concurrency cap divided by `replicas` (rounded down, at least 1;
// 0, "no limit", stays 0), the windows and max_wait as they are. Together the
// replicas then never send more than the limits allow. replicas <= 1: the
// limits as they are.
LimitsConfig ReplicaShare(const LimitsConfig& limits, int replicas);

class RateLimiter {
  struct Bucket;
  struct Waiter;

 public:
  // A request's place: granted (send it, then Finish) or refused (answer
  // throttled, do not send). Move-only. A granted permit holds the bucket's
  // concurrency slot, if it has a concurrency cap, until Finish or Release
  // (the destructor releases).
  class Permit {
   public:
    Permit() = default;  // not granted, no key
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit();

    bool granted() const { return granted_; }
    const RateKey& key() const { return key_; }
    // Refused: how long until a slot is expected (at least one second).
    absl::Duration retry_after() const { return retry_after_; }
    // Granted: how long Acquire waited, and the clock's time at the grant.
    absl::Duration waited() const { return waited_; }
    absl::Time granted_at() const { return granted_at_; }

    // Reports the answer to the request (a 429 pauses the bucket) and frees
    // the concurrency slot. Once; later calls do nothing.
    void Finish(const HttpResponse& response);
    // No answer (transport error): frees the slot, changes nothing else.
    void Release();

   private:
    friend class RateLimiter;

    RateLimiter* limiter_ = nullptr;
    Bucket* bucket_ = nullptr;  // owned by limiter_, never dropped
    RateKey key_;
    bool granted_ = false;
    bool holds_slot_ = false;
    bool finished_ = false;
    absl::Duration retry_after_ = absl::ZeroDuration();
    absl::Duration waited_ = absl::ZeroDuration();
    absl::Time granted_at_ = absl::InfinitePast();
  };

  explicit RateLimiter(const LimitsConfig& limits, RateLimiterOptions options = {});
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // The bucket of `request` sent for `tenant`.
  static RateKey KeyFor(const TenantConfig& tenant, const HttpRequest& request);
  // Whether `method` counts as a write against graph_writes.
  static bool IsWrite(absl::string_view method);
  // A Retry-After value as a delay from `now`: delay-seconds (fractional
  // allowed) or an IMF-fixdate HTTP-date (a date in the past is zero).
  // nullopt for anything else.
  static std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

  // Blocks until `request` may be sent for `tenant`, or refuses it (see
  // above).
  Permit Acquire(const TenantConfig& tenant, const HttpRequest& request);
  Permit Acquire(const RateKey& key, absl::string_view method);

  // Applies new limits to every bucket, now and for new ones. Waiters
  // re-plan at once. Pauses, what was sent and slots held are kept.
  void SetLimits(const LimitsConfig& limits);
  LimitsConfig limits() const;

  // From now on nothing waits: waiters and new requests that would have to
  // wait are refused at once (for shutdown). Not undone.
  void StopWaiting();

  // Every bucket's counters, ordered by key.
  std::vector<RateKeyStats> Snapshot() const;

 private:
  Bucket& BucketFor(const RateKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyLimits(Bucket& bucket, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The earliest time the limited request at `position` of the bucket's
  // queue may leave, as far as the window, a pause and the pacing after it
  // go.
  absl::Time EarliestSlot(const Bucket& bucket, absl::Time now, size_t position) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Pause(Bucket& bucket, absl::Time now, absl::Time until) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps on `cv` until `wake_at` on the clock, a signal, or one
  // wait_slice.
  void WaitUntil(absl::CondVar& cv, absl::Time now, absl::Time wake_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the first limited request waiting in line (its turn may have
  // come: the one before it left, or a concurrency slot freed), unless it
  // is asleep only until its slot, as of `now`, anyway.
  void SignalFirst(Bucket& bucket, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes every request waiting in the bucket (a pause, new limits,
  // StopWaiting: any of them may now be refused).
  void SignalEveryone(Bucket& bucket) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Permit Refuse(Bucket& bucket, absl::Duration retry_after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Permit Grant(Bucket& bucket, absl::Time start, absl::Time now, bool take_slot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(Permit& permit, const HttpResponse* response);

  Clock* const clock_;
  const absl::Duration wait_slice_;
  const absl::Duration transit_guard_;

  mutable absl::Mutex mu_;
  LimitsConfig limits_ ABSL_GUARDED_BY(mu_);
  bool stop_waiting_ ABSL_GUARDED_BY(mu_) = false;
  std::map<RateKey, std::unique_ptr<Bucket>> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow
