// The retry classification every cloud plugin shares: what an HTTP answer
// from Microsoft (or a transport failure) means for the step.
//
//   429, 503, 504      transient; honour Retry-After (seconds, fractional for
//                      Graph; or an HTTP date), else the host's back-off
//   other 5xx, 0       transient (transport error, 500, 502); host back-off
//   408                transient
//   other 4xx          permanent, unless the plugin knows better (it checks
//                      its own known cases before calling this)
//
// Header-only, standard library only, like the rest of the SDK.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "guestflow/plugin_sdk.h"

namespace guestflow::sdk {

// Retry-After as milliseconds: "2.128" → 2128, "120" → 120000. An HTTP-date
// or garbage → -1 (the host backs off instead). Negative values → -1.
inline int64_t ParseRetryAfterMs(std::string_view value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  if (value.empty()) return -1;
  for (char c : value) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return -1;
  }
  const std::string text(value);
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(seconds >= 0) || seconds > 86400) return -1;
  return static_cast<int64_t>(std::ceil(seconds * 1000.0));
}

inline bool IsTransientStatus(int32_t status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

// The step result for an answer that is not the success the plugin wanted.
// `what` names the call for people ("POST /invitations"); the cloud's own
// error text (Graph/Dataverse `error.message`, or the body) is appended.
inline StepResult ClassifyFailure(const HttpResponse& response, std::string_view what,
                                  std::string_view cloud_message) {
  std::string error(what);
  if (response.status == 0) {
    error += ": ";
    error += response.transport_error.empty() ? "no response" : response.transport_error;
    return StepResult::Retry(std::move(error));
  }
  error += " answered ";
  error += std::to_string(response.status);
  if (!cloud_message.empty()) {
    error += ": ";
    error += cloud_message;
  }
  if (IsTransientStatus(response.status)) {
    return StepResult::Retry(std::move(error), ParseRetryAfterMs(response.Header("Retry-After")));
  }
  return StepResult::Failed(std::move(error));
}

}  // namespace guestflow::sdk
