// TokenProvider: OAuth2 access tokens for a tenant's app registration. The
// plugin host hands them to plugins (gf_host_api.get_token), so plugins never
// see a client secret. The client-credentials implementation with its cache is
// oauth2_token_provider.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"

namespace guestflow {

struct TokenRequest {
  std::string authority_url;  // e.g. https://login.microsoftonline.com
  std::string directory;      // Entra tenant GUID or domain
  std::string client_id;
  std::string client_secret;  // already resolved; never logged, never in a message
  std::string scope;          // e.g. https://graph.microsoft.com/.default
};

// Thread-safe: GetToken may be called from any number of threads at once.
class TokenProvider {
 public:
  virtual ~TokenProvider() = default;

  // An access token for `request`, possibly cached. Blocking. Errors:
  //   PERMISSION_DENIED   the credentials are refused (unknown client, wrong
  //                       secret, client not allowed): permanent
  //   FAILED_PRECONDITION the request cannot succeed as configured (unknown
  //                       directory, resource or scope): permanent
  //   UNAVAILABLE         transient (5xx, 429, transport, timeout): retry later;
  //                       TokenRetryAfter() tells how long when the authority
  //                       said (Retry-After)
  // The message says which client, directory and scope, the authority's error
  // code and description, and for the known AADSTS errors what to fix; never
  // the secret or a token.
  [[nodiscard]] virtual absl::StatusOr<std::string> GetToken(const TokenRequest& request) = 0;
};

// True when retrying a failed GetToken cannot help.
inline bool IsPermanentTokenError(const absl::Status& status) {
  return !status.ok() && status.code() != absl::StatusCode::kUnavailable &&
         status.code() != absl::StatusCode::kDeadlineExceeded &&
         status.code() != absl::StatusCode::kResourceExhausted &&
         status.code() != absl::StatusCode::kAborted;
}

// The payload under which a GetToken error carries the authority's
// Retry-After, in whole milliseconds.
inline constexpr char kTokenRetryAfterPayload[] = "type.googleapis.com/guestflow.TokenRetryAfterMs";

inline void SetTokenRetryAfter(absl::Status& status, absl::Duration wait) {
  status.SetPayload(kTokenRetryAfterPayload, absl::Cord(std::to_string(absl::ToInt64Milliseconds(
                                                 absl::Ceil(wait, absl::Milliseconds(1))))));
}

// How long the authority asked the caller to wait before the next token
// request (its Retry-After, counted from when GetToken returned), if it did.
inline std::optional<absl::Duration> TokenRetryAfter(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kTokenRetryAfterPayload);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms) || ms < 0) {
    return std::nullopt;
  }
  return absl::Milliseconds(ms);
}

}  // namespace guestflow
