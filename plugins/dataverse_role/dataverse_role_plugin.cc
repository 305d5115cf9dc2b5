// dataverse_role: the guestflow plugin of kind `role` for Dynamics 365 /
// Dataverse. Step `role` (role_step.h); check() (tenant_check.h); settings
// (role_settings.h).
//
// One instance serves one tenant and may run steps on several threads at
// once: it holds its parsed settings, immutable after construction, and the
// roles its steps resolved (role_cache.h, thread-safe).
#include <string>
#include <string_view>

#include "guestflow/plugin_sdk.h"
#include "role_cache.h"
#include "role_settings.h"
#include "role_step.h"
#include "tenant_check.h"

namespace guestflow::dataverse_role {
namespace {

class DataverseRolePlugin : public sdk::Plugin {
 public:
  DataverseRolePlugin(const sdk::Host& host, std::string_view config_json)
      : settings_(ParseRoleSettings(config_json)), roles_(settings_.role_cache_ms) {}

  sdk::StepResult RunStep(sdk::Call& call, std::string_view step,
                          std::string_view input_json) override {
    if (step != "role") {
      return sdk::StepResult::Failed("dataverse_role runs only the step 'role', not '" +
                                     std::string(step) + "'");
    }
    std::string error;
    std::optional<RoleStepInput> input = ParseRoleStepInput(input_json, &error);
    if (!input.has_value()) return sdk::StepResult::Failed(error);
    return RunRoleStep(call, settings_, roles_, *input);
  }

  sdk::StepResult Check(sdk::Call& call) override { return CheckTenant(call, settings_); }

 private:
  const RoleSettings settings_;
  RoleCache roles_;
};

}  // namespace
}  // namespace guestflow::dataverse_role

GUESTFLOW_PLUGIN(guestflow::dataverse_role::DataverseRolePlugin, "dataverse_role",
                 GF_PLUGIN_KIND_ROLE, "1.0.0")
