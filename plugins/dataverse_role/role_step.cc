#include "role_step.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace guestflow::dataverse_role {
namespace {

using nlohmann::json;
using sdk::StepResult;

constexpr char kSystemUserColumns[] =
    "systemuserid,isdisabled,_businessunitid_value,internalemailaddress";
// The user's security roles come with the row (the pattern of Microsoft's
// Terraform provider, reference F): the step looks at what the user already
// has without a request of its own for it.
constexpr char kSystemUserRoles[] = "systemuserroles_association($select=roleid)";

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// One systemuser row as the step reads it.
struct SystemUserRow {
  std::string id;
  std::string business_unit_id;
  std::string internal_email;
  bool disabled = false;
  // Lower-cased roleids of the expanded systemuserroles_association;
  // nullopt when the answer did not carry it.
  std::optional<std::set<std::string>> role_ids;
};

std::optional<SystemUserRow> FirstSystemUser(const ApiResult& r) {
  const json& rows = r.Rows();
  if (rows.empty()) return std::nullopt;
  SystemUserRow row;
  row.id = StringAt(rows[0], "systemuserid");
  row.business_unit_id = StringAt(rows[0], "_businessunitid_value");
  row.internal_email = StringAt(rows[0], "internalemailaddress");
  auto disabled = rows[0].find("isdisabled");
  row.disabled = disabled != rows[0].end() && disabled->is_boolean() && disabled->get<bool>();
  if (auto roles = rows[0].find("systemuserroles_association");
      roles != rows[0].end() && roles->is_array()) {
    row.role_ids.emplace();
    for (const json& role : *roles) row.role_ids->insert(Lower(StringAt(role, "roleid")));
  }
  return row;
}

class RoleStep {
 public:
  RoleStep(sdk::Call& call, const RoleSettings& settings, RoleCache& roles,
           const RoleStepInput& input)
      : call_(call), settings_(settings), roles_(roles), input_(input) {}

  StepResult Run() {
    std::string token;
    if (auto failed = GetToken(call_, input_.endpoints.instance_url + "/.default", &token)) {
      return *failed;
    }
    DataverseApi dv(call_, input_.endpoints.instance_url, token, settings_.timeout_ms);

    ApiResult found = FindSystemUser(dv);
    if (!found.Succeeded()) {
      return Failure(found, "GET systemusers by azureactivedirectoryobjectid");
    }
    std::optional<SystemUserRow> user = FirstSystemUser(found);
    if ((!user.has_value() || user->disabled) && !input_.sync_requested) {
      if (std::optional<StepResult> not_yet = RequestSync()) return *not_yet;
      // addUser is often done by the time it answers: look again now rather
      // than a whole poll interval later.
      found = FindSystemUser(dv);
      if (!found.Succeeded()) {
        return Failure(found, "GET systemusers by azureactivedirectoryobjectid");
      }
      user = FirstSystemUser(found);
    }
    if (!user.has_value()) {
      return StepResult::Wait(settings_.sync_poll_ms,
                              "waiting for Dataverse to create the systemuser of Entra user " +
                                  input_.user_object_id + " (addUser accepted)");
    }
    if (!IsGuid(user->id) || !IsGuid(user->business_unit_id)) {
      return StepResult::Failed(
          "Dataverse answered a systemuser without a valid systemuserid or "
          "_businessunitid_value: " +
          found.response.body.substr(0, 300));
    }
    call_.SetOutput("systemuser_id", user->id);
    call_.SetOutput("business_unit_id", user->business_unit_id);
    if (user->disabled) {
      return StepResult::Wait(
          settings_.disabled_poll_ms,
          "systemuser " + user->id + " of Entra user " + input_.user_object_id +
              " is disabled in Dataverse (it needs a license from the environment's tenant, "
              "membership of the environment's security group if it has one, and sign-in "
              "allowed); security roles cannot be assigned until Dataverse enables it");
    }

    if (std::optional<StepResult> failed = AssignRoles(dv, *user)) return *failed;
    if (std::optional<StepResult> failed = UpdateEmail(dv, *user)) return *failed;
    return StepResult::Succeeded();
  }

 private:
  ApiResult FindSystemUser(DataverseApi& dv) {
    return dv.Get(std::string("systemusers?$select=") + kSystemUserColumns + "&$filter=" +
                  EncodeQueryValue("azureactivedirectoryobjectid eq " + input_.user_object_id) +
                  "&$expand=" + EncodeQueryValue(kSystemUserRoles));
  }

  // nullopt when addUser was accepted; otherwise the step's result.
  std::optional<StepResult> RequestSync() {
    if (input_.endpoints.environment_id.empty()) {
      return StepResult::Failed(
          "the tenant has no dynamics.environment_id: the Power Platform admin addUser that "
          "makes the guest a Dataverse user needs the environment id (not the org URL)");
    }
    std::string token;
    if (auto failed = GetToken(call_, settings_.admin_scope, &token)) return *failed;
    AdminApi admin(call_, input_.endpoints.admin_url, token, settings_.admin_api_version,
                   settings_.timeout_ms);
    ApiResult r = admin.AddUser(input_.endpoints.environment_id, input_.user_object_id);
    if (r.Succeeded()) {
      call_.SetOutput("sync_requested", "true");
      call_.Log(GF_LOG_INFO, "addUser accepted Entra user " + input_.user_object_id +
                                 " into environment " + input_.endpoints.environment_id);
      return std::nullopt;
    }
    if (r.Mentions("userNotLicensed")) {
      return StepResult::Wait(settings_.license_poll_ms,
                              "Dataverse does not see a license for Entra user " +
                                  input_.user_object_id +
                                  " yet (addUser answered userNotLicensed); waiting for the "
                                  "license to propagate");
    }
    if (r.Mentions("userNotInSecurityGroup")) {
      return StepResult::Failed(
          "Entra user " + input_.user_object_id +
          " is not a member of the security group that gates environment " +
          input_.endpoints.environment_id + ": " + r.CloudMessage() +
          "; name that group in the invite plugin's settings so the invite step adds the guest");
    }
    return Failure(r, "POST addUser");
  }

  std::string BusinessUnitLabel(DataverseApi& dv, const std::string& id) {
    ApiResult r = dv.Get("businessunits(" + id + ")?$select=name");
    const std::string name = r.Succeeded() ? StringAt(r.body, "name") : std::string();
    return name.empty() ? id : name + " (" + id + ")";
  }

  std::optional<StepResult> AssignRoles(DataverseApi& dv, const SystemUserRow& user) {
    // Resolve every name first: an unknown one fails the step before any
    // association, so a typo never leaves half the roles assigned. (A role
    // deleted after it was remembered is found missing only at its
    // association, after the ones before it: see RoleCache.)
    struct Resolved {
      std::string id;
      std::string name;   // as Dataverse spells it
      std::string asked;  // as the onboarding named it
      bool from_cache = false;
    };
    std::vector<Resolved> resolved;
    std::set<std::string> seen;
    const std::string& instance = input_.endpoints.instance_url;
    for (const std::string& name : input_.roles) {
      if (name.empty() || !seen.insert(Lower(name)).second) continue;
      if (std::optional<RoleCache::Role> cached =
              roles_.Find(instance, user.business_unit_id, name, call_.NowUnixMs())) {
        resolved.push_back({cached->id, cached->name, name, /*from_cache=*/true});
        continue;
      }
      ApiResult r = QueryRole(dv, name, user.business_unit_id);
      if (!r.Succeeded()) return Failure(r, "GET roles named '" + name + "'");
      if (r.Rows().empty()) {
        return StepResult::Failed("role '" + name + "' does not exist in business unit " +
                                  BusinessUnitLabel(dv, user.business_unit_id) +
                                  ", the business unit of systemuser " + user.id);
      }
      const std::string id = StringAt(r.Rows()[0], "roleid");
      if (!IsGuid(id)) {
        return StepResult::Failed("Dataverse answered role '" + name + "' without a valid roleid");
      }
      const std::string spelled = StringAt(r.Rows()[0], "name");
      resolved.push_back({id, spelled.empty() ? name : spelled, name, /*from_cache=*/false});
      roles_.Put(instance, user.business_unit_id, name, {id, resolved.back().name},
                 call_.NowUnixMs());
    }

    std::string names;
    for (const Resolved& role : resolved) names += (names.empty() ? "" : ",") + role.name;
    if (resolved.empty()) {
      call_.SetOutput("roles", "");
      call_.SetOutput("roles_added", std::to_string(input_.roles_added_before));
      return std::nullopt;
    }

    std::set<std::string> have;
    if (user.role_ids.has_value()) {
      have = *user.role_ids;
    } else {
      // The answer lacked the expansion: ask for the user's roles alone.
      ApiResult current =
          dv.Get("systemusers(" + user.id + ")/systemuserroles_association?$select=roleid,name");
      if (!current.Succeeded()) return Failure(current, "GET systemuserroles_association");
      for (const json& row : current.Rows()) have.insert(Lower(StringAt(row, "roleid")));
    }

    int added = input_.roles_added_before;
    for (const Resolved& role : resolved) {
      const std::string& id = role.id;
      const std::string& name = role.name;
      if (have.count(Lower(id)) != 0) continue;
      ApiResult r = dv.Post("systemusers(" + user.id + ")/systemuserroles_association/$ref",
                            json{{"@odata.id", dv.Url("roles(" + id + ")")}});
      if (r.Succeeded()) {
        ++added;
        // Recorded at once: a later failure must not forget this one.
        call_.SetOutput("roles_added", std::to_string(added));
        continue;
      }
      // Someone associated it between the look and the POST (the status of
      // a duplicate is unconfirmed, the message and code are not).
      if (r.status() == 412 || r.Mentions("0x80040237") || r.Mentions("duplicate key")) continue;
      // Dataverse does not know the roleid (404; Microsoft's Terraform
      // provider reads 0x80060888 here as "role is not valid"): the role was
      // deleted or replaced since it was looked up. Every role this attempt
      // took from the cache may be as old: the next attempt looks them all up
      // again rather than spend one attempt on each.
      const bool unknown_role = r.status() == 404 || r.Mentions("0x80060888");
      if (unknown_role) {
        for (const Resolved& other : resolved) {
          roles_.Forget(instance, user.business_unit_id, other.asked);
        }
      }
      if (unknown_role && role.from_cache) {
        std::string why = "POST systemuserroles_association/$ref of role '" + name;
        why += "' (roleid " + id + ", looked up earlier) failed: ";
        why += r.CloudMessage();
        why += "; the roles are looked up again";
        return StepResult::Retry(std::move(why));
      }
      return Failure(r, "POST systemuserroles_association/$ref of role '" + name + "'");
    }
    call_.SetOutput("roles", names);
    call_.SetOutput("roles_added", std::to_string(added));
    return std::nullopt;
  }

  std::optional<StepResult> UpdateEmail(DataverseApi& dv, const SystemUserRow& user) {
    if (!input_.update_dynamics_email || input_.guest_email.empty()) return std::nullopt;
    if (Lower(user.internal_email) == Lower(input_.guest_email)) return std::nullopt;
    ApiResult r = dv.PatchExisting("systemusers(" + user.id + ")",
                                   json{{"internalemailaddress", input_.guest_email}});
    if (!r.Succeeded()) return Failure(r, "PATCH systemusers internalemailaddress");
    call_.SetOutput("email_updated", "true");
    return std::nullopt;
  }

  sdk::Call& call_;
  const RoleSettings& settings_;
  RoleCache& roles_;
  const RoleStepInput& input_;
};

}  // namespace

std::optional<RoleStepInput> ParseRoleStepInput(std::string_view input_json, std::string* error) {
  const json input = json::parse(input_json, nullptr, /*allow_exceptions=*/false);
  if (!input.is_object()) {
    *error = "the step input is not a JSON object";
    return std::nullopt;
  }
  RoleStepInput in;
  const json tenant = input.value("tenant_settings", json::object());
  in.endpoints.instance_url = TrimSlash(StringAt(tenant, "instance_url"));
  in.endpoints.admin_url = TrimSlash(StringAt(tenant, "admin_url"));
  if (in.endpoints.admin_url.empty()) in.endpoints.admin_url = "https://api.bap.microsoft.com";
  in.endpoints.environment_id = StringAt(tenant, "environment_id");
  if (in.endpoints.instance_url.empty()) {
    *error = "the tenant has no dynamics.instance_url";
    return std::nullopt;
  }

  const json outputs = input.value("outputs", json::object());
  in.user_object_id =
      StringAt(outputs.is_object() ? outputs.value("invite", json::object()) : json::object(),
               "invited_user_id");
  if (in.user_object_id.empty()) {
    *error =
        "the invite step left no invited_user_id output: the role step needs the guest's "
        "Entra object id";
    return std::nullopt;
  }
  if (!IsGuid(in.user_object_id)) {
    *error = "the invite step's invited_user_id '" + in.user_object_id + "' is not a GUID";
    return std::nullopt;
  }

  in.guest_email = StringAt(input.value("guest", json::object()), "email");
  const json options = input.value("options", json::object());
  if (options.is_object()) {
    if (auto roles = options.find("roles"); roles != options.end() && roles->is_array()) {
      for (const json& role : *roles) {
        if (role.is_string()) in.roles.push_back(role.get<std::string>());
      }
    }
    auto update = options.find("update_dynamics_email");
    in.update_dynamics_email =
        update != options.end() && update->is_boolean() && update->get<bool>();
  }

  const json step_outputs = input.value("step_outputs", json::object());
  in.sync_requested = StringAt(step_outputs, "sync_requested") == "true";
  const std::string added = StringAt(step_outputs, "roles_added");
  if (!added.empty() &&
      std::all_of(added.begin(), added.end(),
                  [](unsigned char c) { return std::isdigit(c) != 0; }) &&
      added.size() < 6) {
    in.roles_added_before = std::stoi(added);
  }
  return in;
}

sdk::StepResult RunRoleStep(sdk::Call& call, const RoleSettings& settings, RoleCache& roles,
                            const RoleStepInput& input) {
  return RoleStep(call, settings, roles, input).Run();
}

ApiResult QueryRole(DataverseApi& dv, std::string_view name, std::string_view business_unit_id) {
  return dv.Get("roles?$select=roleid,name&$filter=" +
                EncodeQueryValue("name eq " + ODataString(name) + " and _businessunitid_value eq " +
                                 std::string(business_unit_id)));
}

ApiResult QueryRootBusinessUnit(DataverseApi& dv) {
  return dv.Get("businessunits?$select=businessunitid,name&$filter=" +
                EncodeQueryValue("_parentbusinessunitid_value eq null"));
}

}  // namespace guestflow::dataverse_role
