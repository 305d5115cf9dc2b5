#include "client/admin_commands.h"

#include "client/exit_codes.h"
#include "fake_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace guestflow::cli {
namespace {

using ::guestflow::cli::testing::FakeServer;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RunTenantsTest, TableOrJson) {
  FakeServer server;
  server.admin.on_list_tenants = [](const v1::ListTenantsRequest&, v1::ListTenantsResponse* out) {
    v1::Tenant* tenant = out->add_tenants();
    tenant->set_id("contoso");
    tenant->set_display_name("Contoso");
    tenant->set_directory("contoso.onmicrosoft.com");
    tenant->set_instance_url("https://contoso.crm.dynamics.com");
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ASSERT_EQ(RunTenants(server.ctx), kExitOk);
  EXPECT_EQ(server.out.str(),
            "ID       NAME     DIRECTORY                INSTANCE-URL\n"
            "contoso  Contoso  contoso.onmicrosoft.com  https://contoso.crm.dynamics.com\n");

  server.out.str("");
  server.ctx.json = true;
  ASSERT_EQ(RunTenants(server.ctx), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(server.out.str()).at("tenants").at(0).at("instanceUrl"),
            "https://contoso.crm.dynamics.com");
}

TEST(RunPluginsTest, Table) {
  FakeServer server;
  server.admin.on_list_plugins = [](const v1::ListPluginsRequest&, v1::ListPluginsResponse* out) {
    v1::Plugin* plugin = out->add_plugins();
    plugin->set_name("outbox");
    plugin->set_kind("notifier");
    plugin->set_version("1.0.0");
    plugin->set_abi_version("1.0");
    plugin->set_file("/p/liboutbox.so");
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ASSERT_EQ(RunPlugins(server.ctx), kExitOk);
  EXPECT_EQ(server.out.str(),
            "NAME    KIND      VERSION  ABI  FILE             TENANTS\n"
            "outbox  notifier  1.0.0    1.0  /p/liboutbox.so  -\n");
}

TEST(RunDoctorTest, ExitZeroOnlyWhenEveryCheckPassed) {
  FakeServer server;
  server.admin.on_check_tenant = [](const v1::CheckTenantRequest& request,
                                    v1::CheckTenantResponse* out) {
    if (request.tenant() == "missing") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown tenant 'missing'");
    }
    v1::TenantCheck* check = out->add_checks();
    check->set_name("plugin invite");
    check->set_ok(true);
    check->set_detail("loaded");
    if (request.tenant() == "broken") {
      v1::TenantCheck* bad = out->add_checks();
      bad->set_name("license seats");
      bad->set_detail("0 free");
    }
    out->set_ok(request.tenant() != "broken");
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  EXPECT_EQ(RunDoctor(server.ctx, "contoso"), kExitOk);
  EXPECT_EQ(server.out.str(), "ok   plugin invite: loaded\ncontoso: all 1 checks passed\n");

  server.out.str("");
  server.ctx.terminal = true;
  EXPECT_EQ(RunDoctor(server.ctx, "broken"), kExitNotSucceeded);
  EXPECT_EQ(server.out.str(),
            "✔ plugin invite: loaded\n✘ license seats: 0 free\nbroken: 1 of 2 checks failed\n");

  server.out.str("");
  server.ctx.json = true;
  EXPECT_EQ(RunDoctor(server.ctx, "broken"), kExitNotSucceeded);
  EXPECT_EQ(nlohmann::json::parse(server.out.str()).at("ok"), false);  // printed, not omitted

  server.out.str("");
  EXPECT_EQ(RunDoctor(server.ctx, "missing"), kExitError);
  EXPECT_EQ(server.err.str(), "error: NOT_FOUND: unknown tenant 'missing'\n");
  EXPECT_THAT(server.out.str(), IsEmpty());
  EXPECT_THAT(server.admin.checked_tenants, ElementsAre("contoso", "broken", "broken", "missing"));
}

}  // namespace
}  // namespace guestflow::cli
