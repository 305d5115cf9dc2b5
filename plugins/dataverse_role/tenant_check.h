// check() of dataverse_role: is the tenant set up so that the role step can
// work? Reports, through sdk::Call::AddCheck:
//   "dataverse token"           a token for {instance_url}/.default
//   "dataverse application user" WhoAmI answers (the app has an application
//                               user in the environment; 0x80072560 if not)
//   "power platform admin token" a token for admin_scope
//   "power platform environment" environment_id exists and is linked to
//                               instance_url
//   "root business unit"        the environment's root business unit
//   "role '<name>'"             each default role exists in the root
//                               business unit
// Checks that depend on a failed one are skipped. Never sleeps.
#pragma once

#include "guestflow/plugin_sdk.h"
#include "role_settings.h"

namespace guestflow::dataverse_role {

// Always returns Succeeded: the checks themselves carry the failures.
sdk::StepResult CheckTenant(sdk::Call& call, const RoleSettings& settings);

}  // namespace guestflow::dataverse_role
