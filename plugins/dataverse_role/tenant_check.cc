#include "tenant_check.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "role_step.h"
#include "web_api.h"

namespace guestflow::dataverse_role {
namespace {

std::string Normalized(std::string url) {
  url = TrimSlash(std::move(url));
  std::transform(url.begin(), url.end(), url.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return url;
}

std::string Failed(const ApiResult& r, const std::string& what) { return Failure(r, what).error; }

void CheckEnvironment(sdk::Call& call, const RoleSettings& settings, const TenantEndpoints& t) {
  std::string token;
  if (auto failed = GetToken(call, settings.admin_scope, &token)) {
    call.AddCheck("power platform admin token", false, failed->error);
    return;
  }
  call.AddCheck("power platform admin token", true, "scope " + settings.admin_scope);
  if (t.environment_id.empty()) {
    call.AddCheck("power platform environment", false,
                  "the tenant has no dynamics.environment_id; addUser needs it");
    return;
  }
  AdminApi admin(call, t.admin_url, token, settings.admin_api_version, settings.timeout_ms);
  ApiResult env = admin.GetEnvironment(t.environment_id);
  if (!env.Succeeded()) {
    call.AddCheck("power platform environment", false,
                  Failed(env, "GET environment " + t.environment_id));
    return;
  }
  std::string linked;
  if (env.body.is_object()) {
    const auto properties = env.body.value("properties", nlohmann::json::object());
    const auto metadata = properties.is_object() ? properties.value("linkedEnvironmentMetadata",
                                                                    nlohmann::json::object())
                                                 : nlohmann::json::object();
    linked = StringAt(metadata, "instanceUrl");
  }
  const bool same = !linked.empty() && Normalized(linked) == Normalized(t.instance_url);
  call.AddCheck("power platform environment", same,
                same ? "environment " + t.environment_id + " is linked to " + t.instance_url
                     : "environment " + t.environment_id + " is linked to '" + linked +
                           "', but the tenant's dynamics.instance_url is " + t.instance_url);
}

}  // namespace

sdk::StepResult CheckTenant(sdk::Call& call, const RoleSettings& settings) {
  if (!settings.check_endpoints_known) {
    call.AddCheck("dataverse_role setup", false,
                  "check() receives no input: it needs the tenant's URLs in the plugin settings "
                  "(tenant_settings {instance_url, admin_url, environment_id}, default_roles)");
    return sdk::StepResult::Succeeded();
  }
  const TenantEndpoints& t = settings.check_endpoints;

  std::string token;
  const std::string scope = t.instance_url + "/.default";
  if (auto failed = GetToken(call, scope, &token)) {
    call.AddCheck("dataverse token", false, failed->error);
  } else {
    call.AddCheck("dataverse token", true, "scope " + scope);
  }
  CheckEnvironment(call, settings, t);
  if (token.empty()) return sdk::StepResult::Succeeded();

  DataverseApi dv(call, t.instance_url, token, settings.timeout_ms);
  ApiResult who = dv.Get("WhoAmI");
  if (!who.Succeeded()) {
    call.AddCheck("dataverse application user", false, Failed(who, "GET WhoAmI"));
    return sdk::StepResult::Succeeded();
  }
  call.AddCheck("dataverse application user", true,
                "UserId " + StringAt(who.body, "UserId") + ", organization " +
                    StringAt(who.body, "OrganizationId"));

  ApiResult root = QueryRootBusinessUnit(dv);
  if (!root.Succeeded() || root.Rows().empty()) {
    call.AddCheck("root business unit", false,
                  root.Succeeded() ? "Dataverse lists no business unit without a parent"
                                   : Failed(root, "GET businessunits"));
    return sdk::StepResult::Succeeded();
  }
  const std::string root_id = StringAt(root.Rows()[0], "businessunitid");
  const std::string root_name = StringAt(root.Rows()[0], "name");
  call.AddCheck("root business unit", true, root_name + " (" + root_id + ")");

  for (const std::string& name : settings.default_roles) {
    ApiResult role = QueryRole(dv, name, root_id);
    const std::string check = "role '" + name + "'";
    if (!role.Succeeded()) {
      call.AddCheck(check, false, Failed(role, "GET roles named '" + name + "'"));
    } else if (role.Rows().empty()) {
      std::string detail = "role '" + name + "' does not exist in business unit ";
      detail += root_name + " (" + root_id + ")";
      call.AddCheck(check, false, detail);
    } else {
      call.AddCheck(
          check, true,
          "roleid " + StringAt(role.Rows()[0], "roleid") + " in business unit " + root_name);
    }
  }
  return sdk::StepResult::Succeeded();
}

}  // namespace guestflow::dataverse_role
