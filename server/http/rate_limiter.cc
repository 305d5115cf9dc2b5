#include "server/http/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/logging.h"

namespace guestflow {
namespace {

// A Retry-After far in the future is more likely a broken header than a real
// request to stay away that long; the plugins' own retries go on after it.
constexpr absl::Duration kMaxPause = absl::Hours(1);
constexpr absl::Duration kFirstBackoff = absl::Seconds(1);
constexpr absl::Duration kMaxBackoff = absl::Seconds(30);
constexpr absl::Duration kMinRetryAfter = absl::Seconds(1);
// Retry-After delay-seconds beyond this are taken as this (then capped by
// kMaxPause); it keeps absl::Seconds(double) far from overflow.
constexpr double kMaxRetryAfterSeconds = 86400.0 * 365;

constexpr char kGraph[] = "graph";
constexpr char kDataverse[] = "dataverse";
constexpr char kAdmin[] = "admin";

// The lower-case host[:port] of an absolute URL, or "".
std::string UrlHost(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return "";
  absl::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  return absl::AsciiStrToLower(authority);
}

}  // namespace

bool RateKey::operator<(const RateKey& other) const {
  return std::tie(service, app, scope) < std::tie(other.service, other.app, other.scope);
}

bool RateKey::operator==(const RateKey& other) const {
  return service == other.service && app == other.app && scope == other.scope;
}

std::string RateKey::ToString() const {
  return absl::StrCat(service.empty() ? "(no service)" : service, " app=", app, " scope=", scope);
}

struct RateLimiter::Bucket {
  explicit Bucket(RateKey k) : key(std::move(k)) {}

  const RateKey key;

  // From the limits (ApplyLimits).
  bool writes_only = false;  // graph: reads are never limited
  bool rate_on = false;
  bool token_bucket = false;                      // graph; otherwise a window log
  int64_t requests = 0;                           // at most this many ...
  absl::Duration per = absl::ZeroDuration();      // ... per this long
  absl::Duration spacing = absl::ZeroDuration();  // per / requests
  int64_t concurrent = 0;                         // 0: no cap

  // Token bucket: GCRA's theoretical arrival time; a request may leave at
  // tat - tolerance, tolerance being (requests - 1) * spacing.
  absl::Time tat = absl::InfinitePast();
  absl::Duration tolerance = absl::ZeroDuration();
  // Window log: when the last `requests` limited requests left, oldest first.
  std::deque<absl::Time> sent;
  // After a pause, until recover_until: the next limited request leaves no
  // earlier than paced_from, and each one pushes it `spacing` further.
  absl::Time paced_from = absl::InfinitePast();
  absl::Time recover_until = absl::InfinitePast();
  absl::Time paused_until = absl::InfinitePast();
  absl::Time pause_started = absl::InfinitePast();
  // The last pause taken without Retry-After; zero after a success.
  absl::Duration backoff = absl::ZeroDuration();
  int64_t in_flight = 0;
  // The limited requests waiting, in arrival order. Each sleeps on its own
  // CondVar: a grant or a freed slot wakes the one now first, not the whole
  // line (which would wake, look and sleep again, once per grant).
  std::deque<Waiter*> queue;
  int64_t unlimited_waiting = 0;
  absl::CondVar cv;  // the unlimited requests waiting for a pause to end
  RateKeyStats stats;
};

struct RateLimiter::Waiter {
  absl::CondVar cv;
  // When it wakes by itself: its planned slot, or its deadline.
  absl::Time wake_at = absl::InfiniteFuture();
};

void RateLimiter::SignalFirst(Bucket& b, absl::Time now) {
  if (b.queue.empty()) return;
  Waiter& first = *b.queue.front();
  // A first that wakes by itself by its slot needs no signal: the slots of a
  // line follow each other as planned unless someone left it (or a cap holds
  // it back, and then only a signal says a slot is free).
  if (b.concurrent == 0 && first.wake_at <= EarliestSlot(b, now, 0)) return;
  first.cv.Signal();
}

void RateLimiter::SignalEveryone(Bucket& b) {
  for (Waiter* waiter : b.queue) waiter->cv.Signal();
  b.cv.SignalAll();
}

// ---- Permit ----------------------------------------------------------------

RateLimiter::Permit::Permit(Permit&& other) noexcept { *this = std::move(other); }

RateLimiter::Permit& RateLimiter::Permit::operator=(Permit&& other) noexcept {
  if (this == &other) return *this;
  Release();
  limiter_ = std::exchange(other.limiter_, nullptr);
  bucket_ = std::exchange(other.bucket_, nullptr);
  key_ = std::move(other.key_);
  granted_ = std::exchange(other.granted_, false);
  holds_slot_ = std::exchange(other.holds_slot_, false);
  finished_ = std::exchange(other.finished_, false);
  retry_after_ = other.retry_after_;
  waited_ = other.waited_;
  granted_at_ = other.granted_at_;
  return *this;
}

RateLimiter::Permit::~Permit() { Release(); }

void RateLimiter::Permit::Finish(const HttpResponse& response) {
  if (limiter_ != nullptr) limiter_->Finish(*this, &response);
}

void RateLimiter::Permit::Release() {
  if (limiter_ != nullptr) limiter_->Finish(*this, nullptr);
}

// ---- RateLimiter -----------------------------------------------------------

RateLimiter::RateLimiter(const LimitsConfig& limits, RateLimiterOptions options)
    : clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      wait_slice_(options.wait_slice > absl::ZeroDuration() ? options.wait_slice
                                                            : absl::InfiniteDuration()),
      transit_guard_(std::max(options.transit_guard, absl::ZeroDuration())),
      limits_(limits) {}

RateLimiter::~RateLimiter() = default;

RateKey RateLimiter::KeyFor(const TenantConfig& tenant, const HttpRequest& request) {
  RateKey key;
  key.service = absl::AsciiStrToLower(request.service);
  key.app = absl::AsciiStrToLower(tenant.client_id);
  const std::string host = UrlHost(request.url);
  // A plugin that forgets to name the service must not slip past the limits.
  if (key.service.empty() && !host.empty()) {
    if (host == UrlHost(tenant.graph_url)) {
      key.service = kGraph;
    } else if (host == UrlHost(tenant.instance_url)) {
      key.service = kDataverse;
    }
  }
  const std::string directory = absl::AsciiStrToLower(tenant.directory);
  if (key.service == kGraph) {
    key.scope = directory;
  } else if (key.service == kDataverse) {
    key.scope = UrlHost(tenant.instance_url);
  } else {
    key.scope = absl::StrCat(directory, "@", host);
  }
  return key;
}

bool RateLimiter::IsWrite(absl::string_view method) {
  return !absl::EqualsIgnoreCase(method, "GET") && !absl::EqualsIgnoreCase(method, "HEAD") &&
         !absl::EqualsIgnoreCase(method, "OPTIONS");
}

std::optional<absl::Duration> RateLimiter::ParseRetryAfter(absl::string_view value,
                                                           absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return absl::ascii_isdigit(c) || c == '.'; })) {
    double seconds = 0;
    if (!absl::SimpleAtod(value, &seconds) || !std::isfinite(seconds) || seconds < 0) {
      return std::nullopt;
    }
    return absl::Seconds(std::min(seconds, kMaxRetryAfterSeconds));
  }
  // IMF-fixdate, the only HTTP-date form a sender may generate (RFC 9110
  // 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
  constexpr absl::string_view kGmt = " GMT";
  if (!absl::EndsWith(value, kGmt)) return std::nullopt;
  value.remove_suffix(kGmt.size());
  absl::Time date;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S", value, absl::UTCTimeZone(), &date, &error)) {
    return std::nullopt;
  }
  return std::max(date - now, absl::ZeroDuration());
}

RateLimiter::Bucket& RateLimiter::BucketFor(const RateKey& key) {
  std::unique_ptr<Bucket>& bucket = buckets_[key];
  if (bucket == nullptr) {
    bucket = std::make_unique<Bucket>(key);
    bucket->stats.key = key;
    ApplyLimits(*bucket, clock_->Now());
  }
  return *bucket;
}

void RateLimiter::ApplyLimits(Bucket& b, absl::Time now) {
  const RateLimitConfig* limit = nullptr;
  if (b.key.service == kGraph) {
    limit = &limits_.graph_writes;
    b.writes_only = true;
  } else if (b.key.service == kDataverse) {
    limit = &limits_.dataverse;
  } else if (b.key.service == kAdmin) {
    limit = &limits_.admin;
  }
  if (limit == nullptr) {
    b.rate_on = false;
    b.concurrent = 0;
    return;
  }
  b.concurrent = std::max<int64_t>(0, limit->concurrent);
  const bool was_on = b.rate_on;
  const absl::Duration old_spacing = b.spacing;
  b.rate_on = limit->requests > 0 && limit->per > absl::ZeroDuration();
  if (!b.rate_on) {
    b.sent.clear();
    return;
  }
  b.token_bucket = b.key.service == kGraph;
  b.requests = limit->requests;
  b.per = limit->per;
  // Rounded up: never faster than the limit.
  b.spacing = absl::Ceil(limit->per / limit->requests, absl::Nanoseconds(1));
  b.tolerance = std::max(b.spacing * (b.requests - 1) - transit_guard_, absl::ZeroDuration());
  if (b.token_bucket) {
    // The requests the bucket owes (tat ahead of now) stay owed, counted at
    // the new rate; a bucket that was not limited owes nothing.
    if (!was_on) {
      b.tat = std::min(b.tat, now);
    } else if (b.tat > now && old_spacing > absl::ZeroDuration()) {
      b.tat = now + b.spacing * absl::FDivDuration(b.tat - now, old_spacing);
    }
    if (b.paused_until > now) b.tat = std::max(b.tat, b.paused_until + b.tolerance);
  } else {
    // The requests already sent stay in the log: a smaller limit is felt at
    // once. Only the newest `requests` can matter.
    while (static_cast<int64_t>(b.sent.size()) > b.requests) b.sent.pop_front();
    if (b.paused_until > now) b.recover_until = b.paused_until + b.per;
  }
}

absl::Time RateLimiter::EarliestSlot(const Bucket& b, absl::Time now, size_t position) const {
  absl::Time slot = std::max(now, b.paused_until);
  if (!b.rate_on) return slot;
  if (b.token_bucket) {
    return std::max(
        slot, std::max(b.tat, now) + b.spacing * static_cast<int64_t>(position) - b.tolerance);
  }
  // The request at `position` is the (sent + position + 1)-th: it needs the
  // one `requests` before it to be more than `per` ago. That one may itself
  // still be waiting: then its own earliest slot stands in for its time.
  const int64_t before =
      static_cast<int64_t>(b.sent.size()) + static_cast<int64_t>(position) - b.requests;
  if (before >= 0) {
    const absl::Time left = before < static_cast<int64_t>(b.sent.size())
                                ? b.sent[static_cast<size_t>(before)]
                                : EarliestSlot(b, now, static_cast<size_t>(before) - b.sent.size());
    slot = std::max(slot, left + b.per + transit_guard_);
  }
  if (b.paced_from > now || b.recover_until > now) {
    slot = std::max(slot, std::max(b.paced_from, now) + b.spacing * static_cast<int64_t>(position));
  }
  return slot;
}

void RateLimiter::Pause(Bucket& b, absl::Time now, absl::Time until) {
  if (until <= now || until <= b.paused_until) return;  // a pause never gets shorter
  const bool is_new = b.paused_until <= now;
  if (is_new) b.pause_started = now;
  b.paused_until = until;
  // The first request after the pause leaves at its end, the others evenly
  // spaced: a burst right then would likely be throttled again.
  if (b.rate_on && b.token_bucket) {
    b.tat = std::max(b.tat, until + b.tolerance);  // empty at the end of the pause
  } else if (b.rate_on) {
    b.paced_from = std::max(b.paced_from, until);
    b.recover_until = until + b.per;
  }
  SignalEveryone(b);
  LogWarn(absl::StrCat(is_new ? "pausing " : "extending the pause of ",
                       b.key.service.empty() ? "unnamed-service" : b.key.service, " requests for ",
                       absl::FormatDuration(until - now), " after a throttling answer"),
          absl::StrCat("app=", b.key.app, " scope=", b.key.scope));
}

void RateLimiter::WaitUntil(absl::CondVar& cv, absl::Time now, absl::Time wake_at) {
  const absl::Duration wait = std::min(wake_at - now, wait_slice_);
  if (wait <= absl::ZeroDuration()) return;
  cv.WaitWithTimeout(&mu_, wait);
}

RateLimiter::Permit RateLimiter::Refuse(Bucket& b, absl::Duration retry_after) {
  ++b.stats.throttled;
  Permit permit;
  permit.key_ = b.key;
  permit.retry_after_ = std::max(retry_after, kMinRetryAfter);
  return permit;
}

RateLimiter::Permit RateLimiter::Grant(Bucket& b, absl::Time start, absl::Time now,
                                       bool take_slot) {
  Permit permit;
  permit.limiter_ = this;
  permit.bucket_ = &b;
  permit.key_ = b.key;
  permit.granted_ = true;
  permit.holds_slot_ = take_slot;
  permit.waited_ = now - start;
  permit.granted_at_ = now;
  if (take_slot) ++b.in_flight;
  ++b.stats.sent;
  if (permit.waited_ > absl::ZeroDuration()) {
    ++b.stats.waits;
    b.stats.total_wait += permit.waited_;
  }
  return permit;
}

RateLimiter::Permit RateLimiter::Acquire(const TenantConfig& tenant, const HttpRequest& request) {
  return Acquire(KeyFor(tenant, request), request.method);
}

RateLimiter::Permit RateLimiter::Acquire(const RateKey& key, absl::string_view method) {
  absl::MutexLock lock(&mu_);
  Bucket& b = BucketFor(key);
  const absl::Time start = clock_->Now();
  absl::Time now = start;
  const absl::Time deadline = now + limits_.max_wait;
  const bool limited = (b.rate_on || b.concurrent > 0) && (!b.writes_only || IsWrite(method));

  if (!limited) {
    // Not limited, but a pause holds everything of the key.
    while (now < b.paused_until) {
      if (b.paused_until > deadline || stop_waiting_) return Refuse(b, b.paused_until - now);
      ++b.unlimited_waiting;
      WaitUntil(b.cv, now, b.paused_until);
      --b.unlimited_waiting;
      ++b.stats.wakeups;
      now = clock_->Now();
    }
    return Grant(b, start, now, /*take_slot=*/false);
  }

  // Refused before queueing when even its planned slot is too far: no worker
  // sleeps only to be refused at the end.
  absl::Time slot = EarliestSlot(b, now, b.queue.size());
  if (slot > deadline || (slot > now && stop_waiting_)) return Refuse(b, slot - now);
  Waiter me;
  b.queue.push_back(&me);
  while (true) {
    // Found once per wake-up: when it joins the line and, mostly, when its
    // slot comes.
    const auto it = std::find(b.queue.begin(), b.queue.end(), &me);
    const size_t position = static_cast<size_t>(it - b.queue.begin());
    slot = EarliestSlot(b, now, position);
    const bool slot_free = b.concurrent == 0 || b.in_flight < b.concurrent;
    if (position == 0 && slot <= now && slot_free) {
      b.queue.pop_front();
      if (b.rate_on && b.token_bucket) {
        b.tat = std::max(b.tat, now) + b.spacing;
      } else if (b.rate_on) {
        b.sent.push_back(now);
        if (static_cast<int64_t>(b.sent.size()) > b.requests) b.sent.pop_front();
        if (now < b.recover_until) b.paced_from = std::max(b.paced_from, now) + b.spacing;
      }
      SignalFirst(b, now);  // the next in line is now first
      return Grant(b, start, now, /*take_slot=*/true);
    }
    // A pause or new limits can push the slot past the deadline while it
    // waits: give up as soon as that is known.
    if (slot > deadline || now >= deadline || stop_waiting_) {
      b.queue.erase(it);
      if (position == 0) SignalFirst(b, now);
      return Refuse(b, slot - now);
    }
    // Each waits for its planned slot: the first for its own (or a free
    // concurrency slot: a signal), the others for the one they will have
    // when those before them have left on time, so that a request queued
    // behind others sleeps once, not until it is first and then again until
    // its slot. Behind a concurrency cap no slot can be planned (it frees
    // when an answer comes): the others wait until they are first (a
    // signal). Someone leaving the line early, a pause, new limits or
    // StopWaiting wake a waiter sooner (SignalFirst, SignalEveryone). Moving
    // up the line only brings a slot nearer, so nothing else can refuse it.
    const bool planned = slot > now && (position == 0 || b.concurrent == 0);
    me.wake_at = planned ? std::min(slot, deadline) : deadline;
    WaitUntil(me.cv, now, me.wake_at);
    ++b.stats.wakeups;
    now = clock_->Now();
  }
}

void RateLimiter::Finish(Permit& permit, const HttpResponse* response) {
  if (!permit.granted_ || permit.finished_ || permit.bucket_ == nullptr) return;
  permit.finished_ = true;
  absl::MutexLock lock(&mu_);
  Bucket& b = *permit.bucket_;
  if (permit.holds_slot_) {
    permit.holds_slot_ = false;
    --b.in_flight;
    // Only the first in line can take the slot, and only a cap makes it
    // wait for one (without, it sleeps until its slot: leave it be).
    if (b.concurrent > 0) SignalFirst(b, clock_->Now());
  }
  if (response == nullptr) return;
  const std::string retry_after = response->Header("Retry-After");
  if (response->status == 429 || (response->status == 503 && !retry_after.empty())) {
    const absl::Time now = clock_->Now();
    ++b.stats.cloud_429;
    std::optional<absl::Duration> delay;
    if (!retry_after.empty()) delay = ParseRetryAfter(retry_after, now);
    if (!delay.has_value()) {
      // Only a request sent after the last pause began makes the next pause
      // longer: the answers to requests already in flight then are the same
      // overload, not a new one.
      if (b.backoff == absl::ZeroDuration()) {
        b.backoff = kFirstBackoff;
      } else if (permit.granted_at_ >= b.pause_started) {
        b.backoff = std::min(b.backoff * 2, kMaxBackoff);
      }
      delay = b.backoff;
    }
    Pause(b, now, now + std::min(*delay, kMaxPause));
  } else if (response->status > 0 && response->status < 500) {
    b.backoff = absl::ZeroDuration();
  }
}

LimitsConfig ReplicaShare(const LimitsConfig& limits, int replicas) {
  if (replicas <= 1) return limits;
  auto share = [replicas](int64_t n) -> int64_t {
    return n <= 0 ? n : std::max<int64_t>(1, n / replicas);
  };
  LimitsConfig out = limits;
  for (RateLimitConfig* r : {&out.graph_writes, &out.dataverse, &out.admin}) {
    r->requests = share(r->requests);
    r->concurrent = share(r->concurrent);
  }
  return out;
}

void RateLimiter::SetLimits(const LimitsConfig& limits) {
  absl::MutexLock lock(&mu_);
  limits_ = limits;
  const absl::Time now = clock_->Now();
  for (auto& [key, bucket] : buckets_) {
    ApplyLimits(*bucket, now);
    SignalEveryone(*bucket);
  }
}

LimitsConfig RateLimiter::limits() const {
  absl::MutexLock lock(&mu_);
  return limits_;
}

void RateLimiter::StopWaiting() {
  absl::MutexLock lock(&mu_);
  stop_waiting_ = true;
  for (auto& [key, bucket] : buckets_) SignalEveryone(*bucket);
}

std::vector<RateKeyStats> RateLimiter::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<RateKeyStats> out;
  out.reserve(buckets_.size());
  for (const auto& [key, bucket] : buckets_) {
    RateKeyStats stats = bucket->stats;
    stats.paused_until = bucket->paused_until;
    stats.in_flight = bucket->in_flight;
    stats.waiting = static_cast<int64_t>(bucket->queue.size()) + bucket->unlimited_waiting;
    out.push_back(std::move(stats));
  }
  return out;
}

}  // namespace guestflow
