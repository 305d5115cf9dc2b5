// PluginHost with the fake plugins (real libraries): steps, outcomes, the
// input a plugin gets, the host callbacks, configuration errors.
#include "server/plugin_host/plugin_host.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/plugin_host/mock_http.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using ::testing::_;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::StrictMock;
using json = nlohmann::json;
using Kind = StepOutcome::Kind;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "plugin_host_test.XXXXXX").string();
    path_ = fs::path(mkdtemp(pattern.data()));
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<json> ReadJsonLines(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

TenantConfig Contoso() {
  TenantConfig t;
  t.id = "contoso";
  t.display_name = "Contoso Ltd";
  t.support_contact = "helpdesk@contoso.example";
  t.directory = "contoso.onmicrosoft.com";
  t.client_id = "11111111-2222-3333-4444-555555555555";
  t.authority_url = "http://login.example.test";
  t.graph_url = "http://graph.example.test";
  t.admin_url = "http://admin.example.test";
  t.instance_url = "https://contoso.crm4.dynamics.com";
  t.environment_id = "env-42";
  t.default_roles = {"Salesperson", "Basic User"};
  t.send_invitation_message = true;
  t.invitation_message = "Welcome to Contoso";
  t.update_dynamics_email = false;
  return t;
}

Config BaseConfig() {
  Config config;
  config.server.plugin_dir = GF_PLUGIN_DIR;
  config.server.plugins = {"fake_invite.so",   "fake_license.so",       "fake_role.so",
                           "fake_notifier.so", "fake_fail.so",          "fake_retry.so",
                           "fake_throw.so",    "fake_notifier_fail.so", "fake_notifier_retry.so"};
  return config;
}

Onboarding NewOnboarding() {
  Onboarding ob;
  ob.id = "ob-1";
  ob.tenant = "contoso";
  ob.guest = {"ada@example.com", "Ada", "Lovelace", "Ada Lovelace", "GB"};
  for (StepKind kind : kAllSteps) {
    Step s;
    s.kind = kind;
    ob.steps.push_back(s);
  }
  return ob;
}

class PluginHostTest : public ::testing::Test {
 protected:
  // Binds the four well-behaved fakes, all journaling to one file and
  // recording their input.
  void BindFakes(TenantConfig& t) {
    const std::string settings = json{
        {"journal", tmp_.File("journal.jsonl")},
        {"input_log",
         tmp_.File("input.jsonl")}}.dump();
    t.plugins["invite"] = {"fake_invite", settings};
    t.plugins["license"] = {"fake_license", settings};
    t.plugins["role"] = {"fake_role", settings};
    t.plugins["notifier"] = {"fake_notifier", settings};
  }

  std::unique_ptr<PluginHost> MakeHost(const Config& config) {
    auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
    EXPECT_TRUE(host.ok()) << host.status();
    return host.ok() ? *std::move(host) : nullptr;
  }

  std::unique_ptr<PluginHost> MakeHostWith(const std::string& kind, const std::string& plugin,
                                           const json& settings) {
    Config config = BaseConfig();
    TenantConfig t = Contoso();
    BindFakes(t);
    t.plugins[kind] = {plugin, settings.dump()};
    config.tenants.push_back(t);
    return MakeHost(config);
  }

  TempDir tmp_;
  FakeClock clock_;
  StrictMock<MockHttpClient> http_;
  StrictMock<MockTokenProvider> tokens_;
};

TEST_F(PluginHostTest, RunsEveryStepThroughTheTenantsPlugins) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  Onboarding ob = NewOnboarding();
  for (StepKind kind : kAllSteps) {
    StepOutcome outcome = host->Run(ob, kind);
    ASSERT_EQ(outcome.kind, Kind::kSucceeded) << StepName(kind) << ": " << outcome.error;
    EXPECT_FALSE(outcome.outputs.empty()) << StepName(kind);
    ob.FindStep(kind)->outputs = outcome.outputs;
    ob.FindStep(kind)->attempts = 1;
  }
  EXPECT_EQ(ob.FindStep(StepKind::kInvite)->outputs.at("invited_user_id"),
            "fake-user-ada@example.com");
  EXPECT_EQ(ob.FindStep(StepKind::kRole)->outputs.at("roles"), "Salesperson,Basic User");

  const std::vector<json> journal = ReadJsonLines(tmp_.File("journal.jsonl"));
  ASSERT_EQ(journal.size(), 5u);
  const std::vector<std::string> expected_plugins = {"fake_invite", "fake_invite", "fake_license",
                                                     "fake_role", "fake_notifier"};
  for (size_t i = 0; i < journal.size(); ++i) {
    EXPECT_EQ(journal[i]["step"], std::string(StepName(kAllSteps[i])));
    EXPECT_EQ(journal[i]["plugin"], expected_plugins[i]);
    EXPECT_EQ(journal[i]["onboarding"], "onboardings/ob-1");
    EXPECT_EQ(journal[i]["email"], "ada@example.com");
    EXPECT_EQ(journal[i]["attempt"], 1);
  }
  // The notifier got the instance URL and the redeem URL of the invite step.
  EXPECT_THAT(journal[4]["message"].get<std::string>(),
              AllOf(HasSubstr("https://contoso.crm4.dynamics.com"),
                    HasSubstr("https://invitations.example.test/redeem?user=ada@example.com")));
}

TEST_F(PluginHostTest, InputHasWhatAPluginNeeds) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  Onboarding ob = NewOnboarding();
  ob.FindStep(StepKind::kInvite)->outputs = {{"invited_user_id", "u-1"}};
  ob.FindStep(StepKind::kProfile)->outputs = {{"profile_updated", "true"}};
  ob.FindStep(StepKind::kRole)->attempts = 2;
  ob.FindStep(StepKind::kRole)->outputs = {{"systemuser_id", "su-9"}};
  ob.FindStep(StepKind::kNotify)->outputs = {{"should", "not appear"}};
  ob.options.send_invitation_message = false;  // overrides the tenant's true
  ASSERT_EQ(host->Run(ob, StepKind::kRole).kind, Kind::kSucceeded);

  const std::vector<json> inputs = ReadJsonLines(tmp_.File("input.jsonl"));
  ASSERT_EQ(inputs.size(), 1u);
  const json& in = inputs[0];
  EXPECT_EQ(in["onboarding"], "onboardings/ob-1");
  EXPECT_EQ(in["tenant"], "contoso");
  EXPECT_EQ(in["step"], "role");
  EXPECT_EQ(in["attempt"], 3);
  EXPECT_EQ(in["guest"], (json{{"email", "ada@example.com"},
                               {"first_name", "Ada"},
                               {"last_name", "Lovelace"},
                               {"display_name", "Ada Lovelace"},
                               {"usage_location", "GB"}}));
  EXPECT_EQ(in["options"], (json{{"roles", {"Salesperson", "Basic User"}},
                                 {"send_invitation_message", false},
                                 {"invitation_message", "Welcome to Contoso"},
                                 {"update_dynamics_email", false}}));
  EXPECT_EQ(in["tenant_settings"], (json{{"directory", "contoso.onmicrosoft.com"},
                                         {"client_id", "11111111-2222-3333-4444-555555555555"},
                                         {"authority_url", "http://login.example.test"},
                                         {"graph_url", "http://graph.example.test"},
                                         {"admin_url", "http://admin.example.test"},
                                         {"instance_url", "https://contoso.crm4.dynamics.com"},
                                         {"environment_id", "env-42"},
                                         {"display_name", "Contoso Ltd"},
                                         {"support_contact", "helpdesk@contoso.example"}}));
  EXPECT_EQ(in["outputs"], (json{{"invite", {{"invited_user_id", "u-1"}}},
                                 {"profile", {{"profile_updated", "true"}}},
                                 {"license", json::object()}}));
  EXPECT_EQ(in["step_outputs"], (json{{"systemuser_id", "su-9"}}));
}

TEST_F(PluginHostTest, RequestOptionsWinOverTenantDefaults) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  Onboarding ob = NewOnboarding();
  ob.options.roles = {"Delegate"};
  ob.options.invitation_message = "Hi Ada";
  ob.options.update_dynamics_email = true;
  ASSERT_EQ(host->Run(ob, StepKind::kInvite).kind, Kind::kSucceeded);
  const json in = ReadJsonLines(tmp_.File("input.jsonl")).at(0);
  EXPECT_EQ(in["options"], (json{{"roles", {"Delegate"}},
                                 {"send_invitation_message", true},
                                 {"invitation_message", "Hi Ada"},
                                 {"update_dynamics_email", true}}));
  EXPECT_EQ(in["attempt"], 1);
  EXPECT_EQ(in["outputs"], json::object());
}

TEST_F(PluginHostTest, RetryCarriesRetryAfterUntilTheAttemptSucceeds) {
  auto host =
      MakeHostWith("role", "fake_retry", {{"retry_after_ms", 1500}, {"succeed_on_attempt", 3}});
  ASSERT_NE(host, nullptr);
  Onboarding ob = NewOnboarding();
  for (int attempts = 0; attempts < 2; ++attempts) {
    ob.FindStep(StepKind::kRole)->attempts = attempts;
    StepOutcome outcome = host->Run(ob, StepKind::kRole);
    EXPECT_EQ(outcome.kind, Kind::kRetry);
    EXPECT_EQ(outcome.plugin, "fake_retry");
    EXPECT_EQ(outcome.retry_after, absl::Milliseconds(1500));
    EXPECT_EQ(outcome.error, absl::StrCat("throttled (test plugin), attempt ", attempts + 1));
    EXPECT_EQ(outcome.outputs.at("tries"), absl::StrCat(attempts + 1));
  }
  ob.FindStep(StepKind::kRole)->attempts = 2;
  StepOutcome outcome = host->Run(ob, StepKind::kRole);
  EXPECT_EQ(outcome.kind, Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("systemuser_id"), "fake-systemuser-ada@example.com");
}

TEST_F(PluginHostTest, WaitIsNotAFailureAndSeesItsEarlierOutputs) {
  auto host = MakeHostWith("role", "fake_retry",
                           {{"mode", "wait"}, {"retry_after_ms", 250}, {"succeed_on_poll", 3}});
  ASSERT_NE(host, nullptr);
  Onboarding ob = NewOnboarding();
  for (int poll = 1; poll <= 2; ++poll) {
    StepOutcome outcome = host->Run(ob, StepKind::kRole);
    ASSERT_EQ(outcome.kind, Kind::kWait);
    EXPECT_EQ(outcome.retry_after, absl::Milliseconds(250));
    EXPECT_EQ(outcome.error, "waiting for replication (test plugin)");
    EXPECT_EQ(outcome.outputs.at("polls"), absl::StrCat(poll));
    ob.FindStep(StepKind::kRole)->outputs = outcome.outputs;  // as the engine stores them
  }
  StepOutcome outcome = host->Run(ob, StepKind::kRole);
  EXPECT_EQ(outcome.kind, Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("polls"), "3");
}

TEST_F(PluginHostTest, PermanentFailureKeepsThePluginsMessage) {
  auto host = MakeHostWith("license", "fake_fail", json::object());
  ASSERT_NE(host, nullptr);
  StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kLicense);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_EQ(outcome.error, "no free seats (test plugin)");
  EXPECT_EQ(outcome.plugin, "fake_fail");
  EXPECT_FALSE(outcome.retry_after.has_value());
}

TEST_F(PluginHostTest, ExceptionIsStoppedAtTheBoundary) {
  auto host = MakeHostWith("notifier", "fake_throw", json::object());
  ASSERT_NE(host, nullptr);
  StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kNotify);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_EQ(outcome.error,
            "plugin fake_throw failed: exception in run_step: fake_throw: the notifier exploded "
            "(test plugin)");
  EXPECT_EQ(outcome.plugin, "fake_throw");
}

TEST_F(PluginHostTest, FallbackNotifierRunsWhenTheNotifierFailsForGood) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["notifier"] = {"fake_notifier_fail", "{}"};
  t.plugins["notifier_fallback"] = {"fake_notifier",
                                    json{{"journal", tmp_.File("fallback.jsonl")}}.dump()};
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  const StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kNotify);
  EXPECT_EQ(outcome.kind, Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.plugin, "fake_notifier");
  EXPECT_EQ(outcome.outputs.at("notified_via"), "fake_notifier");
  EXPECT_EQ(outcome.outputs.at("notifier_failed"),
            "fake_notifier_fail: no free seats (test plugin)");
  ASSERT_EQ(ReadJsonLines(tmp_.File("fallback.jsonl")).size(), 1u);

  // Other steps never fall back.
  EXPECT_EQ(host->Run(NewOnboarding(), StepKind::kInvite).plugin, "fake_invite");
  // The check covers the fallback too.
  auto checks = host->CheckTenant("contoso");
  ASSERT_TRUE(checks.ok());
  EXPECT_THAT(*checks, Contains(Field(&PluginCheck::name,
                                      "plugin notifier_fallback: fake_notifier loaded")));
}

TEST_F(PluginHostTest, AfterTheNotifierFailedRetriesGoStraightToTheFallback) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["notifier"] = {"fake_notifier_fail",
                           json{{"journal", tmp_.File("primary.jsonl")}}.dump()};
  t.plugins["notifier_fallback"] = {"fake_notifier_retry", json{{"retry_after_ms", 5}}.dump()};
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  Onboarding ob = NewOnboarding();
  StepOutcome first = host->Run(ob, StepKind::kNotify);
  EXPECT_EQ(first.kind, Kind::kRetry);
  EXPECT_EQ(first.plugin, "fake_notifier_retry");
  EXPECT_THAT(first.error, AllOf(HasSubstr("fallback notifier fake_notifier_retry: throttled"),
                                 HasSubstr("after notifier fake_notifier_fail: no free seats")));
  // The engine keeps the outputs and counts the attempt.
  Step* notify = ob.FindStep(StepKind::kNotify);
  for (const auto& [k, v] : first.outputs) notify->outputs[k] = v;
  notify->attempts = 2;
  const StepOutcome third = host->Run(ob, StepKind::kNotify);
  EXPECT_EQ(third.kind, Kind::kSucceeded) << third.error;
  EXPECT_EQ(third.plugin, "fake_notifier_retry");
  EXPECT_EQ(third.outputs.at("notifier_failed"), "fake_notifier_fail: no free seats (test plugin)");
  // The failed notifier ran once, not again on the retry.
  EXPECT_EQ(ReadJsonLines(tmp_.File("primary.jsonl")).size(), 1u);
}

TEST_F(PluginHostTest, BothNotifiersFailingNamesBoth) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["notifier"] = {"fake_notifier_fail", "{}"};
  t.plugins["notifier_fallback"] = {"fake_throw", "{}"};
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);
  const StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kNotify);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_EQ(outcome.plugin, "fake_throw");
  EXPECT_THAT(outcome.error,
              AllOf(HasSubstr("fallback notifier fake_throw"), HasSubstr("the notifier exploded"),
                    HasSubstr("after notifier fake_notifier_fail: no free seats")));
}

TEST_F(PluginHostTest, FallbackMustBeANotifier) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["notifier_fallback"] = {"fake_license", "{}"};
  config.tenants.push_back(t);
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(host.status().message(),
              AllOf(HasSubstr("notifier_fallback"), HasSubstr("of kind license")));
}

TEST_F(PluginHostTest, UnknownTenantIsAFailedOutcomeAndNotFound) {
  auto host = MakeHostWith("role", "fake_role", json::object());
  ASSERT_NE(host, nullptr);
  Onboarding ob = NewOnboarding();
  ob.tenant = "fabrikam";
  StepOutcome outcome = host->Run(ob, StepKind::kInvite);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("fabrikam"));
  EXPECT_EQ(host->PluginFor("fabrikam", StepKind::kInvite).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(host->CheckTenant("fabrikam").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PluginHostTest, PluginForNamesTheBoundPlugin) {
  auto host = MakeHostWith("role", "fake_retry", json::object());
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->PluginFor("contoso", StepKind::kInvite).value(), "fake_invite");
  EXPECT_EQ(host->PluginFor("contoso", StepKind::kProfile).value(), "fake_invite");
  EXPECT_EQ(host->PluginFor("contoso", StepKind::kRole).value(), "fake_retry");
  EXPECT_EQ(host->PluginFor("contoso", StepKind::kNotify).value(), "fake_notifier");
}

TEST_F(PluginHostTest, UnboundKindFailsTheStep) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins.erase("notifier");
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);
  StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kNotify);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("notifier"));
  EXPECT_EQ(host->PluginFor("contoso", StepKind::kNotify).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto checks = host->CheckTenant("contoso");
  ASSERT_TRUE(checks.ok());
  EXPECT_THAT(*checks, Contains(AllOf(Field(&PluginCheck::name, "plugin notifier: none"),
                                      Field(&PluginCheck::ok, false))));
}

TEST_F(PluginHostTest, ListPluginsSaysWhoUsesWhat) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  config.tenants.push_back(t);
  TenantConfig f = Contoso();
  f.id = "fabrikam";
  BindFakes(f);
  f.plugins["license"] = {"fake_fail", "{}"};
  config.tenants.push_back(f);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  const std::vector<PluginInfo> plugins = host->ListPlugins();
  ASSERT_EQ(plugins.size(), 9u);
  EXPECT_EQ(plugins[0].name, "fake_invite");
  EXPECT_EQ(plugins[0].kind, "invite");
  EXPECT_EQ(plugins[0].version, "1.0.0-test");
  EXPECT_EQ(plugins[0].abi_version, "1.0");
  EXPECT_EQ(plugins[0].file, fs::canonical(FAKE_INVITE_PLUGIN).string());
  EXPECT_THAT(plugins[0].tenants, ElementsAre("contoso", "fabrikam"));
  EXPECT_THAT(plugins[1].tenants, ElementsAre("contoso"));   // fake_license
  EXPECT_THAT(plugins[4].tenants, ElementsAre("fabrikam"));  // fake_fail
  EXPECT_TRUE(plugins[6].tenants.empty());                   // fake_throw
}

TEST_F(PluginHostTest, CheckTenantReportsLoadedPluginsAndTheirChecks) {
  auto host = MakeHostWith("role", "fake_role", {{"check_fail", "cannot reach Dataverse"}});
  ASSERT_NE(host, nullptr);
  auto checks = host->CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  EXPECT_THAT(*checks,
              Contains(AllOf(Field(&PluginCheck::name, "plugin invite: fake_invite loaded"),
                             Field(&PluginCheck::ok, true))));
  EXPECT_THAT(*checks,
              Contains(AllOf(Field(&PluginCheck::name, "plugin notifier: fake_notifier loaded"),
                             Field(&PluginCheck::ok, true))));
  EXPECT_THAT(*checks, Contains(AllOf(Field(&PluginCheck::name, "fake settings"),
                                      Field(&PluginCheck::ok, true))));
  EXPECT_THAT(*checks, Contains(AllOf(Field(&PluginCheck::name, "fake reachability"),
                                      Field(&PluginCheck::ok, false),
                                      Field(&PluginCheck::detail, "cannot reach Dataverse"))));
  // Four "loaded" entries, four "fake settings", one failure.
  EXPECT_EQ(checks->size(), 9u);
}

TEST_F(PluginHostTest, PluginsUseTheHostsHttpClientTokensAndClock) {
  setenv("GF_PLUGIN_HOST_TEST_SECRET", "s3cr3t-value", 1);
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.client_secret = {SecretRef::Source::kEnv, "GF_PLUGIN_HOST_TEST_SECRET"};
  t.plugins["invite"].settings_json = json{
      {"token_scope", "https://graph.microsoft.com/.default"},
      {"probe_url", "http://graph.example.test/v1.0/me"},
      {"report_time", true}}.dump();
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  EXPECT_CALL(tokens_, GetToken(AllOf(
                           Field(&TokenRequest::authority_url, "http://login.example.test"),
                           Field(&TokenRequest::directory, "contoso.onmicrosoft.com"),
                           Field(&TokenRequest::client_id, "11111111-2222-3333-4444-555555555555"),
                           Field(&TokenRequest::client_secret, "s3cr3t-value"),
                           Field(&TokenRequest::scope, "https://graph.microsoft.com/.default"))))
      .WillOnce(Return(std::string("tok-abcdef123456")));
  HttpResponse response;
  response.status = 203;
  response.headers = {{"Content-Type", "application/json"}, {"x-probe", "yes"}};
  response.body = R"({"id":"me"})";
  EXPECT_CALL(
      http_,
      Send(AllOf(Field(&HttpRequest::method, "GET"),
                 Field(&HttpRequest::url, "http://graph.example.test/v1.0/me"),
                 Field(&HttpRequest::service, "probe"),
                 Field(&HttpRequest::headers,
                       ElementsAre(AllOf(Field(&HttpHeader::name, "Authorization"),
                                         Field(&HttpHeader::value, "Bearer tok-abcdef123456")))))))
      .WillOnce(Return(response));

  clock_.Set(absl::FromUnixMillis(1767225600123));
  ::testing::internal::CaptureStderr();
  StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kInvite);
  const std::string log = ::testing::internal::GetCapturedStderr();

  ASSERT_EQ(outcome.kind, Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("token_ok"), "true");
  EXPECT_EQ(outcome.outputs.at("probe_status"), "203");
  EXPECT_EQ(outcome.outputs.at("probe_body"), R"({"id":"me"})");
  EXPECT_EQ(outcome.outputs.at("probe_header"), "yes");
  EXPECT_EQ(outcome.outputs.at("probe_error"), "");
  EXPECT_EQ(outcome.outputs.at("now_unix_ms"), "1767225600123");
  // The plugin logged its token; the host redacted it.
  EXPECT_THAT(log, AllOf(HasSubstr("got token [REDACTED]"), HasSubstr("plugin=fake_invite"),
                         HasSubstr("onboarding=ob-1"), Not(HasSubstr("tok-abcdef123456"))));
  unsetenv("GF_PLUGIN_HOST_TEST_SECRET");
}

TEST_F(PluginHostTest, TokenErrorsReachThePluginWithPermanence) {
  setenv("GF_PLUGIN_HOST_TEST_SECRET", "s3cr3t-value", 1);
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.client_secret = {SecretRef::Source::kEnv, "GF_PLUGIN_HOST_TEST_SECRET"};
  t.plugins["invite"].settings_json = R"({"token_scope": "https://graph.microsoft.com/.default"})";
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);

  EXPECT_CALL(tokens_, GetToken(_))
      .WillOnce(Return(absl::PermissionDeniedError("invalid_client: AADSTS7000215")))
      .WillOnce(Return(absl::UnavailableError("HTTP 503")));
  StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kInvite);
  EXPECT_EQ(outcome.outputs.at("token_ok"), "false");
  EXPECT_EQ(outcome.outputs.at("token_permanent"), "true");
  EXPECT_EQ(outcome.outputs.at("token_error"), "invalid_client: AADSTS7000215");
  outcome = host->Run(NewOnboarding(), StepKind::kInvite);
  EXPECT_EQ(outcome.outputs.at("token_permanent"), "false");
  EXPECT_EQ(outcome.outputs.at("token_error"), "HTTP 503");
  unsetenv("GF_PLUGIN_HOST_TEST_SECRET");
}

TEST_F(PluginHostTest, MissingSecretIsAPermanentTokenErrorWithoutAskingTheProvider) {
  unsetenv("GF_PLUGIN_HOST_TEST_UNSET");
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.client_secret = {SecretRef::Source::kEnv, "GF_PLUGIN_HOST_TEST_UNSET"};
  t.plugins["invite"].settings_json = R"({"token_scope": "https://graph.microsoft.com/.default"})";
  config.tenants.push_back(t);
  auto host = MakeHost(config);
  ASSERT_NE(host, nullptr);
  // StrictMock: any GetToken call fails the test.
  StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kInvite);
  EXPECT_EQ(outcome.outputs.at("token_ok"), "false");
  EXPECT_EQ(outcome.outputs.at("token_permanent"), "true");
  EXPECT_THAT(outcome.outputs.at("token_error"),
              AllOf(HasSubstr("contoso"), HasSubstr("GF_PLUGIN_HOST_TEST_UNSET")));
}

TEST_F(PluginHostTest, TransportErrorsAndMalformedRequestsReachThePlugin) {
  auto host = MakeHostWith("invite", "fake_invite", {{"probe_url", "http://graph.example.test/x"}});
  ASSERT_NE(host, nullptr);
  EXPECT_CALL(http_, Send(_))
      .WillOnce(Return(absl::UnavailableError("GET http://graph.example.test/x: connect failed")))
      .WillOnce(Return(absl::InvalidArgumentError("bad URL")));
  StepOutcome outcome = host->Run(NewOnboarding(), StepKind::kInvite);
  EXPECT_EQ(outcome.outputs.at("probe_status"), "0");
  EXPECT_EQ(outcome.outputs.at("probe_error"), "GET http://graph.example.test/x: connect failed");
  outcome = host->Run(NewOnboarding(), StepKind::kInvite);
  EXPECT_EQ(outcome.outputs.at("probe_status"), "0");
  EXPECT_EQ(outcome.outputs.at("probe_error"), "malformed request: bad URL");
}

TEST_F(PluginHostTest, OneInstanceRunsStepsFromManyThreads) {
  auto host = MakeHostWith("invite", "fake_invite",
                           {{"journal", tmp_.File("parallel.jsonl")}, {"delay_ms", 20}});
  ASSERT_NE(host, nullptr);
  constexpr int kThreads = 8;
  std::vector<StepOutcome> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Onboarding ob = NewOnboarding();
      ob.id = absl::StrCat("ob-", i);
      ob.guest.email = absl::StrCat("guest", i, "@example.com");
      outcomes[i] = host->Run(ob, StepKind::kInvite);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_EQ(outcomes[i].kind, Kind::kSucceeded) << outcomes[i].error;
    EXPECT_EQ(outcomes[i].outputs.at("invited_user_id"),
              absl::StrCat("fake-user-guest", i, "@example.com"));
  }
  EXPECT_EQ(ReadJsonLines(tmp_.File("parallel.jsonl")).size(), static_cast<size_t>(kThreads));
}

// ---- configuration errors ----

TEST_F(PluginHostTest, UnknownPluginNameIsRefusedNamingTenantKindAndPlugin) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["license"] = {"graph_license", "{}"};
  config.tenants.push_back(t);
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(),
              AllOf(HasSubstr("contoso"), HasSubstr("license"), HasSubstr("graph_license")));
}

TEST_F(PluginHostTest, PluginOfTheWrongKindIsRefused) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["license"] = {"fake_invite", "{}"};
  config.tenants.push_back(t);
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(),
              AllOf(HasSubstr("tenant contoso"), HasSubstr("plugin kind license"),
                    HasSubstr("plugin fake_invite"), HasSubstr("of kind invite")));
}

TEST_F(PluginHostTest, UnknownKindIsRefused) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["mailer"] = {"fake_notifier", "{}"};
  config.tenants.push_back(t);
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(), AllOf(HasSubstr("contoso"), HasSubstr("mailer")));
}

TEST_F(PluginHostTest, DuplicatePluginNamesAreRefusedNamingBothFiles) {
  fs::create_directories(tmp_.path() / "plugins");
  fs::copy_file(FAKE_INVITE_PLUGIN, tmp_.path() / "plugins" / "a.so");
  fs::copy_file(FAKE_INVITE_PLUGIN, tmp_.path() / "plugins" / "b.so");
  Config config;
  config.server.plugin_dir = (tmp_.path() / "plugins").string();
  config.server.plugins = {"a.so", "b.so"};
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(),
              AllOf(HasSubstr("fake_invite"), HasSubstr("a.so"), HasSubstr("b.so")));
}

TEST_F(PluginHostTest, FailedCreateIsRefusedWithThePluginsError) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["role"] = {"fake_role", R"({"fail_create": "unknown business unit"})"};
  config.tenants.push_back(t);
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(), AllOf(HasSubstr("contoso"), HasSubstr("fake_role"),
                                             HasSubstr("unknown business unit")));
}

TEST_F(PluginHostTest, SettingsThatAreNotAnObjectAreRefused) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["role"] = {"fake_role", "[1, 2"};
  config.tenants.push_back(t);
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(), AllOf(HasSubstr("contoso"), HasSubstr("fake_role")));
}

TEST_F(PluginHostTest, LoaderErrorsStopCreate) {
  Config config = BaseConfig();
  config.server.plugins.push_back("broken_abi_major.so");
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_});
  ASSERT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(), AllOf(HasSubstr("broken_abi_major.so"), HasSubstr("99.0")));
}

// ---- rate limits ----

TEST_F(PluginHostTest, PluginsRequestsGoThroughTheHostsRateLimiter) {
  Config config = BaseConfig();
  TenantConfig t = Contoso();
  BindFakes(t);
  t.plugins["invite"].settings_json =
      json{{"probe_url", "http://graph.example.test/v1.0/me"}}.dump();
  config.tenants.push_back(t);
  auto limiter = std::make_shared<RateLimiter>(LimitsConfig{},
                                               RateLimiterOptions{&clock_, absl::Milliseconds(1)});
  auto host = PluginHost::Create(config, {&clock_, &http_, &tokens_, limiter});
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ((*host)->services().limiter, limiter);

  HttpResponse throttled;
  throttled.status = 429;
  throttled.headers = {{"Retry-After", "60"}};
  // Once: the second run's request must not leave.
  EXPECT_CALL(http_, Send(Field(&HttpRequest::service, "probe"))).WillOnce(Return(throttled));
  StepOutcome outcome = (*host)->Run(NewOnboarding(), StepKind::kInvite);
  EXPECT_EQ(outcome.outputs.at("probe_status"), "429");

  // The pause covers the tenant's later requests to the same service; 60 s is
  // past max_wait, so the plugin is told at once.
  outcome = (*host)->Run(NewOnboarding(), StepKind::kInvite);
  EXPECT_EQ(outcome.outputs.at("probe_status"), "429");
  const std::vector<RateKeyStats> stats = limiter->Snapshot();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].key.service, "probe");
  EXPECT_EQ(stats[0].key.app, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(stats[0].sent, 1);
  EXPECT_EQ(stats[0].cloud_429, 1);
  EXPECT_EQ(stats[0].throttled, 1);
  EXPECT_EQ(stats[0].paused_until, clock_.Now() + absl::Seconds(60));
}

}  // namespace
}  // namespace guestflow
