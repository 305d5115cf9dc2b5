// LiveConfig: the part of the server that ReloadConfig (and SIGHUP) swaps: the
// config and the plugin host built from it. The scheduler and the engine see
// it as their StepRunner and TenantCatalog; a step that is running keeps the
// plugin host it started with alive until it ends, so a swap never pulls a
// plugin out from under a running step.
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "server/config/config.h"
#include "server/engine/step_runner.h"
#include "server/engine/tenant_catalog.h"
#include "server/plugin_host/plugin_host.h"

namespace guestflow {

// Thread-safe.
class LiveConfig : public StepRunner, public TenantCatalog {
 public:
  LiveConfig(std::shared_ptr<const Config> config, std::shared_ptr<PluginHost> host);

  // Replaces both at once. Steps already running finish with the old ones.
  void Swap(std::shared_ptr<const Config> config, std::shared_ptr<PluginHost> host);

  std::shared_ptr<const Config> config() const;
  std::shared_ptr<PluginHost> host() const;

  // StepRunner
  StepOutcome Run(const Onboarding& onboarding, StepKind step) override;
  absl::StatusOr<std::string> PluginFor(absl::string_view tenant, StepKind step) override;

  // TenantCatalog
  absl::StatusOr<TenantInfo> FindTenant(absl::string_view id) const override;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const Config> config_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<PluginHost> host_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow
