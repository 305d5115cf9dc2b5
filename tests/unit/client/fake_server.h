// In-process fakes of guestflowd's services for the CLI's command tests: each
// RPC answers through a handler the test sets (UNIMPLEMENTED when unset) and
// records the request. The server listens on 127.0.0.1 port 0 and the
// commands reach it through the CLI's own Connect().
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "client/command_context.h"
#include "client/connection.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "guestflow/v1/admin_service.grpc.pb.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"

namespace guestflow::cli::testing {

template <typename Request, typename Response>
using UnaryHandler = std::function<grpc::Status(const Request&, Response*)>;

inline grpc::Status Unimplemented() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not set by the test");
}

// Handlers are set before the server starts and read-only afterwards; the
// recorded requests are guarded by `mu`.
class FakeOnboardingService final : public v1::OnboardingService::Service {
 public:
  UnaryHandler<v1::StartOnboardingRequest, v1::Onboarding> on_start;
  UnaryHandler<v1::GetOnboardingRequest, v1::Onboarding> on_get;
  UnaryHandler<v1::ListOnboardingsRequest, v1::ListOnboardingsResponse> on_list;
  UnaryHandler<v1::CancelOnboardingRequest, v1::Onboarding> on_cancel;
  UnaryHandler<v1::RetryOnboardingRequest, v1::Onboarding> on_retry;
  UnaryHandler<v1::ListCloudCallsRequest, v1::ListCloudCallsResponse> on_list_cloud_calls;
  std::function<grpc::Status(grpc::ServerContext*, const v1::WatchOnboardingRequest&,
                             grpc::ServerWriter<v1::WatchOnboardingResponse>*)>
      on_watch;

  std::mutex mu;
  std::vector<v1::StartOnboardingRequest> starts;
  std::vector<v1::GetOnboardingRequest> gets;
  std::vector<v1::ListOnboardingsRequest> lists;
  std::vector<v1::WatchOnboardingRequest> watches;
  std::vector<std::string> cancels;
  std::vector<std::string> retries;
  std::vector<v1::ListCloudCallsRequest> cloud_call_lists;

  grpc::Status StartOnboarding(grpc::ServerContext*, const v1::StartOnboardingRequest* request,
                               v1::Onboarding* response) override {
    Record(starts, *request);
    return on_start ? on_start(*request, response) : Unimplemented();
  }
  grpc::Status GetOnboarding(grpc::ServerContext*, const v1::GetOnboardingRequest* request,
                             v1::Onboarding* response) override {
    Record(gets, *request);
    return on_get ? on_get(*request, response) : Unimplemented();
  }
  grpc::Status ListOnboardings(grpc::ServerContext*, const v1::ListOnboardingsRequest* request,
                               v1::ListOnboardingsResponse* response) override {
    Record(lists, *request);
    return on_list ? on_list(*request, response) : Unimplemented();
  }
  grpc::Status WatchOnboarding(grpc::ServerContext* context,
                               const v1::WatchOnboardingRequest* request,
                               grpc::ServerWriter<v1::WatchOnboardingResponse>* writer) override {
    Record(watches, *request);
    return on_watch ? on_watch(context, *request, writer) : Unimplemented();
  }
  grpc::Status CancelOnboarding(grpc::ServerContext*, const v1::CancelOnboardingRequest* request,
                                v1::Onboarding* response) override {
    Record(cancels, request->name());
    return on_cancel ? on_cancel(*request, response) : Unimplemented();
  }
  grpc::Status RetryOnboarding(grpc::ServerContext*, const v1::RetryOnboardingRequest* request,
                               v1::Onboarding* response) override {
    Record(retries, request->name());
    return on_retry ? on_retry(*request, response) : Unimplemented();
  }
  grpc::Status ListCloudCalls(grpc::ServerContext*, const v1::ListCloudCallsRequest* request,
                              v1::ListCloudCallsResponse* response) override {
    Record(cloud_call_lists, *request);
    return on_list_cloud_calls ? on_list_cloud_calls(*request, response) : Unimplemented();
  }

 private:
  template <typename T>
  void Record(std::vector<T>& log, const T& value) {
    std::lock_guard<std::mutex> lock(mu);
    log.push_back(value);
  }
};

class FakeAdminService final : public v1::AdminService::Service {
 public:
  UnaryHandler<v1::ListTenantsRequest, v1::ListTenantsResponse> on_list_tenants;
  UnaryHandler<v1::ListPluginsRequest, v1::ListPluginsResponse> on_list_plugins;
  UnaryHandler<v1::CheckTenantRequest, v1::CheckTenantResponse> on_check_tenant;

  std::mutex mu;
  std::vector<std::string> checked_tenants;

  grpc::Status ListTenants(grpc::ServerContext*, const v1::ListTenantsRequest* request,
                           v1::ListTenantsResponse* response) override {
    return on_list_tenants ? on_list_tenants(*request, response) : Unimplemented();
  }
  grpc::Status ListPlugins(grpc::ServerContext*, const v1::ListPluginsRequest* request,
                           v1::ListPluginsResponse* response) override {
    return on_list_plugins ? on_list_plugins(*request, response) : Unimplemented();
  }
  grpc::Status CheckTenant(grpc::ServerContext*, const v1::CheckTenantRequest* request,
                           v1::CheckTenantResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      checked_tenants.push_back(request->tenant());
    }
    return on_check_tenant ? on_check_tenant(*request, response) : Unimplemented();
  }
};

class FakeBatchService final : public v1::BatchService::Service {
 public:
  // Gets every message of the stream, the header first, after the client
  // closed it (unless it returns early).
  std::function<grpc::Status(grpc::ServerReader<v1::CreateBatchRequest>*, v1::Batch*)> on_create;
  UnaryHandler<v1::GetBatchRequest, v1::Batch> on_get;
  std::function<grpc::Status(grpc::ServerContext*, const v1::WatchBatchRequest&,
                             grpc::ServerWriter<v1::Batch>*)>
      on_watch;
  UnaryHandler<v1::ListBatchItemsRequest, v1::ListBatchItemsResponse> on_list_items;

  // The calls in the order they came (`get`, `watch`, `list`), and the
  // ListBatchItems requests; guarded by `mu`.
  std::mutex mu;
  std::vector<std::string> calls;
  std::vector<v1::ListBatchItemsRequest> list_requests;

  grpc::Status CreateBatch(grpc::ServerContext*, grpc::ServerReader<v1::CreateBatchRequest>* reader,
                           v1::Batch* response) override {
    return on_create ? on_create(reader, response) : Unimplemented();
  }
  grpc::Status GetBatch(grpc::ServerContext*, const v1::GetBatchRequest* request,
                        v1::Batch* response) override {
    Record("get");
    return on_get ? on_get(*request, response) : Unimplemented();
  }
  grpc::Status WatchBatch(grpc::ServerContext* context, const v1::WatchBatchRequest* request,
                          grpc::ServerWriter<v1::Batch>* writer) override {
    Record("watch");
    return on_watch ? on_watch(context, *request, writer) : Unimplemented();
  }
  grpc::Status ListBatchItems(grpc::ServerContext*, const v1::ListBatchItemsRequest* request,
                              v1::ListBatchItemsResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back("list");
      list_requests.push_back(*request);
    }
    return on_list_items ? on_list_items(*request, response) : Unimplemented();
  }

  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lock(mu);
    return calls;
  }

 private:
  void Record(const char* call) {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(call);
  }
};

// The services a test registers, served on 127.0.0.1:<port 0>, and a
// CommandContext whose output the test reads.
class FakeServer {
 public:
  // Call after setting the handlers. `with_batch`: register BatchService (a
  // server without it answers UNIMPLEMENTED, like one without batch support).
  void Start(bool with_batch = true) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&onboarding);
    builder.RegisterService(&admin);
    if (with_batch) builder.RegisterService(&batch);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    ctx.server = "127.0.0.1:" + std::to_string(port_);
    ctx.channel = *Connect({.server = ctx.server, .plaintext = true});
    ctx.out = &out;
    ctx.err = &err;
    ctx.reconnect_backoff = absl::Milliseconds(1);
  }

  ~FakeServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  FakeOnboardingService onboarding;
  FakeAdminService admin;
  FakeBatchService batch;
  CommandContext ctx;
  std::ostringstream out;
  std::ostringstream err;

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace guestflow::cli::testing
