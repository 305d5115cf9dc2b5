// graph_license: the `license` plugin kind over Microsoft Graph. Step
// `license` (license_step.h); settings in license_settings.h. check()
// reports the Graph token, the SKU, its free seats and (if set) whether the
// security group can be read.
#include <string>
#include <string_view>

#include "common/graph_client.h"
#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "license_settings.h"
#include "license_step.h"
#include "sku_catalog.h"

namespace guestflow::graph_license {
namespace {

using sdk::StepResult;

// One instance per tenant; steps of several onboardings run on it at once.
class GraphLicensePlugin : public sdk::Plugin {
 public:
  GraphLicensePlugin(const sdk::Host& host, std::string_view config_json)
      : settings_(ParseLicenseSettings(config_json)), catalog_(settings_.sku_cache_ms) {}

  StepResult RunStep(sdk::Call& call, std::string_view step, std::string_view input_json) override {
    const plugins::StepInput in = plugins::ParseStepInput(input_json);
    if (step == "license") return RunLicenseStep(call, settings_, catalog_, in);
    return StepResult::Failed("graph_license runs the step license, not '" + std::string(step) +
                              "'");
  }

  StepResult Check(sdk::Call& call) override {
    plugins::GraphClient graph(call, settings_.graph_url, settings_.graph_scope);
    if (std::optional<StepResult> failed = graph.Authenticate()) {
      call.AddCheck("graph token", false, failed->error);
      return StepResult::Succeeded();
    }
    call.AddCheck("graph token", true, "token for " + settings_.graph_scope);

    SkuCatalog::Snapshot skus;
    if (std::optional<StepResult> failed =
            catalog_.Load(graph, call.NowUnixMs(), /*refresh=*/true, &skus)) {
      call.AddCheck("sku " + settings_.sku, false, failed->error);
    } else if (const SubscribedSku* sku = FindSku(skus.skus, settings_.sku); sku == nullptr) {
      call.AddCheck("sku " + settings_.sku, false,
                    "not subscribed in this tenant; it has: " + DescribeSkus(skus.skus));
    } else {
      call.AddCheck("sku " + settings_.sku, true, sku->Name());
      call.AddCheck("free seats of " + sku->sku_part_number, sku->Free() > 0,
                    std::to_string(sku->Free() < 0 ? 0 : sku->Free()) + " of " +
                        std::to_string(sku->enabled) + " free");
    }

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
  const LicenseSettings settings_;
  SkuCatalog catalog_;
};

}  // namespace
}  // namespace guestflow::graph_license

GUESTFLOW_PLUGIN(guestflow::graph_license::GraphLicensePlugin, "graph_license",
                 GF_PLUGIN_KIND_LICENSE, "1.0.0")
