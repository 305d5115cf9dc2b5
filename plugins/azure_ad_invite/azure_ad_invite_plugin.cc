// azure_ad_invite: the `invite` plugin kind over Microsoft Graph (Entra ID B2B
// collaboration). Steps `invite` (invite_step.h) and `profile`
// (profile_step.h); settings in invite_settings.h. check() reports whether a
// Graph token can be had and the security group can be read.
#include <string>
#include <string_view>

#include "common/graph_client.h"
#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "invite_settings.h"
#include "invite_step.h"
#include "profile_step.h"

namespace guestflow::azure_ad_invite {
namespace {

using sdk::StepResult;

// One instance per tenant; steps of several onboardings run on it at once.
class AzureAdInvitePlugin : public sdk::Plugin {
 public:
  AzureAdInvitePlugin(const sdk::Host& host, std::string_view config_json)
      : settings_(ParseInviteSettings(config_json)) {}

  StepResult RunStep(sdk::Call& call, std::string_view step, std::string_view input_json) override {
    const plugins::StepInput in = plugins::ParseStepInput(input_json);
    if (step == "invite") return RunInviteStep(call, settings_, in);
    if (step == "profile") return RunProfileStep(call, settings_, in);
    return StepResult::Failed("azure_ad_invite runs the steps invite and profile, not '" +
                              std::string(step) + "'");
  }

  StepResult Check(sdk::Call& call) override {
    plugins::GraphClient graph(call, settings_.graph_url, settings_.graph_scope);
    if (std::optional<StepResult> failed = graph.Authenticate()) {
      call.AddCheck("graph token", false, failed->error);
      return StepResult::Succeeded();
    }
    call.AddCheck("graph token", true, "token for " + settings_.graph_scope);
    if (!settings_.security_group_id.empty()) {
      const std::string& id = settings_.security_group_id;
      const sdk::HttpResponse r =
          graph.Get("/groups/" + plugins::UrlEncode(id) + "?$select=id,displayName");
      const std::optional<nlohmann::json> group = plugins::ParseObject(r.body);
      call.AddCheck("security group", r.status == 200,
                    r.status == 200 && group.has_value()
                        ? plugins::StringAt(*group, "displayName") + " (" + id + ")"
                        : "GET /groups/" + id + " answered " + std::to_string(r.status) + ": " +
                              plugins::CloudMessage(r));
    }
    return StepResult::Succeeded();
  }

 private:
  const InviteSettings settings_;
};

}  // namespace
}  // namespace guestflow::azure_ad_invite

GUESTFLOW_PLUGIN(guestflow::azure_ad_invite::AzureAdInvitePlugin, "azure_ad_invite",
                 GF_PLUGIN_KIND_INVITE, "1.0.0")
