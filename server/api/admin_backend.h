// AdminBackend: what AdminService needs from the running server (its config,
// its plugins, a reload). Implemented by GuestflowServer.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config/config.h"

namespace guestflow {

struct PluginSummary {
  std::string name;
  std::string kind;
  std::string version;
  std::string abi_version;  // "major.minor"
  std::string file;
  std::vector<std::string> tenants;
};

struct TenantCheckResult {
  std::string name;
  bool ok = false;
  std::string detail;
};

struct ReloadSummary {
  std::vector<std::string> tenants;
  std::vector<std::string> plugins;
};

// Thread-safe; methods may block (plugins, files).
class AdminBackend {
 public:
  virtual ~AdminBackend() = default;
  virtual std::vector<TenantConfig> Tenants() const = 0;
  virtual std::vector<PluginSummary> Plugins() const = 0;
  // NOT_FOUND for an unknown tenant.
  virtual absl::StatusOr<std::vector<TenantCheckResult>> CheckTenant(absl::string_view tenant) = 0;
  // Re-reads the config file; on any error nothing changes (INVALID_ARGUMENT
  // with the loader's message).
  virtual absl::StatusOr<ReloadSummary> Reload() = 0;
};

}  // namespace guestflow
