// /providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/...: the
// Power Platform admin (BAP) API, reference/microsoft-apis.md section F:
//   POST .../environments/{envId}/addUser?api-version=...  {"objectId": ...}
//        "force sync" of an Entra user into the environment's Dataverse
//   GET  .../environments/{envId}?api-version=...
//        the environment, with properties.linkedEnvironmentMetadata.instanceUrl
// Errors use the ARM-style envelope {"error":{"code","message"}}; the codes
// other than `userNotLicensed` are the emulator's own (the real ones are not
// documented), and clients should match on `userNotLicensed` only.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "emulator/http_util.h"
#include "emulator/routes.h"

namespace guestflow::emulator {
namespace {

constexpr char kEnvironmentRoute[] =
    R"(/providers/Microsoft\.BusinessAppPlatform/scopes/admin/environments/([^/]+))";
constexpr char kAddUserRoute[] =
    R"(/providers/Microsoft\.BusinessAppPlatform/scopes/admin/environments/([^/]+)/addUser)";

// Versions seen in Microsoft's docs, PowerShell module, Terraform provider
// and third-party scripts (reference F).
constexpr const char* kApiVersions[] = {"2019-05-01", "2020-10-01", "2021-04-01", "2023-06-01"};

void SendAdminError(httplib::Response& res, int status, absl::string_view code,
                    absl::string_view message) {
  SendJson(res, status,
           {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}});
}

// False (having answered 400) unless the request names a supported api-version.
bool CheckApiVersion(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("api-version")) {
    SendAdminError(res, 400, "MissingApiVersionParameter",
                   "The api-version query parameter (?api-version=) is required for all "
                   "requests.");
    return false;
  }
  const std::string version = req.get_param_value("api-version");
  for (const char* v : kApiVersions) {
    if (version == v) return true;
  }
  SendAdminError(
      res, 400, "InvalidApiVersionParameter",
      absl::StrCat("The api-version '", version, "' is invalid. The supported versions are '",
                   absl::StrJoin(kApiVersions, ","), "'."));
  return false;
}

// The environment `id` if it exists in the caller's directory tenant; answers
// 404 otherwise. An environment of another tenant is reported as missing, not
// forbidden, so that its existence does not leak across tenants.
Environment* FindCallersEnvironment(CloudState& s, const Grant& grant, const std::string& id,
                                    httplib::Response& res, Tenant** tenant) {
  Environment* env = s.FindEnvironmentById(id, tenant);
  if (env == nullptr || (*tenant)->id != grant.tenant_id) {
    SendAdminError(res, 404, "EnvironmentNotFound",
                   absl::StrCat("The environment '", id, "' could not be found in the tenant '",
                                grant.tenant_id, "'."));
    return nullptr;
  }
  return env;
}

const BusinessUnit* RootBusinessUnit(const Environment& env) {
  for (const BusinessUnit& b : env.business_units) {
    if (b.parent_id.empty()) return &b;
  }
  return env.business_units.empty() ? nullptr : &env.business_units.front();
}

void AddUser(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  std::optional<Grant> grant = Authorize(req, res, *ctx.state, "admin");
  if (!grant.has_value()) return;
  if (!CheckApiVersion(req, res)) return;
  const std::string env_id = req.matches[1];

  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  std::string object_id;
  for (const char* key : {"objectId", "ObjectId"}) {
    if (body.is_object() && body.contains(key) && body[key].is_string()) {
      object_id = body[key].get<std::string>();
    }
  }
  if (object_id.empty()) {
    SendAdminError(res, 400, "InvalidRequestContent",
                   "The request body must be a JSON object {\"objectId\": \"<Entra user object "
                   "id>\"}.");
    return;
  }

  ctx.state->Locked([&](CloudState& s) {
    Tenant* tenant = nullptr;
    Environment* env = FindCallersEnvironment(s, *grant, env_id, res, &tenant);
    if (env == nullptr) return 0;
    const absl::Time now = absl::Now();
    const User* user = tenant->FindUser(object_id);
    if (user == nullptr || user->visible_at > now) {
      SendAdminError(res, 404, "UserNotFound",
                     absl::StrCat("The user with object id '", object_id,
                                  "' was not found in the tenant '", tenant->id, "'."));
      return 0;
    }
    if (user->assigned_sku_ids.empty() || user->license_effective_at > now) {
      SendAdminError(
          res, 400, "userNotLicensed",
          absl::StrCat("userNotLicensed: The user ", user->user_principal_name, " (", user->id,
                       ") does not have a valid license to access the "
                       "environment '",
                       env->display_name, "' (", env->id, ")."));
      return 0;
    }
    if (!env->security_group_id.empty()) {
      const Group* group = tenant->FindGroup(env->security_group_id);
      if (group == nullptr || group->members.count(user->id) == 0) {
        SendAdminError(res, 403, "userNotInSecurityGroup",
                       absl::StrCat("userNotInSecurityGroup: The user ", user->user_principal_name,
                                    " (", user->id, ") is not a member of the security group '",
                                    env->security_group_id,
                                    "' that restricts access to the "
                                    "environment '",
                                    env->display_name, "' (", env->id, ")."));
        return 0;
      }
    }
    // A user who fails a requirement the checks above do not answer for (a
    // blocked sign-in) is created or kept disabled, as Dataverse does
    // (reference F, "Add users to Dataverse").
    const bool disabled = !user->account_enabled;
    for (SystemUser& existing : env->system_users) {
      if (absl::EqualsIgnoreCase(existing.aad_object_id, user->id)) {
        existing.disabled = disabled;
        res.status = 200;
        return 0;
      }
    }
    const BusinessUnit* root = RootBusinessUnit(*env);
    SystemUser su;
    su.id = NewGuid();
    su.aad_object_id = user->id;
    su.business_unit_id = root != nullptr ? root->id : "";
    su.internal_email = !user->mail.empty()          ? user->mail
                        : !user->other_mails.empty() ? user->other_mails.front()
                                                     : user->user_principal_name;
    su.domain_name = user->user_principal_name;
    su.first_name = user->given_name;
    su.last_name = user->surname;
    su.disabled = disabled;
    su.visible_at = now + absl::Milliseconds(s.knobs.dataverse_sync_delay_ms);
    env->system_users.push_back(std::move(su));
    res.status = 200;
    return 0;
  });
}

void GetEnvironment(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  std::optional<Grant> grant = Authorize(req, res, *ctx.state, "admin");
  if (!grant.has_value()) return;
  if (!CheckApiVersion(req, res)) return;
  const std::string env_id = req.matches[1];
  std::string host = req.get_header_value("Host");
  if (host.empty()) host = "localhost";
  ctx.state->Locked([&](CloudState& s) {
    Tenant* tenant = nullptr;
    Environment* env = FindCallersEnvironment(s, *grant, env_id, res, &tenant);
    if (env == nullptr) return 0;
    SendJson(res, 200,
             {{"id", absl::StrCat("/providers/Microsoft.BusinessAppPlatform/scopes/admin/"
                                  "environments/",
                                  env->id)},
              {"name", env->id},
              {"type", "Microsoft.BusinessAppPlatform/scopes/environments"},
              {"location", "unitedstates"},
              {"properties",
               {{"tenantId", tenant->id},
                {"displayName", env->display_name},
                {"linkedEnvironmentMetadata",
                 {{"instanceUrl", absl::StrCat("http://", host, "/orgs/", env->org, "/")},
                  {"domainName", env->org},
                  {"uniqueName", env->org}}}}}});
    return 0;
  });
}

}  // namespace

void RegisterAdminRoutes(httplib::Server& server, EmulatorContext& ctx) {
  server.Post(kAddUserRoute, [&ctx](const httplib::Request& req, httplib::Response& res) {
    AddUser(ctx, req, res);
  });
  server.Get(kEnvironmentRoute, [&ctx](const httplib::Request& req, httplib::Response& res) {
    GetEnvironment(ctx, req, res);
  });
}

}  // namespace guestflow::emulator
