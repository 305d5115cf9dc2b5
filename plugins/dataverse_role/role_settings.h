// The dataverse_role plugin's settings (the tenant's `settings` object for
// it), all optional:
//   admin_scope        OAuth2 scope of the Power Platform admin API
//                      (default https://service.powerapps.com/.default)
//   admin_api_version  api-version of addUser (default 2023-06-01)
//   license_poll_ms    wait between addUser calls while the answer is
//                      userNotLicensed (default 10000, the interval of
//                      Microsoft's Terraform provider)
//   sync_poll_ms       wait between looks for the systemuser after addUser
//                      (default 5000)
//   disabled_poll_ms   wait between looks at a systemuser Dataverse keeps
//                      disabled (default 30000: it changes on a background sync)
//   timeout_ms         per-request timeout (default 0: the host's)
//   role_cache_ms      how long a role name resolved in a business unit is
//                      remembered (default 300000, five minutes; 0: looked
//                      up for every guest). See role_cache.h.
//   tenant_settings    {instance_url, admin_url, environment_id, ...} and
//   default_roles      [names] (beside tenant_settings or inside it): what
//                      check() verifies. check() receives no input, so it
//                      can only know the tenant's URLs and default roles from
//                      here (the host may inject them, as it injects
//                      base_dir). Without them check() reports one failed
//                      check saying so.
//   base_dir           added by the host; unused.
// Any other key, or a value of the wrong type, makes create() fail.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace guestflow::dataverse_role {

inline constexpr char kDefaultAdminScope[] = "https://service.powerapps.com/.default";
inline constexpr char kDefaultAdminApiVersion[] = "2023-06-01";

// Where a tenant's Dynamics lives: from the run_step input's
// `tenant_settings`, or from the settings for check().
struct TenantEndpoints {
  std::string instance_url;  // without a trailing '/'
  std::string admin_url;     // without a trailing '/'
  std::string environment_id;
};

struct RoleSettings {
  std::string admin_scope = kDefaultAdminScope;
  std::string admin_api_version = kDefaultAdminApiVersion;
  int64_t license_poll_ms = 10000;
  int64_t sync_poll_ms = 5000;
  int64_t disabled_poll_ms = 30000;
  uint32_t timeout_ms = 0;
  int64_t role_cache_ms = 300000;
  // For check() only; `check_endpoints_known` is false when the settings do
  // not carry tenant_settings.
  bool check_endpoints_known = false;
  TenantEndpoints check_endpoints;
  std::vector<std::string> default_roles;
};

// Parses the settings JSON. Throws std::invalid_argument with a message that
// names the key (the SDK turns it into a failed create()).
RoleSettings ParseRoleSettings(std::string_view json_text);

// `url` without trailing slashes.
std::string TrimSlash(std::string url);

}  // namespace guestflow::dataverse_role
