// guestflow.v1.AdminService over an AdminBackend.
#pragma once

#include "guestflow/v1/admin_service.grpc.pb.h"
#include "server/api/access.h"
#include "server/api/admin_backend.h"
#include "server/engine/worker_pool.h"

namespace guestflow {

// Every RPC needs the admin role (access.h). ListTenants and CheckTenant see
// only the caller's tenants (another is NOT_FOUND, as an unknown one), and
// ListPlugins names only those among a plugin's users.
//
// Thread-safe. Borrows the backend, the pool and the access checks.
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(AdminBackend* backend, WorkerPool* pool, const Access* access)
      : backend_(backend), pool_(pool), access_(access) {}

  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext* context,
                                        const v1::ListTenantsRequest* request,
                                        v1::ListTenantsResponse* response) override;
  grpc::ServerUnaryReactor* ListPlugins(grpc::CallbackServerContext* context,
                                        const v1::ListPluginsRequest* request,
                                        v1::ListPluginsResponse* response) override;
  grpc::ServerUnaryReactor* CheckTenant(grpc::CallbackServerContext* context,
                                        const v1::CheckTenantRequest* request,
                                        v1::CheckTenantResponse* response) override;
  grpc::ServerUnaryReactor* ReloadConfig(grpc::CallbackServerContext* context,
                                         const v1::ReloadConfigRequest* request,
                                         v1::ReloadConfigResponse* response) override;

 private:
  AdminBackend* const backend_;
  WorkerPool* const pool_;
  const Access* const access_;
};

}  // namespace guestflow
