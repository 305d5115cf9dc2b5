// End to end against the cloud emulator: a real guestflowd process with the
// Microsoft plugins, a real guestflow-emulator process, over gRPC and HTTP.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "guestflow/v1/admin_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"

namespace guestflow {
namespace {

using ::guestflow::itest::EmulatorProcess;
using ::guestflow::itest::ReadFile;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using ::testing::HasSubstr;

// deploy/guestflowd.demo.yaml with the emulator's port and the test's folders.
std::string DemoConfig(const std::string& emulator_url, const std::string& dir) {
  return itest::DemoConfig(GUESTFLOW_DEMO_CONFIG, emulator_url, PLUGIN_DIR, dir);
}

class CloudE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator_ =
        std::make_unique<EmulatorProcess>(GUESTFLOW_DEMO_FIXTURE, dir_.File("emulator.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
    WriteFile(dir_.File("guestflowd.yaml"), DemoConfig(emulator_->url(), dir_.path()));
    server_ =
        std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("guestflowd.log"));
    server_->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
    ASSERT_TRUE(server_->Start()) << server_->log();
    onboarding_ = v1::OnboardingService::NewStub(server_->Channel());
    admin_ = v1::AdminService::NewStub(server_->Channel());
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
    return itest::Deadline(seconds);
  }

  v1::Onboarding Start(const std::string& tenant, const std::string& email,
                       const std::vector<std::string>& roles, const std::string& request_id) {
    v1::StartOnboardingRequest r = itest::GuestRequest(tenant, email);
    r.set_request_id(request_id);
    for (const auto& role : roles) r.mutable_options()->add_roles(role);
    v1::Onboarding o;
    grpc::Status s = onboarding_->StartOnboarding(Ctx().get(), r, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  v1::Onboarding WaitForEnd(const std::string& name) {
    return itest::WaitForEnd(*onboarding_, name);
  }

  nlohmann::json Counters() {
    httplib::Client client(emulator_->url());
    auto res = client.Get("/_emulator/counters");
    EXPECT_TRUE(res && res->status == 200);
    return res ? nlohmann::json::parse(res->body) : nlohmann::json();
  }

  static int Sum(const nlohmann::json& counts) {
    int total = 0;
    for (const auto& [k, v] : counts.items()) total += v.get<int>();
    return total;
  }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::OnboardingService::Stub> onboarding_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(CloudE2eTest, AGuestIsInvitedProfiledLicensedGivenTwoRolesAndNotifiedOnce) {
  const v1::Onboarding started =
      Start("contoso", "ada@fabrikam.com", {"Salesperson", "Sales Manager"}, "req-ada-1");
  const v1::Onboarding done = WaitForEnd(started.name());
  ASSERT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED)
      << done.DebugString() << server_->log() << emulator_->log();
  const auto& invite = done.steps(0).outputs();
  ASSERT_TRUE(invite.count("invited_user_id")) << done.DebugString();
  EXPECT_THAT(invite.at("invite_redeem_url"), HasSubstr("redeem"));

  nlohmann::json c = Counters();
  EXPECT_EQ(c["invitations_by_email"]["ada@fabrikam.com"], 1) << c.dump();
  EXPECT_EQ(Sum(c["license_assignments"]), 1) << c.dump();
  EXPECT_EQ(Sum(c["role_associations"]), 2) << c.dump();
  EXPECT_EQ(Sum(c["group_member_adds"]), 1) << c.dump();

  // The notification tells the guest the instance URL and the redeem URL.
  std::vector<std::string> emls;
  for (const auto& e : std::filesystem::directory_iterator(dir_.File("outbox"))) {
    if (e.path().extension() == ".eml") emls.push_back(e.path());
  }
  ASSERT_EQ(emls.size(), 1u);
  const std::string eml = ReadFile(emls[0]);
  EXPECT_THAT(eml, HasSubstr("To: "));
  EXPECT_THAT(eml, HasSubstr("ada@fabrikam.com"));
  EXPECT_THAT(eml, HasSubstr(emulator_->url() + "/orgs/contoso"));

  // The same request again: the same onboarding, nothing new in the cloud.
  const v1::Onboarding again =
      Start("contoso", "ada@fabrikam.com", {"Salesperson", "Sales Manager"}, "req-ada-1");
  EXPECT_EQ(again.name(), started.name());
  // A new request for the same guest: every step finds what exists.
  const v1::Onboarding second =
      Start("contoso", "ada@fabrikam.com", {"Salesperson", "Sales Manager"}, "req-ada-2");
  EXPECT_NE(second.name(), started.name());
  EXPECT_EQ(WaitForEnd(second.name()).state(), v1::ONBOARDING_STATE_SUCCEEDED);
  nlohmann::json after = Counters();
  EXPECT_EQ(after["invitations_by_email"]["ada@fabrikam.com"], 1) << after.dump();
  EXPECT_EQ(Sum(after["guests_created_by_email"]), 1) << after.dump();
  EXPECT_EQ(Sum(after["license_assignments"]), 1) << after.dump();
  EXPECT_EQ(Sum(after["role_associations"]), 2) << after.dump();
  EXPECT_EQ(Sum(after["group_member_adds"]), 1) << after.dump();
}

// The audit trail through the API is exactly the emulator's record of the
// writes it answered: same requests (by the cloud's request id), methods,
// paths and statuses; every step with a write is there; reads are not.
TEST_F(CloudE2eTest, TheAuditTrailListsEveryWriteTheCloudAnsweredWithItsRequestId) {
  const v1::Onboarding started = Start("contoso", "grace@fabrikam.com", {"Salesperson"}, "");
  ASSERT_EQ(WaitForEnd(started.name()).state(), v1::ONBOARDING_STATE_SUCCEEDED) << server_->log();
  // The caller the server authenticated: the demo configuration's one caller.
  EXPECT_EQ(started.requested_by(), "local-admin");

  v1::ListCloudCallsRequest r;
  r.set_parent(started.name());
  r.set_page_size(3);  // several pages
  std::vector<v1::CloudCall> calls;
  do {
    v1::ListCloudCallsResponse page;
    const grpc::Status s = onboarding_->ListCloudCalls(Ctx().get(), r, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(page.cloud_calls_size(), 3);
    calls.insert(calls.end(), page.cloud_calls().begin(), page.cloud_calls().end());
    r.set_page_token(page.next_page_token());
  } while (!r.page_token().empty());

  // The emulator's writes (not the token endpoint, not its control routes).
  httplib::Client client(emulator_->url());
  auto res = client.Get("/_emulator/journal");
  ASSERT_TRUE(res && res->status == 200);
  std::map<std::string, nlohmann::json> writes;  // by request id
  for (const nlohmann::json& e : nlohmann::json::parse(res->body)) {
    const std::string service = e["service"];
    if (e["method"] == "GET" || service == "token" || service == "control") continue;
    writes[e["request_id"].get<std::string>()] = e;
  }
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(calls.size(), writes.size());
  std::set<v1::StepKind> steps;
  for (const v1::CloudCall& c : calls) {
    SCOPED_TRACE(c.DebugString());
    ASSERT_EQ(writes.count(c.request_id()), 1u) << "not a write the cloud answered";
    const nlohmann::json& w = writes[c.request_id()];
    EXPECT_EQ(c.method(), w["method"].get<std::string>());
    EXPECT_EQ(c.http_status(), w["status"].get<int>());
    const std::string path = w["path"].get<std::string>();
    EXPECT_TRUE(absl::EndsWith(c.url(), path.substr(0, path.find('?'))));
    EXPECT_EQ(c.onboarding(), started.name());
    EXPECT_EQ(c.tenant(), "contoso");
    EXPECT_TRUE(absl::StartsWith(c.actor(), "guestflowd-")) << c.actor();
    EXPECT_EQ(c.caller(), started.requested_by());
    EXPECT_FALSE(c.plugin().empty());
    EXPECT_TRUE(c.transport_error().empty());
    EXPECT_TRUE(c.has_time());
    steps.insert(c.step());
  }
  EXPECT_TRUE(steps.count(v1::STEP_KIND_INVITE));
  EXPECT_TRUE(steps.count(v1::STEP_KIND_LICENSE));
  EXPECT_TRUE(steps.count(v1::STEP_KIND_ROLE));

  // By tenant: the same calls. Bad parents are refused.
  v1::ListCloudCallsRequest by_tenant;
  by_tenant.set_parent("tenants/contoso");
  v1::ListCloudCallsResponse tenant_page;
  ASSERT_TRUE(onboarding_->ListCloudCalls(Ctx().get(), by_tenant, &tenant_page).ok());
  EXPECT_EQ(static_cast<size_t>(tenant_page.cloud_calls_size()), calls.size());
  v1::ListCloudCallsRequest unknown;
  unknown.set_parent("onboardings/no-such-onboarding");
  v1::ListCloudCallsResponse ignored;
  EXPECT_EQ(onboarding_->ListCloudCalls(Ctx().get(), unknown, &ignored).error_code(),
            grpc::StatusCode::NOT_FOUND);
  unknown.set_parent("contoso");
  EXPECT_EQ(onboarding_->ListCloudCalls(Ctx().get(), unknown, &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CloudE2eTest, NoFreeSeatsFailsAtTheLicenseStepWithTheCounts) {
  const v1::Onboarding started = Start("contoso-sales", "alan@tailspin.example", {}, "req-alan");
  const v1::Onboarding done = WaitForEnd(started.name());
  ASSERT_EQ(done.state(), v1::ONBOARDING_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.steps(2).state(), v1::STEP_STATE_FAILED);
  EXPECT_THAT(done.error(), HasSubstr("DYN365_ENTERPRISE_SALES"));
  EXPECT_THAT(done.error(), HasSubstr("5 of 5"));
  EXPECT_EQ(done.steps(2).attempts(), 1) << "a permanent failure is not retried";
}

TEST_F(CloudE2eTest, DoctorChecksTheTenantsSetup) {
  v1::CheckTenantRequest r;
  r.set_tenant("contoso");
  v1::CheckTenantResponse checks;
  grpc::Status s = admin_->CheckTenant(Ctx(30).get(), r, &checks);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::string all;
  for (const auto& c : checks.checks())
    all += absl::StrCat(c.ok() ? "ok " : "FAIL ", c.name(), ": ", c.detail(), "\n");
  EXPECT_TRUE(checks.ok()) << all;
  EXPECT_THAT(all, HasSubstr("DYN365_ENTERPRISE_PLAN1"));
  EXPECT_GE(checks.checks_size(), 6) << all;

  r.set_tenant("contoso-sales");
  ASSERT_TRUE(admin_->CheckTenant(Ctx(30).get(), r, &checks).ok());
  EXPECT_FALSE(checks.ok()) << "no free seats is reported";
}

}  // namespace
}  // namespace guestflow
