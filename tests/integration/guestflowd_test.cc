// End-to-end tests of a real guestflowd process, driven over gRPC and through
// the `guestflow` CLI, with the fake plugins of tests/plugins.
#include <signal.h>

#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "guestflow/v1/admin_service.grpc.pb.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"
#include "tests/support/test_callers.h"

namespace guestflow {
namespace {

using ::guestflow::itest::ReadFile;
using ::guestflow::itest::Run;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using ::testing::HasSubstr;

// The tenants every test server has. {dir} is the test's temp folder.
constexpr char kConfigTemplate[] = R"(server:
  listen: 127.0.0.1:0
  plaintext: true
  plugin_dir: {plugin_dir}
  plugins: [fake_invite.so, fake_license.so, fake_role.so, fake_notifier.so, fake_fail.so, fake_retry.so{extra_plugins}]
  shutdown_grace: 10s
store:
  sqlite: {path: {dir}/guestflow.db}
engine:
  workers: 4
  backoff_initial: 100ms
  backoff_max: 1s
tenants:
  - id: contoso
    display_name: Contoso Ltd
    azure: {tenant_id: contoso.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://contoso.crm.dynamics.com}
    onboarding: {default_roles: [Salesperson]}
    plugins:
      invite: {name: fake_invite, settings: {journal: {dir}/journal.jsonl}}
      license: {name: fake_license, settings: {journal: {dir}/journal.jsonl}}
      role: {name: fake_role, settings: {journal: {dir}/journal.jsonl}}
      notifier: {name: fake_notifier, settings: {journal: {dir}/journal.jsonl}}
  - id: slowpoke
    azure: {tenant_id: slowpoke.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://slowpoke.crm.dynamics.com}
    plugins:
      invite: {name: fake_invite, settings: {journal: {dir}/journal.jsonl, delay_ms: 400}}
      license: {name: fake_license, settings: {journal: {dir}/journal.jsonl, delay_ms: 400}}
      role: {name: fake_role, settings: {journal: {dir}/journal.jsonl, delay_ms: 400}}
      notifier: {name: fake_notifier, settings: {journal: {dir}/journal.jsonl, delay_ms: 400}}
  - id: failing
    azure: {tenant_id: failing.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://failing.crm.dynamics.com}
    plugins:
      invite: {name: fake_invite, settings: {journal: {dir}/journal.jsonl}}
      license: {name: {failing_license}, settings: {journal: {dir}/journal.jsonl}}
      role: {name: fake_role, settings: {journal: {dir}/journal.jsonl}}
      notifier: {name: fake_notifier, settings: {journal: {dir}/journal.jsonl}}
  - id: waiting
    azure: {tenant_id: waiting.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://waiting.crm.dynamics.com}
    plugins:
      invite: {name: fake_invite, settings: {journal: {dir}/journal.jsonl}}
      license: {name: fake_license, settings: {journal: {dir}/journal.jsonl}}
      role: {name: fake_retry, settings: {journal: {dir}/journal.jsonl, retry_after_ms: 60000, succeed_on_attempt: 100}}
      notifier: {name: fake_notifier, settings: {journal: {dir}/journal.jsonl}}
)";

class GuestflowdTest : public ::testing::Test {
 protected:
  std::string ConfigText(const std::string& failing_license = "fake_fail",
                         const std::string& extra_plugins = "") {
    return absl::StrCat(
        absl::StrReplaceAll(kConfigTemplate, {{"{plugin_dir}", PLUGIN_DIR},
                                              {"{dir}", dir_.path()},
                                              {"{failing_license}", failing_license},
                                              {"{extra_plugins}", extra_plugins}}),
        test_callers::kCallersYaml);
  }

  void StartServer(const std::string& config_text) {
    WriteFile(config_path(), config_text);
    server_ = std::make_unique<ServerProcess>(config_path(), dir_.File("guestflowd.log"));
    ASSERT_TRUE(server_->Start()) << "guestflowd did not start (exit " << server_->exit_code()
                                  << "):\n"
                                  << server_->log();
    Connect();
  }
  void StartServer() { StartServer(ConfigText()); }

  void Connect() {
    auto channel = server_->Channel();
    onboarding_ = v1::OnboardingService::NewStub(channel);
    admin_ = v1::AdminService::NewStub(channel);
  }

  std::string config_path() const { return dir_.File("guestflowd.yaml"); }

  static std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
    return itest::Deadline(seconds);
  }

  v1::StartOnboardingRequest Request(const std::string& tenant, const std::string& email) {
    return itest::GuestRequest(tenant, email);
  }

  v1::Onboarding Start(const v1::StartOnboardingRequest& r) {
    v1::Onboarding o;
    grpc::Status s = onboarding_->StartOnboarding(Ctx().get(), r, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  v1::Onboarding Get(const std::string& name) {
    v1::GetOnboardingRequest r;
    r.set_name(name);
    v1::Onboarding o;
    grpc::Status s = onboarding_->GetOnboarding(Ctx().get(), r, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  // Polls until `done` holds or 30 s pass.
  template <typename Pred>
  v1::Onboarding WaitFor(const std::string& name, Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    v1::Onboarding o = Get(name);
    while (!done(o) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      o = Get(name);
    }
    return o;
  }

  v1::Onboarding WaitForState(const std::string& name, v1::OnboardingState state) {
    return WaitFor(name, [state](const v1::Onboarding& o) { return o.state() == state; });
  }

  // The fake plugins' journal lines about one onboarding, in order.
  std::vector<nlohmann::json> Journal(const std::string& name) {
    std::vector<nlohmann::json> out;
    for (absl::string_view line :
         absl::StrSplit(ReadFile(dir_.File("journal.jsonl")), '\n', absl::SkipEmpty())) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j.value("onboarding", "") == name) out.push_back(j);
    }
    return out;
  }

  std::map<std::string, int> StepRuns(const std::string& name) {
    std::map<std::string, int> runs;
    for (const auto& j : Journal(name)) ++runs[j.value("step", "")];
    return runs;
  }

  itest::RunResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {GUESTFLOW_CLI_BIN, "--server", server_->address(), "--plaintext"});
    return itest::Run(args, {{"GUESTFLOW_TOKEN", test_callers::kAdminToken}});
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::OnboardingService::Stub> onboarding_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(GuestflowdTest, AGuestGoesFromQueuedToSucceededThroughAllFiveSteps) {
  StartServer();
  v1::StartOnboardingRequest request = Request("contoso", "ada@fabrikam.com");
  request.set_request_id("8a1c5a3e-0000-4000-8000-000000000001");
  const v1::Onboarding started = Start(request);
  EXPECT_THAT(started.name(), ::testing::StartsWith("onboardings/"));
  EXPECT_EQ(started.state(), v1::ONBOARDING_STATE_QUEUED);
  EXPECT_EQ(started.instance_url(), "https://contoso.crm.dynamics.com");
  EXPECT_EQ(started.guest().display_name(), "Ada Lovelace");

  // Watch from the start to the end.
  v1::WatchOnboardingRequest watch;
  watch.set_name(started.name());
  auto ctx = Ctx(30);
  auto reader = onboarding_->WatchOnboarding(ctx.get(), watch);
  std::vector<std::string> types;
  v1::WatchOnboardingResponse event;
  int64_t last_sequence = 0;
  while (reader->Read(&event)) {
    EXPECT_GT(event.event().sequence(), last_sequence);
    last_sequence = event.event().sequence();
    types.push_back(event.event().type());
  }
  grpc::Status finished = reader->Finish();
  ASSERT_TRUE(finished.ok()) << finished.error_message();
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.front(), "created");
  EXPECT_EQ(types.back(), "succeeded");
  EXPECT_EQ(std::count(types.begin(), types.end(), "step_succeeded"), 5);
  EXPECT_EQ(event.onboarding().state(), v1::ONBOARDING_STATE_SUCCEEDED);

  const v1::Onboarding done = Get(started.name());
  EXPECT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED);
  ASSERT_EQ(done.steps_size(), 5);
  const char* plugins[] = {"fake_invite", "fake_invite", "fake_license", "fake_role",
                           "fake_notifier"};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(done.steps(i).state(), v1::STEP_STATE_SUCCEEDED) << i;
    EXPECT_EQ(done.steps(i).attempts(), 1) << i;
    EXPECT_EQ(done.steps(i).plugin(), plugins[i]) << i;
  }
  EXPECT_FALSE(done.steps(0).outputs().empty()) << "the invite step reports what it created";

  std::vector<std::string> order;
  for (const auto& j : Journal(started.name())) order.push_back(j.value("step", ""));
  EXPECT_THAT(order, ::testing::ElementsAre("invite", "profile", "license", "role", "notify"));

  // The same request_id again: the same onboarding, nothing runs twice.
  const v1::Onboarding again = Start(request);
  EXPECT_EQ(again.name(), started.name());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Journal(started.name()).size(), 5u);
}

TEST_F(GuestflowdTest, BadRequestsGetActionableErrorsAndStoreNothing) {
  StartServer();
  struct Case {
    std::function<void(v1::StartOnboardingRequest&)> mutate;
    grpc::StatusCode code;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.mutable_guest()->set_usage_location("UK"); }, grpc::INVALID_ARGUMENT, "GB"},
      {[](auto& r) { r.mutable_guest()->set_email("not-an-email"); }, grpc::INVALID_ARGUMENT,
       "guest.email"},
      {[](auto& r) { r.mutable_guest()->set_email(""); }, grpc::INVALID_ARGUMENT, "guest.email"},
      {[](auto& r) { r.mutable_guest()->set_first_name(""); }, grpc::INVALID_ARGUMENT,
       "first_name"},
      {[](auto& r) { r.mutable_guest()->set_last_name(std::string(500, 'x')); },
       grpc::INVALID_ARGUMENT, "last_name"},
      {[](auto& r) { r.set_tenant("nobody"); }, grpc::NOT_FOUND, "nobody"},
      {[](auto& r) { r.mutable_options()->set_approve_mailbox(true); }, grpc::FAILED_PRECONDITION,
       "mailbox"},
      {[](auto& r) { r.mutable_options()->set_enable_server_side_sync(true); },
       grpc::FAILED_PRECONDITION, "server-side"},
  };
  for (const Case& c : cases) {
    v1::StartOnboardingRequest r = Request("contoso", "ada@fabrikam.com");
    c.mutate(r);
    v1::Onboarding o;
    grpc::Status s = onboarding_->StartOnboarding(Ctx().get(), r, &o);
    EXPECT_EQ(s.error_code(), c.code) << c.message_part << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.message_part));
  }
  v1::GetOnboardingRequest get;
  get.set_name("onboardings/does-not-exist");
  v1::Onboarding o;
  EXPECT_EQ(onboarding_->GetOnboarding(Ctx().get(), get, &o).error_code(), grpc::NOT_FOUND);
  get.set_name("not-a-name");
  EXPECT_EQ(onboarding_->GetOnboarding(Ctx().get(), get, &o).error_code(), grpc::INVALID_ARGUMENT);

  v1::ListOnboardingsRequest list;
  v1::ListOnboardingsResponse listed;
  ASSERT_TRUE(onboarding_->ListOnboardings(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.onboardings_size(), 0) << "nothing half-written stays behind";
}

TEST_F(GuestflowdTest, AFailedStepCanBeRetriedOnceTheTenantIsFixed) {
  StartServer();
  const v1::Onboarding started = Start(Request("failing", "grace@fabrikam.com"));
  const v1::Onboarding failed = WaitForState(started.name(), v1::ONBOARDING_STATE_FAILED);
  ASSERT_EQ(failed.state(), v1::ONBOARDING_STATE_FAILED);
  EXPECT_THAT(failed.error(), HasSubstr("license"));
  EXPECT_EQ(failed.steps(2).state(), v1::STEP_STATE_FAILED);
  EXPECT_FALSE(failed.steps(2).last_error().empty());
  EXPECT_EQ(failed.steps(3).state(), v1::STEP_STATE_PENDING);

  // The administrator fixes the tenant (binds a license plugin that works)
  // and reloads, then retries the onboarding.
  WriteFile(config_path(), ConfigText("fake_license"));
  v1::ReloadConfigResponse reloaded;
  grpc::Status s = admin_->ReloadConfig(Ctx().get(), v1::ReloadConfigRequest(), &reloaded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::RetryOnboardingRequest retry;
  retry.set_name(started.name());
  v1::Onboarding retried;
  s = onboarding_->RetryOnboarding(Ctx().get(), retry, &retried);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::Onboarding done = WaitForState(started.name(), v1::ONBOARDING_STATE_SUCCEEDED);
  EXPECT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED);
  EXPECT_EQ(done.steps(2).plugin(), "fake_license");
  auto runs = StepRuns(started.name());
  EXPECT_EQ(runs["invite"], 1) << "completed steps do not run again";
  EXPECT_EQ(runs["profile"], 1);

  // Retrying a succeeded onboarding is refused.
  EXPECT_EQ(onboarding_->RetryOnboarding(Ctx().get(), retry, &retried).error_code(),
            grpc::FAILED_PRECONDITION);
}

TEST_F(GuestflowdTest, ACancelledOnboardingStops) {
  StartServer();
  const v1::Onboarding started = Start(Request("waiting", "alan@fabrikam.com"));
  const v1::Onboarding waiting = WaitFor(started.name(), [](const v1::Onboarding& o) {
    return o.state() == v1::ONBOARDING_STATE_WAITING &&
           o.steps(3).state() == v1::STEP_STATE_WAITING;
  });
  ASSERT_EQ(waiting.state(), v1::ONBOARDING_STATE_WAITING) << waiting.DebugString();
  EXPECT_TRUE(waiting.steps(3).has_next_attempt_time());

  v1::CancelOnboardingRequest cancel;
  cancel.set_name(started.name());
  v1::Onboarding cancelled;
  grpc::Status s = onboarding_->CancelOnboarding(Ctx().get(), cancel, &cancelled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(cancelled.state(), v1::ONBOARDING_STATE_CANCELLED);
  EXPECT_EQ(cancelled.steps(3).state(), v1::STEP_STATE_CANCELLED);
  EXPECT_EQ(cancelled.steps(4).state(), v1::STEP_STATE_CANCELLED);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Get(started.name()).state(), v1::ONBOARDING_STATE_CANCELLED);
  EXPECT_EQ(StepRuns(started.name()).count("notify"), 0u) << "nothing runs after a cancel";
  EXPECT_EQ(onboarding_->CancelOnboarding(Ctx().get(), cancel, &cancelled).error_code(),
            grpc::FAILED_PRECONDITION);
}

TEST_F(GuestflowdTest, AKillBetweenStepsThenARestartFinishesWithoutRepeatingDoneSteps) {
  StartServer();
  const v1::Onboarding started = Start(Request("slowpoke", "kill@fabrikam.com"));
  const v1::Onboarding midway = WaitFor(started.name(), [](const v1::Onboarding& o) {
    return o.steps(1).state() == v1::STEP_STATE_SUCCEEDED;
  });
  ASSERT_EQ(midway.steps(1).state(), v1::STEP_STATE_SUCCEEDED);
  server_->Kill9();

  ASSERT_TRUE(server_->Start()) << server_->log();
  Connect();
  const v1::Onboarding done = WaitForState(started.name(), v1::ONBOARDING_STATE_SUCCEEDED);
  ASSERT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED) << done.DebugString();
  auto runs = StepRuns(started.name());
  EXPECT_EQ(runs["invite"], 1);
  EXPECT_EQ(runs["profile"], 1);
  for (const char* step : {"license", "role", "notify"}) EXPECT_GE(runs[step], 1) << step;

  // Only a step that was running at the kill may run twice, and the history
  // says so.
  v1::WatchOnboardingRequest watch;
  watch.set_name(started.name());
  auto ctx = Ctx(10);
  auto reader = onboarding_->WatchOnboarding(ctx.get(), watch);
  v1::WatchOnboardingResponse event;
  std::set<int> resumed;
  while (reader->Read(&event)) {
    if (event.event().type() == "step_resumed") resumed.insert(event.event().step());
  }
  ASSERT_TRUE(reader->Finish().ok());
  for (const auto& [step, count] : runs) {
    if (count > 1) {
      EXPECT_EQ(count, 2) << step;
      EXPECT_FALSE(resumed.empty()) << step << " ran twice without a step_resumed event";
    }
  }
}

TEST_F(GuestflowdTest, ListPagesThroughEverythingOnce) {
  StartServer();
  std::set<std::string> created;
  for (int i = 0; i < 7; ++i) {
    created.insert(Start(Request("waiting", absl::StrCat("guest", i, "@fabrikam.com"))).name());
  }
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListOnboardingsRequest r;
    r.set_page_size(3);
    r.set_page_token(token);
    r.set_tenant("waiting");
    v1::ListOnboardingsResponse resp;
    ASSERT_TRUE(onboarding_->ListOnboardings(Ctx().get(), r, &resp).ok());
    for (const auto& o : resp.onboardings()) EXPECT_TRUE(seen.insert(o.name()).second) << o.name();
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen, created);
  EXPECT_EQ(pages, 3);
}

// A caller's token is remembered once it matched (Access), and its
// onboarding read is cached: neither outlives a reload that removes it.
TEST_F(GuestflowdTest, AReloadThatRemovesACallerRefusesItsTokenAtOnce) {
  StartServer();
  const v1::Onboarding started = Start(Request("waiting", "rosa@fabrikam.com"));
  auto reader = v1::OnboardingService::NewStub(server_->Channel(test_callers::kReaderToken));
  v1::GetOnboardingRequest get;
  get.set_name(started.name());
  v1::Onboarding o;
  for (int i = 0; i < 3; ++i) {
    grpc::Status s = reader->GetOnboarding(Ctx().get(), get, &o);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // The same configuration without test-reader (the last caller).
  const std::string config = ConfigText();
  const size_t reader_entry = config.find("  - name: test-reader");
  ASSERT_NE(reader_entry, std::string::npos);
  WriteFile(config_path(), config.substr(0, reader_entry));
  v1::ReloadConfigResponse reloaded;
  grpc::Status s = admin_->ReloadConfig(Ctx().get(), v1::ReloadConfigRequest(), &reloaded);
  ASSERT_TRUE(s.ok()) << s.error_message();

  s = reader->GetOnboarding(Ctx().get(), get, &o);
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("matches no caller"));
  s = onboarding_->GetOnboarding(Ctx().get(), get, &o);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(o.name(), started.name());
}

TEST_F(GuestflowdTest, AdminServiceDescribesTenantsAndPlugins) {
  StartServer();
  v1::ListTenantsResponse tenants;
  ASSERT_TRUE(admin_->ListTenants(Ctx().get(), v1::ListTenantsRequest(), &tenants).ok());
  ASSERT_EQ(tenants.tenants_size(), 4);
  EXPECT_EQ(tenants.tenants(0).id(), "contoso");
  EXPECT_EQ(tenants.tenants(0).instance_url(), "https://contoso.crm.dynamics.com");
  EXPECT_EQ(tenants.tenants(0).default_roles(0), "Salesperson");

  v1::ListPluginsResponse plugins;
  ASSERT_TRUE(admin_->ListPlugins(Ctx().get(), v1::ListPluginsRequest(), &plugins).ok());
  std::map<std::string, v1::Plugin> by_name;
  for (const auto& p : plugins.plugins()) by_name[p.name()] = p;
  ASSERT_TRUE(by_name.count("fake_invite"));
  EXPECT_EQ(by_name["fake_invite"].kind(), "invite");
  EXPECT_EQ(by_name["fake_invite"].abi_version(), "1.0");
  EXPECT_THAT(by_name["fake_invite"].file(), HasSubstr("fake_invite.so"));
  EXPECT_THAT(by_name["fake_invite"].tenants(), ::testing::Contains("contoso"));

  v1::CheckTenantRequest check;
  check.set_tenant("contoso");
  v1::CheckTenantResponse checked;
  grpc::Status s = admin_->CheckTenant(Ctx().get(), check, &checked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(checked.ok());
  EXPECT_GE(checked.checks_size(), 4);
  check.set_tenant("nobody");
  EXPECT_EQ(admin_->CheckTenant(Ctx().get(), check, &checked).error_code(), grpc::NOT_FOUND);

  // A config that does not validate changes nothing.
  WriteFile(config_path(), "server: {listen: 1}\nbogus_key: 1\n");
  v1::ReloadConfigResponse reloaded;
  s = admin_->ReloadConfig(Ctx().get(), v1::ReloadConfigRequest(), &reloaded);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  ASSERT_TRUE(admin_->ListTenants(Ctx().get(), v1::ListTenantsRequest(), &tenants).ok());
  EXPECT_EQ(tenants.tenants_size(), 4);

  // BatchService is served too: an unknown batch is NOT_FOUND, a malformed
  // name INVALID_ARGUMENT.
  auto batch = v1::BatchService::NewStub(server_->Channel());
  v1::GetBatchRequest get_batch;
  get_batch.set_name("batches/x");
  v1::Batch b;
  EXPECT_EQ(batch->GetBatch(Ctx().get(), get_batch, &b).error_code(), grpc::NOT_FOUND);
  get_batch.set_name("onboardings/x");
  EXPECT_EQ(batch->GetBatch(Ctx().get(), get_batch, &b).error_code(), grpc::INVALID_ARGUMENT);
}

TEST_F(GuestflowdTest, HealthAndReflectionAreServed) {
  StartServer();
  auto health = grpc::health::v1::Health::NewStub(server_->Channel());
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  grpc::Status s = health->Check(Ctx().get(), hreq, &hresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(server_->Channel());
  auto ctx = Ctx();
  auto stream = reflection->ServerReflectionInfo(ctx.get());
  grpc::reflection::v1alpha::ServerReflectionRequest rreq;
  rreq.set_list_services("");
  ASSERT_TRUE(stream->Write(rreq));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse rresp;
  ASSERT_TRUE(stream->Read(&rresp));
  std::set<std::string> services;
  for (const auto& svc : rresp.list_services_response().service()) services.insert(svc.name());
  EXPECT_TRUE(services.count("guestflow.v1.OnboardingService"));
  EXPECT_TRUE(services.count("guestflow.v1.AdminService"));
  EXPECT_TRUE(services.count("guestflow.v1.BatchService"));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GuestflowdTest, SigtermStopsGracefullyWithExitZero) {
  StartServer();
  const v1::Onboarding started = Start(Request("slowpoke", "term@fabrikam.com"));
  WaitFor(started.name(),
          [](const v1::Onboarding& o) { return o.steps(0).state() == v1::STEP_STATE_SUCCEEDED; });
  // Clients close their connections (an idle open one holds the server's
  // RPC drain until its deadline).
  onboarding_.reset();
  admin_.reset();
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(3))
      << "a running step finishes well within the grace period";
  EXPECT_THAT(server_->log(), HasSubstr("stopped"));
  // The next start finishes the onboarding.
  ASSERT_TRUE(server_->Start()) << server_->log();
  Connect();
  EXPECT_EQ(WaitForState(started.name(), v1::ONBOARDING_STATE_SUCCEEDED).state(),
            v1::ONBOARDING_STATE_SUCCEEDED);
}

TEST_F(GuestflowdTest, TheCliOnboardsWatchesListsAndReportsWithExitCodes) {
  StartServer();
  auto onboard =
      Cli({"onboard", "--tenant", "contoso", "--email", "cli@fabrikam.com", "--first-name", "Cli",
           "--last-name", "User", "--usage-location", "GB", "--wait"});
  EXPECT_EQ(onboard.exit_code, 0) << onboard.output;
  EXPECT_THAT(onboard.output, HasSubstr("onboardings/"));

  auto listed = Cli({"--json", "list", "--tenant", "contoso"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  std::string name;
  for (absl::string_view line : absl::StrSplit(listed.output, '\n', absl::SkipEmpty())) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    // Either one response object or one onboarding per line.
    if (j.contains("onboardings")) j = j["onboardings"][0];
    if (j.value("guest", nlohmann::json::object()).value("email", "") == "cli@fabrikam.com") {
      name = j.value("name", "");
    }
  }
  ASSERT_FALSE(name.empty()) << listed.output;

  auto got = Cli({"--json", "get", name});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  auto j = nlohmann::json::parse(got.output);
  EXPECT_EQ(j.value("state", ""), "ONBOARDING_STATE_SUCCEEDED");

  auto table = Cli({"get", name});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_THAT(table.output, HasSubstr("SUCCEEDED"));
  EXPECT_THAT(table.output, HasSubstr("fake_notifier"));

  // The fake plugins send nothing through the host, so the audit trail is
  // empty, but the command pages through it and prints an empty table.
  auto calls = Cli({"calls", name});
  EXPECT_EQ(calls.exit_code, 0) << calls.output;
  EXPECT_EQ(calls.output, "TIME  STEP  METHOD  STATUS  DURATION  REQUEST-ID  ACTOR  URL\n");
  auto calls_json = Cli({"--json", "calls", "tenants/contoso"});
  ASSERT_EQ(calls_json.exit_code, 0) << calls_json.output;
  EXPECT_EQ(nlohmann::json::parse(calls_json.output).at("cloudCalls"), nlohmann::json::array());
  EXPECT_EQ(Cli({"calls", "onboardings/no-such-id"}).exit_code, 1);
  auto bad_parent = Cli({"calls", "batches/x"});
  EXPECT_EQ(bad_parent.exit_code, 64);
  EXPECT_THAT(bad_parent.output, HasSubstr("onboardings/ID, tenants/TENANT or just ID"));

  auto bad = Cli({"onboard", "--tenant", "contoso", "--email", "uk@fabrikam.com", "--first-name",
                  "A", "--last-name", "B", "--usage-location", "UK"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("GB"));

  auto failing = Cli({"onboard", "--tenant", "failing", "--email", "f@fabrikam.com", "--first-name",
                      "F", "--last-name", "G", "--usage-location", "FR", "--wait"});
  EXPECT_EQ(failing.exit_code, 2) << failing.output;

  auto tenants = Cli({"tenants"});
  EXPECT_EQ(tenants.exit_code, 0);
  EXPECT_THAT(tenants.output, HasSubstr("https://contoso.crm.dynamics.com"));
  auto plugins = Cli({"plugins"});
  EXPECT_EQ(plugins.exit_code, 0);
  EXPECT_THAT(plugins.output, HasSubstr("fake_invite"));
  auto cancel = Cli({"cancel", name});
  EXPECT_EQ(cancel.exit_code, 1) << "cancelling a finished onboarding fails";
}

// --- refusing to start ---------------------------------------------------

class StartupTest : public GuestflowdTest {
 protected:
  // Starts with `config_text`, expects exit code 1 and returns the log.
  std::string ExpectRefused(const std::string& config_text) {
    WriteFile(config_path(), config_text);
    ServerProcess server(config_path(), dir_.File("refused.log"));
    EXPECT_FALSE(server.Start());
    EXPECT_EQ(server.exit_code(), 1);
    std::string log = server.log();
    std::filesystem::remove(dir_.File("refused.log"));
    return log;
  }
};

TEST_F(StartupTest, AMissingPluginLibraryIsRefusedNamingTheFile) {
  const std::string log = ExpectRefused(ConfigText("fake_fail", ", no_such_plugin.so"));
  EXPECT_THAT(log, HasSubstr("no_such_plugin.so"));
}

TEST_F(StartupTest, AWrongAbiIsRefusedNamingTheFileAndBothVersions) {
  const std::string log = ExpectRefused(ConfigText("fake_fail", ", broken_abi_major.so"));
  EXPECT_THAT(log, HasSubstr("broken_abi_major.so"));
  EXPECT_THAT(log, HasSubstr("99."));
  EXPECT_THAT(log, HasSubstr("1.0"));
}

TEST_F(StartupTest, AnUnresolvedSymbolIsRefusedNamingTheFile) {
  EXPECT_THAT(ExpectRefused(ConfigText("fake_fail", ", broken_unresolved.so")),
              HasSubstr("broken_unresolved.so"));
}

TEST_F(StartupTest, ALibraryWithoutEntryPointIsRefusedNamingTheFile) {
  EXPECT_THAT(ExpectRefused(ConfigText("fake_fail", ", broken_no_entry.so")),
              HasSubstr("broken_no_entry.so"));
}

TEST_F(StartupTest, AnUnknownConfigKeyIsRefusedNamingTheKey) {
  std::string text = ConfigText();
  text = absl::StrReplaceAll(text, {{"  workers: 4\n", "  workers: 4\n  wrokers: 5\n"}});
  const std::string log = ExpectRefused(text);
  EXPECT_THAT(log, HasSubstr("engine.wrokers"));
  EXPECT_THAT(log, HasSubstr("guestflowd.yaml"));
}

TEST_F(StartupTest, APostgresStoreWithoutItsDsnVariableIsRefusedNamingIt) {
  std::string text = ConfigText();
  const size_t at = text.find("  sqlite: {path:");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, text.find('\n', at) - at, "  postgres: {dsn_env: GF_TEST_UNSET_PG_DSN}");
  const std::string log = ExpectRefused(text);
  EXPECT_THAT(log, HasSubstr("store.postgres.dsn_env"));
  EXPECT_THAT(log, HasSubstr("GF_TEST_UNSET_PG_DSN is not set"));
}

TEST_F(StartupTest, AnUnknownPluginNameForATenantIsRefused) {
  const std::string log = ExpectRefused(ConfigText("no_such_license_plugin"));
  EXPECT_THAT(log, HasSubstr("failing"));
  EXPECT_THAT(log, HasSubstr("no_such_license_plugin"));
}

}  // namespace
}  // namespace guestflow
