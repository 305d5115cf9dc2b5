#include "server/config/config.h"

namespace guestflow {

const TenantConfig* Config::FindTenant(absl::string_view id) const {
  for (const TenantConfig& t : tenants) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

}  // namespace guestflow
