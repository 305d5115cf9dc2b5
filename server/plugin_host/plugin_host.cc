#include "server/plugin_host/plugin_host.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/logging.h"
#include "server/common/status_macros.h"

namespace guestflow {
namespace {

constexpr absl::string_view kPluginKinds[] = {GF_PLUGIN_KIND_INVITE, GF_PLUGIN_KIND_LICENSE,
                                              GF_PLUGIN_KIND_ROLE, GF_PLUGIN_KIND_NOTIFIER};

// The binding of a notifier tried when the tenant's notifier fails for good.
constexpr char kNotifierFallback[] = "notifier_fallback";
// The notify step's output that records the notifier that failed for good
// ("<plugin>: <error>"); while it is set, later attempts go to the fallback.
constexpr char kNotifierFailedOutput[] = "notifier_failed";

// The plugin kind a binding key needs: its own name, but "notifier" for the
// fallback notifier.
absl::string_view KindOfBinding(absl::string_view binding) {
  return binding == kNotifierFallback ? GF_PLUGIN_KIND_NOTIFIER : binding;
}

bool IsBindingKey(absl::string_view key) {
  for (absl::string_view k : kPluginKinds) {
    if (k == key) return true;
  }
  return key == kNotifierFallback;
}

gf_str ToGf(absl::string_view s) { return gf_str{s.data(), s.size()}; }

nlohmann::json ToJson(const std::map<std::string, std::string>& values) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : values) object[key] = value;
  return object;
}

nlohmann::json TenantSettingsJson(const TenantConfig& tc) {
  return {{"directory", tc.directory},
          {"client_id", tc.client_id},
          {"authority_url", tc.authority_url},
          {"graph_url", tc.graph_url},
          {"admin_url", tc.admin_url},
          {"instance_url", tc.instance_url},
          {"environment_id", tc.environment_id},
          {"display_name", tc.display_name},
          {"support_contact", tc.support_contact}};
}

StepOutcome Failed(std::string error) {
  StepOutcome outcome;
  outcome.kind = StepOutcome::Kind::kFailed;
  outcome.error = std::move(error);
  return outcome;
}

}  // namespace

PluginHost::PluginHost(HostServices services) : services_(std::move(services)) {}

PluginHost::~PluginHost() = default;

absl::StatusOr<std::unique_ptr<PluginHost>> PluginHost::Create(const Config& config,
                                                               HostServices services) {
  if (services.clock == nullptr) services.clock = Clock::Real();
  std::unique_ptr<PluginHost> host(new PluginHost(services));

  std::map<std::string, std::shared_ptr<PluginLibrary>> by_name;
  for (const std::string& file : config.server.plugins) {
    GF_ASSIGN_OR_RETURN(std::shared_ptr<PluginLibrary> library,
                        PluginLibrary::Load(file, config.server.plugin_dir,
                                            config.server.plugin_sha256.count(file) > 0
                                                ? config.server.plugin_sha256.at(file)
                                                : std::string()));
    auto [it, inserted] = by_name.emplace(library->name(), library);
    if (!inserted) {
      return absl::FailedPreconditionError(absl::StrCat("plugin name ", library->name(),
                                                        " is exported by both ", it->second->path(),
                                                        " and ", library->path()));
    }
    LogInfo(
        absl::StrCat("loaded plugin ", library->name(), " ", library->version()),
        absl::StrCat("kind=", library->kind(), " abi=", library->abi(), " file=", library->path()));
    host->libraries_.push_back(std::move(library));
  }

  for (const TenantConfig& tenant_config : config.tenants) {
    auto [tenant_it, inserted] = host->tenants_.try_emplace(tenant_config.id);
    if (!inserted) {
      return absl::FailedPreconditionError(
          absl::StrCat("tenant ", tenant_config.id, " is configured twice"));
    }
    Tenant& tenant = tenant_it->second;
    tenant.config = tenant_config;
    for (const auto& [kind, binding] : tenant_config.plugins) {
      const std::string where = absl::StrCat("tenant ", tenant_config.id, ", plugin kind ", kind,
                                             ", plugin ", binding.plugin);
      if (!IsBindingKey(kind)) {
        return absl::FailedPreconditionError(
            absl::StrCat(where,
                         ": unknown plugin kind; expected invite, license, role, notifier or "
                         "notifier_fallback"));
      }
      auto library_it = by_name.find(binding.plugin);
      if (library_it == by_name.end()) {
        std::vector<std::string> loaded;
        loaded.reserve(by_name.size());
        for (const auto& [name, library] : by_name) loaded.push_back(name);
        return absl::FailedPreconditionError(
            absl::StrCat(where, ": no loaded library provides a plugin of that name (loaded: ",
                         loaded.empty() ? "none" : absl::StrJoin(loaded, ", "), ")"));
      }
      const std::shared_ptr<PluginLibrary>& library = library_it->second;
      if (library->kind() != KindOfBinding(kind)) {
        return absl::FailedPreconditionError(absl::StrCat(
            where, ": the plugin is of kind ", library->kind(), " (", library->path(), ")"));
      }
      nlohmann::json settings = binding.settings_json.empty()
                                    ? nlohmann::json::object()
                                    : nlohmann::json::parse(binding.settings_json, nullptr, false);
      if (!settings.is_object()) {
        return absl::FailedPreconditionError(
            absl::StrCat(where, ": the plugin settings are not a JSON object"));
      }
      // Relative paths in settings mean "next to the config file", as they
      // do in the config itself; plugins resolve them against base_dir.
      if (!settings.contains("base_dir") && !config.base_dir.empty()) {
        settings["base_dir"] = config.base_dir;
      }
      // An instance serves one tenant: it knows the tenant's endpoints and
      // defaults from the start (check() has no step input).
      if (!settings.contains("tenant_settings")) {
        settings["tenant_settings"] = TenantSettingsJson(tenant_config);
      }
      if (!settings.contains("default_roles")) {
        settings["default_roles"] = tenant_config.default_roles;
      }
      absl::StatusOr<std::unique_ptr<PluginInstance>> instance =
          PluginInstance::Create(library, HostApi(), settings.dump());
      if (!instance.ok()) {
        return absl::Status(
            instance.status().code(),
            absl::StrCat("tenant ", tenant_config.id, ": ", instance.status().message()));
      }
      tenant.bindings[kind] = Binding{kind, *std::move(instance)};
    }
  }
  return host;
}

const PluginHost::Tenant* PluginHost::FindTenant(absl::string_view id) const {
  auto it = tenants_.find(std::string(id));
  return it == tenants_.end() ? nullptr : &it->second;
}

std::string PluginHost::BuildInput(const Tenant& tenant, const Onboarding& onboarding,
                                   StepKind step) const {
  const TenantConfig& tc = tenant.config;
  const OnboardingOptions& options = onboarding.options;
  const Step* current = onboarding.FindStep(step);

  nlohmann::json outputs = nlohmann::json::object();
  for (StepKind earlier : kAllSteps) {
    if (earlier == step) break;
    if (const Step* s = onboarding.FindStep(earlier); s != nullptr) {
      outputs[std::string(StepName(earlier))] = ToJson(s->outputs);
    }
  }

  const nlohmann::json input = {
      {"onboarding", absl::StrCat("onboardings/", onboarding.id)},
      {"tenant", onboarding.tenant},
      {"step", std::string(StepName(step))},
      {"attempt", current != nullptr ? current->attempts + 1 : 1},
      {"guest",
       {{"email", onboarding.guest.email},
        {"first_name", onboarding.guest.first_name},
        {"last_name", onboarding.guest.last_name},
        {"display_name", onboarding.guest.display_name},
        {"usage_location", onboarding.guest.usage_location}}},
      {"options",
       {{"roles", options.roles.empty() ? tc.default_roles : options.roles},
        {"send_invitation_message",
         options.send_invitation_message.value_or(tc.send_invitation_message)},
        {"invitation_message",
         options.invitation_message.empty() ? tc.invitation_message : options.invitation_message},
        {"update_dynamics_email",
         options.update_dynamics_email.value_or(tc.update_dynamics_email)}}},
      {"tenant_settings", TenantSettingsJson(tc)},
      {"outputs", std::move(outputs)},
      {"step_outputs", current != nullptr ? ToJson(current->outputs) : nlohmann::json::object()},
  };
  // Guest data comes from CSV files and API callers: invalid UTF-8 is
  // replaced rather than allowed to throw.
  return input.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StepOutcome PluginHost::Run(const Onboarding& onboarding, StepKind step) {
  const Tenant* tenant = FindTenant(onboarding.tenant);
  if (tenant == nullptr) return Failed(absl::StrCat("unknown tenant ", onboarding.tenant));
  const absl::string_view kind = PluginKindOf(step);
  auto binding = tenant->bindings.find(std::string(kind));
  if (binding == tenant->bindings.end()) {
    return Failed(
        absl::StrCat("tenant ", onboarding.tenant, " has no ", kind, " plugin configured"));
  }
  const std::string input = BuildInput(*tenant, onboarding, step);
  const PluginInstance& primary = *binding->second.instance;

  const PluginInstance* fallback = nullptr;
  if (step == StepKind::kNotify) {
    if (auto it = tenant->bindings.find(kNotifierFallback); it != tenant->bindings.end()) {
      fallback = it->second.instance.get();
    }
  }
  if (fallback == nullptr) return RunOn(primary, *tenant, onboarding, step, input);

  // Once the notifier has failed for good, every later attempt (after the
  // fallback asked for a retry) goes straight to the fallback: the guest
  // must not get the first channel's message late as well.
  const Step* current = onboarding.FindStep(step);
  std::string primary_failure;
  if (current != nullptr) {
    if (auto it = current->outputs.find(kNotifierFailedOutput); it != current->outputs.end()) {
      primary_failure = it->second;
    }
  }
  std::map<std::string, std::string> primary_outputs;
  std::vector<CloudCall> primary_calls;
  if (primary_failure.empty()) {
    StepOutcome outcome = RunOn(primary, *tenant, onboarding, step, input);
    if (outcome.kind != StepOutcome::Kind::kFailed) return outcome;
    primary_failure = absl::StrCat(outcome.plugin, ": ", outcome.error);
    primary_outputs = std::move(outcome.outputs);
    primary_calls = std::move(outcome.cloud_calls);
    LogWarn(absl::StrCat("notifier ", outcome.plugin, " failed for onboarding ", onboarding.id,
                         "; trying the fallback notifier ", fallback->library().name()),
            outcome.error);
  }

  StepOutcome outcome = RunOn(*fallback, *tenant, onboarding, step, input);
  for (auto& [key, value] : primary_outputs) outcome.outputs.emplace(key, std::move(value));
  outcome.outputs[kNotifierFailedOutput] = primary_failure;
  outcome.cloud_calls.insert(outcome.cloud_calls.begin(), primary_calls.begin(),
                             primary_calls.end());
  if (outcome.kind == StepOutcome::Kind::kFailed || outcome.kind == StepOutcome::Kind::kRetry) {
    outcome.error = absl::StrCat("fallback notifier ", outcome.plugin, ": ", outcome.error,
                                 " (after notifier ", primary_failure, ")");
  }
  return outcome;
}

StepOutcome PluginHost::RunOn(const PluginInstance& instance, const Tenant& tenant,
                              const Onboarding& onboarding, StepKind step,
                              const std::string& input) const {
  const std::string& plugin = instance.library().name();
  const absl::string_view step_name = StepName(step);

  gf_call call;
  call.tenant = onboarding.tenant;
  call.onboarding_id = onboarding.id;
  call.step = std::string(step_name);
  call.plugin = plugin;
  call.tenant_config = &tenant.config;
  call.http = services_.http;
  call.tokens = services_.tokens;
  call.clock = services_.clock;
  call.limiter = services_.limiter.get();
  const gf_step_outcome result =
      instance.table().run_step(instance.raw(), &call, ToGf(step_name), ToGf(input));
  // last_error() is per thread and only good until the next call into the
  // plugin: read it now.
  const std::string last_error = result == GF_STEP_SUCCEEDED || result == GF_STEP_RETRY ||
                                         result == GF_STEP_WAIT || result == GF_STEP_FAILED
                                     ? std::string()
                                     : instance.LastError();

  absl::MutexLock lock(&call.mu);
  StepOutcome outcome;
  outcome.plugin = plugin;
  outcome.outputs = std::move(call.outputs);
  outcome.retry_after = call.retry_after;
  outcome.cloud_calls = std::move(call.cloud_calls);
  const std::string error = RedactSecrets(call.error, call.secrets);
  switch (result) {
    case GF_STEP_SUCCEEDED:
      outcome.kind = StepOutcome::Kind::kSucceeded;
      break;
    case GF_STEP_RETRY:
      // Right after a throttling answer, a retry is the cloud's pace (or the
      // limiter's), not a failure of the step.
      outcome.kind =
          call.last_answer_throttled ? StepOutcome::Kind::kThrottled : StepOutcome::Kind::kRetry;
      outcome.error = error.empty() ? absl::StrCat("plugin ", plugin, " asked for a retry") : error;
      break;
    case GF_STEP_WAIT:
      outcome.kind = StepOutcome::Kind::kWait;
      outcome.error = error;
      break;
    case GF_STEP_FAILED:
      outcome.kind = StepOutcome::Kind::kFailed;
      outcome.error =
          error.empty() ? absl::StrCat("plugin ", plugin, " failed without saying why") : error;
      break;
    case GF_STEP_PLUGIN_ERROR:
      outcome.kind = StepOutcome::Kind::kFailed;
      outcome.error = absl::StrCat(
          "plugin ", plugin,
          " failed: ", RedactSecrets(last_error.empty() ? error : last_error, call.secrets));
      break;
    default:
      outcome.kind = StepOutcome::Kind::kFailed;
      outcome.error =
          absl::StrCat("plugin ", plugin, " returned unknown outcome ", static_cast<int>(result));
      if (!last_error.empty()) {
        absl::StrAppend(&outcome.error, ": ", RedactSecrets(last_error, call.secrets));
      }
      break;
  }
  return outcome;
}

absl::StatusOr<std::string> PluginHost::PluginFor(absl::string_view tenant_id, StepKind step) {
  const Tenant* tenant = FindTenant(tenant_id);
  if (tenant == nullptr) return absl::NotFoundError(absl::StrCat("unknown tenant ", tenant_id));
  const absl::string_view kind = PluginKindOf(step);
  auto binding = tenant->bindings.find(std::string(kind));
  if (binding == tenant->bindings.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("tenant ", tenant_id, " has no ", kind, " plugin configured"));
  }
  return binding->second.instance->library().name();
}

std::vector<PluginInfo> PluginHost::ListPlugins() const {
  std::vector<PluginInfo> plugins;
  plugins.reserve(libraries_.size());
  for (const std::shared_ptr<PluginLibrary>& library : libraries_) {
    PluginInfo info;
    info.name = library->name();
    info.kind = library->kind();
    info.version = library->version();
    info.abi_version = library->abi();
    info.file = library->path();
    for (const auto& [id, tenant] : tenants_) {
      for (const auto& [kind, binding] : tenant.bindings) {
        if (&binding.instance->library() == library.get()) {
          info.tenants.push_back(id);
          break;
        }
      }
    }
    plugins.push_back(std::move(info));
  }
  return plugins;
}

absl::StatusOr<std::vector<PluginCheck>> PluginHost::CheckTenant(absl::string_view tenant_id) {
  const Tenant* tenant = FindTenant(tenant_id);
  if (tenant == nullptr) return absl::NotFoundError(absl::StrCat("unknown tenant ", tenant_id));
  std::vector<PluginCheck> results;
  std::vector<absl::string_view> kinds(std::begin(kPluginKinds), std::end(kPluginKinds));
  if (tenant->bindings.count(kNotifierFallback) != 0) kinds.push_back(kNotifierFallback);
  for (absl::string_view kind : kinds) {
    auto binding = tenant->bindings.find(std::string(kind));
    if (binding == tenant->bindings.end()) {
      results.push_back(
          {absl::StrCat("plugin ", kind, ": none"), false,
           absl::StrCat("tenant ", tenant_id, " binds no ", kind, " plugin; its steps will fail")});
      continue;
    }
    const PluginInstance& instance = *binding->second.instance;
    const PluginLibrary& library = instance.library();
    results.push_back({absl::StrCat("plugin ", kind, ": ", library.name(), " loaded"), true,
                       absl::StrCat("version ", library.version(), ", ABI ", library.abi(), ", ",
                                    library.path())});
    if (instance.table().check == nullptr) continue;

    gf_call call;
    call.tenant = std::string(tenant_id);
    call.step = "check";
    call.plugin = library.name();
    call.tenant_config = &tenant->config;
    call.http = services_.http;
    call.tokens = services_.tokens;
    call.clock = services_.clock;
    call.limiter = services_.limiter.get();
    const gf_step_outcome result = instance.table().check(instance.raw(), &call);
    const std::string last_error =
        result == GF_STEP_SUCCEEDED ? std::string() : instance.LastError();

    absl::MutexLock lock(&call.mu);
    for (PluginCheck& check : call.checks) {
      check.detail = RedactSecrets(check.detail, call.secrets);
      results.push_back(std::move(check));
    }
    if (result != GF_STEP_SUCCEEDED) {
      std::string why = !call.error.empty() ? call.error : last_error;
      if (why.empty()) why = absl::StrCat("check() returned outcome ", static_cast<int>(result));
      results.push_back({absl::StrCat("plugin ", library.name(), " check"), false,
                         RedactSecrets(why, call.secrets)});
    }
  }
  return results;
}

}  // namespace guestflow
