// PluginHost: loads the configured plugin libraries, creates one instance per
// tenant binding, and runs onboarding steps through them (the StepRunner the
// engine uses).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/common/clock.h"
#include "server/config/config.h"
#include "server/engine/step_runner.h"
#include "server/http/http_client.h"
#include "server/http/rate_limiter.h"
#include "server/http/token_provider.h"
#include "server/model/onboarding.h"
#include "server/plugin_host/host_api.h"
#include "server/plugin_host/plugin_instance.h"
#include "server/plugin_host/plugin_library.h"

namespace guestflow {

// What the host lends to plugins. Non-owning: each must outlive the
// PluginHost. A null clock means Clock::Real(); a null http or tokens makes
// the matching plugin callback fail (tests that need neither).
struct HostServices {
  Clock* clock = nullptr;
  HttpClient* http = nullptr;
  TokenProvider* tokens = nullptr;
  // Shared, not borrowed: the limiter's state must outlive a config reload,
  // so every PluginHost built from it (and a step still running on an old
  // one) keeps it alive. Null: requests are not limited.
  std::shared_ptr<RateLimiter> limiter = nullptr;
};

// One loaded plugin library, for AdminService.ListPlugins.
struct PluginInfo {
  std::string name;
  std::string kind;
  std::string version;
  std::string abi_version;           // "major.minor" the plugin was built for
  std::string file;                  // canonical path
  std::vector<std::string> tenants;  // ids of the tenants bound to it, sorted
};

// Lifecycle: Create() loads everything or fails; the set of libraries and
// instances never changes afterwards (a config reload builds a new
// PluginHost). Destruction destroys every instance, then unloads the
// libraries; no Run or CheckTenant may be in progress then.
// Thread-safety: every method may be called from any number of threads.
class PluginHost : public StepRunner {
 public:
  // Loads every library of config.server.plugins from config.server.plugin_dir
  // (see PluginLibrary::Load for its errors) and creates one instance per
  // tenant binding. Errors, besides the loader's:
  //   FAILED_PRECONDITION  two libraries with the same plugin name (both files
  //                        named); a binding of an unknown plugin kind, of a
  //                        plugin no library provides, or of a plugin of
  //                        another kind (tenant, kind and plugin named); a
  //                        binding whose settings are not a JSON object; a
  //                        create() that failed (with the plugin's last_error)
  //   INTERNAL             a create() that broke (GF_STEP_PLUGIN_ERROR)
  static absl::StatusOr<std::unique_ptr<PluginHost>> Create(const Config& config,
                                                            HostServices services);

  ~PluginHost() override;

  // Runs `step` through the tenant's plugin for its kind, handing it this
  // input (a JSON object):
  //   onboarding  "onboardings/<id>"
  //   tenant, step (its name), attempt (1-based: Step::attempts + 1, as
  //               Step::attempts counts the attempts already made)
  //   guest       {email, first_name, last_name, display_name, usage_location}
  //   options     {roles, send_invitation_message, invitation_message,
  //               update_dynamics_email}, the tenant's defaults filling what
  //               the request left unset (roles: when it named none)
  //   tenant_settings {directory, client_id, authority_url, graph_url,
  //               admin_url, instance_url, environment_id, display_name,
  //               support_contact}
  //   outputs     {<earlier step name>: {key: value}} for the steps before it
  //   step_outputs {key: value} this step's outputs from earlier attempts
  // Outcome: the plugin's outcome with its error, retry_after and outputs;
  // GF_STEP_PLUGIN_ERROR (an exception in the plugin, say) -> kFailed
  // "plugin <name> failed: <last_error>"; an unknown outcome value, an
  // unknown tenant or a tenant without a plugin of that kind -> kFailed.
  //
  // The notify step of a tenant with a `notifier_fallback` binding: when the
  // notifier fails permanently (kFailed), the fallback runs in the same call;
  // the outcome is the fallback's, with plugin = the fallback, the output
  // notifier_failed = "<notifier>: <its error>" (which sends every later
  // attempt of the step straight to the fallback), and, if the fallback
  // fails or retries too, an error naming both. A notifier's retries are the
  // engine's as usual: only a permanent failure moves to the fallback.
  StepOutcome Run(const Onboarding& onboarding, StepKind step) override;

  // NOT_FOUND for an unknown tenant; FAILED_PRECONDITION when the tenant binds
  // no plugin of the step's kind.
  absl::StatusOr<std::string> PluginFor(absl::string_view tenant, StepKind step) override;

  // Every loaded library, in config order.
  std::vector<PluginInfo> ListPlugins() const;

  // What it was created with (a reload hands the same to the next host).
  const HostServices& services() const { return services_; }

  // The tenant's plugin checks: per bound plugin (in kind order invite,
  // license, role, notifier) "plugin <kind>: <name> loaded" (ok), then what
  // the plugin's own check() reported through add_check (plus one failed
  // entry if check() itself did not succeed), then the same for the
  // notifier_fallback when there is one. NOT_FOUND for an unknown tenant.
  absl::StatusOr<std::vector<PluginCheck>> CheckTenant(absl::string_view tenant);

 private:
  struct Binding {
    std::string kind;
    std::unique_ptr<PluginInstance> instance;
  };
  struct Tenant {
    TenantConfig config;
    std::map<std::string, Binding> bindings;  // by plugin kind, or "notifier_fallback"
  };

  explicit PluginHost(HostServices services);

  const Tenant* FindTenant(absl::string_view id) const;
  std::string BuildInput(const Tenant& tenant, const Onboarding& onboarding, StepKind step) const;
  // Runs `step` on one plugin instance with this input.
  StepOutcome RunOn(const PluginInstance& instance, const Tenant& tenant,
                    const Onboarding& onboarding, StepKind step, const std::string& input) const;

  HostServices services_;
  std::vector<std::shared_ptr<PluginLibrary>> libraries_;  // config order
  // Tenants hold instances, which hold libraries: instances go first.
  std::map<std::string, Tenant> tenants_;  // by id
};

}  // namespace guestflow
