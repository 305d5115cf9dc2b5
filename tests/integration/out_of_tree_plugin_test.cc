// The plugin SDK as a third party sees it: install the SDK component of this
// build into a temp prefix, build plugins/examples/hello_notifier against that
// prefix alone (find_package(guestflow-plugin-sdk)), and let a real guestflowd
// load the result and run it as a tenant's notifier.
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/support/test_callers.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using ::guestflow::itest::ReadFile;
using ::guestflow::itest::RunResult;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using ::testing::HasSubstr;

// {dir} is the test's temp folder, {plugin_dir} the folder the plugins were
// copied to. `file` is relative: the host's base_dir (the config's folder)
// must reach the plugin.
constexpr char kConfigTemplate[] = R"(server:
  listen: 127.0.0.1:0
  plaintext: true
  plugin_dir: {plugin_dir}
  plugins: [fake_invite.so, fake_license.so, fake_role.so, hello_notifier.so]
  shutdown_grace: 10s
store:
  sqlite: {path: {dir}/guestflow.db}
engine:
  workers: 2
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
      notifier: {name: hello_notifier, settings: {file: hello.txt}}
)";

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + ":\n" + r.output;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

TEST(OutOfTreePluginTest, AnExampleBuiltAgainstTheInstalledSdkRunsAsANotifier) {
  TempDir dir;
  const std::string prefix = dir.File("prefix");
  const std::string example_build = dir.File("hello_build");
  const std::string plugin_dir = dir.File("plugins");

  // Only the SDK component: headers and the package config, no binaries.
  const RunResult install = itest::Run({CMAKE_BIN, "--install", GUESTFLOW_BUILD_DIR, "--component",
                                        "plugin_sdk", "--prefix", prefix});
  ASSERT_EQ(install.exit_code, 0) << Describe(install);
  ASSERT_TRUE(fs::exists(prefix + "/include/guestflow/plugin_sdk.h")) << install.output;
  ASSERT_TRUE(fs::exists(prefix + "/include/guestflow/plugin_abi.h")) << install.output;
  // Nothing but the SDK went in.
  EXPECT_FALSE(fs::exists(prefix + "/bin")) << install.output;

  // Package registries off: only the temp prefix may provide the SDK, never a
  // stray copy registered on the machine.
  const RunResult configure = itest::Run(
      {CMAKE_BIN, "-S", HELLO_NOTIFIER_SOURCE_DIR, "-B", example_build, "-G", CMAKE_GEN,
       "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_BUILD_TYPE=Release",
       "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF",
       "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"});
  ASSERT_EQ(configure.exit_code, 0) << Describe(configure);
  const RunResult build = itest::Run({CMAKE_BIN, "--build", example_build});
  ASSERT_EQ(build.exit_code, 0) << Describe(build);
  const std::string built = example_build + "/hello_notifier.so";
  ASSERT_TRUE(fs::exists(built)) << build.output;
  // The compile used the installed headers, not the tree's.
  const std::string commands = ReadFile(example_build + "/compile_commands.json");
  EXPECT_THAT(commands, HasSubstr(prefix + "/include"));
  EXPECT_THAT(commands, ::testing::Not(HasSubstr("plugins/sdk/include")));

  fs::create_directories(plugin_dir);
  fs::copy_file(built, plugin_dir + "/hello_notifier.so");
  for (const char* name : {"fake_invite.so", "fake_license.so", "fake_role.so"}) {
    fs::copy_file(std::string(PLUGIN_DIR) + "/" + name, plugin_dir + "/" + name);
  }

  const std::string config_path = dir.File("guestflowd.yaml");
  WriteFile(config_path,
            absl::StrCat(absl::StrReplaceAll(kConfigTemplate,
                                             {{"{plugin_dir}", plugin_dir}, {"{dir}", dir.path()}}),
                         test_callers::kCallersYaml));
  ServerProcess server(config_path, dir.File("guestflowd.log"));
  ASSERT_TRUE(server.Start()) << "guestflowd did not start (exit " << server.exit_code() << "):\n"
                              << server.log();
  auto stub = v1::OnboardingService::NewStub(server.Channel());

  v1::StartOnboardingRequest request;
  request.set_tenant("contoso");
  request.set_request_id("8a1c5a3e-0000-4000-8000-00000000beef");
  request.mutable_guest()->set_email("ada@fabrikam.com");
  request.mutable_guest()->set_first_name("Ada");
  request.mutable_guest()->set_last_name("Lovelace");
  request.mutable_guest()->set_usage_location("GB");
  v1::Onboarding started;
  grpc::Status status = stub->StartOnboarding(Ctx().get(), request, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::Onboarding done;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    v1::GetOnboardingRequest get;
    get.set_name(started.name());
    status = stub->GetOnboarding(Ctx().get(), get, &done);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (done.state() == v1::ONBOARDING_STATE_SUCCEEDED ||
        done.state() == v1::ONBOARDING_STATE_FAILED) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED) << done.DebugString() << server.log();
  ASSERT_GT(done.steps_size(), 0);
  EXPECT_EQ(done.steps(done.steps_size() - 1).plugin(), "hello_notifier");

  // The same request again is the same onboarding; nothing is added.
  v1::Onboarding again;
  status = stub->StartOnboarding(Ctx().get(), request, &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(again.name(), started.name());

  const std::string text = ReadFile(dir.File("hello.txt"));
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << text;
  EXPECT_THAT(lines[0], HasSubstr("ada@fabrikam.com"));
  EXPECT_THAT(lines[0], HasSubstr("https://contoso.crm.dynamics.com"));
  EXPECT_THAT(lines[0], HasSubstr(started.name()));
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace guestflow
