// The graph_mail_notifier plugin (step `notify`) loaded by the real
// PluginHost, talking to the in-process emulator's Graph sendMail over HTTP
// with real OAuth2 tokens: the mail it sends (read back from
// /_emulator/mail), that a step that already sent sends nothing again, and
// how it treats an unknown sender, throttling and a failing Graph.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/cloud/cloud_test_env.h"

namespace guestflow::cloudtest {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr char kPlugin[] = "graph_mail_notifier.so";
constexpr char kSender[] = "admin@contoso.onmicrosoft.com";
constexpr char kRedeemUrl[] =
    "https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem"
    "%2f%3ftenant%3d6f0c1b1e%26user%3d1234";

class GraphMailNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<CloudTestEnv>();
    // The emulator's accept loop starts on its own thread; an environment
    // stopped before that loop runs would wait forever in its destructor.
    httplib::Client client(env_->base_url());
    for (int i = 0; i < 200; ++i) {
      auto res = client.Get("/_emulator/health");
      if (res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the emulator does not answer";
  }
  void TearDown() override { host_.reset(); }

  PluginHost& Host(const json& settings) {
    host_ = env_->MakeHost(
        {kPlugin}, {env_->ContosoTenant(
                       {{"notifier", PluginBinding{"graph_mail_notifier", settings.dump()}}})});
    EXPECT_NE(host_, nullptr);
    return *host_;
  }

  // An onboarding whose invite step left a redeem URL (unless empty).
  static Onboarding Invited(const std::string& email, const std::string& redeem_url = kRedeemUrl) {
    Onboarding o = CloudTestEnv::NewOnboarding("contoso", email);
    if (!redeem_url.empty()) {
      o.FindStep(StepKind::kInvite)->outputs["invite_redeem_url"] = redeem_url;
    }
    return o;
  }

  json Mails() const { return env_->GetJson("/_emulator/mail")["value"]; }
  int MailsSentBy(const std::string& sender) const {
    const json counters = env_->GetJson("/_emulator/counters")["mails_sent"];
    return counters.contains(sender) ? counters[sender].get<int>() : 0;
  }
  std::string InstanceUrl() const { return env_->base_url() + "/orgs/contoso"; }

  std::map<std::string, PluginCheck> Checks(PluginHost& host) {
    std::map<std::string, PluginCheck> by_name;
    absl::StatusOr<std::vector<PluginCheck>> checks = host.CheckTenant("contoso");
    EXPECT_TRUE(checks.ok()) << checks.status();
    if (checks.ok()) {
      for (const PluginCheck& c : *checks) by_name[c.name] = c;
    }
    return by_name;
  }

  std::unique_ptr<CloudTestEnv> env_;
  std::unique_ptr<PluginHost> host_;
};

TEST_F(GraphMailNotifierTest, SendsOneMailWithBothUrlsToTheGuest) {
  // A text-only template of the organization's.
  PluginHost& host =
      Host({{"sender", kSender}, {"template", {{"subject", "Welcome to Contoso"}, {"html", ""}}}});
  Onboarding o = Invited("ada@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kNotify);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs["mail_sent"], "true");
  EXPECT_THAT(outcome.outputs["mail_sent_at"],
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));

  const json mails = Mails();
  ASSERT_EQ(mails.size(), 1u) << mails.dump();
  const json& mail = mails[0];
  EXPECT_EQ(mail["sender"], kSender);
  EXPECT_EQ(mail["saveToSentItems"], false);
  const json& message = mail["message"];
  EXPECT_EQ(message["subject"], "Welcome to Contoso");
  EXPECT_EQ(message["body"]["contentType"], "Text");
  const std::string content = message["body"]["content"];
  EXPECT_THAT(content, HasSubstr(InstanceUrl()));
  EXPECT_THAT(content, HasSubstr(kRedeemUrl));
  EXPECT_THAT(content, HasSubstr("Ada ada"));
  ASSERT_EQ(message["toRecipients"].size(), 1u);
  EXPECT_EQ(message["toRecipients"][0]["emailAddress"]["address"], "ada@fabrikam.com");
  EXPECT_EQ(message["toRecipients"][0]["emailAddress"]["name"], "Ada ada");
  EXPECT_EQ(MailsSentBy(kSender), 1);
}

TEST_F(GraphMailNotifierTest, WithoutARedeemUrlOnlyTheInstanceUrlIsSent) {
  PluginHost& host = Host({{"sender", kSender}});
  Onboarding o = Invited("existing@fabrikam.com", /*redeem_url=*/"");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kNotify);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  const json mails = Mails();
  ASSERT_EQ(mails.size(), 1u);
  // The default template: HTML, as Graph's body takes one content type.
  EXPECT_THAT(mails[0]["message"]["subject"].get<std::string>(), HasSubstr("Your access to "));
  EXPECT_EQ(mails[0]["message"]["body"]["contentType"], "HTML");
  const std::string content = mails[0]["message"]["body"]["content"];
  EXPECT_THAT(content, HasSubstr("<a href=\"" + InstanceUrl() + "\">"));
  EXPECT_THAT(content, Not(HasSubstr("redeem")));
}

TEST_F(GraphMailNotifierTest, RunningTheStepAgainSendsNothingNew) {
  PluginHost& host = Host({{"sender", kSender}});
  Onboarding o = Invited("twice@fabrikam.com");
  ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kNotify).kind, StepOutcome::Kind::kSucceeded);
  const std::string sent_at = o.FindStep(StepKind::kNotify)->outputs["mail_sent_at"];
  for (int i = 0; i < 2; ++i) {
    StepOutcome again = CloudTestEnv::RunStep(host, o, StepKind::kNotify);
    EXPECT_EQ(again.kind, StepOutcome::Kind::kSucceeded) << again.error;
  }
  EXPECT_EQ(Mails().size(), 1u);
  EXPECT_EQ(MailsSentBy(kSender), 1);
  EXPECT_EQ(o.FindStep(StepKind::kNotify)->outputs["mail_sent_at"], sent_at);
}

TEST_F(GraphMailNotifierTest, AnUnknownSenderFailsNamingTheMailbox) {
  PluginHost& host = Host({{"sender", "nobody@contoso.onmicrosoft.com"}});
  Onboarding o = Invited("lost@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kNotify);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error,
              HasSubstr("sender mailbox nobody@contoso.onmicrosoft.com not found in the tenant"));
  EXPECT_FALSE(outcome.outputs.count("mail_sent"));
  EXPECT_EQ(Mails().size(), 0u);
}

TEST_F(GraphMailNotifierTest, AThrottlingGraphIsRetriedAfterItsRetryAfter) {
  // The emulator does not throttle sendMail (Outlook's per-mailbox limits are
  // not modelled), so a stand-in Graph answers 429; tokens still come from
  // the emulator.
  httplib::Server throttled;
  throttled.set_keep_alive_max_count(1);
  std::atomic<int> requests{0};
  throttled.Post(".*", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.status = 429;
    res.set_header("Retry-After", "3");
    res.set_content(
        R"({"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit."}})",
        "application/json");
  });
  const int port = throttled.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { throttled.listen_after_bind(); });

  TenantConfig tenant = env_->ContosoTenant(
      {{"notifier", PluginBinding{"graph_mail_notifier", json{{"sender", kSender}}.dump()}}});
  tenant.graph_url = "http://127.0.0.1:" + std::to_string(port);
  host_ = env_->MakeHost({kPlugin}, {tenant});
  ASSERT_NE(host_, nullptr);
  Onboarding o = Invited("throttled@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(*host_, o, StepKind::kNotify);
  throttled.stop();
  serving.join();

  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kThrottled) << outcome.error;
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_EQ(*outcome.retry_after, absl::Seconds(3));
  EXPECT_THAT(outcome.error, HasSubstr("sendMail answered 429"));
  EXPECT_THAT(outcome.error, HasSubstr("MailboxConcurrency"));
  EXPECT_FALSE(outcome.outputs.count("mail_sent"));
  EXPECT_EQ(requests.load(), 1);
}

TEST_F(GraphMailNotifierTest, TheEmulatorsInjectedFaultsAreRetried) {
  PluginHost& host = Host({{"sender", kSender}});
  Onboarding o = Invited("faults@fabrikam.com");
  // check() first, so the host holds a token and the fault hits sendMail.
  ASSERT_TRUE(Checks(host)["graph token"].ok);
  env_->SetKnobs({{"error_rate", 1.0}});
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kNotify);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kRetry) << outcome.error;
  EXPECT_THAT(outcome.error, HasSubstr("sendMail answered 503"));
  EXPECT_EQ(Mails().size(), 0u);
  env_->SetKnobs({{"error_rate", 0.0}});
  outcome = CloudTestEnv::RunStep(host, o, StepKind::kNotify);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Mails().size(), 1u);
}

TEST_F(GraphMailNotifierTest, CheckReportsTokenAndSender) {
  std::map<std::string, PluginCheck> checks = Checks(Host({{"sender", kSender}}));
  ASSERT_TRUE(checks.count("graph token"));
  EXPECT_TRUE(checks["graph token"].ok) << checks["graph token"].detail;
  ASSERT_TRUE(checks.count("sender mailbox"));
  EXPECT_TRUE(checks["sender mailbox"].ok) << checks["sender mailbox"].detail;
  EXPECT_THAT(checks["sender mailbox"].detail, HasSubstr(kSender));

  checks = Checks(Host({{"sender", "nobody@contoso.onmicrosoft.com"}}));
  ASSERT_TRUE(checks.count("sender mailbox"));
  EXPECT_FALSE(checks["sender mailbox"].ok);
  EXPECT_THAT(checks["sender mailbox"].detail,
              HasSubstr("sender mailbox nobody@contoso.onmicrosoft.com not found in the tenant"));
  EXPECT_EQ(Mails().size(), 0u);
}

TEST_F(GraphMailNotifierTest, SettingsAreCheckedAtLoad) {
  Config config;
  config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
  config.server.plugins = {kPlugin};
  config.tenants = {
      env_->ContosoTenant({{"notifier", PluginBinding{"graph_mail_notifier", "{}"}}})};
  absl::StatusOr<std::unique_ptr<PluginHost>> host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("'sender' is required"));
  config.tenants = {env_->ContosoTenant(
      {{"notifier", PluginBinding{"graph_mail_notifier",
                                  json{{"sender", kSender}, {"from", kSender}}.dump()}}})};
  host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("unknown key 'from'"));
}

}  // namespace
}  // namespace guestflow::cloudtest
