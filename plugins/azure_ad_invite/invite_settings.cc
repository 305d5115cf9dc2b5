#include "invite_settings.h"

#include "common/graph_client.h"
#include "common/plugin_settings.h"

namespace guestflow::azure_ad_invite {

InviteSettings ParseInviteSettings(std::string_view json_text) {
  plugins::SettingsReader reader(json_text, "azure_ad_invite");
  reader.RejectUnknown({"redirect_url", "cc_email", "security_group_id", "replication_poll_ms",
                        "reinvite_grace_ms", "graph_scope"});
  InviteSettings s;
  s.redirect_url = reader.String("redirect_url");
  if (!s.redirect_url.empty() && s.redirect_url.rfind("https://", 0) != 0 &&
      s.redirect_url.rfind("http://", 0) != 0) {
    reader.Fail("'redirect_url' must be an http(s) URL");
  }
  s.cc_email = reader.String("cc_email");
  if (!s.cc_email.empty() && s.cc_email.find('@') == std::string::npos) {
    reader.Fail("'cc_email' must be an email address");
  }
  s.security_group_id = reader.Guid("security_group_id");
  s.replication_poll_ms = reader.Int("replication_poll_ms", 2000, 1, 600000);
  s.reinvite_grace_ms =
      reader.Int("reinvite_grace_ms", 15 * s.replication_poll_ms, 0, int64_t{3600} * 1000);
  s.graph_scope = reader.String("graph_scope", plugins::kGraphScope);
  s.graph_url = reader.TenantSetting("graph_url");
  return s;
}

}  // namespace guestflow::azure_ad_invite
