// The `invite` step: make the guest exist in the directory, once.
//   1. An invited_user_id from an earlier attempt is reused as is.
//   2. Otherwise the guest is looked up by email (mail or otherMails); an
//      existing user is used, not invited again.
//   3. Otherwise POST /v1.0/invitations (redirect URL, invitation email and
//      custom message per tenant).
//   4. With settings.security_group_id, the user is added to that group
//      ("already exist" counts as done; the 404 of a not yet replicated new
//      guest is a Wait).
// Outputs: invited_user_id, existing_user ("true"/"false"), invitation_id and
// invite_redeem_url (when this step invited), group_member ("true").
// Failed: the tenant forbids invitations (403), an email Graph refuses, an
// unknown security group, a permanent token error; other answers follow
// sdk::ClassifyFailure. Stateless and thread-safe.
#pragma once

#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "invite_settings.h"

namespace guestflow::azure_ad_invite {

sdk::StepResult RunInviteStep(sdk::Call& call, const InviteSettings& settings,
                              const plugins::StepInput& input);

}  // namespace guestflow::azure_ad_invite
