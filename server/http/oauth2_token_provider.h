// OAuth2 client-credentials tokens from a Microsoft identity platform
// authority (or anything that speaks its v2.0 token endpoint), with a cache.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/http/http_client.h"
#include "server/http/token_provider.h"

namespace guestflow {

// POSTs grant_type=client_credentials to
// {authority_url}/{directory}/oauth2/v2.0/token and caches the token per
// (authority, directory, client_id, scope) until kRefreshMargin before it
// expires.
//
// One refresh in flight per key: concurrent callers of a key that is being
// fetched wait for that one request and share its result, success or error;
// except that a caller who can still be served the previous token (valid for
// at least kExpirySafety more) gets it at once. A transient failure while the
// previous token is still valid also serves the previous token. Errors are
// not cached, with one exception: when the authority answers with
// Retry-After (429, 5xx), no request is sent for that key until that time
// has passed; callers meanwhile get UNAVAILABLE with TokenRetryAfter() set
// (or the previous token, while valid).
//
// Error codes (see TokenProvider): invalid_client / unauthorized_client ->
// PERMISSION_DENIED; invalid_resource / invalid_scope and any other 4xx ->
// FAILED_PRECONDITION; 408, 429, 5xx, temporarily_unavailable, a transport
// failure or a malformed 200 -> UNAVAILABLE. Messages name the client,
// directory and scope and, for AADSTS7000215/7000222 (wrong or expired
// secret), 700016 (unknown client), 500011 (unknown resource), 70011/1002012
// (invalid scope) and 90002 (unknown directory), say what to fix.
//
// Logs (never a secret or a token): one info line per token fetched, one
// warning per failed fetch.
//
// Thread-safe. `http` and `clock` are borrowed and must outlive this object.
class OAuth2TokenProvider : public TokenProvider {
 public:
  // How long before `expires_in` a cached token is refreshed.
  static constexpr absl::Duration kRefreshMargin = absl::Minutes(5);
  // The least validity left for a previous token to be served instead of
  // waiting for (or after the failure of) a refresh.
  static constexpr absl::Duration kExpirySafety = absl::Seconds(30);
  // Retry-After values beyond this are capped.
  static constexpr absl::Duration kMaxRetryAfter = absl::Hours(1);

  OAuth2TokenProvider(HttpClient* http, Clock* clock);

  [[nodiscard]] absl::StatusOr<std::string> GetToken(const TokenRequest& request) override;

 private:
  struct Fetched {
    std::string token;
    absl::Duration expires_in;
  };
  struct Entry {
    std::string token;
    absl::Time refresh_after = absl::InfinitePast();
    absl::Time expires_at = absl::InfinitePast();
    // The authority's Retry-After: no request before this.
    absl::Time not_before = absl::InfinitePast();
    absl::Status not_before_status;  // the error that set not_before
    bool fetching = false;
    uint64_t generation = 0;   // bumped when a fetch finishes
    absl::Status last_status;  // of the last finished fetch
  };

  // The previous token may stand in for a fresh one.
  bool Usable(const Entry& entry, absl::Time now) const {
    return !entry.token.empty() && now + kExpirySafety < entry.expires_at;
  }

  absl::StatusOr<Fetched> Fetch(const TokenRequest& request);

  HttpClient* const http_;
  Clock* const clock_;
  absl::Mutex mu_;
  absl::CondVar fetched_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow
