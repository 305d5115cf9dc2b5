#include "license_settings.h"

#include "common/graph_client.h"
#include "common/plugin_settings.h"

namespace guestflow::graph_license {

LicenseSettings ParseLicenseSettings(std::string_view json_text) {
  plugins::SettingsReader reader(json_text, "graph_license");
  reader.RejectUnknown({"sku", "usage_location_retry_ms", "usage_location_retries",
                        "replication_poll_ms", "sku_cache_ms", "security_group_id", "graph_scope"});
  LicenseSettings s;
  s.sku = reader.String("sku");
  if (s.sku.empty()) {
    reader.Fail("'sku' is required: a skuPartNumber such as DYN365_ENTERPRISE_PLAN1, or a skuId");
  }
  s.usage_location_retry_ms = reader.Int("usage_location_retry_ms", 5000, 1, 3600000);
  s.usage_location_retries = reader.Int("usage_location_retries", 3, 0, 100);
  s.replication_poll_ms = reader.Int("replication_poll_ms", 2000, 1, 600000);
  s.sku_cache_ms = reader.Int("sku_cache_ms", 300000, 0, 86400000);
  s.security_group_id = reader.Guid("security_group_id");
  s.graph_scope = reader.String("graph_scope", plugins::kGraphScope);
  s.graph_url = reader.TenantSetting("graph_url");
  return s;
}

}  // namespace guestflow::graph_license
