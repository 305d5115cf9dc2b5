// The host side of the plugin ABI: the gf_host_api callback table every
// plugin instance gets, and the host's definition of the opaque `gf_call`.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "guestflow/plugin_abi.h"
#include "server/common/clock.h"
#include "server/config/config.h"
#include "server/http/http_client.h"
#include "server/http/rate_limiter.h"
#include "server/http/token_provider.h"
#include "server/model/cloud_call.h"

namespace guestflow {

// One result of a plugin's check(), or of the host's own checks.
struct PluginCheck {
  std::string name;
  bool ok = false;
  std::string detail;
};

// The sizes of the 1.0 request/response structs: the least the host accepts
// from a plugin.
inline constexpr size_t kHttpRequestSizeV1_0 = offsetof(gf_http_request, service) + sizeof(gf_str);
inline constexpr size_t kHttpResponseSizeV1_0 =
    offsetof(gf_http_response, transport_error) + sizeof(gf_str);

// The callback table handed to every plugin instance. OWNERSHIP: static, never
// freed, so it outlives every instance. Every callback is noexcept, accepts a
// NULL or malformed argument without crashing, and may run on any thread.
// Without a call (`call` NULL: in create/destroy) log() has no context and
// now_unix_ms() reads the real clock.
const gf_host_api* HostApi();

// `text` with every secret of `secrets` (those of 6 characters or more) and
// every "Bearer <token>" credential replaced by "[REDACTED]".
std::string RedactSecrets(absl::string_view text, const std::vector<std::string>& secrets);

}  // namespace guestflow

// One run_step or check invocation, as the host sees it. The C header declares
// `struct gf_call` at global scope; this is its definition.
//
// Lifecycle: made by the plugin host on its own stack for one call into a
// plugin; the plugin may use the handle only until that call returns. Every
// buffer handed to the plugin lives in `arena` until the gf_call is destroyed.
// Thread-safety: the plugin may use the handle from several threads during the
// call; the mutable part is guarded by `mu`.
struct gf_call {
  // Fixed for the call. Pointers are borrowed from the plugin host; a null
  // service makes the matching callback report an error.
  std::string tenant;
  std::string onboarding_id;
  std::string step;    // "invite", ..., or "check"
  std::string plugin;  // the plugin's name, for log lines
  const guestflow::TenantConfig* tenant_config = nullptr;
  guestflow::HttpClient* http = nullptr;
  guestflow::TokenProvider* tokens = nullptr;
  guestflow::Clock* clock = nullptr;
  // Null: requests are sent at once. Otherwise http() waits for the
  // limiter's slot for the request's bucket, and answers a refused request
  // itself: status 429 with Retry-After (whole seconds) and
  // X-Guestflow-Throttled: local, without sending it.
  guestflow::RateLimiter* limiter = nullptr;

  absl::Mutex mu;
  // Strings handed to the plugin; a deque never moves its elements.
  std::deque<std::string> arena ABSL_GUARDED_BY(mu);
  std::deque<std::vector<gf_http_header>> header_arena ABSL_GUARDED_BY(mu);
  // Values redacted from the plugin's log lines and errors: the client secret
  // and tokens handed out during this call.
  std::vector<std::string> secrets ABSL_GUARDED_BY(mu);

  // What the plugin reported.
  std::map<std::string, std::string> outputs ABSL_GUARDED_BY(mu);
  std::string error ABSL_GUARDED_BY(mu);
  std::optional<absl::Duration> retry_after ABSL_GUARDED_BY(mu);
  // Whether the last answer http() gave the plugin was 429, the cloud's or
  // the limiter's own. A retry asked for right after it is the cloud's pace,
  // not a failed attempt. (A 503 is a fault, even with Retry-After: retries
  // after it count, so that a broken service ends in failure.)
  bool last_answer_throttled ABSL_GUARDED_BY(mu) = false;
  std::vector<guestflow::PluginCheck> checks ABSL_GUARDED_BY(mu);
  // The calls with a side effect in the cloud (every method but GET and
  // HEAD) sent during this call, for the audit trail.
  std::vector<guestflow::CloudCall> cloud_calls ABSL_GUARDED_BY(mu);

  // Copies `s` into the arena and returns a view of the copy.
  gf_str Keep(std::string s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::string& kept = arena.emplace_back(std::move(s));
    return gf_str{kept.data(), kept.size()};
  }
  // "plugin=... tenant=... onboarding=... step=..." for log lines.
  std::string LogContext() const;
};
