// RateLimiter on simulated time: the documented windows hold, waiters leave
// in order, dataverse's concurrency cap, 429 pauses of a whole bucket, the
// max_wait refusal and new limits from a reload. No test sleeps for time to
// pass: a FakeClock moves it, and the limiter re-reads the clock every
// millisecond of real time while it waits.
#include "server/http/rate_limiter.h"

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::Optional;
using Permit = RateLimiter::Permit;

constexpr absl::Duration kSlice = absl::Milliseconds(1);
// Real time a test gives a waiter to get somewhere it must get to.
constexpr auto kPatience = std::chrono::seconds(10);

const RateKey kGraph{"graph", "app-1", "contoso.onmicrosoft.com"};
const RateKey kGraphOtherDirectory{"graph", "app-1", "fabrikam.onmicrosoft.com"};
const RateKey kDataverse{"dataverse", "app-1", "contoso.crm4.dynamics.com"};
const RateKey kAdmin{"admin", "app-1", "contoso.onmicrosoft.com@api.bap.microsoft.com"};

// graph_writes `requests` per `per` (a token bucket); dataverse off.
LimitsConfig GraphLimits(int64_t requests, absl::Duration per,
                         absl::Duration max_wait = absl::Seconds(30)) {
  LimitsConfig limits;
  limits.graph_writes = {requests, per, 0};
  limits.dataverse = {0, absl::Seconds(300), 0};
  limits.max_wait = max_wait;
  return limits;
}

// dataverse `requests` per `per` (a sliding window), no concurrency cap;
// graph writes off.
LimitsConfig WindowLimits(int64_t requests, absl::Duration per,
                          absl::Duration max_wait = absl::Seconds(30)) {
  LimitsConfig limits;
  limits.graph_writes = {0, absl::Seconds(150), 0};
  limits.dataverse = {requests, per, 0};
  limits.max_wait = max_wait;
  return limits;
}

// Options for a test clock without the transit guard: slots are exact.
RateLimiterOptions Exact(Clock* clock, absl::Duration wait_slice = kSlice) {
  return {clock, wait_slice, absl::ZeroDuration()};
}

HttpResponse Answer(int status, std::vector<HttpHeader> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  return response;
}

// A clock that moves forward a little every time it is read: a single thread
// that waits for its slot makes time pass by looking at it.
class SteppingClock : public Clock {
 public:
  explicit SteppingClock(absl::Duration step) : step_(step) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    now_ += step_;
    return now_;
  }

 private:
  const absl::Duration step_;
  mutable absl::Mutex mu_;
  mutable absl::Time now_ = absl::FromUnixSeconds(1767225600);
};

RateKeyStats StatsOf(const RateLimiter& limiter, const RateKey& key) {
  for (const RateKeyStats& stats : limiter.Snapshot()) {
    if (stats.key == key) return stats;
  }
  return RateKeyStats{};
}

// Blocks (in real time, bounded) until `count` requests of `key` wait.
void AwaitWaiting(const RateLimiter& limiter, const RateKey& key, int64_t count) {
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (StatsOf(limiter, key).waiting != count) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up)
        << "expected " << count << " waiting, have " << StatsOf(limiter, key).waiting;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

std::future<Permit> AcquireAsync(RateLimiter& limiter, const RateKey& key,
                                 std::string method = "POST") {
  return std::async(std::launch::async,
                    [&limiter, key, method] { return limiter.Acquire(key, method); });
}

bool Ready(std::future<Permit>& f,
           std::chrono::milliseconds within = std::chrono::milliseconds(0)) {
  return f.wait_for(within) == std::future_status::ready;
}

// The waiter's answer. A waiter that never gets one fails the test; the
// limiter then stops all waits so that the test ends instead of hanging.
Permit Get(RateLimiter& limiter, std::future<Permit>& f) {
  if (!Ready(f, std::chrono::duration_cast<std::chrono::milliseconds>(kPatience))) {
    ADD_FAILURE() << "the waiter never got an answer";
    limiter.StopWaiting();
  }
  return f.get();
}

// Whether a token bucket of `size` tokens, refilled evenly over `per`,
// accepts a request at each of the sorted times.
bool BucketAccepts(const std::vector<absl::Time>& times, int64_t size, absl::Duration per) {
  if (times.empty()) return true;
  const double rate = static_cast<double>(size) / absl::ToDoubleSeconds(per);
  double tokens = static_cast<double>(size);
  absl::Time last = times.front();
  for (absl::Time t : times) {
    tokens = std::min<double>(size, tokens + absl::ToDoubleSeconds(t - last) * rate);
    last = t;
    tokens -= 1;
    if (tokens < -1e-6) return false;
  }
  return true;
}

// Most requests in any window [t, t + per) of the sorted times: a sliding
// window counts the requests in (now - per, now].
int64_t MaxInWindow(const std::vector<absl::Time>& times, absl::Duration per) {
  int64_t best = 0;
  size_t end = 0;
  for (size_t begin = 0; begin < times.size(); ++begin) {
    while (end < times.size() && times[end] < times[begin] + per) ++end;
    best = std::max<int64_t>(best, static_cast<int64_t>(end - begin));
  }
  return best;
}

// ---- keys -------------------------------------------------------------------

TenantConfig Contoso() {
  TenantConfig t;
  t.id = "contoso";
  t.directory = "Contoso.onmicrosoft.com";
  t.client_id = "APP-1";
  t.graph_url = "https://graph.microsoft.com";
  t.instance_url = "https://contoso.crm4.dynamics.com";
  return t;
}

HttpRequest Request(std::string method, std::string url, std::string service) {
  HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.service = std::move(service);
  return r;
}

TEST(ReplicaShareTest, ReplicasSplitEveryCountAndCapButKeepWindowsAndNoLimit) {
  LimitsConfig limits;  // Microsoft's: graph 3000/150s, dataverse 6000/300s x52, admin 100/60s
  limits.admin.requests = 0;  // no limit
  const LimitsConfig three = ReplicaShare(limits, 3);
  EXPECT_EQ(three.graph_writes.requests, 1000);
  EXPECT_EQ(three.graph_writes.per, absl::Seconds(150));
  EXPECT_EQ(three.dataverse.requests, 2000);
  EXPECT_EQ(three.dataverse.concurrent, 17);  // 52 / 3, rounded down: never above the cap
  EXPECT_EQ(three.admin.requests, 0);
  EXPECT_EQ(three.max_wait, limits.max_wait);
  // Never below one request, however many replicas.
  EXPECT_EQ(ReplicaShare(limits, 100000).graph_writes.requests, 1);
  EXPECT_EQ(ReplicaShare(limits, 100).dataverse.concurrent, 1);
  // One replica (or a count not known yet): the limits as they are.
  EXPECT_EQ(ReplicaShare(limits, 1).graph_writes.requests, 3000);
  EXPECT_EQ(ReplicaShare(limits, 0).dataverse.concurrent, 52);
}

TEST(RateLimiterTest, KeysAreServiceAppAndTenantScope) {
  const TenantConfig t = Contoso();
  EXPECT_EQ(RateLimiter::KeyFor(
                t, Request("POST", "https://graph.microsoft.com/v1.0/invitations", "graph")),
            kGraph);
  EXPECT_EQ(
      RateLimiter::KeyFor(
          t, Request("GET", "https://contoso.crm4.dynamics.com/api/data/v9.2/roles", "dataverse")),
      kDataverse);
  EXPECT_EQ(RateLimiter::KeyFor(t, Request("GET", "https://api.bap.microsoft.com/x", "admin")),
            kAdmin);
  // A request that names no service is recognised by its host.
  EXPECT_EQ(
      RateLimiter::KeyFor(t, Request("PATCH", "https://graph.microsoft.com/v1.0/users/1", "")),
      kGraph);
  EXPECT_EQ(RateLimiter::KeyFor(t, Request("GET", "https://CONTOSO.crm4.dynamics.com/api", "")),
            kDataverse);
  EXPECT_EQ(RateLimiter::KeyFor(t, Request("POST", "https://hooks.example.com/x", "")).service, "");

  TenantConfig other = t;
  other.directory = "fabrikam.onmicrosoft.com";
  EXPECT_EQ(
      RateLimiter::KeyFor(other, Request("POST", "https://graph.microsoft.com/v1.0/x", "graph")),
      kGraphOtherDirectory);
}

TEST(RateLimiterTest, OnlyGraphWritesAreWrites) {
  for (const char* write : {"POST", "PATCH", "PUT", "DELETE", "post"}) {
    EXPECT_TRUE(RateLimiter::IsWrite(write)) << write;
  }
  for (const char* read : {"GET", "HEAD", "OPTIONS", "get"}) {
    EXPECT_FALSE(RateLimiter::IsWrite(read)) << read;
  }
}

// ---- Retry-After ------------------------------------------------------------

TEST(RateLimiterTest, RetryAfterIsSecondsFractionalSecondsOrAnHttpDate) {
  const absl::Time now = absl::FromUnixSeconds(1767225600);  // Thu, 01 Jan 2026 00:00:00 GMT
  EXPECT_THAT(RateLimiter::ParseRetryAfter("120", now), Optional(absl::Seconds(120)));
  EXPECT_THAT(RateLimiter::ParseRetryAfter(" 7 ", now), Optional(absl::Seconds(7)));
  EXPECT_THAT(RateLimiter::ParseRetryAfter("2.5", now), Optional(absl::Milliseconds(2500)));
  EXPECT_THAT(RateLimiter::ParseRetryAfter("0", now), Optional(absl::ZeroDuration()));
  EXPECT_THAT(RateLimiter::ParseRetryAfter("Thu, 01 Jan 2026 00:00:42 GMT", now),
              Optional(absl::Seconds(42)));
  EXPECT_THAT(RateLimiter::ParseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now),
              Optional(absl::ZeroDuration()));
  for (const char* bad : {"", "soon", "-5", "1e3", "1.2.3", "Thu, 01 Jan 2026 00:00:42",
                          "Thu, 32 Jan 2026 00:00:42 GMT"}) {
    EXPECT_EQ(RateLimiter::ParseRetryAfter(bad, now), std::nullopt) << bad;
  }
}

// ---- rate -------------------------------------------------------------------

// Writes as fast as the limiter lets them, one after the other; returns the
// clock's time of each grant.
std::vector<absl::Time> Flood(RateLimiter& limiter, int count, const RateKey& key = kGraph) {
  std::vector<absl::Time> times;
  for (int i = 0; i < count; ++i) {
    Permit permit = limiter.Acquire(key, "POST");
    EXPECT_TRUE(permit.granted()) << "request " << i << " refused";
    times.push_back(permit.granted_at());
    permit.Finish(Answer(201));
  }
  return times;
}

TEST(RateLimiterTest, DocumentedGraphBucketIsNeverExceeded) {
  SteppingClock clock(absl::Milliseconds(5));
  const LimitsConfig limits;  // the defaults: 3,000 writes per 150 s
  ASSERT_EQ(limits.graph_writes.requests, 3000);
  RateLimiter limiter(limits, Exact(&clock, absl::Microseconds(10)));
  const std::vector<absl::Time> times = Flood(limiter, 4000);
  EXPECT_TRUE(BucketAccepts(times, 3000, absl::Seconds(150)));
  // ... and is used whole: 3,000 at once, then 20 a second.
  EXPECT_GE(times[3999] - times[0], absl::Seconds(50));
  EXPECT_LE(times[3999] - times[0], absl::Seconds(51));
}

TEST(RateLimiterTest, SmallGraphLimitIsNeverExceeded) {
  SteppingClock clock(absl::Milliseconds(5));
  RateLimiter limiter(GraphLimits(20, absl::Seconds(10)), Exact(&clock, absl::Microseconds(10)));
  const std::vector<absl::Time> times = Flood(limiter, 100);
  EXPECT_TRUE(BucketAccepts(times, 20, absl::Seconds(10)));
  EXPECT_FALSE(BucketAccepts(times, 19, absl::Seconds(10))) << "the whole bucket is used";
  // 20 at once, then 80 at 2 a second.
  EXPECT_GE(times[99] - times[0], absl::Seconds(40));
  EXPECT_LE(times[99] - times[0], absl::Seconds(41));
}

TEST(RateLimiterTest, GraphBucketGoesWholeThenRefillsEvenly) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  RateLimiter limiter(GraphLimits(100, absl::Seconds(10)), Exact(&clock));
  for (int i = 0; i < 100; ++i) {
    Permit permit = limiter.Acquire(kGraph, "POST");
    ASSERT_TRUE(permit.granted());
    EXPECT_EQ(permit.waited(), absl::ZeroDuration()) << i;
  }
  std::future<Permit> hundred_first = AcquireAsync(limiter, kGraph);
  AwaitWaiting(limiter, kGraph, 1);
  clock.Advance(absl::Milliseconds(99));
  EXPECT_FALSE(Ready(hundred_first, std::chrono::milliseconds(20)));
  clock.Advance(absl::Milliseconds(1));  // one token: 10 s / 100
  Permit permit = Get(limiter, hundred_first);
  ASSERT_TRUE(permit.granted());
  EXPECT_EQ(permit.granted_at(), start + absl::Milliseconds(100));

  const RateKeyStats stats = StatsOf(limiter, kGraph);
  EXPECT_EQ(stats.sent, 101);
  EXPECT_EQ(stats.waits, 1);
  EXPECT_EQ(stats.total_wait, absl::Milliseconds(100));
  EXPECT_EQ(stats.throttled, 0);
  EXPECT_EQ(stats.waiting, 0);
}

TEST(RateLimiterTest, DocumentedDataverseWindowIsNeverExceeded) {
  SteppingClock clock(absl::Milliseconds(20));
  LimitsConfig limits = WindowLimits(6000, absl::Seconds(300), absl::Seconds(400));
  RateLimiter limiter(limits, Exact(&clock, absl::Microseconds(10)));
  const std::vector<absl::Time> times = Flood(limiter, 7000, kDataverse);
  EXPECT_LE(MaxInWindow(times, absl::Seconds(300)), 6000);
  // ... and is used whole: 6,000 without waiting, the next ones as soon as
  // the first leave the window.
  EXPECT_LT(times[5999] - times[0], absl::Seconds(300));
  EXPECT_GE(times[6000] - times[0], absl::Seconds(300));
  EXPECT_LE(times[6000] - times[0], absl::Milliseconds(300100));
  EXPECT_LE(times[6999] - times[999], absl::Milliseconds(300100));
}

TEST(RateLimiterTest, WindowGoesWholeThenOneWindowLater) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  RateLimiter limiter(WindowLimits(100, absl::Seconds(10)), Exact(&clock));
  for (int i = 0; i < 100; ++i) {
    Permit permit = limiter.Acquire(kDataverse, "GET");
    ASSERT_TRUE(permit.granted());
    EXPECT_EQ(permit.waited(), absl::ZeroDuration()) << i;
  }
  std::future<Permit> hundred_first = AcquireAsync(limiter, kDataverse, "GET");
  AwaitWaiting(limiter, kDataverse, 1);
  clock.Advance(absl::Milliseconds(9999));
  EXPECT_FALSE(Ready(hundred_first, std::chrono::milliseconds(20)));
  clock.Advance(absl::Milliseconds(1));
  Permit permit = Get(limiter, hundred_first);
  ASSERT_TRUE(permit.granted());
  EXPECT_EQ(permit.waited(), absl::Seconds(10));
  EXPECT_EQ(permit.granted_at(), start + absl::Seconds(10));
}

TEST(RateLimiterTest, EachWindowSlotFreesOneWindowAfterTheRequestThatTookIt) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  // 3 per 10 s, sent at 0, 4 and 8 s: the 4th may leave at 10 s, the 5th at
  // 14 s, the 6th at 18 s (a sliding window, not a fixed one).
  RateLimiter limiter(WindowLimits(3, absl::Seconds(10)), Exact(&clock));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(limiter.Acquire(kDataverse, "POST").waited(), absl::ZeroDuration()) << i;
    clock.Advance(absl::Seconds(4));
  }
  ASSERT_EQ(clock.Now(), start + absl::Seconds(12));
  // At 12 s the 4th goes at once (the request at 0 s left the window).
  EXPECT_EQ(limiter.Acquire(kDataverse, "POST").waited(), absl::ZeroDuration());
  std::future<Permit> fifth = AcquireAsync(limiter, kDataverse);
  AwaitWaiting(limiter, kDataverse, 1);
  std::future<Permit> sixth = AcquireAsync(limiter, kDataverse);
  AwaitWaiting(limiter, kDataverse, 2);
  clock.Advance(absl::Seconds(2));  // 14 s
  EXPECT_EQ(Get(limiter, fifth).granted_at(), start + absl::Seconds(14));
  EXPECT_FALSE(Ready(sixth, std::chrono::milliseconds(20)));
  clock.Advance(absl::Seconds(4));  // 18 s
  EXPECT_EQ(Get(limiter, sixth).granted_at(), start + absl::Seconds(18));
}

TEST(RateLimiterTest, TheTransitGuardKeepsSlotsAHairLate) {
  ASSERT_EQ(RateLimiterOptions{}.transit_guard, absl::Milliseconds(20));
  FakeClock clock;
  const absl::Time start = clock.Now();
  // A window: the slot a request frees is 10 s + 20 ms after it.
  RateLimiter window(WindowLimits(2, absl::Seconds(10)), {&clock, kSlice});
  EXPECT_TRUE(window.Acquire(kDataverse, "GET").granted());
  EXPECT_TRUE(window.Acquire(kDataverse, "GET").granted());
  std::future<Permit> third = AcquireAsync(window, kDataverse, "GET");
  AwaitWaiting(window, kDataverse, 1);
  clock.Advance(absl::Seconds(10));
  EXPECT_FALSE(Ready(third, std::chrono::milliseconds(20)));
  clock.Advance(absl::Milliseconds(20));
  EXPECT_EQ(Get(window, third).granted_at(), start + absl::Milliseconds(10020));

  // A bucket of 100 per 10 s holds 20 ms (0.2 of a token) less: 99 at once.
  RateLimiter bucket(GraphLimits(100, absl::Seconds(10)), {&clock, kSlice});
  const absl::Time now = clock.Now();
  for (int i = 0; i < 99; ++i) {
    EXPECT_EQ(bucket.Acquire(kGraph, "POST").waited(), absl::ZeroDuration()) << i;
  }
  std::future<Permit> hundredth = AcquireAsync(bucket, kGraph);
  AwaitWaiting(bucket, kGraph, 1);
  clock.Advance(absl::Milliseconds(20));
  EXPECT_EQ(Get(bucket, hundredth).granted_at(), now + absl::Milliseconds(20));
}

TEST(RateLimiterTest, WaitersLeaveInArrivalOrder) {
  FakeClock clock;
  // 1 per second.
  RateLimiter limiter(GraphLimits(1, absl::Seconds(1)), Exact(&clock));
  ASSERT_TRUE(limiter.Acquire(kGraph, "POST").granted());
  std::vector<std::future<Permit>> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(AcquireAsync(limiter, kGraph));
    AwaitWaiting(limiter, kGraph, i + 1);
  }
  for (int i = 0; i < 4; ++i) {
    clock.Advance(absl::Seconds(1));
    Permit permit = Get(limiter, waiters[i]);
    ASSERT_TRUE(permit.granted()) << i;
    EXPECT_EQ(permit.waited(), absl::Seconds(i + 1)) << i;
    // Only the first in line moved.
    for (int j = i + 1; j < 4; ++j) EXPECT_FALSE(Ready(waiters[j])) << i << " " << j;
  }
}

// On the real clock a waiter sleeps until it is signalled (or its slot
// comes). A freed concurrency slot and a grant wake only the first in line,
// not every waiter behind it: a line of N wakes about 2N times in all (each
// waiter once when it becomes first, once when the slot frees), not N * N.
TEST(RateLimiterTest, OnlyTheFirstInLineIsWoken) {
  constexpr int kWaiters = 16;
  LimitsConfig limits;
  limits.graph_writes = {0, absl::Seconds(150), 0};
  limits.dataverse = {0, absl::Seconds(300), 1};  // no rate, one at a time
  RateLimiter limiter(limits, {Clock::Real(), absl::InfiniteDuration(), absl::ZeroDuration()});
  Permit held = limiter.Acquire(kDataverse, "GET");
  ASSERT_TRUE(held.granted());
  std::vector<std::future<Permit>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(AcquireAsync(limiter, kDataverse, "GET"));
    AwaitWaiting(limiter, kDataverse, i + 1);
  }
  held.Release();
  for (int i = 0; i < kWaiters; ++i) {
    Permit permit = Get(limiter, waiters[i]);
    ASSERT_TRUE(permit.granted()) << i;
    // In arrival order: the ones behind it still wait.
    EXPECT_EQ(StatsOf(limiter, kDataverse).waiting, kWaiters - 1 - i);
  }  // each permit frees the slot for the next as it goes
  const RateKeyStats stats = StatsOf(limiter, kDataverse);
  EXPECT_EQ(stats.sent, kWaiters + 1);
  EXPECT_LE(stats.wakeups, 3 * kWaiters)
      << "a line of " << kWaiters << " woke " << stats.wakeups << " times";
}

// Without a concurrency cap, answers to requests already sent do not wake
// a request waiting for its slot in the token bucket: it sleeps until the
// slot, once.
TEST(RateLimiterTest, AnswersDoNotWakeARequestWaitingForItsSlot) {
  RateLimiter limiter(GraphLimits(4, absl::Milliseconds(1600)),
                      {Clock::Real(), absl::InfiniteDuration(), absl::ZeroDuration()});
  std::vector<Permit> sent;
  for (int i = 0; i < 4; ++i) {
    sent.push_back(limiter.Acquire(kGraph, "POST"));
    ASSERT_TRUE(sent.back().granted());
  }
  std::future<Permit> waiter = AcquireAsync(limiter, kGraph);  // its slot: 400 ms on
  AwaitWaiting(limiter, kGraph, 1);
  for (Permit& p : sent) {  // the answers come while it waits, one by one
    p.Finish(Answer(201));
    absl::SleepFor(absl::Milliseconds(30));
  }
  ASSERT_TRUE(Get(limiter, waiter).granted());
  EXPECT_LE(StatsOf(limiter, kGraph).wakeups, 2);
}

// A line waiting for the token bucket: each request sleeps until its planned
// slot and leaves then, once, in arrival order; a grant does not wake the next
// one (which would look, and sleep again until its slot). Sleeping until
// first in line, then until the slot, took about two wake-ups a request (7
// for this line of 4).
TEST(RateLimiterTest, AQueuedRequestSleepsOnceUntilItsSlot) {
  constexpr int kWaiters = 4;
  // Two tokens, one every 150 ms (the line forms well before the first slot
  // comes, even on a busy machine). With a bucket of more than one, a
  // request that leaves a little after its slot does not move the next one's
  // (GCRA's tolerance absorbs it), as in the Graph write bucket of 1,500 per
  // 15 s.
  RateLimiter limiter(GraphLimits(2, absl::Milliseconds(300)),
                      {Clock::Real(), absl::InfiniteDuration(), absl::ZeroDuration()});
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(limiter.Acquire(kGraph, "POST").granted());
  std::vector<std::future<Permit>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(AcquireAsync(limiter, kGraph));
    AwaitWaiting(limiter, kGraph, i + 1);
  }
  absl::Time last_grant = absl::InfinitePast();
  for (int i = 0; i < kWaiters; ++i) {
    Permit permit = Get(limiter, waiters[i]);
    ASSERT_TRUE(permit.granted()) << i;
    EXPECT_GT(permit.granted_at(), last_grant) << "left out of order: " << i;
    last_grant = permit.granted_at();
  }
  const RateKeyStats stats = StatsOf(limiter, kGraph);
  EXPECT_EQ(stats.sent, kWaiters + 2);
  // One each, with room for a thread the machine ran late (it wakes at its
  // slot before the one ahead has left, and sleeps once more).
  EXPECT_LE(stats.wakeups, kWaiters + kWaiters / 2)
      << "a line of " << kWaiters << " woke " << stats.wakeups << " times";
}

TEST(RateLimiterTest, GraphReadsAreNotLimited) {
  FakeClock clock;
  RateLimiter limiter(GraphLimits(1, absl::Seconds(10), absl::Seconds(1)), Exact(&clock));
  ASSERT_TRUE(limiter.Acquire(kGraph, "POST").granted());
  EXPECT_FALSE(limiter.Acquire(kGraph, "PATCH").granted());  // the next write is 10 s away
  for (int i = 0; i < 1000; ++i) {
    Permit read = limiter.Acquire(kGraph, "GET");
    ASSERT_TRUE(read.granted()) << i;
    EXPECT_EQ(read.waited(), absl::ZeroDuration());
  }
  EXPECT_EQ(StatsOf(limiter, kGraph).sent, 1001);
}

TEST(RateLimiterTest, ZeroRequestsSwitchesTheLimitOff) {
  FakeClock clock;
  LimitsConfig limits;
  limits.graph_writes.requests = 0;
  limits.dataverse = {0, absl::Seconds(300), 0};
  RateLimiter limiter(limits, Exact(&clock));
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(limiter.Acquire(kGraph, "POST").granted()) << i;
    ASSERT_TRUE(limiter.Acquire(kDataverse, "POST").granted()) << i;
  }
  EXPECT_EQ(StatsOf(limiter, kGraph).waits, 0);
  EXPECT_EQ(StatsOf(limiter, kDataverse).waits, 0);
}

TEST(RateLimiterTest, OtherServicesAreNotLimited) {
  FakeClock clock;
  RateLimiter limiter(GraphLimits(1, absl::Hours(1)), Exact(&clock));
  const RateKey webhook{"webhook", "app-1", "contoso.onmicrosoft.com@hooks.example.com"};
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Acquire(webhook, "POST").granted()) << i;
}

TEST(RateLimiterTest, AdminApiRequestsCountAgainstLimitsAdmin) {
  FakeClock clock;
  LimitsConfig limits = GraphLimits(1, absl::Hours(1), absl::Seconds(5));
  ASSERT_EQ(limits.admin.requests, 100);  // the default, per 60 s
  ASSERT_EQ(limits.admin.per, absl::Seconds(60));
  limits.admin = {2, absl::Seconds(60), 0};
  RateLimiter limiter(limits, Exact(&clock));
  EXPECT_TRUE(limiter.Acquire(kAdmin, "POST").granted());
  EXPECT_TRUE(limiter.Acquire(kAdmin, "GET").granted());
  Permit refused = limiter.Acquire(kAdmin, "POST");
  EXPECT_FALSE(refused.granted());
  EXPECT_EQ(refused.retry_after(), absl::Seconds(60));
  clock.Advance(absl::Seconds(60));
  EXPECT_TRUE(limiter.Acquire(kAdmin, "POST").granted());
  EXPECT_EQ(StatsOf(limiter, kAdmin).sent, 3);
  EXPECT_EQ(StatsOf(limiter, kAdmin).throttled, 1);
}

// ---- dataverse concurrency ----------------------------------------------------

TEST(RateLimiterTest, FiftyThirdDataverseRequestWaitsForAFreeSlot) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));  // 6,000 per 300 s, 52 at once
  std::vector<Permit> in_flight;
  for (int i = 0; i < 52; ++i) {
    in_flight.push_back(limiter.Acquire(kDataverse, i % 2 == 0 ? "GET" : "POST"));
    ASSERT_TRUE(in_flight.back().granted()) << i;
  }
  EXPECT_EQ(StatsOf(limiter, kDataverse).in_flight, 52);
  std::future<Permit> fifty_third = AcquireAsync(limiter, kDataverse, "GET");
  AwaitWaiting(limiter, kDataverse, 1);
  EXPECT_FALSE(Ready(fifty_third, std::chrono::milliseconds(20)));

  in_flight[17].Finish(Answer(200));
  Permit permit = Get(limiter, fifty_third);
  EXPECT_TRUE(permit.granted());
  EXPECT_EQ(StatsOf(limiter, kDataverse).in_flight, 52);
  // A permit given up without an answer (transport error) frees its slot too.
  in_flight[3].Release();
  EXPECT_EQ(StatsOf(limiter, kDataverse).in_flight, 51);
  EXPECT_TRUE(limiter.Acquire(kDataverse, "GET").granted());
}

TEST(RateLimiterTest, NoFreeSlotWithinMaxWaitIsRefused) {
  FakeClock clock;
  LimitsConfig limits;
  limits.dataverse = {0, absl::Seconds(300), 1};
  limits.max_wait = absl::Seconds(5);
  RateLimiter limiter(limits, Exact(&clock));
  Permit held = limiter.Acquire(kDataverse, "GET");
  ASSERT_TRUE(held.granted());
  std::future<Permit> waiter = AcquireAsync(limiter, kDataverse, "GET");
  AwaitWaiting(limiter, kDataverse, 1);
  clock.Advance(absl::Seconds(5));
  Permit refused = Get(limiter, waiter);
  EXPECT_FALSE(refused.granted());
  EXPECT_EQ(refused.retry_after(), absl::Seconds(1));
  EXPECT_EQ(StatsOf(limiter, kDataverse).throttled, 1);
  EXPECT_EQ(StatsOf(limiter, kDataverse).waiting, 0);
}

// ---- max_wait -----------------------------------------------------------------

TEST(RateLimiterTest, SlotBeyondMaxWaitIsRefusedWithoutWaiting) {
  FakeClock clock;
  RateLimiter limiter(GraphLimits(1, absl::Seconds(10), absl::Seconds(1)), Exact(&clock));
  ASSERT_TRUE(limiter.Acquire(kGraph, "POST").granted());
  // The clock never moves: a refusal that waited would never come back.
  std::future<Permit> second = AcquireAsync(limiter, kGraph);
  Permit refused = Get(limiter, second);
  EXPECT_FALSE(refused.granted());
  EXPECT_EQ(refused.key(), kGraph);
  EXPECT_EQ(refused.retry_after(), absl::Seconds(10));
  EXPECT_EQ(StatsOf(limiter, kGraph).throttled, 1);
  EXPECT_EQ(StatsOf(limiter, kGraph).sent, 1);
}

TEST(RateLimiterTest, PauseArrivingWhileWaitingPastMaxWaitRefusesAtOnce) {
  FakeClock clock;
  RateLimiter limiter(GraphLimits(1, absl::Seconds(10)), Exact(&clock));
  Permit first = limiter.Acquire(kGraph, "POST");
  std::future<Permit> waiter = AcquireAsync(limiter, kGraph);
  AwaitWaiting(limiter, kGraph, 1);
  first.Finish(Answer(429, {{"Retry-After", "120"}}));
  Permit refused = Get(limiter, waiter);
  EXPECT_FALSE(refused.granted());
  EXPECT_GE(refused.retry_after(), absl::Seconds(120));
}

TEST(RateLimiterTest, StopWaitingRefusesWaitersAndLaterWaits) {
  FakeClock clock;
  RateLimiter limiter(GraphLimits(1, absl::Seconds(10)), Exact(&clock));
  ASSERT_TRUE(limiter.Acquire(kGraph, "POST").granted());
  std::future<Permit> waiter = AcquireAsync(limiter, kGraph);
  AwaitWaiting(limiter, kGraph, 1);
  limiter.StopWaiting();
  EXPECT_FALSE(Get(limiter, waiter).granted());
  EXPECT_FALSE(limiter.Acquire(kGraph, "POST").granted());
  EXPECT_TRUE(limiter.Acquire(kGraph, "GET").granted());  // needs no wait
}

// ---- pauses -------------------------------------------------------------------

TEST(RateLimiterTest, RetryAfterPausesTheWholeKeyReadsIncluded) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  const absl::Time start = clock.Now();
  limiter.Acquire(kGraph, "GET").Finish(Answer(429, {{"retry-after", "1.5"}}));
  EXPECT_EQ(StatsOf(limiter, kGraph).paused_until, start + absl::Milliseconds(1500));
  EXPECT_EQ(StatsOf(limiter, kGraph).cloud_429, 1);

  std::future<Permit> read = AcquireAsync(limiter, kGraph, "GET");
  std::future<Permit> write = AcquireAsync(limiter, kGraph, "POST");
  AwaitWaiting(limiter, kGraph, 2);
  // Other keys go on: another directory, another service of the same tenant.
  EXPECT_EQ(limiter.Acquire(kGraphOtherDirectory, "POST").waited(), absl::ZeroDuration());
  EXPECT_EQ(limiter.Acquire(kDataverse, "POST").waited(), absl::ZeroDuration());
  EXPECT_EQ(limiter.Acquire(kAdmin, "GET").waited(), absl::ZeroDuration());

  clock.Advance(absl::Milliseconds(1400));
  EXPECT_FALSE(Ready(read, std::chrono::milliseconds(20)));
  EXPECT_FALSE(Ready(write));
  clock.Advance(absl::Milliseconds(100));
  Permit r = Get(limiter, read);
  Permit w = Get(limiter, write);
  EXPECT_TRUE(r.granted());
  EXPECT_TRUE(w.granted());
  EXPECT_EQ(r.granted_at(), start + absl::Milliseconds(1500));
  EXPECT_EQ(w.granted_at(), start + absl::Milliseconds(1500));
}

TEST(RateLimiterTest, GraphWritesResumeEvenlySpacedAfterAPause) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  RateLimiter limiter(GraphLimits(100, absl::Seconds(10)), Exact(&clock));
  limiter.Acquire(kGraph, "POST").Finish(Answer(429, {{"Retry-After", "2"}}));
  std::future<Permit> first = AcquireAsync(limiter, kGraph);
  AwaitWaiting(limiter, kGraph, 1);
  std::future<Permit> second = AcquireAsync(limiter, kGraph);
  AwaitWaiting(limiter, kGraph, 2);
  clock.Advance(absl::Seconds(2));
  EXPECT_TRUE(Get(limiter, first).granted());
  // Not a burst of 99: the next one is 10 s / 100 later.
  EXPECT_FALSE(Ready(second, std::chrono::milliseconds(20)));
  clock.Advance(absl::Milliseconds(100));
  EXPECT_EQ(Get(limiter, second).granted_at(), start + absl::Milliseconds(2100));
  // Once the bucket has refilled, it goes whole again.
  clock.Advance(absl::Seconds(10));
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(limiter.Acquire(kGraph, "POST").waited(), absl::ZeroDuration()) << i;
  }
}

TEST(RateLimiterTest, WindowRequestsResumeEvenlySpacedForOneWindowAfterAPause) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  RateLimiter limiter(WindowLimits(100, absl::Seconds(10)), Exact(&clock));
  limiter.Acquire(kDataverse, "GET").Finish(Answer(429, {{"Retry-After", "2"}}));
  std::future<Permit> first = AcquireAsync(limiter, kDataverse, "GET");
  AwaitWaiting(limiter, kDataverse, 1);
  std::future<Permit> second = AcquireAsync(limiter, kDataverse, "GET");
  AwaitWaiting(limiter, kDataverse, 2);
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(Get(limiter, first).granted_at(), start + absl::Seconds(2));
  // The window has room for 98 more, but they leave 10 s / 100 apart.
  EXPECT_FALSE(Ready(second, std::chrono::milliseconds(20)));
  clock.Advance(absl::Milliseconds(100));
  EXPECT_EQ(Get(limiter, second).granted_at(), start + absl::Milliseconds(2100));
  // One window after the pause ended, the room left goes at once again.
  clock.Advance(absl::Seconds(10));
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(limiter.Acquire(kDataverse, "GET").waited(), absl::ZeroDuration()) << i;
  }
}

TEST(RateLimiterTest, HttpDateRetryAfterPausesUntilThatTime) {
  FakeClock clock(absl::FromUnixSeconds(1767225600));  // Thu, 01 Jan 2026 00:00:00 GMT
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  limiter.Acquire(kDataverse, "GET")
      .Finish(Answer(429, {{"Retry-After", "Thu, 01 Jan 2026 00:00:20 GMT"}}));
  EXPECT_EQ(StatsOf(limiter, kDataverse).paused_until, absl::FromUnixSeconds(1767225620));
}

TEST(RateLimiterTest, ServiceUnavailableWithRetryAfterPausesWithoutDoesNot) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  limiter.Acquire(kAdmin, "GET").Finish(Answer(503));
  EXPECT_EQ(StatsOf(limiter, kAdmin).paused_until, absl::InfinitePast());
  limiter.Acquire(kAdmin, "GET").Finish(Answer(503, {{"Retry-After", "3"}}));
  EXPECT_EQ(StatsOf(limiter, kAdmin).paused_until, clock.Now() + absl::Seconds(3));
  EXPECT_EQ(StatsOf(limiter, kAdmin).cloud_429, 1);
}

TEST(RateLimiterTest, ShorterRetryAfterNeverShortensAPause) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  Permit a = limiter.Acquire(kGraph, "GET");
  Permit b = limiter.Acquire(kGraph, "GET");
  a.Finish(Answer(429, {{"Retry-After", "30"}}));
  b.Finish(Answer(429, {{"Retry-After", "2"}}));
  EXPECT_EQ(StatsOf(limiter, kGraph).paused_until, clock.Now() + absl::Seconds(30));
  EXPECT_EQ(StatsOf(limiter, kGraph).cloud_429, 2);
}

TEST(RateLimiterTest, WithoutRetryAfterThePauseDoublesUpTo30sAndResets) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  std::vector<absl::Duration> pauses;
  for (int i = 0; i < 7; ++i) {
    // Each request leaves once the previous pause is over.
    if (StatsOf(limiter, kGraph).paused_until > clock.Now()) {
      clock.Set(StatsOf(limiter, kGraph).paused_until);
    }
    limiter.Acquire(kGraph, "GET").Finish(Answer(429));
    pauses.push_back(StatsOf(limiter, kGraph).paused_until - clock.Now());
  }
  EXPECT_THAT(pauses,
              ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4), absl::Seconds(8),
                          absl::Seconds(16), absl::Seconds(30), absl::Seconds(30)));
  clock.Advance(absl::Seconds(30));
  limiter.Acquire(kGraph, "GET").Finish(Answer(200));
  limiter.Acquire(kGraph, "GET").Finish(Answer(429));
  EXPECT_EQ(StatsOf(limiter, kGraph).paused_until - clock.Now(), absl::Seconds(1));
}

TEST(RateLimiterTest, AnswersToRequestsSentBeforeThePauseDoNotDoubleIt) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  std::vector<Permit> in_flight;
  for (int i = 0; i < 5; ++i) in_flight.push_back(limiter.Acquire(kDataverse, "GET"));
  clock.Advance(absl::Milliseconds(10));
  for (Permit& p : in_flight) p.Finish(Answer(429));
  EXPECT_EQ(StatsOf(limiter, kDataverse).paused_until, clock.Now() + absl::Seconds(1));
  EXPECT_EQ(StatsOf(limiter, kDataverse).cloud_429, 5);
}

// ---- reload -------------------------------------------------------------------

TEST(RateLimiterTest, NewLimitsApplyToExistingBuckets) {
  FakeClock clock;
  RateLimiter limiter(GraphLimits(1, absl::Seconds(10), absl::Milliseconds(500)), Exact(&clock));
  ASSERT_TRUE(limiter.Acquire(kGraph, "POST").granted());
  EXPECT_FALSE(limiter.Acquire(kGraph, "POST").granted());

  // Larger: the one request sent leaves room for 9,999 more.
  limiter.SetLimits(GraphLimits(10000, absl::Seconds(10), absl::Milliseconds(500)));
  for (int i = 0; i < 100; ++i) {
    Permit p = limiter.Acquire(kGraph, "POST");
    ASSERT_TRUE(p.granted()) << i;
    EXPECT_EQ(p.waited(), absl::ZeroDuration()) << i;
  }
  EXPECT_EQ(limiter.limits().graph_writes.requests, 10000);

  // Smaller again: the window already holds more than 10.
  limiter.SetLimits(GraphLimits(10, absl::Seconds(10), absl::Milliseconds(500)));
  EXPECT_FALSE(limiter.Acquire(kGraph, "POST").granted());

  // Off.
  limiter.SetLimits(GraphLimits(0, absl::Seconds(10), absl::Milliseconds(500)));
  EXPECT_TRUE(limiter.Acquire(kGraph, "POST").granted());
}

TEST(RateLimiterTest, NewConcurrencyCapAppliesToRequestsInFlight) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  Permit a = limiter.Acquire(kDataverse, "GET");
  Permit b = limiter.Acquire(kDataverse, "GET");
  LimitsConfig one_at_a_time;
  one_at_a_time.dataverse.concurrent = 1;
  limiter.SetLimits(one_at_a_time);
  std::future<Permit> waiter = AcquireAsync(limiter, kDataverse, "GET");
  AwaitWaiting(limiter, kDataverse, 1);
  a.Finish(Answer(200));
  EXPECT_FALSE(Ready(waiter, std::chrono::milliseconds(20)));  // b still holds the one slot
  b.Finish(Answer(200));
  EXPECT_TRUE(Get(limiter, waiter).granted());
}

TEST(RateLimiterTest, PausesSurviveNewLimits) {
  FakeClock clock;
  RateLimiter limiter(LimitsConfig{}, Exact(&clock));
  limiter.Acquire(kGraph, "POST").Finish(Answer(429, {{"Retry-After", "10"}}));
  limiter.SetLimits(GraphLimits(50, absl::Seconds(10)));
  EXPECT_EQ(StatsOf(limiter, kGraph).paused_until, clock.Now() + absl::Seconds(10));
}

// ---- threads ------------------------------------------------------------------

TEST(RateLimiterTest, ManyThreadsTogetherStayUnderTheLimit) {
  SteppingClock clock(absl::Microseconds(100));
  RateLimiter limiter(GraphLimits(50, absl::Seconds(1)), Exact(&clock, absl::Microseconds(50)));
  absl::Mutex mu;
  std::vector<absl::Time> times;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        Permit p = limiter.Acquire(kGraph, "POST");
        ASSERT_TRUE(p.granted());
        absl::MutexLock lock(&mu);
        times.push_back(p.granted_at());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::sort(times.begin(), times.end());
  ASSERT_EQ(times.size(), 200u);
  EXPECT_TRUE(BucketAccepts(times, 50, absl::Seconds(1)));
}

}  // namespace
}  // namespace guestflow
