// The webhook_notifier plugin (step `notify`) loaded by the real PluginHost
// with the real libcurl client, posting over real HTTP to a WebhookReceiver
// on a loopback port: the three body shapes parsed back, the signature as an
// independent receiver verifies it, what each answer of the receiver means
// for the step, that a delivered step posts nothing again, and the settings
// refused at load with a reason that never shows the secret.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/common/clock.h"
#include "server/config/config.h"
#include "server/engine/state_machine.h"
#include "server/http/curl_http_client.h"
#include "server/plugin_host/plugin_host.h"
#include "tests/support/notify_step.h"
#include "tests/support/webhook_receiver.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using guestflow::testing::WebhookDelivery;
using guestflow::testing::WebhookReceiver;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kPlugin[] = "webhook_notifier.so";
constexpr char kSecretEnv[] = "GF_WEBHOOK_TEST_SECRET";
constexpr char kSecret[] = "s3cr3t-webhook-key-value";
constexpr char kInstanceUrl[] = "https://contoso.crm.dynamics.com";
constexpr char kRedeemUrl[] =
    "https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem"
    "%2f%3ftenant%3d6f0c1b1e%26user%3d1234";
// A Slack-like URL path: the secret of an incoming webhook.
constexpr char kSecretPath[] = "/services/T0001/B0001/SeCrEtPaTh";
constexpr char kEllipsis[] = "\xE2\x80\xA6";

const json kSignedBy = {{"env", kSecretEnv}};

size_t Utf8Chars(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) == 0x80 ? 0 : 1;
  return n;
}

std::string Repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

class WebhookNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv(kSecretEnv, kSecret, 1);
    HttpConfig config;
    config.connect_timeout = absl::Seconds(5);
    config.request_timeout = absl::Seconds(10);
    auto http = CurlHttpClient::Create(config);
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }
  void TearDown() override {
    host_.reset();
    http_.reset();
    if (!temp_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(temp_dir_, ec);
    }
  }

  TenantConfig Tenant(const json& settings) const {
    TenantConfig t;
    t.id = "contoso";
    t.display_name = "Contoso Ltd";
    t.directory = "6f0c1b1e-3b7a-4c55-9a53-2d1f6f6e0c01";
    t.client_id = "0b8f4c8e-7f4a-4f0f-9b1a-5c3d2e1f0a01";
    t.instance_url = instance_url_;
    t.plugins["notifier"] = PluginBinding{"webhook_notifier", settings.dump()};
    return t;
  }

  absl::StatusOr<std::unique_ptr<PluginHost>> MakeHost(const json& settings,
                                                       Clock* clock = nullptr) {
    Config config;
    config.base_dir = base_dir_;
    config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
    config.server.plugins = {kPlugin};
    config.tenants = {Tenant(settings)};
    return PluginHost::Create(config, HostServices{clock, http_.get(), nullptr});
  }

  PluginHost& StartHost(const json& settings, Clock* clock = nullptr) {
    auto host = MakeHost(settings, clock);
    EXPECT_TRUE(host.ok()) << host.status();
    if (host.ok()) host_ = *std::move(host);
    return *host_;
  }

  // The message create() failed with; fails the test when it succeeded.
  std::string CreateError(const json& settings) {
    auto host = MakeHost(settings);
    EXPECT_FALSE(host.ok()) << "accepted: " << settings.dump();
    if (host.ok()) return "";
    EXPECT_THAT(std::string(host.status().message()), Not(HasSubstr(kSecret)));
    return std::string(host.status().message());
  }

  static Onboarding NewGuest(const std::string& id, const std::string& email,
                             const std::string& first, const std::string& last,
                             const std::string& redeem_url = kRedeemUrl) {
    return testing::InvitedGuest(id, email, first, last, redeem_url);
  }
  StepOutcome Notify(Onboarding& o) { return testing::RunNotify(*host_, o); }

  // The one delivery the receiver got, parsed; fails the test otherwise.
  static json OnlyBody(const WebhookReceiver& receiver, WebhookDelivery* delivery = nullptr) {
    const std::vector<WebhookDelivery> deliveries = receiver.Deliveries();
    EXPECT_EQ(deliveries.size(), 1u);
    if (deliveries.empty()) return json();
    if (delivery != nullptr) *delivery = deliveries[0];
    json body = json::parse(deliveries[0].body, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(body.is_object()) << deliveries[0].body;
    return body;
  }

  std::map<std::string, PluginCheck> Checks() {
    std::map<std::string, PluginCheck> by_name;
    absl::StatusOr<std::vector<PluginCheck>> checks = host_->CheckTenant("contoso");
    EXPECT_TRUE(checks.ok()) << checks.status();
    if (checks.ok()) {
      for (const PluginCheck& c : *checks) by_name[c.name] = c;
    }
    return by_name;
  }

  fs::path TempDir() {
    if (temp_dir_.empty()) {
      char pattern[] = "/tmp/webhook_notifier_test.XXXXXX";
      EXPECT_NE(mkdtemp(pattern), nullptr);
      temp_dir_ = pattern;
    }
    return temp_dir_;
  }

  std::string base_dir_;
  std::string instance_url_ = kInstanceUrl;
  fs::path temp_dir_;
  std::unique_ptr<CurlHttpClient> http_;
  std::unique_ptr<PluginHost> host_;
};

TEST_F(WebhookNotifierTest, GenericBodyIsSignedAndCarriesTheGuestAndBothUrls) {
  WebhookReceiver receiver(kSecret);
  StartHost({{"url", receiver.Url("/hooks/guestflow")}, {"secret", kSignedBy}});
  Onboarding o = NewGuest("0001-abc", "ada@fabrikam.com", "Ada", "Lovelace");
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("delivered"), "true");
  EXPECT_EQ(outcome.outputs.at("http_status"), "200");
  EXPECT_THAT(outcome.outputs.at("delivered_at"),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));

  WebhookDelivery d;
  const json body = OnlyBody(receiver, &d);
  EXPECT_EQ(d.path, "/hooks/guestflow");
  EXPECT_THAT(d.Header("content-type"), StartsWith("application/json"));
  EXPECT_EQ(d.Header("x-guestflow-delivery"), "0001-abc.notify");
  EXPECT_THAT(d.Header("x-guestflow-signature"), MatchesRegex("v1=[0-9a-f]{64}"));
  const int64_t timestamp = std::stoll(d.Header("x-guestflow-timestamp"));
  EXPECT_GE(timestamp, before);
  EXPECT_LE(timestamp, absl::ToUnixSeconds(absl::Now()));
  EXPECT_TRUE(d.signature_valid) << d.signature_error;

  EXPECT_EQ(body["type"], "guestflow.guest.notify");
  EXPECT_EQ(body["id"], "0001-abc.notify");
  EXPECT_EQ(body["onboarding"], "onboardings/0001-abc");
  EXPECT_EQ(body["tenant"], "contoso");
  EXPECT_EQ(body["guest"], json({{"email", "ada@fabrikam.com"},
                                 {"name", "Ada Lovelace"},
                                 {"first_name", "Ada"},
                                 {"last_name", "Lovelace"},
                                 {"display_name", "Ada Lovelace"}}));
  EXPECT_EQ(body["instance_url"], kInstanceUrl);
  EXPECT_EQ(body["redeem_url"], kRedeemUrl);
  EXPECT_EQ(body["organization"], json({{"name", "Contoso Ltd"}}));
  EXPECT_EQ(body["message"]["subject"], "Your access to Contoso Ltd Dynamics 365");
  EXPECT_THAT(
      body["message"]["text"].get<std::string>(),
      AllOf(HasSubstr("Hello Ada Lovelace"), HasSubstr(kInstanceUrl), HasSubstr(kRedeemUrl)));
  EXPECT_THAT(body["message"]["html"].get<std::string>(),
              AllOf(HasSubstr("<html"), HasSubstr(kInstanceUrl)));
}

TEST_F(WebhookNotifierTest, GenericBodyLeavesOutWhatThereIsNot) {
  WebhookReceiver receiver(kSecret);
  StartHost({{"url", receiver.Url()},
             {"secret", kSignedBy},
             {"template", {{"subject", "Welcome, {{guest.first_name}}"}, {"html", ""}}}});
  Onboarding o = NewGuest("0002", "existing@fabrikam.com", "Grace", "Hopper", /*redeem_url=*/"");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  const json body = OnlyBody(receiver);
  EXPECT_FALSE(body.contains("redeem_url")) << body.dump();
  EXPECT_FALSE(body["message"].contains("html")) << body.dump();
  EXPECT_FALSE(body["organization"].contains("support_contact"));
  EXPECT_EQ(body["message"]["subject"], "Welcome, Grace");
  EXPECT_THAT(body["message"]["text"].get<std::string>(),
              AllOf(HasSubstr(kInstanceUrl), Not(HasSubstr("redeem"))));
}

TEST_F(WebhookNotifierTest, TeamsGetsAMessageCardWithBothLinks) {
  WebhookReceiver receiver;
  StartHost({{"url", receiver.Url(kSecretPath)}, {"format", "teams"}});
  Onboarding o = NewGuest("0003", "ada@fabrikam.com", "Ada", "Lovelace");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);

  WebhookDelivery d;
  const json card = OnlyBody(receiver, &d);
  EXPECT_EQ(d.path, kSecretPath);
  EXPECT_EQ(d.Header("x-guestflow-delivery"), "0003.notify");
  EXPECT_FALSE(d.headers.count("x-guestflow-signature")) << "no secret, no signature";
  EXPECT_FALSE(d.headers.count("x-guestflow-timestamp"));

  EXPECT_EQ(card["@type"], "MessageCard");
  EXPECT_EQ(card["@context"], "https://schema.org/extensions");
  EXPECT_EQ(card["themeColor"], "0078D7");
  EXPECT_EQ(card["summary"], "Your access to Contoso Ltd Dynamics 365");
  EXPECT_EQ(card["title"], card["summary"]);
  EXPECT_THAT(card["text"].get<std::string>(), HasSubstr("Hello Ada Lovelace"));
  const json expected_actions =
      json::array({{{"@type", "OpenUri"},
                    {"name", "Accept the invitation"},
                    {"targets", json::array({{{"os", "default"}, {"uri", kRedeemUrl}}})}},
                   {{"@type", "OpenUri"},
                    {"name", "Open Dynamics 365"},
                    {"targets", json::array({{{"os", "default"}, {"uri", kInstanceUrl}}})}}});
  EXPECT_EQ(card["potentialAction"], expected_actions);

  // Without a redeem URL only the instance link is offered.
  Onboarding existing = NewGuest("0004", "old@fabrikam.com", "Old", "Guest", "");
  ASSERT_EQ(Notify(existing).kind, StepOutcome::Kind::kSucceeded);
  const std::vector<WebhookDelivery> all = receiver.Deliveries();
  ASSERT_EQ(all.size(), 2u);
  const json second = json::parse(all[1].body);
  ASSERT_EQ(second["potentialAction"].size(), 1u);
  EXPECT_EQ(second["potentialAction"][0]["name"], "Open Dynamics 365");
  EXPECT_EQ(second["potentialAction"][0]["targets"][0]["uri"], kInstanceUrl);
}

TEST_F(WebhookNotifierTest, SlackGetsBlocksWithEscapedMrkdwnAndButtons) {
  WebhookReceiver receiver(kSecret);
  StartHost({{"url", receiver.Url(kSecretPath)},
             {"format", "slack"},
             {"secret", kSignedBy},
             {"template",
              {{"subject", "Welcome to {{organization.name}}"},
               {"text", "Tom & Jerry <!channel> {{guest.name}}: {{instance_url}}"}}}});
  Onboarding o = NewGuest("0005", "ada@fabrikam.com", "Ada", "Lovelace");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);

  WebhookDelivery d;
  const json body = OnlyBody(receiver, &d);
  EXPECT_TRUE(d.signature_valid) << "a secret is optional for slack, and used when set: "
                                 << d.signature_error;
  EXPECT_EQ(body["text"], "Welcome to Contoso Ltd");
  ASSERT_EQ(body["blocks"].size(), 3u) << body.dump();
  EXPECT_EQ(body["blocks"][0],
            json({{"type", "header"},
                  {"text", {{"type", "plain_text"}, {"text", "Welcome to Contoso Ltd"}}}}));
  EXPECT_EQ(body["blocks"][1]["type"], "section");
  EXPECT_EQ(body["blocks"][1]["text"]["type"], "mrkdwn");
  EXPECT_EQ(body["blocks"][1]["text"]["text"],
            absl::StrCat("Tom &amp; Jerry &lt;!channel&gt; Ada Lovelace: ", kInstanceUrl));
  EXPECT_EQ(body["blocks"][2]["type"], "actions");
  const json expected_buttons =
      json::array({{{"type", "button"},
                    {"text", {{"type", "plain_text"}, {"text", "Accept the invitation"}}},
                    {"url", kRedeemUrl}},
                   {{"type", "button"},
                    {"text", {{"type", "plain_text"}, {"text", "Open Dynamics 365"}}},
                    {"url", kInstanceUrl}}});
  EXPECT_EQ(body["blocks"][2]["elements"], expected_buttons);
}

TEST_F(WebhookNotifierTest, SlackTextIsCutToSlacksLimitsOnACharacterBoundary) {
  WebhookReceiver receiver;
  // 1 + 200 two-byte characters: a cut by bytes would split one.
  const std::string subject = "a" + Repeat("\xC3\xA9", 200);
  const std::string text = Repeat("\xE6\x97\xA5\xE6\x9C\xAC ", 1200) + "{{instance_url}}";
  StartHost({{"url", receiver.Url()},
             {"format", "slack"},
             {"template", {{"subject", subject}, {"text", text}}}});
  Onboarding o = NewGuest("0006", "ada@fabrikam.com", "Ada", "Lovelace");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);

  WebhookDelivery d;
  const json body = OnlyBody(receiver, &d);  // parses: valid UTF-8
  EXPECT_THAT(d.body, Not(HasSubstr("\xEF\xBF\xBD"))) << "no replacement character";
  EXPECT_EQ(body["text"], subject) << "the fallback text is not cut";
  const std::string header = body["blocks"][0]["text"]["text"];
  EXPECT_EQ(Utf8Chars(header), 150u);
  EXPECT_EQ(header, "a" + Repeat("\xC3\xA9", 148) + kEllipsis);
  const std::string section = body["blocks"][1]["text"]["text"];
  EXPECT_LE(Utf8Chars(section), 3000u);
  EXPECT_GE(Utf8Chars(section), 2990u);
  EXPECT_THAT(section, AllOf(StartsWith("\xE6\x97\xA5\xE6\x9C\xAC "), EndsWith(kEllipsis)));
  EXPECT_THAT(section, Not(HasSubstr(kInstanceUrl))) << "cut before the end";
  // The buttons still carry the links the text lost.
  EXPECT_EQ(body["blocks"][2]["elements"][1]["url"], kInstanceUrl);
}

TEST_F(WebhookNotifierTest, AUtf8NameSurvivesTheTrip) {
  WebhookReceiver receiver(kSecret);
  StartHost({{"url", receiver.Url()}, {"secret", kSignedBy}});
  const std::string first = "Zo\xC3\xAB";                                      // Zoë
  const std::string last = "\xC3\x85ngstr\xC3\xB6m-\xE6\x97\xA5\xE6\x9C\xAC";  // Ångström-日本
  Onboarding o = NewGuest("0007", "zoe@fabrikam.com", first, last);
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  WebhookDelivery d;
  const json body = OnlyBody(receiver, &d);
  EXPECT_TRUE(d.signature_valid) << d.signature_error;
  EXPECT_THAT(d.body, HasSubstr(last)) << "sent as UTF-8, not \\u escapes";
  EXPECT_EQ(body["guest"]["name"], first + " " + last);
  EXPECT_EQ(body["guest"]["first_name"], first);
  EXPECT_EQ(body["guest"]["last_name"], last);
  EXPECT_THAT(body["message"]["text"].get<std::string>(), HasSubstr("Hello " + first + " " + last));
}

TEST_F(WebhookNotifierTest, AReceiverWithAnotherSecretFindsTheSignatureInvalid) {
  WebhookReceiver receiver("another-secret");
  StartHost({{"url", receiver.Url()}, {"secret", kSignedBy}});
  Onboarding o = NewGuest("0008", "ada@fabrikam.com", "Ada", "Lovelace");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded) << "the receiver still answers 200";
  WebhookDelivery d;
  OnlyBody(receiver, &d);
  EXPECT_FALSE(d.signature_valid);
  EXPECT_EQ(d.signature_error, "signature mismatch");
}

TEST_F(WebhookNotifierTest, UnsignedRequestsAreReportedAsSuch) {
  WebhookReceiver receiver(kSecret);
  StartHost({{"url", receiver.Url()}, {"format", "teams"}});
  Onboarding o = NewGuest("0009", "ada@fabrikam.com", "Ada", "Lovelace");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  WebhookDelivery d;
  OnlyBody(receiver, &d);
  EXPECT_FALSE(d.signature_valid);
  EXPECT_EQ(d.signature_error, "no X-Guestflow-Timestamp header");
}

TEST_F(WebhookNotifierTest, TheTimestampComesFromTheHostClockAndAStaleOneIsRefused) {
  WebhookReceiver receiver(kSecret);
  const absl::Time then = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) - 600);
  FakeClock clock(then);
  StartHost({{"url", receiver.Url()}, {"secret", kSignedBy}}, &clock);
  Onboarding o = NewGuest("0010", "ada@fabrikam.com", "Ada", "Lovelace");
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded);
  EXPECT_EQ(outcome.outputs.at("delivered_at"),
            absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", then, absl::UTCTimeZone()));
  WebhookDelivery d;
  OnlyBody(receiver, &d);
  EXPECT_EQ(d.Header("x-guestflow-timestamp"), std::to_string(absl::ToUnixSeconds(then)));
  EXPECT_FALSE(d.signature_valid);
  EXPECT_THAT(d.signature_error, HasSubstr("is more than 300 s from now"));
}

TEST_F(WebhookNotifierTest, A503WithRetryAfterIsRetriedThenDelivered) {
  WebhookReceiver receiver(kSecret);
  receiver.Script({{503, "busy, come back later", "7"}});
  StartHost({{"url", receiver.Url()}, {"secret", kSignedBy}});
  Onboarding o = NewGuest("0011", "ada@fabrikam.com", "Ada", "Lovelace");

  StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kRetry) << outcome.error;
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_EQ(*outcome.retry_after, absl::Seconds(7));
  EXPECT_THAT(outcome.error, AllOf(HasSubstr("answered 503"), HasSubstr("busy, come back later")));
  EXPECT_FALSE(outcome.outputs.count("delivered"));

  outcome = Notify(o);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("delivered"), "true");
  EXPECT_TRUE(receiver.WaitForDeliveries(2, std::chrono::seconds(5)));
  EXPECT_FALSE(receiver.WaitForDeliveries(3, std::chrono::milliseconds(50)));
  const std::vector<WebhookDelivery> deliveries = receiver.Deliveries();
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].Header("x-guestflow-delivery"), "0011.notify");
  EXPECT_EQ(deliveries[1].Header("x-guestflow-delivery"), "0011.notify")
      << "the same id on every attempt, so a receiver can de-duplicate";
  EXPECT_EQ(deliveries[0].body, deliveries[1].body);
  EXPECT_TRUE(deliveries[1].signature_valid) << deliveries[1].signature_error;
}

TEST_F(WebhookNotifierTest, A429IsRetried) {
  WebhookReceiver receiver;
  receiver.Script({{429, "rate_limited", ""}});
  StartHost({{"url", receiver.Url(kSecretPath)}, {"format", "slack"}});
  Onboarding o = NewGuest("0012", "ada@fabrikam.com", "Ada", "Lovelace");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kThrottled) << outcome.error;
  EXPECT_FALSE(outcome.retry_after.has_value()) << "no Retry-After: the host backs off";
  EXPECT_THAT(outcome.error,
              AllOf(HasSubstr("answered 429: rate_limited"), Not(HasSubstr("SeCrEtPaTh"))));
  EXPECT_EQ(receiver.Deliveries().size(), 1u);
}

TEST_F(WebhookNotifierTest, A400FailsWithTheReceiversAnswer) {
  WebhookReceiver receiver;
  receiver.Script({{400, "invalid_payload", ""}, {400, "invalid_blocks " + Repeat("x", 400), ""}});
  StartHost({{"url", receiver.Url(kSecretPath) + "?token=query-secret"}, {"format", "slack"}});
  Onboarding o = NewGuest("0013", "ada@fabrikam.com", "Ada", "Lovelace");
  StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error, absl::StrCat("webhook_notifier: POST http://127.0.0.1:", receiver.port(),
                                        "/", kEllipsis, " answered 400: invalid_payload"));
  EXPECT_FALSE(outcome.outputs.count("delivered"));

  // Only the first 200 bytes of a long answer.
  Onboarding o2 = NewGuest("0014", "ada@fabrikam.com", "Ada", "Lovelace");
  outcome = Notify(o2);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, AllOf(HasSubstr("answered 400: invalid_blocks xxx"),
                                   HasSubstr(Repeat("x", 185)), Not(HasSubstr(Repeat("x", 186))),
                                   Not(HasSubstr("query-secret")), Not(HasSubstr("SeCrEtPaTh"))));
}

TEST_F(WebhookNotifierTest, A410Or404SaysTheWebhookUrlIsGone) {
  WebhookReceiver receiver;
  receiver.Script({{410, "channel_is_archived", ""}, {404, "no_service", ""}});
  StartHost({{"url", receiver.Url(kSecretPath)}, {"format", "slack"}});
  Onboarding o = NewGuest("0015", "ada@fabrikam.com", "Ada", "Lovelace");
  StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error,
              AllOf(HasSubstr("answered 410: channel_is_archived"),
                    HasSubstr("the webhook URL is gone"), Not(HasSubstr("SeCrEtPaTh"))));
  outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error,
              AllOf(HasSubstr("answered 404: no_service"), HasSubstr("the webhook URL is gone")));
}

TEST_F(WebhookNotifierTest, AnUnreachableReceiverIsRetriedWithoutShowingTheUrlPath) {
  // A port that is bound but not listening refuses connections, and no other
  // process can take it while this socket holds it.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  StartHost({{"url", absl::StrCat("http://127.0.0.1:", port, kSecretPath)}, {"format", "slack"}});
  Onboarding o = NewGuest("0016", "ada@fabrikam.com", "Ada", "Lovelace");
  const StepOutcome outcome = Notify(o);
  close(fd);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kRetry) << outcome.error;
  EXPECT_THAT(outcome.error,
              AllOf(HasSubstr(absl::StrCat("webhook_notifier: POST http://127.0.0.1:", port, "/",
                                           kEllipsis, ": Couldn't connect")),
                    Not(HasSubstr("SeCrEtPaTh")), Not(HasSubstr("/services/"))));
  EXPECT_FALSE(outcome.outputs.count("delivered"));
}

TEST_F(WebhookNotifierTest, ATlsFailureIsAPermanentConfigurationError) {
  // https:// to a plain-HTTP server: the handshake fails, as it would with an
  // untrusted certificate; retrying cannot fix either.
  WebhookReceiver receiver;
  const std::string url = absl::StrCat("https://127.0.0.1:", receiver.port(), kSecretPath);
  StartHost({{"url", url}, {"format", "slack"}});
  Onboarding o = NewGuest("0017", "ada@fabrikam.com", "Ada", "Lovelace");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed) << outcome.error;
  EXPECT_THAT(outcome.error, AllOf(HasSubstr("failed in TLS"), HasSubstr("configuration problem"),
                                   Not(HasSubstr("SeCrEtPaTh"))));
  EXPECT_TRUE(receiver.Deliveries().empty());
}

TEST_F(WebhookNotifierTest, ASecondRunAfterSuccessPostsNothing) {
  WebhookReceiver receiver(kSecret);
  StartHost({{"url", receiver.Url()}, {"secret", kSignedBy}});
  Onboarding o = NewGuest("0018", "ada@fabrikam.com", "Ada", "Lovelace");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  const std::string delivered_at = o.FindStep(StepKind::kNotify)->outputs["delivered_at"];
  for (int i = 0; i < 2; ++i) {
    const StepOutcome again = Notify(o);
    EXPECT_EQ(again.kind, StepOutcome::Kind::kSucceeded) << again.error;
  }
  EXPECT_EQ(receiver.Deliveries().size(), 1u);
  EXPECT_EQ(o.FindStep(StepKind::kNotify)->outputs["delivered_at"], delivered_at);
}

TEST_F(WebhookNotifierTest, NoInstanceUrlFailsWithoutPosting) {
  WebhookReceiver receiver(kSecret);
  instance_url_ = "";
  StartHost({{"url", receiver.Url()}, {"secret", kSignedBy}});
  Onboarding o = NewGuest("0019", "ada@fabrikam.com", "Ada", "Lovelace");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("no instance_url"));
  EXPECT_TRUE(receiver.Deliveries().empty());
}

TEST_F(WebhookNotifierTest, TheSecretFileResolvesAgainstBaseDirWithoutItsNewline) {
  const fs::path dir = TempDir();
  std::ofstream(dir / "webhook.key") << "file-secret\n";
  fs::permissions(dir / "webhook.key", fs::perms::owner_read | fs::perms::owner_write);
  base_dir_ = dir.string();
  WebhookReceiver receiver("file-secret");
  StartHost({{"url", receiver.Url()}, {"secret", {{"file", "webhook.key"}}}});
  Onboarding o = NewGuest("0020", "ada@fabrikam.com", "Ada", "Lovelace");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  WebhookDelivery d;
  OnlyBody(receiver, &d);
  EXPECT_TRUE(d.signature_valid) << d.signature_error;
}

TEST_F(WebhookNotifierTest, CheckPostsNothingAndShowsOnlySchemeAndHost) {
  WebhookReceiver receiver(kSecret);
  StartHost({{"url", receiver.Url(kSecretPath)}, {"format", "slack"}, {"secret", kSignedBy}});
  std::map<std::string, PluginCheck> checks = Checks();
  ASSERT_TRUE(checks.count("webhook url"));
  EXPECT_TRUE(checks["webhook url"].ok);
  EXPECT_THAT(checks["webhook url"].detail,
              AllOf(StartsWith(absl::StrCat("http://127.0.0.1:", receiver.port(), "/", kEllipsis)),
                    HasSubstr("slack"), Not(HasSubstr("SeCrEtPaTh"))));
  ASSERT_TRUE(checks.count("signature"));
  EXPECT_TRUE(checks["signature"].ok);
  EXPECT_THAT(checks["signature"].detail, AllOf(HasSubstr(kSecretEnv), Not(HasSubstr(kSecret))));

  StartHost({{"url", receiver.Url()}, {"format", "teams"}});
  checks = Checks();
  EXPECT_THAT(checks["signature"].detail, HasSubstr("not signed"));
  EXPECT_TRUE(receiver.Deliveries().empty());
}

TEST_F(WebhookNotifierTest, SettingsAreRefusedAtCreateWithAReason) {
  const std::string local = "http://127.0.0.1:9/hook";
  EXPECT_THAT(CreateError({{"secret", kSignedBy}}),
              HasSubstr("webhook_notifier settings: 'url' is required"));
  EXPECT_THAT(CreateError({{"url", "http://hooks.example.com/services/T1/B1/SeCrEtPaTh"},
                           {"secret", kSignedBy}}),
              AllOf(HasSubstr("'url' must be https://"), HasSubstr("loopback"),
                    HasSubstr("http://hooks.example.com/"), Not(HasSubstr("SeCrEtPaTh"))));
  EXPECT_THAT(CreateError({{"url", "ftp://127.0.0.1/hook"}, {"secret", kSignedBy}}),
              HasSubstr("must be an https:// URL, not ftp://"));
  EXPECT_THAT(CreateError({{"url", "https://user:pw@hooks.example.com/x"}, {"secret", kSignedBy}}),
              AllOf(HasSubstr("must not contain user:password@"), Not(HasSubstr(":pw"))));
  EXPECT_THAT(CreateError({{"url", local}, {"format", "discord"}, {"secret", kSignedBy}}),
              HasSubstr("'format' must be generic, teams or slack, got 'discord'"));
  EXPECT_THAT(CreateError({{"url", local}, {"secret", kSignedBy}, {"signing_key", "x"}}),
              HasSubstr("unknown key 'signing_key'"));
  EXPECT_THAT(CreateError({{"url", local}}), HasSubstr("'secret' is required for format generic"));
  EXPECT_THAT(CreateError({{"url", local}, {"secret", kSecret}}),
              HasSubstr(R"('secret' must be {"env": "VARIABLE"} or {"file": "path"})"));
  unsetenv("GF_WEBHOOK_TEST_NOT_SET");
  EXPECT_THAT(CreateError({{"url", local}, {"secret", {{"env", "GF_WEBHOOK_TEST_NOT_SET"}}}}),
              HasSubstr("environment variable GF_WEBHOOK_TEST_NOT_SET is not set"));
  EXPECT_THAT(CreateError({{"url", local}, {"secret", {{"file", "/nonexistent/webhook.key"}}}}),
              AllOf(HasSubstr("cannot read secret.file /nonexistent/webhook.key"),
                    HasSubstr("No such file")));
  const fs::path empty = TempDir() / "empty.key";
  std::ofstream(empty) << "\n";
  fs::permissions(empty, fs::perms::owner_read | fs::perms::owner_write);
  // A secret file anyone on the machine may read is refused, before reading.
  const fs::path open_key = TempDir() / "open.key";
  std::ofstream(open_key) << "world-readable-secret\n";
  fs::permissions(open_key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                fs::perms::others_read);
  EXPECT_THAT(CreateError({{"url", local}, {"secret", {{"file", open_key.string()}}}}),
              AllOf(HasSubstr(absl::StrCat("secret.file ", open_key.string(),
                                           " is readable or writable by others")),
                    HasSubstr("chmod o-rwx")));
  EXPECT_THAT(CreateError({{"url", local}, {"secret", {{"file", empty.string()}}}}),
              HasSubstr(absl::StrCat("secret.file ", empty.string(), " is empty")));
  EXPECT_THAT(CreateError({{"url", local}, {"secret", kSignedBy}, {"timeout_ms", 10}}),
              HasSubstr("'timeout_ms' must be between 1000 and 120000"));
  EXPECT_THAT(CreateError({{"url", local},
                           {"secret", kSignedBy},
                           {"template", {{"text", "Hello {{guest.nickname}}"}}}}),
              HasSubstr("template.text refers to the unknown field 'guest.nickname'"));
  // A secret that is set never shows, whatever else is wrong (CreateError
  // asserts that for every message above too).
  EXPECT_THAT(CreateError({{"url", "http://example.com/x"}, {"secret", kSignedBy}}),
              Not(HasSubstr(kSecret)));

  // The loopback names that may use http://.
  for (const std::string& url :
       {std::string("http://localhost:9/h"), std::string("http://[::1]:9"),
        std::string("http://127.0.0.1:9"), std::string("https://hooks.example.com/x")}) {
    EXPECT_TRUE(MakeHost({{"url", url}, {"secret", kSignedBy}}).ok()) << url;
  }
}

}  // namespace
}  // namespace guestflow
