// TenantCatalog: what the engine needs to know of a tenant's configuration.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace guestflow {

struct TenantInfo {
  std::string id;
  std::string instance_url;
};

class TenantCatalog {
 public:
  virtual ~TenantCatalog() = default;
  // The tenant, or NOT_FOUND naming it. Thread-safe.
  virtual absl::StatusOr<TenantInfo> FindTenant(absl::string_view id) const = 0;
};

}  // namespace guestflow
