#include "server/http/oauth2_token_provider.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace guestflow {
namespace {

// application/x-www-form-urlencoded, and safe for a path segment too: only
// RFC 3986 unreserved characters pass unescaped.
std::string FormEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string CacheKey(const TokenRequest& r) {
  return absl::StrCat(absl::StripSuffix(r.authority_url, "/"), "\n", r.directory, "\n", r.client_id,
                      "\n", r.scope);
}

// The authority's error, as "invalid_client: AADSTS7000215: Invalid client
// secret provided..." (first line of the description only: the rest is trace
// and correlation ids).
struct AuthorityError {
  std::string code;
  std::string text;
};

AuthorityError ParseError(const HttpResponse& response) {
  AuthorityError e;
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    if (auto it = body.find("error"); it != body.end() && it->is_string()) {
      e.code = it->get<std::string>();
    }
    if (auto it = body.find("error_description"); it != body.end() && it->is_string()) {
      std::string description = it->get<std::string>();
      description = description.substr(0, description.find_first_of("\r\n"));
      e.text = absl::StrCat(e.code, e.code.empty() ? "" : ": ", description);
    }
  }
  if (e.text.empty()) e.text = e.code.empty() ? "no error description" : e.code;
  return e;
}

absl::Status ErrorStatus(const HttpResponse& response, absl::string_view prefix) {
  const AuthorityError e = ParseError(response);
  std::string message = absl::StrCat(prefix, "HTTP ", response.status, ": ", e.text);
  const std::string retry_after = response.Header("Retry-After");
  if (!retry_after.empty()) absl::StrAppend(&message, " (Retry-After ", retry_after, ")");

  if (response.status == 408 || response.status == 429 || response.status >= 500 ||
      e.code == "temporarily_unavailable") {
    return absl::UnavailableError(message);
  }
  if (e.code == "invalid_client" || e.code == "unauthorized_client") {
    return absl::PermissionDeniedError(message);
  }
  if (response.status >= 400) return absl::FailedPreconditionError(message);
  return absl::UnavailableError(message);
}

}  // namespace

OAuth2TokenProvider::OAuth2TokenProvider(HttpClient* http, Clock* clock)
    : http_(http), clock_(clock) {}

absl::StatusOr<std::string> OAuth2TokenProvider::GetToken(const TokenRequest& request) {
  const std::string key = CacheKey(request);
  mu_.Lock();
  Entry& entry = entries_[key];  // std::map nodes stay put: the reference survives unlocking
  while (true) {
    if (!entry.token.empty() && clock_->Now() < entry.refresh_after) {
      std::string token = entry.token;
      mu_.Unlock();
      return token;
    }
    if (!entry.fetching) break;
    // Someone is fetching this key: wait for that fetch and take its result.
    const uint64_t generation = entry.generation;
    while (entry.fetching && entry.generation == generation) fetched_.Wait(&mu_);
    if (entry.generation != generation) {
      const absl::Status status = entry.last_status;
      std::string token = entry.token;
      mu_.Unlock();
      if (!status.ok()) return status;
      return token;
    }
  }
  entry.fetching = true;
  mu_.Unlock();

  absl::StatusOr<Fetched> fetched = Fetch(request);

  mu_.Lock();
  entry.fetching = false;
  ++entry.generation;
  if (fetched.ok()) {
    entry.token = fetched->token;
    entry.refresh_after = clock_->Now() + fetched->expires_in - kRefreshMargin;
    entry.last_status = absl::OkStatus();
  } else {
    entry.token.clear();
    entry.last_status = fetched.status();
  }
  fetched_.SignalAll();
  mu_.Unlock();
  if (!fetched.ok()) return fetched.status();
  return std::move(fetched->token);
}

absl::StatusOr<OAuth2TokenProvider::Fetched> OAuth2TokenProvider::Fetch(
    const TokenRequest& request) {
  const std::string prefix = absl::StrCat("token request for client ", request.client_id,
                                          " in directory ", request.directory, " failed: ");
  HttpRequest http;
  http.method = "POST";
  http.url = absl::StrCat(absl::StripSuffix(request.authority_url, "/"), "/",
                          FormEncode(request.directory), "/oauth2/v2.0/token");
  http.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                  {"Accept", "application/json"}};
  http.body = absl::StrCat(
      "grant_type=client_credentials&client_id=", FormEncode(request.client_id),
      "&client_secret=", FormEncode(request.client_secret), "&scope=", FormEncode(request.scope));
  http.service = "login";

  absl::StatusOr<HttpResponse> response = http_->Send(http);
  if (!response.ok()) {
    if (response.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::FailedPreconditionError(absl::StrCat(prefix, response.status().message()));
    }
    return absl::UnavailableError(absl::StrCat(prefix, response.status().message()));
  }
  if (response->status != 200) return ErrorStatus(*response, prefix);

  const nlohmann::json body = nlohmann::json::parse(response->body, nullptr, false);
  if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string() ||
      body["access_token"].get<std::string>().empty()) {
    return absl::UnavailableError(absl::StrCat(prefix, "the response has no access_token"));
  }
  Fetched out;
  out.token = body["access_token"].get<std::string>();
  // expires_in is a number in v2.0 answers and a string in some v1.0 ones.
  int64_t seconds = 0;
  if (auto it = body.find("expires_in"); it != body.end()) {
    if (it->is_number_integer()) {
      seconds = it->get<int64_t>();
    } else if (it->is_string() && !absl::SimpleAtoi(it->get<std::string>(), &seconds)) {
      seconds = 0;
    }
  }
  out.expires_in = absl::Seconds(seconds);
  return out;
}

}  // namespace guestflow
