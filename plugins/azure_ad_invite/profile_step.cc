#include "profile_step.h"

#include <cctype>
#include <string>

#include "common/graph_client.h"
#include "country_codes.h"
#include "nlohmann/json.hpp"

namespace guestflow::azure_ad_invite {
namespace {

using nlohmann::json;
using sdk::StepResult;

std::string Trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

StepResult BadUsageLocation(const std::string& code, const std::string& why) {
  return StepResult::Failed("usage location '" + code + "' " + why + ": " +
                            UsageLocationHint(code));
}

}  // namespace

StepResult RunProfileStep(sdk::Call& call, const InviteSettings& settings,
                          const plugins::StepInput& in) {
  const std::string user_id = in.OutputOf("invite", "invited_user_id");
  if (user_id.empty()) {
    return StepResult::Failed("the invite step recorded no invited_user_id; run it first");
  }
  const std::string usage_location = Upper(Trimmed(in.usage_location));
  if (!usage_location.empty() && !IsIso3166Alpha2(usage_location)) {
    return BadUsageLocation(usage_location, "is not an ISO 3166-1 alpha-2 country code");
  }

  json body = json::object();
  if (!in.first_name.empty()) body["givenName"] = in.first_name;
  if (!in.last_name.empty()) body["surname"] = in.last_name;
  std::string display_name = in.display_name;
  if (display_name.empty()) display_name = Trimmed(in.first_name + " " + in.last_name);
  // displayName cannot be cleared: only ever send a value.
  if (!display_name.empty()) body["displayName"] = display_name;
  if (!usage_location.empty()) {
    body["usageLocation"] = usage_location;
  } else {
    call.Log(GF_LOG_WARN,
             "the guest has no usage location; a license cannot be assigned "
             "until one is set");
  }
  if (body.empty()) return StepResult::Succeeded();

  plugins::GraphClient graph(call, in.graph_url, settings.graph_scope);
  if (std::optional<StepResult> failed = graph.Authenticate()) return *failed;
  const sdk::HttpResponse r = graph.Send("PATCH", "/users/" + plugins::UrlEncode(user_id), body);
  if (r.status == 204 || r.status == 200) {
    if (!usage_location.empty()) call.SetOutput("usage_location", usage_location);
    return StepResult::Succeeded();
  }
  const std::string message = plugins::CloudMessage(r);
  if (r.status == 404) {
    // Right after the invitation the user may not have reached this replica.
    return StepResult::Wait(settings.replication_poll_ms,
                            "user " + user_id + " is not replicated yet: " + message);
  }
  if (r.status == 400 && plugins::ContainsIgnoreCase(message, "usageLocation")) {
    return BadUsageLocation(usage_location, "was refused by Microsoft Graph (" + message + ")");
  }
  return plugins::GraphFailure(r, "PATCH /users/" + user_id);
}

}  // namespace guestflow::azure_ad_invite
