#include "emulator/traffic_policy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "emulator/http_util.h"

namespace guestflow::emulator {
namespace {

// A generator per worker thread: absl::BitGen is not thread-safe, and a lock
// around it would serialise every request.
bool Chance(double rate) {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  thread_local absl::BitGen gen;
  return absl::Bernoulli(gen, rate);
}

// The socket address as text and port, or false for a non-IP socket.
bool AddressOf(const sockaddr_storage& addr, std::string* host, int* port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) == nullptr) return false;
    *port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text)) == nullptr) return false;
    *port = ntohs(in6->sin6_port);
  } else {
    return false;
  }
  *host = text;
  return true;
}

// The descriptor of the connection `req` arrived on. cpp-httplib 0.11 hands
// handlers no socket, but the request knows both ends of its connection, and
// a TCP 4-tuple names one live socket: the one this thread is serving, which
// cannot close while its handler runs. So the match is exact even while other
// threads open and close descriptors.
int FindConnectionFd(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  std::vector<int> fds;
  while (const dirent* entry = readdir(dir)) {
    int fd = 0;
    if (absl::SimpleAtoi(entry->d_name, &fd) && fd > 2 && fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  for (int fd : fds) {
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof(local), peer_len = sizeof(peer);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      continue;
    }
    std::string local_host, peer_host;
    int local_port = 0, peer_port = 0;
    if (!AddressOf(local, &local_host, &local_port) || !AddressOf(peer, &peer_host, &peer_port)) {
      continue;
    }
    if (local_port == req.local_port && peer_port == req.remote_port &&
        peer_host == req.remote_addr && (req.local_addr.empty() || local_host == req.local_addr)) {
      return fd;
    }
  }
  return -1;
}

// Resets the request's TCP connection: connect(AF_UNSPEC) on a connected TCP
// socket makes Linux send a RST and drop the connection while the descriptor
// stays open, so cpp-httplib's own close later stays correct (closing it here
// would let a new connection reuse the number under httplib's feet). The
// answer httplib then tries to write fails with ECONNRESET.
bool ResetConnection(const httplib::Request& req) {
  const int fd = FindConnectionFd(req);
  if (fd < 0) return false;
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  return connect(fd, &unspec, sizeof(unspec)) == 0;
}

std::string GraphDate() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::Now(), absl::UTCTimeZone());
}

// The body of Graph's documented 429 (concepts/throttling.md sample).
void SendGraphThrottled(const httplib::Request& req, httplib::Response& res) {
  const std::string id = CurrentRequestId(req);
  SendJson(res, 429,
           {{"error",
             {{"code", "TooManyRequests"},
              {"innerError",
               {{"code", "429"},
                {"date", GraphDate()},
                {"message", "Please retry after"},
                {"request-id", id},
                {"client-request-id", id},
                {"status", "429"}}},
              {"message", "Please retry again later."}}}});
}

void SendTokenUnavailable(const httplib::Request& req, httplib::Response& res) {
  const std::string id = CurrentRequestId(req);
  const std::string now = absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  SendJson(
      res, 503,
      {{"error", "temporarily_unavailable"},
       {"error_description",
        absl::StrCat("AADSTS90033: A transient error has occurred. Please try again.",
                     "\r\nTrace ID: ", id, "\r\nCorrelation ID: ", id, "\r\nTimestamp: ", now)},
       {"error_codes", {90033}},
       {"timestamp", now},
       {"trace_id", id},
       {"correlation_id", id}});
}

// A 429 in the shape of `service`, for knobs.throttle_rate.
void SendInjectedThrottle(const httplib::Request& req, httplib::Response& res,
                          const std::string& service) {
  if (service == "graph") {
    res.set_header("Retry-After", FractionalRetryAfter(absl::Milliseconds(200)));
    SendGraphThrottled(req, res);
  } else if (service == "dataverse") {
    res.set_header("Retry-After", "1");
    SendDataverseError(res, 429, "0x80072322",
                       "Number of requests exceeded the limit of 6000 over time window of 300 "
                       "seconds.");
  } else {
    res.set_header("Retry-After", "1");
    SendJson(res, 429,
             {{"error",
               {{"code", "TooManyRequests"},
                {"message", "Rate limit is exceeded. Try again in 1 seconds."}}}});
  }
}

// A 503 in the shape of `service`; half of them say when to come back.
void SendServiceUnavailable(const httplib::Request& req, httplib::Response& res,
                            const std::string& service) {
  const bool with_retry_after = Chance(0.5);
  if (service == "graph") {
    if (with_retry_after) {
      res.set_header("Retry-After", FractionalRetryAfter(absl::Milliseconds(500)));
    }
    SendGraphError(req, res, 503, "serviceNotAvailable",
                   "The service is temporarily unavailable. Please retry later.");
  } else if (service == "dataverse") {
    if (with_retry_after) res.set_header("Retry-After", "1");
    // Dataverse's generic "unexpected error" code: it has no code of its own
    // for an unavailable web server.
    SendDataverseError(res, 503, "0x80040216", "Service Unavailable. Please retry later.");
  } else if (service == "token") {
    if (with_retry_after) res.set_header("Retry-After", "1");
    SendTokenUnavailable(req, res);
  } else {
    if (with_retry_after) res.set_header("Retry-After", "1");
    SendJson(res, 503,
             {{"error",
               {{"code", "ServiceUnavailable"},
                {"message", "The service is temporarily unavailable. Please retry later."}}}});
  }
}

// "dataverse:{org}" for /orgs/{org}/...
std::string DataverseAudienceOf(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, "/orgs/")) return "";
  return absl::StrCat("dataverse:", path.substr(0, path.find('/')));
}

int64_t ScaledCount(double documented, double scale) {
  return std::max<int64_t>(1, std::llround(documented * scale));
}

// A limit in force: the documented one scaled, or knobs.throttle_limits[name].
struct Limit {
  double requests;
  absl::Duration window;
};

Limit LimitFor(const Knobs& knobs, const std::string& name, double documented,
               absl::Duration window) {
  if (auto it = knobs.throttle_limits.find(name); it != knobs.throttle_limits.end()) {
    return {it->second.requests, it->second.per_s > 0 ? absl::Seconds(it->second.per_s) : window};
  }
  return {documented * knobs.throttle_scale, window};
}

}  // namespace

bool IsGraphWrite(absl::string_view method) {
  return method == "POST" || method == "PATCH" || method == "PUT" || method == "DELETE";
}

int GraphRequestCost(absl::string_view method, absl::string_view path,
                     const httplib::Params& params) {
  if (IsGraphWrite(method)) return 1;
  std::vector<absl::string_view> segments = absl::StrSplit(path, '/', absl::SkipEmpty());
  if (!segments.empty() && (segments[0] == "v1.0" || segments[0] == "beta")) {
    segments.erase(segments.begin());
  }
  auto is = [&](size_t i, absl::string_view name) {
    return segments.size() > i && absl::EqualsIgnoreCase(segments[i], name);
  };
  int cost = 1;
  if (is(0, "subscribedSkus") || (is(0, "groups") && is(2, "members"))) {
    cost = 3;
  } else if (is(0, "users") && segments.size() <= 2) {
    cost = 2;  // the user resource itself, listed or by id
  }
  if (params.count("$select") > 0) --cost;
  if (params.count("$expand") > 0) ++cost;
  if (auto top = params.find("$top"); top != params.end()) {
    int n = 0;
    if (absl::SimpleAtoi(top->second, &n) && n < 20) --cost;
  }
  return std::max(cost, 1);
}

double GraphResourceUnitLimit(size_t users) {
  if (users < 50) return kGraphResourceUnitsSmall;
  if (users <= 500) return kGraphResourceUnitsMedium;
  return kGraphResourceUnitsLarge;
}

std::string FractionalRetryAfter(absl::Duration wait) {
  const int64_t ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
  if (ms % 1000 == 0) return absl::StrCat(ms / 1000);
  std::string text = absl::StrFormat("%d.%03d", ms / 1000, ms % 1000);
  while (text.back() == '0') text.pop_back();
  return text;
}

std::string IntegerRetryAfter(absl::Duration wait) {
  return absl::StrCat(
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1)))));
}

TokenBucket& TrafficPolicy::BucketFor(const std::string& key, double capacity,
                                      absl::Duration window, absl::Time now) {
  Bucket& b = buckets_[key];
  // A changed limit (throttle_scale, throttle_limits, tenant size) starts a fresh, full bucket.
  if (b.bucket == nullptr || b.capacity != capacity || b.window != window) {
    b.capacity = capacity;
    b.window = window;
    b.bucket = std::make_unique<TokenBucket>(capacity, window, now);
  }
  return *b.bucket;
}

SlidingWindowCounter& TrafficPolicy::WindowFor(const std::string& key, int64_t limit,
                                               absl::Duration window) {
  Window& w = windows_[key];
  if (w.counter == nullptr || w.limit != limit || w.window != window) {
    w.limit = limit;
    w.window = window;
    w.counter = std::make_unique<SlidingWindowCounter>(limit, window);
  }
  return *w.counter;
}

bool TrafficPolicy::ThrottleGraph(const httplib::Request& req, httplib::Response& res,
                                  const Caller& caller, const Knobs& knobs) {
  // sendMail is the Outlook service, with limits of its own per mailbox.
  if (absl::EndsWithIgnoreCase(req.path, "/sendMail")) return false;
  const int cost = GraphRequestCost(req.method, req.path, req.params);
  const bool write = IsGraphWrite(req.method);
  const std::string key = absl::StrCat(caller.tenant_id, "|", caller.client_id);
  const absl::Time now = absl::Now();

  absl::Duration wait = absl::ZeroDuration();
  bool write_limited = false;
  double used = 0;
  {
    absl::MutexLock lock(&mu_);
    const Limit ru =
        LimitFor(knobs, "graph_resource_units", GraphResourceUnitLimit(caller.tenant_users),
                 kGraphResourceUnitWindow);
    TokenBucket& units =
        BucketFor(absl::StrCat("graph-ru|", key), std::max(1.0, ru.requests), ru.window, now);
    TokenBucket* writes = nullptr;
    if (write) {
      const Limit w = LimitFor(knobs, "graph_writes", kGraphWrites, kGraphWriteWindow);
      writes =
          &BucketFor(absl::StrCat("graph-write|", key), std::max(1.0, w.requests), w.window, now);
    }
    // Both quotas are checked before either is charged: a refused request
    // costs nothing.
    const double unit_cost = std::min<double>(cost, units.capacity());
    if (writes != nullptr && writes->Available(now) < 1) {
      wait = writes->TryTake(1, now);
      write_limited = true;
    } else if (units.Available(now) < unit_cost) {
      wait = units.TryTake(unit_cost, now);
    } else {
      (void)units.TryTake(unit_cost, now);
      if (writes != nullptr) (void)writes->TryTake(1, now);
    }
    used = 1.0 - units.Available(now) / units.capacity();
  }
  res.set_header("x-ms-resource-unit", absl::StrCat(cost));
  if (wait == absl::ZeroDuration()) {
    if (used > 0.8) res.set_header("x-ms-throttle-limit-percentage", absl::StrFormat("%.1f", used));
    return false;
  }
  res.set_header("Retry-After", FractionalRetryAfter(wait));
  res.set_header("x-ms-throttle-scope",
                 absl::StrCat("Tenant_Application/", write_limited ? "Write" : "ReadWrite", "/",
                              caller.client_id, "/", caller.tenant_id));
  res.set_header("x-ms-throttle-information",
                 write_limited ? "WriteLimitExceeded" : "ResourceUnitLimitExceeded");
  SendGraphThrottled(req, res);
  return true;
}

bool TrafficPolicy::ThrottleDataverse(httplib::Response& res, const Caller& caller,
                                      const Knobs& knobs) {
  const std::string key = absl::StrCat(caller.audience, "|", caller.client_id);
  const int64_t concurrent = ScaledCount(
      LimitFor(knobs, "dataverse_concurrent", kDataverseConcurrent, absl::ZeroDuration()).requests,
      1.0);
  if (!concurrency_.TryAcquire(key, concurrent)) {
    // When a running request will end is unknowable here: a short, fixed
    // Retry-After stands in for the real time.
    res.set_header("Retry-After", "1");
    SendDataverseError(
        res, 429, "0x80072326",
        absl::StrCat("Number of concurrent requests exceeded the limit of ", concurrent, "."));
    return true;
  }
  const Limit dv = LimitFor(knobs, "dataverse", kDataverseRequests, kDataverseWindow);
  const int64_t limit = ScaledCount(dv.requests, 1.0);
  absl::Duration wait;
  int64_t remaining = 0;
  {
    absl::MutexLock lock(&mu_);
    SlidingWindowCounter& window = WindowFor(absl::StrCat("dataverse|", key), limit, dv.window);
    wait = window.TryAdd(absl::Now());
    remaining = limit - window.Count(absl::Now());
  }
  if (wait > absl::ZeroDuration()) {
    concurrency_.Release(key);
    res.set_header("Retry-After", IntegerRetryAfter(wait));
    SendDataverseError(
        res, 429, "0x80072322",
        absl::StrCat("Number of requests exceeded the limit of ", limit, " over time window of ",
                     absl::ToInt64Seconds(dv.window), " seconds."));
    return true;
  }
  res.set_header("x-ms-ratelimit-burst-remaining-xrm-requests", absl::StrCat(remaining));
  // The slot is held until the answer is written: cpp-httplib destroys the
  // Response then, and runs its resource releaser. Routes answer with
  // set_content, which leaves the releaser alone; a route that streamed with
  // a content provider of its own would replace it and leak the slot.
  res.content_provider_resource_releaser_ = [this, key](bool) { concurrency_.Release(key); };
  return false;
}

bool TrafficPolicy::ThrottleAdmin(httplib::Response& res, const Caller& caller,
                                  const Knobs& knobs) {
  const Limit admin = LimitFor(knobs, "admin", kAdminRequests, kAdminWindow);
  const int64_t limit = ScaledCount(admin.requests, 1.0);
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    wait = WindowFor(absl::StrCat("admin|", caller.tenant_id, "|", caller.client_id), limit,
                     admin.window)
               .TryAdd(absl::Now());
  }
  if (wait == absl::ZeroDuration()) return false;
  const std::string seconds = IntegerRetryAfter(wait);
  res.set_header("Retry-After", seconds);
  SendJson(res, 429,
           {{"error",
             {{"code", "TooManyRequests"},
              {"message",
               absl::StrCat("Rate limit is exceeded. Try again in ", seconds, " seconds.")}}}});
  return true;
}

bool TrafficPolicy::Before(const httplib::Request& req, httplib::Response& res,
                           const std::string& service) {
  if (service == "control" || service.empty()) return false;

  Knobs knobs;
  std::optional<Caller> caller;
  const std::string authorization = req.get_header_value("Authorization");
  const std::string token = absl::StartsWithIgnoreCase(authorization, "Bearer ")
                                ? std::string(absl::StripAsciiWhitespace(authorization.substr(7)))
                                : std::string();
  state_->Locked([&](CloudState& s) {
    knobs = s.knobs;
    if (token.empty()) return 0;
    auto it = s.grants.find(token);
    if (it == s.grants.end() || it->second.expires < absl::Now()) return 0;
    Caller c;
    c.tenant_id = it->second.tenant_id;
    c.client_id = it->second.client_id;
    c.audience = it->second.audience;
    if (const Tenant* tenant = s.FindTenant(c.tenant_id); tenant != nullptr) {
      c.tenant_users = tenant->users.size();
    }
    caller = std::move(c);
    return 0;
  });

  if (Chance(knobs.reset_rate) && ResetConnection(req)) {
    // Nothing reaches the client; status 0 tells the journal there was no
    // answer.
    res.status = 0;
    return true;
  }
  if (Chance(knobs.error_rate)) {
    SendServiceUnavailable(req, res, service);
    return true;
  }
  if (service != "token" && Chance(knobs.throttle_rate)) {
    SendInjectedThrottle(req, res, service);
    return true;
  }

  // A token of another service's audience is the route's business (401).
  if (caller.has_value() && knobs.throttle_scale > 0) {
    bool throttled = false;
    if (service == "graph" && caller->audience == "graph") {
      throttled = ThrottleGraph(req, res, *caller, knobs);
    } else if (service == "dataverse" && caller->audience == DataverseAudienceOf(req.path)) {
      throttled = ThrottleDataverse(res, *caller, knobs);
    } else if (service == "admin" && caller->audience == "admin") {
      throttled = ThrottleAdmin(res, *caller, knobs);
    }
    if (throttled) return true;
  }

  int delay_ms = 0;
  if (auto it = knobs.latency_ms.find(service); it != knobs.latency_ms.end()) delay_ms = it->second;
  if (knobs.slow_ms > 0 && Chance(knobs.slow_rate)) delay_ms += knobs.slow_ms;
  if (delay_ms > 0) absl::SleepFor(absl::Milliseconds(delay_ms));
  return false;
}

}  // namespace guestflow::emulator
