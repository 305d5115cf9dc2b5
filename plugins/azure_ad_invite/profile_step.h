// The `profile` step: PATCH /v1.0/users/{id} with givenName, surname,
// displayName and usageLocation (the user id is the invite step's
// invited_user_id). The usage location is checked against ISO 3166-1
// alpha-2 before any call ("UK" fails with a hint for "GB"). A PATCH with
// the same values changes nothing, so the step is safe to run again.
// Wait while the new guest is not replicated (404); Failed for a usage
// location Graph refuses, a missing invited_user_id or a permanent token
// error; other answers follow sdk::ClassifyFailure. Output: usage_location.
// Stateless and thread-safe.
#pragma once

#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "invite_settings.h"

namespace guestflow::azure_ad_invite {

sdk::StepResult RunProfileStep(sdk::Call& call, const InviteSettings& settings,
                               const plugins::StepInput& input);

}  // namespace guestflow::azure_ad_invite
