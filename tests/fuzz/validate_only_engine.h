// An Engine that can only validate (StartRequest::validate_only): one tenant,
// "contoso", whose every step runs the plugin "fuzz", and no store, change
// feed or scheduler. Start() with validate_only never reaches them; anything
// else on this engine would dereference null.
#pragma once

#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/common/clock.h"
#include "server/engine/engine.h"
#include "server/engine/step_runner.h"
#include "server/engine/tenant_catalog.h"

namespace guestflow::fuzz {

class ValidateOnlyEngine : private TenantCatalog, private StepRunner {
 public:
  static constexpr char kTenant[] = "contoso";

  ValidateOnlyEngine()
      : engine_(/*store=*/nullptr, this, this, &clock_, /*feed=*/nullptr, /*scheduler=*/nullptr) {}

  Engine* engine() { return &engine_; }
  Clock* clock() { return &clock_; }

 private:
  absl::StatusOr<TenantInfo> FindTenant(absl::string_view id) const override {
    if (id != kTenant)
      return absl::NotFoundError(absl::StrCat("tenant \"", id, "\" is not configured"));
    return TenantInfo{kTenant, "https://contoso.crm.dynamics.com"};
  }

  StepOutcome Run(const Onboarding&, StepKind) override { std::abort(); }

  absl::StatusOr<std::string> PluginFor(absl::string_view tenant, StepKind) override {
    if (absl::Status known = FindTenant(tenant).status(); !known.ok()) return known;
    return std::string("fuzz");
  }

  FakeClock clock_;
  Engine engine_;
};

}  // namespace guestflow::fuzz
