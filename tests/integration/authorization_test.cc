// The authorization matrix: every RPC of the three services, called by each
// kind of caller, answers the documented code (docs/security.md):
//
//   no credentials, wrong token    UNAUTHENTICATED, whatever the RPC
//   reader                         reads OK; start/cancel/retry/import and the
//                                  admin RPCs PERMISSION_DENIED
//   operator                       reads and start/cancel/retry/import OK;
//                                  admin RPCs PERMISSION_DENIED
//   admin                          everything OK
//   other tenant (an admin of      what belongs to contoso NOT_FOUND, word for
//   fabrikam only)                 word as for what does not exist; lists and
//                                  audit trails OK and without contoso
//
// A real guestflowd with the fake plugins; contoso holds one finished
// onboarding, one that waits (to cancel, then retry) per caller, and a batch.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "guestflow/v1/admin_service.grpc.pb.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"
#include "tests/support/test_callers.h"

namespace guestflow {
namespace {

using ::grpc::StatusCode;
using ::guestflow::itest::Deadline;
using ::guestflow::itest::GuestRequest;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;

// Admins of some tenants only (their hashes are in kConfig).
constexpr char kContosoAdminToken[] = "gft_test-contoso-admin-b81f";
constexpr char kFabrikamAdminToken[] = "gft_test-fabrikam-operator-2d6c";

// contoso's role step waits a minute on its first attempt: an onboarding
// there stays WAITING, to be cancelled and retried.
constexpr char kConfig[] = R"(server:
  listen: 127.0.0.1:0
  plaintext: true
  plugin_dir: {plugin_dir}
  plugins: [fake_invite.so, fake_license.so, fake_role.so, fake_notifier.so, fake_retry.so]
store:
  sqlite: {path: {dir}/guestflow.db}
engine:
  workers: 2
tenants:
  - id: contoso
    azure: {tenant_id: contoso.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://contoso.crm.dynamics.com}
    onboarding: {default_roles: [Salesperson]}
    plugins:
      invite: {name: fake_invite}
      license: {name: fake_license}
      role: {name: fake_role}
      notifier: {name: fake_notifier}
  - id: waiting
    azure: {tenant_id: waiting.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://waiting.crm.dynamics.com}
    plugins:
      invite: {name: fake_invite}
      license: {name: fake_license}
      role: {name: fake_retry, settings: {retry_after_ms: 60000, succeed_on_attempt: 100}}
      notifier: {name: fake_notifier}
  - id: fabrikam
    azure: {tenant_id: fabrikam.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://fabrikam.crm.dynamics.com}
    plugins:
      invite: {name: fake_invite}
      license: {name: fake_license}
      role: {name: fake_role}
      notifier: {name: fake_notifier}
{callers}
  - name: contoso-admin
    role: admin
    tenants: [contoso, waiting]
    token_hash: sha256:11223344556677889900aabbccddeeff:9e028101c14d14ea3121ce4bb57604046819c0c32bc6b13f46595cd238035af3
  - name: fabrikam-admin
    role: admin
    tenants: [fabrikam]
    token_hash: sha256:ffeeddccbbaa00998877665544332211:9d3978f5db64743a460735f64ae45d30ad94228f59a1f100d1cd6a6ab6c77937
)";

enum class Who { kNone, kWrongToken, kReader, kOperator, kAdmin, kOtherTenant };
constexpr Who kEveryone[] = {Who::kNone,     Who::kWrongToken, Who::kReader,
                             Who::kOperator, Who::kAdmin,      Who::kOtherTenant};

const char* Name(Who who) {
  switch (who) {
    case Who::kNone:
      return "no credentials";
    case Who::kWrongToken:
      return "wrong token";
    case Who::kReader:
      return "reader";
    case Who::kOperator:
      return "operator";
    case Who::kAdmin:
      return "admin";
    case Who::kOtherTenant:
      return "other tenant";
  }
  return "?";
}

std::string TokenOf(Who who) {
  switch (who) {
    case Who::kNone:
      return "";
    case Who::kWrongToken:
      return "gft_not-a-token-of-this-server-00000000";
    case Who::kReader:
      return test_callers::kReaderToken;
    case Who::kOperator:
      return test_callers::kOperatorToken;
    case Who::kAdmin:
      return test_callers::kAdminToken;
    case Who::kOtherTenant:
      return kFabrikamAdminToken;
  }
  return "";
}

// What an RPC answered, and for the lists, what they held.
struct Answer {
  StatusCode code = StatusCode::UNKNOWN;
  std::string message;
  std::vector<std::string> listed;  // names, tenants or ids the answer held
};

Answer Of(const grpc::Status& s, std::vector<std::string> listed = {}) {
  return Answer{s.error_code(), s.error_message(), std::move(listed)};
}

class AuthorizationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string config = absl::StrReplaceAll(
        kConfig, {{"{plugin_dir}", PLUGIN_DIR},
                  {"{dir}", dir_->path()},
                  {"{callers}", absl::StripSuffix(test_callers::kCallersYaml, "\n")}});
    WriteFile(dir_->File("guestflowd.yaml"), config);
    server_ = new ServerProcess(dir_->File("guestflowd.yaml"), dir_->File("guestflowd.log"));
    ASSERT_TRUE(server_->Start()) << server_->log();
    auto admin = server_->Channel(test_callers::kAdminToken);
    auto onboardings = v1::OnboardingService::NewStub(admin);

    v1::Onboarding o;
    ASSERT_TRUE(onboardings
                    ->StartOnboarding(Deadline().get(),
                                      GuestRequest("contoso", "done@fabrikam.example"), &o)
                    .ok());
    done_ = new std::string(o.name());
    ASSERT_EQ(itest::WaitForEnd(*onboardings, *done_).state(), v1::ONBOARDING_STATE_SUCCEEDED);
    answers_ = new std::map<Who, std::map<std::string, Answer>>();
    waiting_ = new std::map<Who, std::string>();
    for (Who who : kEveryone) {
      const std::string email = absl::StrCat("wait-", static_cast<int>(who), "@fabrikam.example");
      ASSERT_TRUE(
          onboardings->StartOnboarding(Deadline().get(), GuestRequest("waiting", email), &o).ok());
      (*waiting_)[who] = o.name();
    }

    v1::Batch batch;
    ASSERT_TRUE(Import(admin, "contoso", "admin-batch", &batch).ok());
    batch_ = new std::string(batch.name());
    itest::WaitForBatch([&] { return admin; }, *batch_, 60);
  }

  static void TearDownTestSuite() {
    delete answers_;
    delete server_;
    delete dir_;
    delete done_;
    delete batch_;
    delete waiting_;
  }

  static grpc::Status Import(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& tenant, const std::string& request_id,
                             v1::Batch* batch) {
    auto stub = v1::BatchService::NewStub(channel);
    auto context = Deadline(30);
    auto writer = stub->CreateBatch(context.get(), batch);
    v1::CreateBatchRequest header;
    header.mutable_header()->set_tenant(tenant);
    header.mutable_header()->set_request_id(request_id);
    bool open = writer->Write(header);
    v1::CreateBatchRequest rows;
    rows.set_csv_chunk(absl::StrCat("Email,FirstName,LastName,UsageLocation\n", request_id,
                                    "@fabrikam.example,Ada,Lovelace,GB\n"));
    if (open) open = writer->Write(rows);
    if (open) writer->WritesDone();
    return writer->Finish();
  }

  // Every RPC as `who`, called once per test suite (they change state).
  static const std::map<std::string, Answer>& AnswersOf(Who who) {
    auto [it, inserted] = answers_->try_emplace(who);
    if (inserted) it->second = CallEverything(who);
    return it->second;
  }

  static std::map<std::string, Answer> CallEverything(Who who) {
    const auto channel = server_->Channel(TokenOf(who));
    auto onboardings = v1::OnboardingService::NewStub(channel);
    auto batches = v1::BatchService::NewStub(channel);
    auto admin = v1::AdminService::NewStub(channel);
    const std::string& waiting = waiting_->at(who);
    std::map<std::string, Answer> out;

    {
      v1::Onboarding o;
      out["StartOnboarding"] = Of(onboardings->StartOnboarding(
          Deadline().get(),
          GuestRequest("contoso",
                       absl::StrCat("start-", static_cast<int>(who), "@fabrikam.example")),
          &o));
    }
    {
      v1::GetOnboardingRequest r;
      r.set_name(*done_);
      v1::Onboarding o;
      out["GetOnboarding"] = Of(onboardings->GetOnboarding(Deadline().get(), r, &o));
    }
    for (const std::string tenant : {"", "contoso"}) {
      v1::ListOnboardingsRequest r;
      r.set_tenant(tenant);
      r.set_page_size(1000);
      v1::ListOnboardingsResponse response;
      const grpc::Status s = onboardings->ListOnboardings(Deadline().get(), r, &response);
      std::vector<std::string> tenants;
      for (const v1::Onboarding& o : response.onboardings()) tenants.push_back(o.tenant());
      out[absl::StrCat("ListOnboardings(tenant=", tenant, ")")] = Of(s, tenants);
    }
    {
      v1::WatchOnboardingRequest r;
      r.set_name(*done_);
      auto context = Deadline();
      auto reader = onboardings->WatchOnboarding(context.get(), r);
      v1::WatchOnboardingResponse event;
      while (reader->Read(&event)) {
      }
      out["WatchOnboarding"] = Of(reader->Finish());
    }
    for (const std::string parent : {*done_, std::string("tenants/contoso")}) {
      v1::ListCloudCallsRequest r;
      r.set_parent(parent);
      v1::ListCloudCallsResponse response;
      out[absl::StrCat("ListCloudCalls(", parent.substr(0, parent.find('/')), ")")] =
          Of(onboardings->ListCloudCalls(Deadline().get(), r, &response));
    }
    {
      v1::CancelOnboardingRequest r;
      r.set_name(waiting);
      v1::Onboarding o;
      out["CancelOnboarding"] = Of(onboardings->CancelOnboarding(Deadline().get(), r, &o));
    }
    {
      // After the admin's own cancel for the ones that may not cancel, so
      // that a retry would be allowed by the state.
      if (who != Who::kOperator && who != Who::kAdmin) {
        v1::CancelOnboardingRequest r;
        r.set_name(waiting);
        v1::Onboarding o;
        EXPECT_TRUE(v1::OnboardingService::NewStub(server_->Channel())
                        ->CancelOnboarding(Deadline().get(), r, &o)
                        .ok());
      }
      v1::RetryOnboardingRequest r;
      r.set_name(waiting);
      v1::Onboarding o;
      out["RetryOnboarding"] = Of(onboardings->RetryOnboarding(Deadline().get(), r, &o));
    }
    {
      v1::Batch batch;
      out["CreateBatch"] =
          Of(Import(channel, "contoso", absl::StrCat("batch-", static_cast<int>(who)), &batch));
    }
    {
      v1::GetBatchRequest r;
      r.set_name(*batch_);
      v1::Batch batch;
      out["GetBatch"] = Of(batches->GetBatch(Deadline().get(), r, &batch));
    }
    {
      v1::WatchBatchRequest r;
      r.set_name(*batch_);
      auto context = Deadline();
      auto reader = batches->WatchBatch(context.get(), r);
      v1::Batch batch;
      while (reader->Read(&batch)) {
      }
      out["WatchBatch"] = Of(reader->Finish());
    }
    {
      v1::ListBatchItemsRequest r;
      r.set_parent(*batch_);
      v1::ListBatchItemsResponse response;
      out["ListBatchItems"] = Of(batches->ListBatchItems(Deadline().get(), r, &response));
    }
    {
      v1::ListTenantsResponse response;
      const grpc::Status s = admin->ListTenants(Deadline().get(), {}, &response);
      std::vector<std::string> ids;
      for (const v1::Tenant& t : response.tenants()) ids.push_back(t.id());
      out["ListTenants"] = Of(s, ids);
    }
    {
      v1::ListPluginsResponse response;
      const grpc::Status s = admin->ListPlugins(Deadline().get(), {}, &response);
      std::vector<std::string> tenants;
      for (const v1::Plugin& p : response.plugins()) {
        for (const std::string& t : p.tenants()) tenants.push_back(t);
      }
      out["ListPlugins"] = Of(s, tenants);
    }
    {
      v1::CheckTenantRequest r;
      r.set_tenant("contoso");
      v1::CheckTenantResponse response;
      out["CheckTenant"] = Of(admin->CheckTenant(Deadline().get(), r, &response));
    }
    {
      v1::ReloadConfigResponse response;
      out["ReloadConfig"] = Of(admin->ReloadConfig(Deadline().get(), {}, &response));
    }
    return out;
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  static std::string* done_;
  static std::string* batch_;
  static std::map<Who, std::string>* waiting_;
  static std::map<Who, std::map<std::string, Answer>>* answers_;
};

TempDir* AuthorizationTest::dir_ = nullptr;
ServerProcess* AuthorizationTest::server_ = nullptr;
std::string* AuthorizationTest::done_ = nullptr;
std::string* AuthorizationTest::batch_ = nullptr;
std::map<Who, std::string>* AuthorizationTest::waiting_ = nullptr;
std::map<Who, std::map<std::string, Answer>>* AuthorizationTest::answers_ = nullptr;

// The documented code of every RPC for every caller.
StatusCode Expected(Who who, const std::string& rpc) {
  const bool write = rpc == "StartOnboarding" || rpc == "CancelOnboarding" ||
                     rpc == "RetryOnboarding" || rpc == "CreateBatch";
  const bool admin =
      rpc == "ListTenants" || rpc == "ListPlugins" || rpc == "CheckTenant" || rpc == "ReloadConfig";
  switch (who) {
    case Who::kNone:
    case Who::kWrongToken:
      return StatusCode::UNAUTHENTICATED;
    case Who::kReader:
      return write || admin ? StatusCode::PERMISSION_DENIED : StatusCode::OK;
    case Who::kOperator:
      return admin ? StatusCode::PERMISSION_DENIED : StatusCode::OK;
    case Who::kAdmin:
      return StatusCode::OK;
    case Who::kOtherTenant:
      // Lists and a tenant's audit trail answer, without contoso in them;
      // the rest is another tenant's, so it does not exist.
      if (absl::StartsWith(rpc, "ListOnboardings") || rpc == "ListCloudCalls(tenants)" ||
          rpc == "ListTenants" || rpc == "ListPlugins" || rpc == "ReloadConfig") {
        return StatusCode::OK;
      }
      return StatusCode::NOT_FOUND;
  }
  return StatusCode::UNKNOWN;
}

TEST_F(AuthorizationTest, EveryRpcGivesEveryCallerTheDocumentedCode) {
  std::vector<std::string> wrong;
  int checked = 0;
  for (Who who : kEveryone) {
    for (const auto& [rpc, answer] : AnswersOf(who)) {
      ++checked;
      const StatusCode want = Expected(who, rpc);
      if (answer.code != want) {
        wrong.push_back(absl::StrCat(rpc, " as ", Name(who), ": code ", answer.code, " (\"",
                                     answer.message, "\"), expected ", want));
      }
    }
  }
  EXPECT_EQ(checked, 6 * 17);  // 15 RPCs, two of them twice
  EXPECT_THAT(wrong, ::testing::IsEmpty()) << absl::StrJoin(wrong, "\n");
}

TEST_F(AuthorizationTest, AnotherTenantsDataIsLeftOutOfListsAndAnswersAsMissing) {
  std::map<std::string, Answer> other = AnswersOf(Who::kOtherTenant);
  EXPECT_THAT(other["ListOnboardings(tenant=)"].listed, ::testing::IsEmpty());
  EXPECT_THAT(other["ListOnboardings(tenant=contoso)"].listed, ::testing::IsEmpty());
  EXPECT_THAT(other["ListTenants"].listed, ::testing::ElementsAre("fabrikam"));
  EXPECT_THAT(other["ListPlugins"].listed, ::testing::Each("fabrikam"));
  // Word for word what a missing onboarding, batch or tenant answers.
  auto admin = server_->Channel(test_callers::kAdminToken);
  v1::GetOnboardingRequest get;
  get.set_name("onboardings/doesnotexist");
  v1::Onboarding o;
  const grpc::Status missing =
      v1::OnboardingService::NewStub(admin)->GetOnboarding(Deadline().get(), get, &o);
  EXPECT_EQ(missing.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(other["GetOnboarding"].message,
            absl::StrReplaceAll(missing.error_message(),
                                {{"doesnotexist", done_->substr(done_->find('/') + 1)}}));
  v1::GetBatchRequest get_batch;
  get_batch.set_name("batches/doesnotexist");
  v1::Batch b;
  const grpc::Status missing_batch =
      v1::BatchService::NewStub(admin)->GetBatch(Deadline().get(), get_batch, &b);
  EXPECT_EQ(missing_batch.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(other["GetBatch"].message,
            absl::StrReplaceAll(missing_batch.error_message(),
                                {{"doesnotexist", batch_->substr(batch_->find('/') + 1)}}));
  EXPECT_EQ(other["StartOnboarding"].message,
            "tenant \"contoso\" is not configured or not granted to caller \"fabrikam-admin\" (its "
            "tenants: fabrikam)");

  // The callers who may see contoso see it all.
  std::map<std::string, Answer> reader = AnswersOf(Who::kReader);
  EXPECT_THAT(reader["ListOnboardings(tenant=contoso)"].listed,
              ::testing::AllOf(::testing::Contains("contoso"), ::testing::Each("contoso")));
}

TEST_F(AuthorizationTest, TheAuthenticatedCallerIsRecordedAsWhoAsked) {
  const auto channel = server_->Channel(test_callers::kOperatorToken);
  v1::Onboarding o;
  ASSERT_TRUE(v1::OnboardingService::NewStub(channel)
                  ->StartOnboarding(Deadline().get(),
                                    GuestRequest("contoso", "recorded@fabrikam.example"), &o)
                  .ok());
  EXPECT_EQ(o.requested_by(), "test-operator");
  const v1::Onboarding ended =
      itest::WaitForEnd(*v1::OnboardingService::NewStub(channel), o.name());
  ASSERT_EQ(ended.state(), v1::ONBOARDING_STATE_SUCCEEDED);
}

TEST_F(AuthorizationTest, ABatchRowForATenantNotGrantedIsThatRowsError) {
  // contoso-admin may use contoso and waiting, not fabrikam.
  const auto channel = server_->Channel(kContosoAdminToken);
  auto stub = v1::BatchService::NewStub(channel);
  auto context = Deadline(30);
  v1::Batch batch;
  auto writer = stub->CreateBatch(context.get(), &batch);
  v1::CreateBatchRequest header;
  header.mutable_header()->set_tenant("contoso");
  header.mutable_header()->set_request_id("rows-of-two-tenants");
  ASSERT_TRUE(writer->Write(header));
  v1::CreateBatchRequest rows;
  rows.set_csv_chunk(
      "Email,FirstName,LastName,UsageLocation,Tenant\n"
      "mine@fabrikam.example,Ada,Lovelace,GB,contoso\n"
      "theirs@fabrikam.example,Ada,Lovelace,GB,fabrikam\n");
  ASSERT_TRUE(writer->Write(rows));
  writer->WritesDone();
  const grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(batch.rows_total(), 2);
  ASSERT_EQ(batch.rejected_size(), 1);
  EXPECT_EQ(batch.rejected(0).email(), "theirs@fabrikam.example");
  EXPECT_THAT(batch.rejected(0).error(),
              ::testing::HasSubstr("tenant \"fabrikam\" is not configured or not granted to "
                                   "caller \"contoso-admin\""));
}

TEST_F(AuthorizationTest, BatchItemsOfAnotherTenantAreLeftOutForACallerOfTheBatchsTenant) {
  // The admin of every tenant imports into contoso a row for fabrikam too.
  const auto admin = server_->Channel(test_callers::kAdminToken);
  auto admin_batches = v1::BatchService::NewStub(admin);
  auto context = Deadline(30);
  v1::Batch batch;
  auto writer = admin_batches->CreateBatch(context.get(), &batch);
  v1::CreateBatchRequest header;
  header.mutable_header()->set_tenant("contoso");
  header.mutable_header()->set_request_id("rows-for-contoso-and-fabrikam");
  ASSERT_TRUE(writer->Write(header));
  v1::CreateBatchRequest rows;
  rows.set_csv_chunk(
      "Email,FirstName,LastName,UsageLocation,Tenant\n"
      "ours@fabrikam.example,Ada,Lovelace,GB,contoso\n"
      "fabrikams@fabrikam.example,Ada,Lovelace,GB,fabrikam\n");
  ASSERT_TRUE(writer->Write(rows));
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  ASSERT_EQ(batch.rejected_size(), 0);

  const auto emails = [&](const std::string& token) {
    v1::ListBatchItemsRequest r;
    r.set_parent(batch.name());
    v1::ListBatchItemsResponse response;
    const grpc::Status s = v1::BatchService::NewStub(server_->Channel(token))
                               ->ListBatchItems(Deadline().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const v1::BatchItem& item : response.items()) out.push_back(item.email());
    return out;
  };
  EXPECT_THAT(emails(test_callers::kAdminToken),
              ::testing::ElementsAre("ours@fabrikam.example", "fabrikams@fabrikam.example"));
  EXPECT_THAT(emails(kContosoAdminToken), ::testing::ElementsAre("ours@fabrikam.example"));
}

}  // namespace
}  // namespace guestflow
