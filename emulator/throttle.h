// The rate-limiting primitives the emulator's TrafficPolicy uses to throttle
// like Microsoft does: a token bucket (Graph resource units and write quota),
// a sliding-window counter (Dataverse requests per 300 s, Power Platform
// admin) and a concurrency limit (Dataverse concurrent requests). Every call
// takes the current time, so tests drive them with any clock they like.
//
// Header-only: the emulator's CMakeLists lists its sources by name, and these
// few small classes need no .cc of their own.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace guestflow::emulator {

// A bucket of `capacity` tokens, refilled continuously at capacity per
// `window` (Graph: "3,500 resource units per 10 seconds"). Starts full.
// Not thread-safe: the owner locks.
class TokenBucket {
 public:
  TokenBucket(double capacity, absl::Duration window, absl::Time now);

  // Takes `cost` tokens and returns zero when they are there; otherwise takes
  // nothing and returns how long until they will be (never zero). A cost
  // above the capacity is charged as the capacity: it passes when the bucket
  // is full, so no request is refused forever.
  absl::Duration TryTake(double cost, absl::Time now);

  // Tokens in the bucket at `now`.
  double Available(absl::Time now);
  double capacity() const { return capacity_; }

 private:
  void Refill(absl::Time now);

  const double capacity_;
  const double per_second_;
  double tokens_;
  absl::Time last_;
};

// At most `limit` events in any `window`-long interval ("6000 requests over
// time window of 300 seconds"). Keeps one timestamp per admitted event, so
// memory is O(limit). Not thread-safe: the owner locks.
class SlidingWindowCounter {
 public:
  SlidingWindowCounter(int64_t limit, absl::Duration window);

  // Records an event and returns zero when it fits; otherwise records
  // nothing and returns how long until the oldest event in the window leaves
  // it (never zero).
  absl::Duration TryAdd(absl::Time now);

  // Events in the window ending at `now`.
  int64_t Count(absl::Time now);
  int64_t limit() const { return limit_; }

 private:
  void Expire(absl::Time now);

  const int64_t limit_;
  const absl::Duration window_;
  std::deque<absl::Time> events_;
};

// Per-key concurrency counts with a limit. Thread-safe.
class ConcurrencyLimiter {
 public:
  // Takes a slot for `key` if fewer than `limit` are taken; true if it did.
  // Every successful TryAcquire must be matched by one Release.
  bool TryAcquire(const std::string& key, int64_t limit);
  void Release(const std::string& key);
  int64_t InFlight(const std::string& key);

 private:
  absl::Mutex mu_;
  std::map<std::string, int64_t> in_flight_ ABSL_GUARDED_BY(mu_);
};

// Implementation.

inline TokenBucket::TokenBucket(double capacity, absl::Duration window, absl::Time now)
    : capacity_(std::max(capacity, 1e-9)),
      per_second_(capacity_ / std::max(absl::ToDoubleSeconds(window), 1e-9)),
      tokens_(capacity_),
      last_(now) {}

inline void TokenBucket::Refill(absl::Time now) {
  if (now <= last_) return;  // a clock that stepped back refills nothing
  tokens_ = std::min(capacity_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
  last_ = now;
}

inline double TokenBucket::Available(absl::Time now) {
  Refill(now);
  return tokens_;
}

inline absl::Duration TokenBucket::TryTake(double cost, absl::Time now) {
  Refill(now);
  cost = std::min(std::max(cost, 0.0), capacity_);
  if (tokens_ >= cost) {
    tokens_ -= cost;
    return absl::ZeroDuration();
  }
  // Rounded up to the microsecond so that waiting exactly this long is enough.
  const double seconds = (cost - tokens_) / per_second_;
  return std::max(absl::Microseconds(std::ceil(seconds * 1e6)), absl::Microseconds(1));
}

inline SlidingWindowCounter::SlidingWindowCounter(int64_t limit, absl::Duration window)
    : limit_(std::max<int64_t>(limit, 1)), window_(window) {}

inline void SlidingWindowCounter::Expire(absl::Time now) {
  while (!events_.empty() && events_.front() + window_ <= now) events_.pop_front();
}

inline int64_t SlidingWindowCounter::Count(absl::Time now) {
  Expire(now);
  return static_cast<int64_t>(events_.size());
}

inline absl::Duration SlidingWindowCounter::TryAdd(absl::Time now) {
  Expire(now);
  if (static_cast<int64_t>(events_.size()) < limit_) {
    events_.push_back(now);
    return absl::ZeroDuration();
  }
  return std::max(events_.front() + window_ - now, absl::Microseconds(1));
}

inline bool ConcurrencyLimiter::TryAcquire(const std::string& key, int64_t limit) {
  absl::MutexLock lock(&mu_);
  int64_t& n = in_flight_[key];
  if (n >= std::max<int64_t>(limit, 1)) return false;
  ++n;
  return true;
}

inline void ConcurrencyLimiter::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  if (--it->second <= 0) in_flight_.erase(it);
}

inline int64_t ConcurrencyLimiter::InFlight(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(key);
  return it == in_flight_.end() ? 0 : it->second;
}

}  // namespace guestflow::emulator
