// guestflow plugin SDK: write a plugin as an ordinary C++ class, export it
// with one macro.
//
//   class MyNotifier : public guestflow::sdk::Plugin {
//    public:
//     MyNotifier(const guestflow::sdk::Host& host, std::string_view config_json);
//     guestflow::sdk::StepResult RunStep(guestflow::sdk::Call& call,
//                                        std::string_view step,
//                                        std::string_view input_json) override;
//   };
//   GUESTFLOW_PLUGIN(MyNotifier, "my_notifier", GF_PLUGIN_KIND_NOTIFIER, "1.0.0")
//
// The macro defines the C entry point. Every function it exports is noexcept:
// an exception thrown by the class becomes GF_STEP_PLUGIN_ERROR (or a failed
// create) plus a last-error string, and never crosses the boundary.
//
// Header-only, standard library only, so a plugin built outside the guestflow
// tree needs nothing but this folder.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guestflow/plugin_abi.h"

namespace guestflow::sdk {

inline gf_str ToGf(std::string_view s) { return gf_str{s.data(), s.size()}; }
inline std::string_view FromGf(gf_str s) {
  return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.len);
}

// The outcome of a step, as the plugin wants the host to see it.
struct StepResult {
  gf_step_outcome outcome = GF_STEP_SUCCEEDED;
  std::string error;
  int64_t retry_after_ms = -1;  // -1: host decides

  static StepResult Succeeded() { return {}; }
  // A transient failure; retried with back-off, or after `retry_after_ms`.
  static StepResult Retry(std::string error, int64_t retry_after_ms = -1) {
    return {GF_STEP_RETRY, std::move(error), retry_after_ms};
  }
  // Still waiting on the cloud; not an error.
  static StepResult Wait(int64_t retry_after_ms, std::string why = {}) {
    return {GF_STEP_WAIT, std::move(why), retry_after_ms};
  }
  // A permanent failure; `error` must tell a person what to fix.
  static StepResult Failed(std::string error) { return {GF_STEP_FAILED, std::move(error), -1}; }
};

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<HttpHeader> headers;
  std::string body;
  uint32_t timeout_ms = 0;
  std::string service;
};

struct HttpResponse {
  int32_t status = 0;  // 0: no response, see transport_error
  std::string body;
  std::vector<HttpHeader> headers;
  std::string transport_error;

  // The first header with this name (case-insensitive), or "".
  std::string Header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < name.size() && same; ++i) {
        char a = h.name[i], b = name[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
        same = a == b;
      }
      if (same) return h.value;
    }
    return {};
  }
};

// The host's services available outside a call (in the constructor).
class Host {
 public:
  explicit Host(const gf_host_api* api) : api_(api) {}
  const gf_host_api* api() const { return api_; }
  void Log(gf_log_level level, std::string_view message) const {
    api_->log(nullptr, level, ToGf(message));
  }
  int64_t NowUnixMs() const { return api_->now_unix_ms(nullptr); }

 private:
  const gf_host_api* api_;  // OWNERSHIP: borrowed; outlives every instance
};

// One running step (or check): the host services bound to its onboarding and
// tenant. Valid only during the plugin function it was passed to.
class Call {
 public:
  Call(const gf_host_api* api, gf_call* call) : api_(api), call_(call) {}

  void Log(gf_log_level level, std::string_view message) { api_->log(call_, level, ToGf(message)); }
  int64_t NowUnixMs() { return api_->now_unix_ms(call_); }

  HttpResponse Http(const HttpRequest& request) {
    std::vector<gf_http_header> headers;
    headers.reserve(request.headers.size());
    for (const auto& h : request.headers) headers.push_back({ToGf(h.name), ToGf(h.value)});
    gf_http_request req{};
    req.struct_size = sizeof(req);
    req.method = ToGf(request.method);
    req.url = ToGf(request.url);
    req.headers = headers.data();
    req.header_count = headers.size();
    req.body = ToGf(request.body);
    req.timeout_ms = request.timeout_ms;
    req.service = ToGf(request.service);
    gf_http_response resp{};
    resp.struct_size = sizeof(resp);
    HttpResponse out;
    if (api_->http(call_, &req, &resp) != 0) {
      out.transport_error = std::string(FromGf(resp.transport_error));
      if (out.transport_error.empty()) out.transport_error = "malformed request";
      return out;
    }
    out.status = resp.status;
    out.body = std::string(FromGf(resp.body));
    out.transport_error = std::string(FromGf(resp.transport_error));
    for (size_t i = 0; i < resp.header_count; ++i) {
      out.headers.push_back(
          {std::string(FromGf(resp.headers[i].name)), std::string(FromGf(resp.headers[i].value))});
    }
    return out;
  }

  // An access token for `scope`, or "" with `*error` set. `*permanent` tells
  // whether retrying can help.
  std::string Token(std::string_view scope, std::string* error, bool* permanent) {
    gf_str token{}, err{};
    int32_t perm = 0;
    if (api_->get_token(call_, ToGf(scope), &token, &err, &perm) != 0) {
      if (error != nullptr) *error = std::string(FromGf(err));
      if (permanent != nullptr) *permanent = perm != 0;
      return {};
    }
    return std::string(FromGf(token));
  }

  void SetOutput(std::string_view key, std::string_view value) {
    api_->set_output(call_, ToGf(key), ToGf(value));
  }
  void AddCheck(std::string_view name, bool ok, std::string_view detail) {
    api_->add_check(call_, ToGf(name), ok ? 1 : 0, ToGf(detail));
  }

  gf_call* raw() const { return call_; }
  const gf_host_api* api() const { return api_; }

 private:
  const gf_host_api* api_;
  gf_call* call_;
};

// Base class of a plugin instance. One instance serves one tenant and may run
// steps on several threads at once.
class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual StepResult RunStep(Call& call, std::string_view step, std::string_view input_json) = 0;
  // Reports checks with call.AddCheck(). The default reports nothing.
  virtual StepResult Check(Call& call) { return StepResult::Succeeded(); }
};

namespace internal {

inline std::string& LastError() {
  thread_local std::string error;
  return error;
}

inline gf_step_outcome Finish(const gf_host_api* api, gf_call* call, const StepResult& r) {
  if (!r.error.empty()) api->set_error(call, ToGf(r.error));
  if (r.retry_after_ms >= 0) api->set_retry_after_ms(call, r.retry_after_ms);
  return r.outcome;
}

// The instance handed across the boundary.
struct Instance {
  const gf_host_api* api;
  Plugin* plugin;
};

template <typename T>
gf_step_outcome Create(const gf_host_api* host, gf_str config_json, gf_instance** out) noexcept {
  LastError().clear();
  if (out == nullptr || host == nullptr) {
    LastError() = "create: null argument";
    return GF_STEP_PLUGIN_ERROR;
  }
  *out = nullptr;
  try {
    auto* plugin = new T(Host(host), FromGf(config_json));
    *out = reinterpret_cast<gf_instance*>(new Instance{host, plugin});
    return GF_STEP_SUCCEEDED;
  } catch (const std::exception& e) {
    LastError() = e.what();
    return GF_STEP_FAILED;
  } catch (...) {
    LastError() = "unknown exception in create";
    return GF_STEP_PLUGIN_ERROR;
  }
}

inline gf_step_outcome RunStep(gf_instance* instance, gf_call* call, gf_str step,
                               gf_str input_json) noexcept {
  LastError().clear();
  auto* inst = reinterpret_cast<Instance*>(instance);
  if (inst == nullptr) {
    LastError() = "run_step: null instance";
    return GF_STEP_PLUGIN_ERROR;
  }
  try {
    Call c(inst->api, call);
    return Finish(inst->api, call, inst->plugin->RunStep(c, FromGf(step), FromGf(input_json)));
  } catch (const std::exception& e) {
    LastError() = std::string("exception in run_step: ") + e.what();
  } catch (...) {
    LastError() = "unknown exception in run_step";
  }
  return GF_STEP_PLUGIN_ERROR;
}

inline gf_step_outcome Check(gf_instance* instance, gf_call* call) noexcept {
  LastError().clear();
  auto* inst = reinterpret_cast<Instance*>(instance);
  if (inst == nullptr) {
    LastError() = "check: null instance";
    return GF_STEP_PLUGIN_ERROR;
  }
  try {
    Call c(inst->api, call);
    return Finish(inst->api, call, inst->plugin->Check(c));
  } catch (const std::exception& e) {
    LastError() = std::string("exception in check: ") + e.what();
  } catch (...) {
    LastError() = "unknown exception in check";
  }
  return GF_STEP_PLUGIN_ERROR;
}

inline void Destroy(gf_instance* instance) noexcept {
  auto* inst = reinterpret_cast<Instance*>(instance);
  if (inst == nullptr) return;
  try {
    delete inst->plugin;
  } catch (...) {  // a throwing destructor must not cross the boundary
  }
  delete inst;
}

inline const char* GetLastError(gf_instance*) noexcept { return LastError().c_str(); }

}  // namespace internal
}  // namespace guestflow::sdk

#if defined(__GNUC__)
#define GUESTFLOW_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define GUESTFLOW_PLUGIN_EXPORT
#endif

// Exports `Class` as a plugin. Use once per library, at namespace scope.
#define GUESTFLOW_PLUGIN(Class, plugin_name, plugin_kind, plugin_version)           \
  extern "C" GUESTFLOW_PLUGIN_EXPORT const gf_plugin_table* guestflow_plugin_entry( \
      void) noexcept {                                                              \
    static const gf_plugin_table table = {                                          \
        GF_PLUGIN_ABI_VERSION,                                                      \
        static_cast<uint32_t>(sizeof(gf_plugin_table)),                             \
        plugin_name,                                                                \
        plugin_kind,                                                                \
        plugin_version,                                                             \
        &::guestflow::sdk::internal::Create<Class>,                                 \
        &::guestflow::sdk::internal::RunStep,                                       \
        &::guestflow::sdk::internal::Check,                                         \
        &::guestflow::sdk::internal::Destroy,                                       \
        &::guestflow::sdk::internal::GetLastError,                                  \
    };                                                                              \
    return &table;                                                                  \
  }
