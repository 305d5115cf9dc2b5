#include "client/admin_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/table.h"

namespace guestflow::cli {

std::string RenderTenantTable(const v1::ListTenantsResponse& response) {
  TextTable table({"ID", "NAME", "DIRECTORY", "INSTANCE-URL"});
  for (const v1::Tenant& tenant : response.tenants()) {
    table.AddRow({tenant.id(), tenant.display_name(), tenant.directory(), tenant.instance_url()});
  }
  return table.Render();
}

std::string RenderPluginTable(const v1::ListPluginsResponse& response) {
  TextTable table({"NAME", "KIND", "VERSION", "ABI", "FILE", "TENANTS"});
  for (const v1::Plugin& plugin : response.plugins()) {
    table.AddRow({plugin.name(), plugin.kind(), plugin.version(), plugin.abi_version(),
                  plugin.file(), absl::StrJoin(plugin.tenants(), ",")});
  }
  return table.Render();
}

bool AllChecksPassed(const v1::CheckTenantResponse& response) {
  if (!response.ok()) return false;
  for (const v1::TenantCheck& check : response.checks()) {
    if (!check.ok()) return false;
  }
  return true;
}

std::string RenderTenantChecks(absl::string_view tenant, const v1::CheckTenantResponse& response,
                               bool unicode) {
  std::string out;
  int failed = 0;
  for (const v1::TenantCheck& check : response.checks()) {
    if (!check.ok()) ++failed;
    const char* mark = unicode ? (check.ok() ? "✔ " : "✘ ") : (check.ok() ? "ok   " : "FAIL ");
    absl::StrAppend(&out, mark, SanitizeCell(check.name()));
    if (!check.detail().empty()) absl::StrAppend(&out, ": ", SanitizeCell(check.detail()));
    out += "\n";
  }
  const int total = response.checks_size();
  if (AllChecksPassed(response)) {
    absl::StrAppend(&out, tenant, ": all ", total, " checks passed\n");
  } else if (failed > 0) {
    absl::StrAppend(&out, tenant, ": ", failed, " of ", total, " checks failed\n");
  } else {
    absl::StrAppend(&out, tenant, ": the server reports the tenant is not ready\n");
  }
  return out;
}

}  // namespace guestflow::cli
