// TokenProvider: OAuth2 access tokens for a tenant's app registration. The
// plugin host hands them to plugins (gf_host_api.get_token), so plugins never
// see a client secret. The client-credentials implementation with its cache is
// oauth2_token_provider.h.
#pragma once

#include <string>

#include "absl/status/statusor.h"

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
  //   UNAVAILABLE         transient (5xx, 429, transport, timeout): retry later
  // The message says which client and directory, and the authority's error
  // code and description; never the secret or a token.
  [[nodiscard]] virtual absl::StatusOr<std::string> GetToken(const TokenRequest& request) = 0;
};

// True when retrying a failed GetToken cannot help.
inline bool IsPermanentTokenError(const absl::Status& status) {
  return !status.ok() && status.code() != absl::StatusCode::kUnavailable &&
         status.code() != absl::StatusCode::kDeadlineExceeded &&
         status.code() != absl::StatusCode::kResourceExhausted &&
         status.code() != absl::StatusCode::kAborted;
}

}  // namespace guestflow
