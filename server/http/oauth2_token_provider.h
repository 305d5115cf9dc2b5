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
// (authority, directory, client_id, scope) until 5 minutes before it expires.
// Concurrent callers asking for the same key while it is being fetched wait
// for that one request and share its result, success or error. Errors are not
// cached: the next call asks again.
//
// Error codes (see TokenProvider): the authority's `error` field decides:
// invalid_client / unauthorized_client -> PERMISSION_DENIED; invalid_resource
// / invalid_scope and any other 4xx -> FAILED_PRECONDITION; 408, 429, 5xx,
// temporarily_unavailable, a transport failure or a malformed 200 ->
// UNAVAILABLE.
//
// Thread-safe. `http` and `clock` are borrowed and must outlive this object.
class OAuth2TokenProvider : public TokenProvider {
 public:
  // How long before `expires_in` a cached token is refreshed.
  static constexpr absl::Duration kRefreshMargin = absl::Minutes(5);

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
    bool fetching = false;
    uint64_t generation = 0;   // bumped when a fetch finishes
    absl::Status last_status;  // of the last finished fetch
  };

  absl::StatusOr<Fetched> Fetch(const TokenRequest& request);

  HttpClient* const http_;
  Clock* const clock_;
  absl::Mutex mu_;
  absl::CondVar fetched_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow
