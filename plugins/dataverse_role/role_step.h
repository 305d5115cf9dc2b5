// The `role` step: make the invited guest a Dataverse systemuser and give it
// the onboarding's security roles. Idempotent, never sleeps:
//  1. look for the systemuser by azureactivedirectoryobjectid (the invite
//     step's output invited_user_id);
//  2. absent (or disabled) and addUser not yet requested by an earlier
//     attempt: POST the admin addUser ("force sync"). userNotLicensed -> WAIT
//     license_poll_ms; accepted -> output sync_requested=true, look again at
//     once, WAIT sync_poll_ms while the row is not there. The host bounds the
//     total wait;
//  3. the row exists: output systemuser_id, business_unit_id. A row Dataverse
//     keeps disabled (no license, not in the environment's security group,
//     blocked sign-in) -> WAIT disabled_poll_ms with that reason: Dataverse
//     enables it on a later sync once the cause is gone, and roles cannot be
//     assigned to disabled users; if it never is, the host's wait bound fails
//     the step with the reason;
//  4. resolve each role name in the USER's business unit (from the
//     instance's RoleCache when it was resolved in the last role_cache_ms);
//     an unknown name -> FAILED "role 'X' does not exist in business unit Y";
//  5. associate only the roles the user does not have yet (the look of step 1
//     expands the user's systemuserroles_association: no request of its own);
//     a remembered roleid that Dataverse answers 404 for (the role was
//     deleted) -> every remembered role of the attempt is forgotten, RETRY
//     (the next attempt looks them up again); outputs roles
//     (comma list, as Dataverse spells them) and roles_added (associations
//     this step made for this onboarding, across attempts);
//  6. options.update_dynamics_email: PATCH internalemailaddress with
//     If-Match: * when it differs from the guest's email (output
//     email_updated=true).
// 429 -> RETRY after Retry-After; other failures per sdk::ClassifyFailure
// with Dataverse's error.message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guestflow/plugin_sdk.h"
#include "role_cache.h"
#include "role_settings.h"
#include "web_api.h"

namespace guestflow::dataverse_role {

// What the step needs from the host's run_step input.
struct RoleStepInput {
  TenantEndpoints endpoints;
  std::string user_object_id;  // outputs.invite.invited_user_id
  std::string guest_email;
  std::vector<std::string> roles;  // options.roles, tenant defaults applied
  bool update_dynamics_email = false;
  bool sync_requested = false;  // step_outputs.sync_requested
  int roles_added_before = 0;   // step_outputs.roles_added
};

// Parses the run_step input; nullopt with `*error` when it lacks what the
// step needs.
std::optional<RoleStepInput> ParseRoleStepInput(std::string_view input_json, std::string* error);

// `roles`: the plugin instance's cache of resolved role names.
sdk::StepResult RunRoleStep(sdk::Call& call, const RoleSettings& settings, RoleCache& roles,
                            const RoleStepInput& input);

// Queries check() shares.
// GET roles?$select=roleid,name&$filter=name eq '<name>' and _businessunitid_value eq <bu>
ApiResult QueryRole(DataverseApi& dv, std::string_view name, std::string_view business_unit_id);
// GET businessunits?$select=businessunitid,name&$filter=_parentbusinessunitid_value eq null
ApiResult QueryRootBusinessUnit(DataverseApi& dv);

}  // namespace guestflow::dataverse_role
