// The notifiers end to end: a real guestflowd whose tenants each tell their
// guests through their own channel (a real SMTP server, a real webhook
// receiver checking signatures, Graph sendMail on a real emulator process),
// failures recorded on the onboarding, the fallback notifier, a bad template
// refused at config load, and a tenant's notifier swapped by ReloadConfig
// while onboardings are in flight. The invite, license and role steps run on
// the fake plugins: what is under test here is the notify step.
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

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
#include "tests/support/mime_message.h"
#include "tests/support/smtp_peer.h"
#include "tests/support/test_callers.h"
#include "tests/support/webhook_receiver.h"

namespace guestflow {
namespace {

using ::guestflow::itest::EmulatorProcess;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kHookSecret[] = "e2e-webhook-secret";
constexpr char kSender[] = "admin@contoso.onmicrosoft.com";  // a mailbox of the fixture

class NotifierE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator_ = std::make_unique<EmulatorProcess>(GUESTFLOW_DEMO_FIXTURE, dir_.File("emu.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
  }

  // A tenant on the fake invite/license/role plugins whose notifier binding
  // is `notifier` (a YAML flow mapping), plus `extra` plugin bindings.
  std::string Tenant(const std::string& id, const std::string& notifier,
                     const std::string& extra = "", const std::string& invite_settings = "{}") {
    return absl::StrCat(R"(
  - id: )",
                        id, R"(
    display_name: Contoso Ltd
    support_contact: helpdesk@contoso.example
    azure:
      tenant_id: 6f0c1b1e-3b7a-4c55-9a53-2d1f6f6e0c01
      client_id: 0b8f4c8e-7f4a-4f0f-9b1a-5c3d2e1f0a01
      client_secret: {env: CONTOSO_CLIENT_SECRET}
      authority_url: )",
                        emulator_->url(), R"(
      graph_url: )",
                        emulator_->url(), R"(
    dynamics:
      instance_url: https://contoso.crm4.dynamics.com
    plugins:
      invite: {name: fake_invite, settings: )",
                        invite_settings, R"(}
      license: {name: fake_license}
      role: {name: fake_role}
      notifier: )",
                        notifier, "\n", extra);
  }

  std::string Smtp(int port) const {
    return absl::StrCat("{name: smtp_notifier, settings: {host: 127.0.0.1, port: ", port,
                        ", security: none, from: \"Contoso IT <it@contoso.example>\"}}");
  }
  std::string Hook(const testing::WebhookReceiver& receiver) const {
    return absl::StrCat("{name: webhook_notifier, settings: {url: \"", receiver.Url(),
                        "\", format: generic, secret: {env: HOOK_SECRET}}}");
  }
  std::string GraphMail() const {
    return absl::StrCat("{name: graph_mail_notifier, settings: {sender: ", kSender, "}}");
  }

  std::string Config(const std::string& tenants) const {
    return absl::StrCat(R"(server:
  listen: 127.0.0.1:0
  plaintext: true
  plugin_dir: )",
                        PLUGIN_DIR, R"(
  plugins: [fake_invite.so, fake_license.so, fake_role.so, smtp_notifier.so,
            webhook_notifier.so, graph_mail_notifier.so]
store:
  sqlite: {path: )",
                        dir_.File("guestflow.db"), R"(}
engine:
  workers: 4
  max_attempts: 3
  backoff_initial: 100ms
  backoff_max: 300ms
tenants:)",
                        tenants, test_callers::kCallersYaml);
  }

  bool StartServer(const std::string& tenants) {
    WriteFile(dir_.File("guestflowd.yaml"), Config(tenants));
    server_ = std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("gf.log"));
    server_->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
    server_->SetEnv("HOOK_SECRET", kHookSecret);
    if (!server_->Start()) return false;
    onboarding_ = v1::OnboardingService::NewStub(server_->Channel());
    admin_ = v1::AdminService::NewStub(server_->Channel());
    return true;
  }

  // Rewrites the config and reloads it; the status of ReloadConfig.
  grpc::Status Reload(const std::string& tenants) {
    WriteFile(dir_.File("guestflowd.yaml"), Config(tenants));
    v1::ReloadConfigResponse reloaded;
    return admin_->ReloadConfig(Ctx().get(), v1::ReloadConfigRequest(), &reloaded);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() { return itest::Deadline(); }

  v1::Onboarding Start(const std::string& tenant, const std::string& email) {
    v1::Onboarding o;
    const grpc::Status s =
        onboarding_->StartOnboarding(Ctx().get(), itest::GuestRequest(tenant, email), &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  v1::Onboarding WaitForEnd(const std::string& name, int seconds = 60) {
    return itest::WaitForEnd(*onboarding_, name, seconds);
  }

  static const v1::Step& NotifyStep(const v1::Onboarding& o) { return o.steps(o.steps_size() - 1); }

  json GraphMails() const {
    httplib::Client client(emulator_->url());
    auto res = client.Get("/_emulator/mail");
    EXPECT_TRUE(res && res->status == 200);
    return res ? json::parse(res->body)["value"] : json::array();
  }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::OnboardingService::Stub> onboarding_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(NotifierE2eTest, EachTenantTellsItsGuestsThroughItsOwnChannel) {
  testing::SmtpPeer smtp;
  testing::WebhookReceiver hook(kHookSecret);
  ASSERT_TRUE(StartServer(Tenant("by-mail", Smtp(smtp.port())) + Tenant("by-hook", Hook(hook)) +
                          Tenant("by-graph", GraphMail())))
      << server_->log();

  const v1::Onboarding a = Start("by-mail", "ada@fabrikam.com");
  const v1::Onboarding b = Start("by-hook", "grace@fabrikam.com");
  const v1::Onboarding c = Start("by-graph", "alan@fabrikam.com");
  for (const v1::Onboarding& started : {a, b, c}) {
    const v1::Onboarding done = WaitForEnd(started.name());
    ASSERT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED) << done.DebugString() << server_->log();
  }
  EXPECT_EQ(NotifyStep(WaitForEnd(a.name())).plugin(), "smtp_notifier");
  EXPECT_EQ(NotifyStep(WaitForEnd(b.name())).plugin(), "webhook_notifier");
  EXPECT_EQ(NotifyStep(WaitForEnd(c.name())).plugin(), "graph_mail_notifier");

  // SMTP: one message, to Ada only, telling her both URLs.
  const auto mails = smtp.Received();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].rcpt_tos, std::vector<std::string>{"ada@fabrikam.com"});
  const testing::MimeMessage m = testing::ParseMime(mails[0].raw);
  EXPECT_THAT(m.text, AllOf(HasSubstr("https://contoso.crm4.dynamics.com"),
                            HasSubstr("https://invitations.example.test/redeem?user=ada"),
                            HasSubstr("helpdesk@contoso.example")));

  // Webhook: one signed delivery, about Grace.
  const auto deliveries = hook.Deliveries();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_TRUE(deliveries[0].signature_valid) << deliveries[0].signature_error;
  const json payload = json::parse(deliveries[0].body);
  EXPECT_EQ(payload["guest"]["email"], "grace@fabrikam.com");
  EXPECT_EQ(payload["instance_url"], "https://contoso.crm4.dynamics.com");

  // Graph: one sendMail, to Alan.
  const json graph = GraphMails();
  ASSERT_EQ(graph.size(), 1u) << graph.dump();
  EXPECT_EQ(graph[0]["message"]["toRecipients"][0]["emailAddress"]["address"], "alan@fabrikam.com");
}

TEST_F(NotifierE2eTest, AFailedNotificationSaysWhichNotifierFailedAndWhy) {
  testing::SmtpPeer smtp;
  testing::WebhookReceiver hook(kHookSecret);
  hook.Script({{400, "invalid_payload"}});
  ASSERT_TRUE(StartServer(Tenant("by-mail", Smtp(smtp.port())) + Tenant("by-hook", Hook(hook))))
      << server_->log();

  // A recipient the SMTP server refuses: permanent, at once.
  const v1::Onboarding refused = WaitForEnd(Start("by-mail", "refuse-me@fabrikam.com").name());
  ASSERT_EQ(refused.state(), v1::ONBOARDING_STATE_FAILED) << refused.DebugString();
  EXPECT_EQ(NotifyStep(refused).plugin(), "smtp_notifier");
  EXPECT_EQ(NotifyStep(refused).attempts(), 1);
  EXPECT_THAT(NotifyStep(refused).last_error(),
              AllOf(HasSubstr("550"), HasSubstr("Recipient address rejected")));
  EXPECT_THAT(refused.error(), HasSubstr("Recipient address rejected"));

  // A webhook that answers 400: permanent, with the receiver's words.
  const v1::Onboarding rejected = WaitForEnd(Start("by-hook", "grace@fabrikam.com").name());
  ASSERT_EQ(rejected.state(), v1::ONBOARDING_STATE_FAILED) << rejected.DebugString();
  EXPECT_EQ(NotifyStep(rejected).plugin(), "webhook_notifier");
  EXPECT_THAT(NotifyStep(rejected).last_error(),
              AllOf(HasSubstr("400"), HasSubstr("invalid_payload")));

  // A mailbox the server keeps deferring (451): retried, then failed after
  // engine.max_attempts, with the last reason.
  const v1::Onboarding deferred = WaitForEnd(Start("by-mail", "busy-box@fabrikam.com").name());
  ASSERT_EQ(deferred.state(), v1::ONBOARDING_STATE_FAILED) << deferred.DebugString();
  EXPECT_EQ(NotifyStep(deferred).attempts(), 3);
  EXPECT_THAT(NotifyStep(deferred).last_error(), HasSubstr("451"));
  EXPECT_TRUE(smtp.Received().empty());
}

TEST_F(NotifierE2eTest, TheFallbackNotifierTellsTheGuestWhenTheFirstFailsForGood) {
  testing::SmtpPeer smtp;
  testing::WebhookReceiver hook(kHookSecret);
  ASSERT_TRUE(StartServer(Tenant("contoso", Smtp(smtp.port()),
                                 absl::StrCat("      notifier_fallback: ", Hook(hook), "\n"))))
      << server_->log();

  const v1::Onboarding done = WaitForEnd(Start("contoso", "refuse-me@fabrikam.com").name());
  ASSERT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED) << done.DebugString() << server_->log();
  const v1::Step& notify = NotifyStep(done);
  EXPECT_EQ(notify.plugin(), "webhook_notifier");
  ASSERT_TRUE(notify.outputs().count("notifier_failed")) << done.DebugString();
  EXPECT_THAT(notify.outputs().at("notifier_failed"),
              AllOf(HasSubstr("smtp_notifier: "), HasSubstr("550")));
  ASSERT_EQ(hook.Deliveries().size(), 1u);
  EXPECT_EQ(json::parse(hook.Deliveries()[0].body)["guest"]["email"], "refuse-me@fabrikam.com");

  // A guest the first notifier can reach never goes to the fallback.
  const v1::Onboarding direct = WaitForEnd(Start("contoso", "ada@fabrikam.com").name());
  ASSERT_EQ(direct.state(), v1::ONBOARDING_STATE_SUCCEEDED);
  EXPECT_EQ(NotifyStep(direct).plugin(), "smtp_notifier");
  EXPECT_EQ(smtp.Received().size(), 1u);
  EXPECT_EQ(hook.Deliveries().size(), 1u);
}

TEST_F(NotifierE2eTest, ATemplateErrorIsFoundWhenTheConfigLoads) {
  testing::SmtpPeer smtp;
  const std::string bad = absl::StrCat(
      "{name: smtp_notifier, settings: {host: 127.0.0.1, port: ", smtp.port(),
      ", security: none, from: it@contoso.example, template: {text: \"Hi {{guest.nmae}}\"}}}");
  EXPECT_FALSE(StartServer(Tenant("contoso", bad)));
  EXPECT_THAT(server_->log(),
              AllOf(HasSubstr("contoso"), HasSubstr("template.text"), HasSubstr("'guest.nmae'")));

  // At reload, the same mistake is refused and the running notifier stays.
  ASSERT_TRUE(StartServer(Tenant("contoso", Smtp(smtp.port())))) << server_->log();
  const grpc::Status s = Reload(Tenant("contoso", bad));
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("'guest.nmae'"));
  const v1::Onboarding done = WaitForEnd(Start("contoso", "ada@fabrikam.com").name());
  EXPECT_EQ(done.state(), v1::ONBOARDING_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(smtp.Received().size(), 1u);
}

// ReloadConfig swaps the tenant's notifier between SMTP and the webhook
// while onboardings run: every guest is told exactly once, through the
// notifier that was bound when its notify step ran (which its record names).
TEST_F(NotifierE2eTest, SwappingTheNotifierUnderLoadLosesAndDuplicatesNothing) {
  testing::SmtpPeer smtp;
  testing::WebhookReceiver hook(kHookSecret);
  // A slow invite keeps several guests in flight at every swap.
  const std::string slow = "{delay_ms: 40}";
  const std::string by_mail = Tenant("contoso", Smtp(smtp.port()), "", slow);
  const std::string by_hook = Tenant("contoso", Hook(hook), "", slow);
  ASSERT_TRUE(StartServer(by_mail)) << server_->log();

  // Swap every 100 ms until every onboarding has ended, while guests arrive
  // one every 25 ms: their notify steps spread over many swaps.
  constexpr int kGuests = 48;
  std::atomic<bool> done{false};
  std::atomic<int> reloads{0};
  std::thread swapper([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const grpc::Status s = Reload(reloads.load() % 2 == 0 ? by_hook : by_mail);
      EXPECT_TRUE(s.ok()) << s.error_message();
      reloads.fetch_add(1);
    }
  });
  std::vector<std::string> names;
  for (int i = 0; i < kGuests; ++i) {
    names.push_back(Start("contoso", absl::StrCat("guest", i, "@fabrikam.com")).name());
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::vector<v1::Onboarding> ended;
  for (const std::string& name : names) ended.push_back(WaitForEnd(name, 120));
  done.store(true);
  swapper.join();

  std::map<std::string, std::string> plugin_of;  // email -> notify step's plugin
  for (const v1::Onboarding& o : ended) {
    ASSERT_EQ(o.state(), v1::ONBOARDING_STATE_SUCCEEDED) << o.DebugString();
    plugin_of[o.guest().email()] = NotifyStep(o).plugin();
  }
  std::multiset<std::string> mailed, hooked;
  for (const auto& m : smtp.Received()) mailed.insert(m.rcpt_tos.at(0));
  for (const auto& d : hook.Deliveries()) {
    EXPECT_TRUE(d.signature_valid) << d.signature_error;
    hooked.insert(json::parse(d.body)["guest"]["email"].get<std::string>());
  }
  EXPECT_EQ(mailed.size() + hooked.size(), static_cast<size_t>(kGuests)) << "none lost or doubled";
  for (const auto& [email, plugin] : plugin_of) {
    const std::multiset<std::string>& expected = plugin == "smtp_notifier" ? mailed : hooked;
    const std::multiset<std::string>& other = plugin == "smtp_notifier" ? hooked : mailed;
    EXPECT_EQ(expected.count(email), 1u) << email << " was notified by " << plugin;
    EXPECT_EQ(other.count(email), 0u) << email;
  }
  // Both channels were used: the swap happened while guests were in flight.
  EXPECT_GT(mailed.size(), 0u);
  EXPECT_GT(hooked.size(), 0u);
  std::printf("notifier swap: %d guests, %d reloads, %zu by SMTP, %zu by webhook\n", kGuests,
              reloads.load(), mailed.size(), hooked.size());
}

}  // namespace
}  // namespace guestflow
