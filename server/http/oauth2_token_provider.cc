#include "server/http/oauth2_token_provider.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "server/common/logging.h"

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

// "client=... directory=... scope=..." for log lines.
std::string LogContext(const TokenRequest& r) {
  return absl::StrCat("client=", r.client_id, " directory=", r.directory, " scope=", r.scope);
}

// The authority's error, as "invalid_client: AADSTS7000215: Invalid client
// secret provided..." (first line of the description only: the rest is trace
// and correlation ids).
struct AuthorityError {
  std::string code;  // the OAuth2 `error`
  int64_t aadsts = 0;
  std::string text;
};

AuthorityError ParseError(const HttpResponse& response) {
  AuthorityError e;
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  std::string description;
  if (body.is_object()) {
    if (auto it = body.find("error"); it != body.end() && it->is_string()) {
      e.code = it->get<std::string>();
    }
    if (auto it = body.find("error_description"); it != body.end() && it->is_string()) {
      description = it->get<std::string>();
      description = description.substr(0, description.find_first_of("\r\n"));
    }
    if (auto it = body.find("error_codes");
        it != body.end() && it->is_array() && !it->empty() && it->front().is_number_integer()) {
      e.aadsts = it->front().get<int64_t>();
    }
  }
  // Older answers carry the code only in the description: "AADSTS70011: ...".
  if (e.aadsts == 0 && absl::StartsWith(description, "AADSTS")) {
    absl::string_view digits = absl::string_view(description).substr(6);
    digits = digits.substr(0, digits.find(':'));
    if (!absl::SimpleAtoi(digits, &e.aadsts)) e.aadsts = 0;
  }
  if (!description.empty()) e.text = absl::StrCat(e.code, e.code.empty() ? "" : ": ", description);
  if (e.text.empty()) e.text = e.code.empty() ? "no error description" : e.code;
  return e;
}

// What a person should change, for the errors a misconfigured tenant gets.
std::string Fix(const AuthorityError& e, const TokenRequest& r) {
  const std::string resource(absl::StripSuffix(r.scope, "/.default"));
  int64_t code = e.aadsts;
  if (code == 0 && e.code == "invalid_scope") code = 70011;
  if (code == 0 && e.code == "invalid_resource") code = 500011;
  switch (code) {
    case 7000215:
    case 7000222:
      return absl::StrCat(
          "fix: the client secret of app ", r.client_id, " is wrong or expired; set the tenant's ",
          "client_secret to the secret's Value (not its Secret ID) from Entra ID > App ",
          "registrations > ", r.client_id, " > Certificates & secrets, or add a new secret there");
    case 700016:
      return absl::StrCat("fix: no app ", r.client_id, " exists in directory ", r.directory,
                          "; check the tenant's azure.client_id and azure.tenant_id, and that ",
                          "an administrator of that directory consented to the app");
    case 500011:
      return absl::StrCat("fix: directory ", r.directory, " has no resource ", resource,
                          "; check the URL the scope is made from (dynamics.instance_url for ",
                          "Dataverse, the plugin's admin_scope for the admin API) and that the ",
                          "environment belongs to this directory");
    case 70011:
    case 1002012:
      return absl::StrCat("fix: the scope ", r.scope, " is not valid for client credentials; ",
                          "use the resource URL followed by /.default, e.g. ",
                          "https://graph.microsoft.com/.default");
    case 90002:
      return absl::StrCat("fix: the authority ", r.authority_url, " knows no directory ",
                          r.directory, "; check the tenant's azure.tenant_id and ",
                          "azure.authority_url");
    default:
      return "";
  }
}

// Retry-After as a duration: delay-seconds (fractional accepted) or an
// HTTP-date.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  double seconds = 0;
  if (absl::SimpleAtod(value, &seconds)) {
    if (!(seconds >= 0) || !std::isfinite(seconds)) return std::nullopt;
    return absl::Milliseconds(std::ceil(seconds * 1000));
  }
  absl::Time at;
  std::string error;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), &at, &error)) {
    return std::max(at - now, absl::ZeroDuration());
  }
  return std::nullopt;
}

absl::Status ErrorStatus(const HttpResponse& response, const TokenRequest& request,
                         absl::string_view prefix, absl::Time now) {
  const AuthorityError e = ParseError(response);
  std::string message = absl::StrCat(prefix, "HTTP ", response.status, ": ", e.text);
  const std::string retry_after = response.Header("Retry-After");

  if (response.status == 408 || response.status == 429 || response.status >= 500 ||
      e.code == "temporarily_unavailable") {
    std::optional<absl::Duration> wait = ParseRetryAfter(retry_after, now);
    if (wait.has_value()) {
      wait = std::min(*wait, OAuth2TokenProvider::kMaxRetryAfter);
      absl::StrAppend(&message, " (Retry-After ", retry_after, ": no new token request for ",
                      absl::FormatDuration(*wait), ")");
    }
    absl::Status status = absl::UnavailableError(message);
    if (wait.has_value()) SetTokenRetryAfter(status, *wait);
    return status;
  }
  const std::string fix = Fix(e, request);
  if (!fix.empty()) absl::StrAppend(&message, "; ", fix);
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
    const absl::Time now = clock_->Now();
    if (!entry.token.empty() && now < entry.refresh_after) {
      std::string token = entry.token;
      mu_.Unlock();
      return token;
    }
    if (now < entry.not_before) {
      // The authority said when to come back; asking earlier only gets
      // another 429.
      if (Usable(entry, now)) {
        std::string token = entry.token;
        mu_.Unlock();
        return token;
      }
      absl::Status status = entry.not_before_status;
      SetTokenRetryAfter(status, entry.not_before - now);
      mu_.Unlock();
      return status;
    }
    if (!entry.fetching) break;
    if (Usable(entry, now)) {
      std::string token = entry.token;
      mu_.Unlock();
      return token;
    }
    // Someone is fetching this key: wait for that fetch and take its result.
    const uint64_t generation = entry.generation;
    while (entry.fetching && entry.generation == generation) fetched_.Wait(&mu_);
    if (entry.generation != generation) {
      if (entry.last_status.ok() ||
          (!IsPermanentTokenError(entry.last_status) && Usable(entry, clock_->Now()))) {
        std::string token = entry.token;
        mu_.Unlock();
        return token;
      }
      const absl::Status status = entry.last_status;
      mu_.Unlock();
      return status;
    }
  }
  entry.fetching = true;
  mu_.Unlock();

  absl::StatusOr<Fetched> fetched = Fetch(request);

  mu_.Lock();
  const absl::Time now = clock_->Now();
  entry.fetching = false;
  ++entry.generation;
  std::optional<std::string> stand_in;
  if (fetched.ok()) {
    entry.token = fetched->token;
    entry.refresh_after = now + fetched->expires_in - kRefreshMargin;
    entry.expires_at = now + fetched->expires_in;
    entry.not_before = absl::InfinitePast();
    entry.last_status = absl::OkStatus();
  } else {
    entry.last_status = fetched.status();
    if (std::optional<absl::Duration> wait = TokenRetryAfter(fetched.status())) {
      entry.not_before = now + *wait;
      entry.not_before_status = fetched.status();
    }
    if (!Usable(entry, now)) {
      entry.token.clear();
    } else if (!IsPermanentTokenError(fetched.status())) {
      stand_in = entry.token;  // the previous token still has time left
    }
  }
  fetched_.SignalAll();
  mu_.Unlock();

  if (!fetched.ok()) {
    LogWarn(absl::StrCat("token request failed",
                         stand_in.has_value() ? "; the previous token is still valid" : "", ": ",
                         fetched.status().message()),
            LogContext(request));
    if (stand_in.has_value()) return *std::move(stand_in);
    return fetched.status();
  }
  LogInfo("token fetched", absl::StrCat(LogContext(request), " expires_in_s=",
                                        absl::ToInt64Seconds(fetched->expires_in)));
  return std::move(fetched->token);
}

absl::StatusOr<OAuth2TokenProvider::Fetched> OAuth2TokenProvider::Fetch(
    const TokenRequest& request) {
  const std::string prefix =
      absl::StrCat("token request for client ", request.client_id, " in directory ",
                   request.directory, " (scope ", request.scope, ") failed: ");
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
  if (response->status != 200) return ErrorStatus(*response, request, prefix, clock_->Now());

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
