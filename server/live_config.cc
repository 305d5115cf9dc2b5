#include "server/live_config.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace guestflow {

LiveConfig::LiveConfig(std::shared_ptr<const Config> config, std::shared_ptr<PluginHost> host)
    : config_(std::move(config)), host_(std::move(host)) {}

void LiveConfig::Swap(std::shared_ptr<const Config> config, std::shared_ptr<PluginHost> host) {
  absl::MutexLock lock(&mu_);
  config_ = std::move(config);
  host_ = std::move(host);
}

std::shared_ptr<const Config> LiveConfig::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

std::shared_ptr<PluginHost> LiveConfig::host() const {
  absl::MutexLock lock(&mu_);
  return host_;
}

StepOutcome LiveConfig::Run(const Onboarding& onboarding, StepKind step) {
  return host()->Run(onboarding, step);
}

absl::StatusOr<std::string> LiveConfig::PluginFor(absl::string_view tenant, StepKind step) {
  return host()->PluginFor(tenant, step);
}

absl::StatusOr<TenantInfo> LiveConfig::FindTenant(absl::string_view id) const {
  std::shared_ptr<const Config> config = this->config();
  const TenantConfig* t = config->FindTenant(id);
  if (t == nullptr) {
    std::vector<std::string> known;
    for (const TenantConfig& c : config->tenants) known.push_back(c.id);
    return absl::NotFoundError(absl::StrCat(
        "tenant \"", id,
        "\" is not configured (known: ", known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
  }
  return TenantInfo{t->id, t->instance_url};
}

}  // namespace guestflow
