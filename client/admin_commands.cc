#include "client/admin_commands.h"

#include "client/admin_text.h"
#include "client/exit_codes.h"
#include "guestflow/v1/admin_service.grpc.pb.h"

namespace guestflow::cli {

int RunTenants(const CommandContext& ctx) {
  auto stub = v1::AdminService::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(context, ctx.unary_timeout);
  v1::ListTenantsResponse response;
  const grpc::Status status = stub->ListTenants(&context, v1::ListTenantsRequest(), &response);
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  if (ctx.json) return PrintJson(ctx, response) ? kExitOk : kExitError;
  *ctx.out << RenderTenantTable(response) << std::flush;
  return kExitOk;
}

int RunPlugins(const CommandContext& ctx) {
  auto stub = v1::AdminService::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(context, ctx.unary_timeout);
  v1::ListPluginsResponse response;
  const grpc::Status status = stub->ListPlugins(&context, v1::ListPluginsRequest(), &response);
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  if (ctx.json) return PrintJson(ctx, response) ? kExitOk : kExitError;
  *ctx.out << RenderPluginTable(response) << std::flush;
  return kExitOk;
}

int RunDoctor(const CommandContext& ctx, const std::string& tenant) {
  auto stub = v1::AdminService::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(context, ctx.unary_timeout);
  v1::CheckTenantRequest request;
  request.set_tenant(tenant);
  v1::CheckTenantResponse response;
  const grpc::Status status = stub->CheckTenant(&context, request, &response);
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  if (ctx.json) {
    if (!PrintJson(ctx, response)) return kExitError;
  } else {
    *ctx.out << RenderTenantChecks(tenant, response, ctx.terminal) << std::flush;
  }
  return AllChecksPassed(response) ? kExitOk : kExitNotSucceeded;
}

}  // namespace guestflow::cli
