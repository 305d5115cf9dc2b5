// Tenants, plugins and tenant checks as text for people. Pure functions, safe
// from any thread.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "guestflow/v1/admin_service.pb.h"

namespace guestflow::cli {

// The `tenants` table: ID NAME DIRECTORY INSTANCE-URL.
std::string RenderTenantTable(const v1::ListTenantsResponse& response);

// The `plugins` table: NAME KIND VERSION ABI FILE TENANTS (tenants joined by
// commas).
std::string RenderPluginTable(const v1::ListPluginsResponse& response);

// Whether every check passed: the server's `ok` and each check's own `ok`
// (a response that contradicts itself counts as a failure).
bool AllChecksPassed(const v1::CheckTenantResponse& response);

// The `doctor` report: one line per check, `✔ name: detail` / `✘ ...` when
// `unicode`, else `ok   name: detail` / `FAIL name: detail`; then a summary
// line naming `tenant`.
std::string RenderTenantChecks(absl::string_view tenant, const v1::CheckTenantResponse& response,
                               bool unicode);

}  // namespace guestflow::cli
