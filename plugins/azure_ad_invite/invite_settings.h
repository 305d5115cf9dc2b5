// The azure_ad_invite plugin's settings (the tenant's `plugins.invite.settings`
// object), all optional:
//   redirect_url         inviteRedirectUrl; default: the tenant's instance URL
//   cc_email             one extra recipient of the invitation email
//   security_group_id    object id of the security group that gates the
//                        Dynamics environment; the guest is added to it
//   replication_poll_ms  how long to wait before looking again when a new
//                        guest is not replicated yet (default 2000)
//   reinvite_grace_ms    after an invitation whose outcome is unknown (the
//                        process died mid-step, or the POST got no answer),
//                        how long the guest may take to show up in the
//                        directory before it is invited again (default 15 x
//                        replication_poll_ms)
//   graph_scope          token scope (default https://graph.microsoft.com/.default)
// Steps use the tenant's graph_url from their input; check() uses the one
// the host adds to the settings (tenant_settings.graph_url).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace guestflow::azure_ad_invite {

struct InviteSettings {
  std::string redirect_url;
  std::string cc_email;
  std::string security_group_id;
  int64_t replication_poll_ms = 2000;
  int64_t reinvite_grace_ms = 30000;
  std::string graph_scope;
  std::string graph_url;  // tenant_settings.graph_url; "" = https://graph.microsoft.com
};

// Throws std::invalid_argument naming the key for an unknown key, a wrong
// type, a security_group_id that is not a GUID, a cc_email without '@' or a
// redirect_url that is not http(s).
InviteSettings ParseInviteSettings(std::string_view json_text);

}  // namespace guestflow::azure_ad_invite
