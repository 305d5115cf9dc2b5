#include "emulator/http_util.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace guestflow::emulator {

std::string ServiceOf(const std::string& path) {
  if (absl::StartsWith(path, "/_emulator")) return "control";
  if (absl::StartsWith(path, "/v1.0/") || absl::StartsWith(path, "/beta/")) return "graph";
  if (absl::StartsWith(path, "/providers/")) return "admin";
  if (absl::StartsWith(path, "/orgs/")) return "dataverse";
  if (absl::StrContains(path, "/oauth2/")) return "token";
  return "";
}

namespace {
// httplib runs the pre-routing handler, the route handler and the logger of
// one request on the same worker thread, one request at a time.
thread_local std::string g_request_id;
}  // namespace

void SetCurrentRequestId(std::string id) { g_request_id = std::move(id); }

std::string CurrentRequestId(const httplib::Request& req) { return g_request_id; }

void SendJson(httplib::Response& res, int status, const nlohmann::json& body,
              const char* content_type) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  content_type);
}

void SendGraphError(const httplib::Request& req, httplib::Response& res, int status,
                    absl::string_view code, absl::string_view message) {
  const std::string id = CurrentRequestId(req);
  nlohmann::json body = {
      {"error",
       {{"code", std::string(code)},
        {"message", std::string(message)},
        {"innerError",
         {{"date", absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::Now(), absl::UTCTimeZone())},
          {"request-id", id},
          {"client-request-id", id}}}}}};
  SendJson(res, status, body);
}

void SendDataverseError(httplib::Response& res, int status, absl::string_view code,
                        absl::string_view message) {
  res.set_header("OData-Version", "4.0");
  SendJson(res, status,
           {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}},
           "application/json; odata.metadata=minimal");
}

std::optional<Grant> Authorize(const httplib::Request& req, httplib::Response& res,
                               CloudState& state, const std::string& audience) {
  const bool dataverse = absl::StartsWith(audience, "dataverse:");
  auto unauthorized = [&](int status, absl::string_view message) {
    if (dataverse) {
      res.set_header("WWW-Authenticate", "Bearer");
      SendDataverseError(res, status, status == 401 ? "0x80072560" : "0x80040220", message);
    } else {
      SendGraphError(req, res, status,
                     status == 401 ? "InvalidAuthenticationToken" : "Authorization_RequestDenied",
                     message);
    }
    return std::nullopt;
  };
  const std::string header = req.get_header_value("Authorization");
  if (!absl::StartsWithIgnoreCase(header, "Bearer ")) {
    return unauthorized(401, "Access token is empty.");
  }
  const std::string token(absl::StripAsciiWhitespace(header.substr(7)));
  std::optional<Grant> grant = state.Locked([&](CloudState& s) -> std::optional<Grant> {
    auto it = s.grants.find(token);
    if (it == s.grants.end()) return std::nullopt;
    return it->second;
  });
  if (!grant.has_value()) return unauthorized(401, "Invalid access token.");
  if (grant->expires < absl::Now()) {
    return unauthorized(401, "Lifetime validation failed, the token is expired.");
  }
  if (grant->audience != audience) {
    return unauthorized(401, absl::StrCat("Invalid audience: the token was issued for ",
                                          grant->audience, ", not ", audience));
  }
  return grant;
}

std::optional<std::string> FilterEquals(const std::string& filter, absl::string_view field) {
  // Finds `field eq ` then reads a quoted string or a bare token.
  const std::string needle = absl::StrCat(field, " eq ");
  size_t pos = 0;
  while ((pos = filter.find(needle, pos)) != std::string::npos) {
    // The field must start a clause: at the start or after a space or '('.
    if (pos == 0 || filter[pos - 1] == ' ' || filter[pos - 1] == '(') break;
    pos += needle.size();
  }
  if (pos == std::string::npos) return std::nullopt;
  size_t i = pos + needle.size();
  if (i >= filter.size()) return std::nullopt;
  std::string value;
  if (filter[i] == '\'') {
    for (++i; i < filter.size(); ++i) {
      if (filter[i] == '\'') {
        if (i + 1 < filter.size() && filter[i + 1] == '\'') {
          value.push_back('\'');
          ++i;
          continue;
        }
        return value;
      }
      value.push_back(filter[i]);
    }
    return std::nullopt;  // unterminated
  }
  while (i < filter.size() && filter[i] != ' ' && filter[i] != ')') value.push_back(filter[i++]);
  return value;
}

}  // namespace guestflow::emulator
