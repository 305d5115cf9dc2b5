#include "server/api/admin_service.h"

#include "server/api/proto_convert.h"
#include "server/api/rpc_executor.h"
#include "server/common/status_macros.h"

namespace guestflow {

grpc::ServerUnaryReactor* AdminServiceImpl::ListTenants(grpc::CallbackServerContext* context,
                                                        const v1::ListTenantsRequest* request,
                                                        v1::ListTenantsResponse* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller, access_->Admit(*context, CallerRole::kAdmin, "ListTenants"));
    for (const TenantConfig& t : backend_->Tenants()) {
      if (!caller.MayUse(t.id)) continue;
      v1::Tenant* out = response->add_tenants();
      out->set_id(t.id);
      out->set_display_name(t.display_name);
      out->set_directory(t.directory);
      out->set_instance_url(t.instance_url);
      for (StepKind kind : kAllSteps) {
        auto it = t.plugins.find(std::string(PluginKindOf(kind)));
        v1::StepBinding* b = out->add_steps();
        b->set_step(ToProto(kind));
        if (it != t.plugins.end()) b->set_plugin(it->second.plugin);
      }
      for (const std::string& r : t.default_roles) out->add_default_roles(r);
    }
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListPlugins(grpc::CallbackServerContext* context,
                                                        const v1::ListPluginsRequest* request,
                                                        v1::ListPluginsResponse* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller, access_->Admit(*context, CallerRole::kAdmin, "ListPlugins"));
    for (const PluginSummary& p : backend_->Plugins()) {
      v1::Plugin* out = response->add_plugins();
      out->set_name(p.name);
      out->set_kind(p.kind);
      out->set_version(p.version);
      out->set_abi_version(p.abi_version);
      out->set_file(p.file);
      for (const std::string& t : p.tenants) {
        if (caller.MayUse(t)) out->add_tenants(t);
      }
    }
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::CheckTenant(grpc::CallbackServerContext* context,
                                                        const v1::CheckTenantRequest* request,
                                                        v1::CheckTenantResponse* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller, access_->Admit(*context, CallerRole::kAdmin, "CheckTenant"));
    if (request->tenant().empty()) return absl::InvalidArgumentError("tenant: required");
    if (!caller.MayUse(request->tenant())) return TenantNotFound(caller, request->tenant());
    GF_ASSIGN_OR_RETURN(std::vector<TenantCheckResult> checks,
                        backend_->CheckTenant(request->tenant()));
    bool all_ok = true;
    for (const TenantCheckResult& c : checks) {
      v1::TenantCheck* out = response->add_checks();
      out->set_name(c.name);
      out->set_ok(c.ok);
      out->set_detail(c.detail);
      all_ok = all_ok && c.ok;
    }
    response->set_ok(all_ok);
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReloadConfig(grpc::CallbackServerContext* context,
                                                         const v1::ReloadConfigRequest* request,
                                                         v1::ReloadConfigResponse* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller,
                        access_->Admit(*context, CallerRole::kAdmin, "ReloadConfig"));
    GF_ASSIGN_OR_RETURN(ReloadSummary summary, backend_->Reload());
    for (const std::string& t : summary.tenants) {
      if (caller.MayUse(t)) response->add_tenants(t);
    }
    for (const std::string& p : summary.plugins) response->add_plugins(p);
    return absl::OkStatus();
  });
  return reactor;
}

}  // namespace guestflow
