#include "server/plugin_host/host_api.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"
#include "server/common/logging.h"
#include "server/config/secret.h"
#include "server/metrics/metrics.h"

std::string gf_call::LogContext() const {
  std::string context = absl::StrCat("plugin=", plugin, " tenant=", tenant);
  if (!onboarding_id.empty()) absl::StrAppend(&context, " onboarding=", onboarding_id);
  if (!step.empty()) absl::StrAppend(&context, " step=", step);
  return context;
}

namespace guestflow {
namespace {

constexpr absl::string_view kRedacted = "[REDACTED]";
constexpr size_t kMinSecretLength = 6;

absl::string_view View(gf_str s) {
  return s.data == nullptr ? absl::string_view() : absl::string_view(s.data, s.len);
}

bool Valid(gf_str s) { return s.data != nullptr || s.len == 0; }

LogLevel ToLogLevel(gf_log_level level) {
  switch (level) {
    case GF_LOG_DEBUG:
      return LogLevel::kDebug;
    case GF_LOG_INFO:
      return LogLevel::kInfo;
    case GF_LOG_WARN:
      return LogLevel::kWarn;
    case GF_LOG_ERROR:
      return LogLevel::kError;
  }
  return LogLevel::kInfo;
}

void HostLog(gf_call* call, gf_log_level level, gf_str message) noexcept {
  if (!Valid(message)) return;
  if (call == nullptr) {
    Log(ToLogLevel(level), RedactSecrets(View(message), {}), "source=plugin");
    return;
  }
  std::string text;
  {
    absl::MutexLock lock(&call->mu);
    text = RedactSecrets(View(message), call->secrets);
  }
  Log(ToLogLevel(level), text, call->LogContext());
}

int64_t HostNowUnixMs(gf_call* call) noexcept {
  const Clock* clock = call != nullptr && call->clock != nullptr ? call->clock : Clock::Real();
  return absl::ToUnixMillis(clock->Now());
}

// The answer to a request the rate limiter refused: what the cloud would have
// said, so that the plugin retries through its ordinary 429 handling (the
// step goes back to the scheduler instead of a worker sleeping).
int32_t AnswerThrottled(gf_call* call, const RateLimiter::Permit& permit,
                        gf_http_response* response) {
  const int64_t seconds = std::max<int64_t>(
      1, absl::ToInt64Seconds(absl::Ceil(permit.retry_after(), absl::Seconds(1))));
  const std::string message = absl::StrCat(
      "guestflow held this request back: the ", permit.key().service,
      " limit for this app and tenant is reached or paused; retry after ", seconds, " s");
  LogDebug(absl::StrCat("request held back by the rate limiter for ", seconds, " s"),
           absl::StrCat(call->LogContext(), " bucket=\"", permit.key().ToString(), "\""));
  // The service name comes from the plugin: never let its bytes throw.
  const std::string body =
      nlohmann::json{{"error", {{"code", "TooManyRequests"}, {"message", message}}}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
  absl::MutexLock lock(&call->mu);
  call->last_answer_throttled = true;
  response->status = 429;
  response->body = call->Keep(body);
  std::vector<gf_http_header>& headers = call->header_arena.emplace_back();
  const std::pair<std::string, std::string> fields[] = {{"Retry-After", absl::StrCat(seconds)},
                                                        {"X-Guestflow-Throttled", "local"},
                                                        {"Content-Type", "application/json"}};
  for (const auto& [name, value] : fields) {
    const gf_str kept_name = call->Keep(name);
    headers.push_back({kept_name, call->Keep(value)});
  }
  response->headers = headers.data();
  response->header_count = headers.size();
  return 0;
}

// The audit trail's record of `request` if it has a side effect (any
// method but GET and HEAD): `response` when an answer came, else `error`.
metrics::Counter* const cloud_requests = metrics::Counter::New(
    "guestflow_cloud_requests_total",
    "Requests sent to the cloud, by service (graph, dataverse, admin, token, webhook, ...), "
    "method and HTTP status (\"error\": no answer).",
    {"service", "method", "status"});
metrics::Histogram* const cloud_duration = metrics::Histogram::New(
    "guestflow_cloud_request_duration_seconds", "Time from sending a cloud request to its answer.",
    {"service"}, metrics::Histogram::LatencyBuckets());
metrics::Counter* const cloud_throttled = metrics::Counter::New(
    "guestflow_cloud_throttled_total", "429 answers of the cloud, by service and tenant.",
    {"service", "tenant"});
metrics::Counter* const cloud_retry_after = metrics::Counter::New(
    "guestflow_cloud_retry_after_seconds_total",
    "Seconds the cloud's 429 answers asked to wait (Retry-After), by service and tenant.",
    {"service", "tenant"});

void CountCloudCall(const gf_call& call, const HttpRequest& request, absl::Time sent,
                    const HttpResponse* response) {
  const absl::Time now = call.clock != nullptr ? call.clock->Now() : absl::Now();
  const std::string method = absl::AsciiStrToUpper(request.method);
  cloud_requests->Add(
      {request.service, method, response != nullptr ? absl::StrCat(response->status) : "error"});
  cloud_duration->Observe({request.service}, absl::ToDoubleSeconds(now - sent));
  if (response == nullptr || response->status != 429) return;
  cloud_throttled->Add({request.service, call.tenant});
  for (const HttpHeader& h : response->headers) {
    double seconds = 0;
    if (absl::EqualsIgnoreCase(h.name, "retry-after") && absl::SimpleAtod(h.value, &seconds)) {
      cloud_retry_after->Add({request.service, call.tenant}, seconds);
    }
  }
}

void RecordCloudCall(gf_call& call, const HttpRequest& request, absl::Time sent,
                     const HttpResponse* response, absl::string_view error)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(call.mu) {
  CountCloudCall(call, request, sent, response);
  if (absl::EqualsIgnoreCase(request.method, "GET") ||
      absl::EqualsIgnoreCase(request.method, "HEAD")) {
    return;
  }
  CloudCall c;
  c.onboarding_id = call.onboarding_id;
  c.tenant = call.tenant;
  c.step = call.step;
  c.plugin = call.plugin;
  c.time = sent;
  c.duration = (call.clock != nullptr ? call.clock->Now() : absl::Now()) - sent;
  c.method = absl::AsciiStrToUpper(request.method);
  c.url = request.url.substr(0, request.url.find('?'));
  c.service = request.service;
  if (response != nullptr) {
    c.status = response->status;
    // Graph answers request-id; Dataverse x-ms-service-request-id.
    for (const char* name :
         {"request-id", "x-ms-service-request-id", "x-ms-request-id", "client-request-id"}) {
      for (const HttpHeader& h : response->headers) {
        if (c.request_id.empty() && absl::EqualsIgnoreCase(h.name, name)) c.request_id = h.value;
      }
    }
  } else {
    c.transport_error = RedactSecrets(error, call.secrets);
  }
  // One line per change made in the cloud, with the cloud's request id: with
  // the step lines, a guest's whole story is one grep for its onboarding id.
  LogInfo(absl::StrCat("cloud call ", c.method, " ", c.url, " -> ",
                       response != nullptr ? absl::StrCat(c.status) : c.transport_error),
          absl::StrCat("onboarding=", c.onboarding_id, " tenant=", c.tenant, " step=", c.step,
                       " plugin=", c.plugin, " service=", c.service,
                       " request_id=", c.request_id.empty() ? "-" : c.request_id,
                       " ms=", absl::ToInt64Milliseconds(c.duration)));
  call.cloud_calls.push_back(std::move(c));
}

int32_t HostHttp(gf_call* call, const gf_http_request* request,
                 gf_http_response* response) noexcept {
  // Without a usable response struct or call there is nowhere to say why.
  if (response == nullptr || response->struct_size < kHttpResponseSizeV1_0) return -1;
  response->status = 0;
  response->body = gf_str{nullptr, 0};
  response->headers = nullptr;
  response->header_count = 0;
  response->transport_error = gf_str{nullptr, 0};
  if (call == nullptr) return -1;

  auto malformed = [call, response](absl::string_view why) {
    absl::MutexLock lock(&call->mu);
    response->transport_error = call->Keep(absl::StrCat("malformed request: ", why));
    return 1;
  };
  if (request == nullptr) return malformed("no request");
  if (request->struct_size < kHttpRequestSizeV1_0) return malformed("struct_size too small");
  if (!Valid(request->method) || !Valid(request->url) || !Valid(request->body) ||
      !Valid(request->service) || (request->header_count > 0 && request->headers == nullptr)) {
    return malformed("a buffer has a length but no data");
  }

  HttpRequest http;
  http.method = std::string(View(request->method));
  http.url = std::string(View(request->url));
  http.body = std::string(View(request->body));
  http.service = std::string(View(request->service));
  if (request->timeout_ms > 0) http.timeout = absl::Milliseconds(request->timeout_ms);
  http.headers.reserve(request->header_count);
  for (size_t i = 0; i < request->header_count; ++i) {
    const gf_http_header& h = request->headers[i];
    if (!Valid(h.name) || !Valid(h.value)) return malformed("a header buffer has no data");
    http.headers.push_back({std::string(View(h.name)), std::string(View(h.value))});
  }
  if (call->http == nullptr) {
    absl::MutexLock lock(&call->mu);
    response->transport_error = call->Keep("the host has no HTTP client");
    return 0;
  }

  RateLimiter::Permit permit;
  if (call->limiter != nullptr && call->tenant_config != nullptr) {
    permit = call->limiter->Acquire(*call->tenant_config, http);
    if (!permit.granted()) return AnswerThrottled(call, permit, response);
  }
  const absl::Time sent = call->clock != nullptr ? call->clock->Now() : absl::Now();
  absl::StatusOr<HttpResponse> result = call->http->Send(http);
  if (!result.ok()) {
    permit.Release();
    if (result.status().code() == absl::StatusCode::kInvalidArgument) {
      return malformed(result.status().message());
    }
    absl::MutexLock lock(&call->mu);
    RecordCloudCall(*call, http, sent, nullptr, result.status().message());
    call->last_answer_throttled = false;
    response->transport_error = call->Keep(std::string(result.status().message()));
    return 0;
  }
  permit.Finish(*result);
  absl::MutexLock lock(&call->mu);
  RecordCloudCall(*call, http, sent, &*result, "");
  call->last_answer_throttled = result->status == 429;
  response->status = result->status;
  response->body = call->Keep(std::move(result->body));
  std::vector<gf_http_header>& headers = call->header_arena.emplace_back();
  headers.reserve(result->headers.size());
  for (HttpHeader& h : result->headers) {
    gf_str name = call->Keep(std::move(h.name));
    gf_str value = call->Keep(std::move(h.value));
    headers.push_back({name, value});
  }
  response->headers = headers.data();
  response->header_count = headers.size();
  return 0;
}

int32_t HostGetToken(gf_call* call, gf_str scope, gf_str* token, gf_str* error,
                     int32_t* permanent) noexcept {
  if (call == nullptr || token == nullptr) return -1;
  *token = gf_str{nullptr, 0};
  if (error != nullptr) *error = gf_str{nullptr, 0};
  if (permanent != nullptr) *permanent = 0;
  auto fail = [&](const absl::Status& status) {
    absl::MutexLock lock(&call->mu);
    if (error != nullptr) {
      *error = call->Keep(RedactSecrets(status.message(), call->secrets));
    }
    if (permanent != nullptr) *permanent = IsPermanentTokenError(status) ? 1 : 0;
    // The token endpoint's Retry-After becomes the step's, unless the plugin
    // sets its own.
    if (std::optional<absl::Duration> wait = TokenRetryAfter(status); wait.has_value()) {
      if (!call->retry_after.has_value() || *call->retry_after < *wait) call->retry_after = *wait;
    }
    return 1;
  };
  if (!Valid(scope) || scope.len == 0) return fail(absl::InvalidArgumentError("empty token scope"));
  if (call->tokens == nullptr || call->tenant_config == nullptr) {
    return fail(absl::FailedPreconditionError("the host has no token provider"));
  }
  const TenantConfig& tenant = *call->tenant_config;
  absl::StatusOr<std::string> secret = ResolveSecret(tenant.client_secret);
  if (!secret.ok()) {
    return fail(absl::Status(
        secret.status().code(),
        absl::StrCat("client secret of tenant ", tenant.id, ": ", secret.status().message())));
  }
  {
    absl::MutexLock lock(&call->mu);
    call->secrets.push_back(*secret);
  }
  TokenRequest request;
  request.authority_url = tenant.authority_url;
  request.directory = tenant.directory;
  request.client_id = tenant.client_id;
  request.client_secret = *std::move(secret);
  request.scope = std::string(View(scope));
  absl::StatusOr<std::string> result = call->tokens->GetToken(request);
  if (!result.ok()) return fail(result.status());
  absl::MutexLock lock(&call->mu);
  call->secrets.push_back(*result);
  *token = call->Keep(*std::move(result));
  return 0;
}

void HostSetOutput(gf_call* call, gf_str key, gf_str value) noexcept {
  if (call == nullptr || !Valid(key) || key.len == 0 || !Valid(value)) return;
  absl::MutexLock lock(&call->mu);
  call->outputs[std::string(View(key))] = std::string(View(value));
}

void HostSetError(gf_call* call, gf_str message) noexcept {
  if (call == nullptr || !Valid(message)) return;
  absl::MutexLock lock(&call->mu);
  call->error = std::string(View(message));
}

void HostSetRetryAfterMs(gf_call* call, int64_t delay_ms) noexcept {
  if (call == nullptr || delay_ms < 0) return;
  absl::MutexLock lock(&call->mu);
  call->retry_after = absl::Milliseconds(delay_ms);
}

void HostAddCheck(gf_call* call, gf_str name, int32_t ok, gf_str detail) noexcept {
  if (call == nullptr || !Valid(name) || !Valid(detail)) return;
  absl::MutexLock lock(&call->mu);
  call->checks.push_back({std::string(View(name)), ok != 0, std::string(View(detail))});
}

constexpr gf_host_api kHostApi = {
    static_cast<uint32_t>(sizeof(gf_host_api)),
    GF_PLUGIN_ABI_VERSION,
    &HostLog,
    &HostNowUnixMs,
    &HostHttp,
    &HostGetToken,
    &HostSetOutput,
    &HostSetError,
    &HostSetRetryAfterMs,
    &HostAddCheck,
};

}  // namespace

const gf_host_api* HostApi() { return &kHostApi; }

std::string RedactSecrets(absl::string_view text, const std::vector<std::string>& secrets) {
  std::string out(text);
  for (const std::string& secret : secrets) {
    if (secret.size() >= kMinSecretLength) {
      absl::StrReplaceAll({{secret, kRedacted}}, &out);
    }
  }
  // A bearer credential the host did not hand out (a plugin's own) is still
  // one: hide whatever follows "Bearer ".
  static constexpr char kBearer[] = "bearer ";
  static constexpr size_t kBearerLength = sizeof(kBearer) - 1;
  const std::string lower = absl::AsciiStrToLower(out);
  std::string result;
  result.reserve(out.size());
  size_t pos = 0;
  while (true) {
    const size_t found = lower.find(kBearer, pos);
    if (found == std::string::npos) break;
    const size_t start = found + kBearerLength;
    size_t end = start;
    while (end < out.size() && !absl::ascii_isspace(static_cast<unsigned char>(out[end])) &&
           out[end] != '"' && out[end] != '\'' && out[end] != ',') {
      ++end;
    }
    result.append(out, pos, start - pos);
    if (end > start) absl::StrAppend(&result, kRedacted);
    pos = end;
  }
  result.append(out, pos, std::string::npos);
  return result;
}

}  // namespace guestflow
