// The graph_license plugin's settings (the tenant's
// `plugins.license.settings` object):
//   sku                      required: a skuPartNumber (DYN365_ENTERPRISE_PLAN1)
//                            or a skuId GUID
//   usage_location_retry_ms  delay before trying again when Graph says the
//                            usage location is invalid (default 5000)
//   usage_location_retries   how many times (default 3), then Failed
//   replication_poll_ms      delay before looking again when the new guest
//                            is not replicated yet (default 2000)
//   sku_cache_ms             how long the subscribedSkus list is reused
//                            (default 300000)
//   security_group_id        checked by check() (readable), if set
//   graph_scope              token scope (default https://graph.microsoft.com/.default)
// The step uses the tenant's graph_url from its input; check() uses the one
// the host adds to the settings (tenant_settings.graph_url).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace guestflow::graph_license {

struct LicenseSettings {
  std::string sku;
  int64_t usage_location_retry_ms = 5000;
  int64_t usage_location_retries = 3;
  int64_t replication_poll_ms = 2000;
  int64_t sku_cache_ms = 300000;
  std::string security_group_id;
  std::string graph_scope;
  std::string graph_url;  // tenant_settings.graph_url; "" = https://graph.microsoft.com
};

// Throws std::invalid_argument naming the key: `sku` missing, an unknown key,
// a wrong type or a value out of range.
LicenseSettings ParseLicenseSettings(std::string_view json_text);

}  // namespace guestflow::graph_license
