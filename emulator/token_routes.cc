// POST /{tenant}/oauth2/v2.0/token: the Microsoft identity platform's
// client-credentials grant (form-encoded), with its AADSTS errors.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "emulator/http_util.h"
#include "emulator/routes.h"

namespace guestflow::emulator {
namespace {

constexpr int kExpiresInSeconds = 3599;

void TokenError(const httplib::Request& req, httplib::Response& res, int status,
                absl::string_view error, int aadsts, absl::string_view description) {
  const std::string id = CurrentRequestId(req);
  const std::string now = absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  SendJson(
      res, status,
      {{"error", std::string(error)},
       {"error_description", absl::StrCat("AADSTS", aadsts, ": ", description, "\r\nTrace ID: ", id,
                                          "\r\nCorrelation ID: ", id, "\r\nTimestamp: ", now)},
       {"error_codes", {aadsts}},
       {"timestamp", now},
       {"trace_id", id},
       {"correlation_id", id}});
}

// The audience a `.default` scope names, or "" if it names no resource this
// cloud has: Graph, the Power Platform admin API, or a Dataverse environment
// by its real host name (https://{org}.crm.dynamics.com) or its emulator URL
// (http://HOST:PORT/orgs/{org}).
std::string AudienceOf(CloudState& s, const Tenant& tenant, absl::string_view scope,
                       std::string* org_out) {
  if (!absl::ConsumeSuffix(&scope, "/.default")) return "";
  std::string resource = absl::AsciiStrToLower(scope);
  if (resource == "https://graph.microsoft.com") return "graph";
  if (resource == "https://service.powerapps.com" || resource == "https://api.bap.microsoft.com") {
    return "admin";
  }
  std::string org;
  const size_t orgs = resource.find("/orgs/");
  if (orgs != std::string::npos) {
    org = resource.substr(orgs + 6);
  } else if (absl::StartsWith(resource, "https://")) {
    const std::string host = resource.substr(8);
    const size_t dot = host.find(".crm");
    if (dot != std::string::npos) org = host.substr(0, dot);
  }
  Tenant* owner = nullptr;
  if (org.empty() || s.FindEnvironmentByOrg(org, &owner) == nullptr || owner->id != tenant.id) {
    return "";  // environments belong to one directory tenant
  }
  *org_out = org;
  return absl::StrCat("dataverse:", org);
}

}  // namespace

void RegisterTokenRoutes(httplib::Server& server, EmulatorContext& ctx) {
  server.Post(R"(/([^/]+)/oauth2/v2\.0/token)", [&ctx](const httplib::Request& req,
                                                       httplib::Response& res) {
    const std::string tenant_key = req.matches[1];
    if (!absl::StartsWithIgnoreCase(req.get_header_value("Content-Type"),
                                    "application/x-www-form-urlencoded")) {
      TokenError(req, res, 400, "invalid_request", 900144,
                 "The request body must contain the following parameter: 'grant_type'.");
      return;
    }
    const std::string grant_type = req.get_param_value("grant_type");
    const std::string client_id = req.get_param_value("client_id");
    const std::string secret = req.get_param_value("client_secret");
    const std::string scope = req.get_param_value("scope");
    if (grant_type.empty()) {
      TokenError(req, res, 400, "invalid_request", 900144,
                 "The request body must contain the following parameter: 'grant_type'.");
      return;
    }
    if (grant_type != "client_credentials") {
      TokenError(req, res, 400, "unsupported_grant_type", 70003,
                 "The app requested an unsupported grant type.");
      return;
    }
    ctx.state->Locked([&](CloudState& s) {
      Tenant* tenant = s.FindTenant(tenant_key);
      if (tenant == nullptr) {
        TokenError(req, res, 400, "invalid_request", 90002,
                   absl::StrCat("Tenant '", tenant_key,
                                "' not found. Check to make sure you have the correct tenant ID "
                                "and are signing into the correct cloud."));
        return 0;
      }
      App* app = tenant->FindApp(client_id);
      if (app == nullptr) {
        TokenError(req, res, 400, "unauthorized_client", 700016,
                   absl::StrCat("Application with identifier '", client_id,
                                "' was not found in the directory '", tenant->display_name, "'."));
        return 0;
      }
      if (secret != app->client_secret) {
        TokenError(req, res, 401, "invalid_client", 7000215,
                   "Invalid client secret provided. Ensure the secret being sent in the request "
                   "is the client secret value, not the client secret ID, for a secret added to "
                   "app '" +
                       client_id + "'.");
        return 0;
      }
      if (scope.empty()) {
        TokenError(req, res, 400, "invalid_request", 900144,
                   "The request body must contain the following parameter: 'scope'.");
        return 0;
      }
      std::string org;
      const std::string audience = AudienceOf(s, *tenant, scope, &org);
      if (audience.empty()) {
        if (!absl::EndsWith(scope, "/.default")) {
          TokenError(req, res, 400, "invalid_scope", 1002012,
                     absl::StrCat("The provided value for scope ", scope,
                                  " is not valid. Client credential flows must have a scope "
                                  "value with /.default suffixed to the resource identifier "
                                  "(application ID URI)."));
        } else {
          TokenError(
              req, res, 400, "invalid_resource", 500011,
              absl::StrCat("The resource principal named ", scope.substr(0, scope.size() - 9),
                           " was not found in the tenant named ", tenant->display_name,
                           ". This can happen if the application has not been installed "
                           "by the administrator of the tenant."));
        }
        return 0;
      }
      Grant grant;
      grant.tenant_id = tenant->id;
      grant.client_id = app->client_id;
      grant.audience = audience;
      grant.expires = absl::Now() + absl::Seconds(kExpiresInSeconds);
      const std::string token = absl::StrCat("emu.", NewGuid(), ".", NewGuid());
      s.grants[token] = grant;
      SendJson(res, 200,
               {{"token_type", "Bearer"},
                {"expires_in", kExpiresInSeconds},
                {"ext_expires_in", kExpiresInSeconds},
                {"access_token", token}});
      return 0;
    });
  });
}

}  // namespace guestflow::emulator
