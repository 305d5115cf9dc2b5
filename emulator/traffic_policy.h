// TrafficPolicy: what happens to a request before its route runs, per the
// knobs: injected faults (503, connection reset, slow answer), throttling at
// Microsoft's documented limits scaled by knobs.throttle_scale (429 with
// Retry-After, in each service's own shape), and added latency.
//
// Throttling (reference/microsoft-apis.md section G), per caller as the
// bearer token identifies it (CloudState::grants); requests without a valid
// token are not throttled (their route answers 401):
//   graph      per (tenant, app): a token bucket of resource units, 3,500 /
//              5,000 / 8,000 RU per 10 s for tenants of < 50 / 50-500 / > 500
//              users, and a write bucket of 3,000 writes per 150 s. Costs per
//              GraphRequestCost(). Answers carry x-ms-resource-unit (and
//              x-ms-throttle-limit-percentage above 80 % use); a 429 carries a
//              fractional Retry-After, x-ms-throttle-scope and
//              x-ms-throttle-information (ResourceUnitLimitExceeded or
//              WriteLimitExceeded) and Graph's TooManyRequests body.
//   dataverse  per (org, app): 6,000 requests per 300 s sliding window
//              (0x80072322) and 52 concurrent requests (0x80072326); 429 with
//              an integer Retry-After.
//   admin      per (tenant, app): 100 requests per 60 s sliding window. NOT
//              documented by Microsoft: a figure of the same order as the
//              Power Platform's other per-user request limits.
// Scaling multiplies the counts (never below 1), not the windows.
// knobs.throttle_limits sets one limit exactly instead (count and window,
// not scaled), e.g. a Graph write limit that binds within a short benchmark. Retry-After
// is the real time until the bucket or window has room again.
//
// Faults, drawn independently per request with absl::BitGen:
//   reset_rate  the TCP connection is reset (RST) without an answer; the
//               client sees a transport error ("Connection reset by peer").
//               The journal records such a request with status 0.
//   error_rate  503 in the service's error shape, half of them with a short
//               Retry-After.
//   throttle_rate  429 in the service's throttling shape with a short
//               Retry-After (Graph 0.2 s, others 1 s), as if a limit shared
//               with other callers had run out. Token requests are spared.
//   slow_rate   the answer is delayed by slow_ms.
// Requests to /_emulator (service "control") are never touched.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "emulator/cloud_state.h"
#include "emulator/throttle.h"
#include "httplib.h"

namespace guestflow::emulator {

// Microsoft's documented limits (unscaled).
inline constexpr double kGraphResourceUnitsSmall = 3500;   // tenants of < 50 users
inline constexpr double kGraphResourceUnitsMedium = 5000;  // 50 to 500 users
inline constexpr double kGraphResourceUnitsLarge = 8000;   // > 500 users
inline constexpr absl::Duration kGraphResourceUnitWindow = absl::Seconds(10);
inline constexpr double kGraphWrites = 3000;
inline constexpr absl::Duration kGraphWriteWindow = absl::Seconds(150);
inline constexpr int64_t kDataverseRequests = 6000;
inline constexpr absl::Duration kDataverseWindow = absl::Seconds(300);
inline constexpr int64_t kDataverseConcurrent = 52;
inline constexpr int64_t kAdminRequests = 100;  // not documented, see above
inline constexpr absl::Duration kAdminWindow = absl::Seconds(60);

// The resource units of one Graph identity-service request: GET users 2, GET
// subscribedSkus 3, GET groups/{id}/members 3, any other GET 1, writes 1;
// then $select -1, $expand +1, $top < 20 -1, never below 1. `path` is the
// request path without the query (/v1.0/users/...).
int GraphRequestCost(absl::string_view method, absl::string_view path,
                     const httplib::Params& params);

// True for POST, PATCH, PUT and DELETE: the requests the write quota counts.
bool IsGraphWrite(absl::string_view method);

// The per-10-second resource-unit limit of a tenant with `users` users.
double GraphResourceUnitLimit(size_t users);

// Retry-After values: Graph's with up to millisecond precision ("2.128",
// rounded up), Dataverse's and the admin API's in whole seconds (rounded up,
// at least 1).
std::string FractionalRetryAfter(absl::Duration wait);
std::string IntegerRetryAfter(absl::Duration wait);

class TrafficPolicy {
 public:
  explicit TrafficPolicy(CloudState* state) : state_(state) {}

  // Runs before routing, on the request's worker thread. Returns true when
  // it answered the request itself (a fault or a 429), false to let the route
  // run. A Dataverse request that passes holds a concurrency slot until its
  // httplib::Response is destroyed, i.e. until its answer was written.
  bool Before(const httplib::Request& req, httplib::Response& res, const std::string& service);

 private:
  // Who is calling, from the bearer token.
  struct Caller {
    std::string tenant_id;
    std::string client_id;
    std::string audience;
    size_t tenant_users = 0;
  };
  struct Bucket {
    double capacity = 0;
    absl::Duration window;
    std::unique_ptr<TokenBucket> bucket;
  };
  struct Window {
    int64_t limit = 0;
    absl::Duration window;
    std::unique_ptr<SlidingWindowCounter> counter;
  };

  // True when the request was answered with 429.
  bool ThrottleGraph(const httplib::Request& req, httplib::Response& res, const Caller& caller,
                     const Knobs& knobs);
  bool ThrottleDataverse(httplib::Response& res, const Caller& caller, const Knobs& knobs);
  bool ThrottleAdmin(httplib::Response& res, const Caller& caller, const Knobs& knobs);

  TokenBucket& BucketFor(const std::string& key, double capacity, absl::Duration window,
                         absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SlidingWindowCounter& WindowFor(const std::string& key, int64_t limit, absl::Duration window)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  CloudState* const state_;
  ConcurrencyLimiter concurrency_;
  absl::Mutex mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow::emulator
