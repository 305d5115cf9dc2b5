// The smtp_notifier plugin, loaded by the real PluginHost, sending to a real
// SMTP server on loopback (tests/support/smtp_peer.py, aiosmtpd): plain,
// STARTTLS with AUTH, implicit TLS; the message parsed back; a retry that is
// the same message; and every way a send can fail, each classified and
// explained.
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/common/clock.h"
#include "server/config/config.h"
#include "server/engine/state_machine.h"
#include "server/plugin_host/plugin_host.h"
#include "tests/support/mime_message.h"
#include "tests/support/notify_step.h"
#include "tests/support/smtp_peer.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ParseMime;
using testing::SmtpPeer;
using testing::SmtpPeerOptions;
using ::testing::StartsWith;
using Kind = StepOutcome::Kind;

constexpr char kInstanceUrl[] = "https://contoso.crm4.dynamics.com";
constexpr char kRedeemUrl[] = "https://login.microsoftonline.com/redeem?rd=abc&tenant=contoso";
constexpr char kPassword[] = "s3cret-smtp-Pa55";

// A loopback port nothing listens on.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class SmtpNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/smtp_notifier_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    setenv("SMTP_TEST_PASSWORD", kPassword, 1);
  }
  void TearDown() override {
    host_.reset();
    unsetenv("SMTP_TEST_PASSWORD");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  absl::StatusOr<std::unique_ptr<PluginHost>> MakeHost(const json& settings) {
    Config config;
    config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
    config.server.plugins = {"smtp_notifier.so"};
    config.base_dir = dir_.string();
    TenantConfig t;
    t.id = "contoso";
    t.display_name = "Contoso Ltd";
    t.support_contact = "helpdesk@contoso.example";
    t.directory = "6f0c1b1e-3b7a-4c55-9a53-2d1f6f6e0c01";
    t.client_id = "0b8f4c8e-7f4a-4f0f-9b1a-5c3d2e1f0a01";
    t.instance_url = kInstanceUrl;
    t.plugins["notifier"] = PluginBinding{"smtp_notifier", settings.dump()};
    config.tenants = {t};
    return PluginHost::Create(config, HostServices{Clock::Real(), nullptr, nullptr});
  }

  void StartHost(const json& settings) {
    auto host = MakeHost(settings);
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
  }

  static json Plain(int port) {
    return {{"host", "127.0.0.1"},
            {"port", port},
            {"security", "none"},
            {"from", "Contoso IT <it@contoso.example>"}};
  }

  static Onboarding NewGuest(const std::string& id, const std::string& email,
                             const std::string& first = "Ada",
                             const std::string& last = "Lovelace") {
    return testing::InvitedGuest(id, email, first, last, kRedeemUrl);
  }
  StepOutcome Notify(Onboarding& o) { return testing::RunNotify(*host_, o); }

  // A TLS server ("starttls" or "tls") with a fresh self-signed certificate
  // for 127.0.0.1 and localhost, requiring AUTH when `auth` is set.
  std::unique_ptr<SmtpPeer> TlsPeer(const std::string& mode, const std::string& auth) {
    cert_ = testing::MakeTestCertificate(dir_.string());
    SmtpPeerOptions options;
    options.mode = mode;
    options.cert_file = cert_.cert_file;
    options.key_file = cert_.key_file;
    options.auth = auth;
    return std::make_unique<SmtpPeer>(options);
  }

  std::vector<PluginCheck> Checks() {
    auto checks = host_->CheckTenant("contoso");
    EXPECT_TRUE(checks.ok()) << checks.status();
    return checks.ok() ? *checks : std::vector<PluginCheck>{};
  }

  fs::path dir_;
  testing::TestCertificate cert_;
  std::unique_ptr<PluginHost> host_;
};

TEST_F(SmtpNotifierTest, SendsTheMessageToTheGuest) {
  SmtpPeer peer;
  StartHost(Plain(peer.port()));
  Onboarding o = NewGuest("0001", "ada@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("mail_sent"), "true");
  EXPECT_EQ(outcome.outputs.at("message_id"), "<0001.notify@contoso.example>");
  EXPECT_EQ(outcome.outputs.at("smtp_server"), absl::StrCat("smtp://127.0.0.1:", peer.port()));

  const std::vector<testing::ReceivedMail> mails = peer.Received();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].mail_from, "it@contoso.example");
  EXPECT_THAT(mails[0].rcpt_tos, ElementsAre("ada@fabrikam.com"));
  EXPECT_FALSE(mails[0].tls);

  const testing::MimeMessage m = ParseMime(mails[0].raw);
  EXPECT_EQ(m.Header("From"), "Contoso IT <it@contoso.example>");
  EXPECT_EQ(m.Header("To"), "Ada Lovelace <ada@fabrikam.com>");
  EXPECT_EQ(m.Header("Subject"), "Your access to Contoso Ltd Dynamics 365");
  EXPECT_EQ(m.Header("Message-ID"), "<0001.notify@contoso.example>");
  EXPECT_EQ(m.Header("Date"), outcome.outputs.at("date"));
  EXPECT_THAT(m.Header("Content-Type"), StartsWith("multipart/alternative; boundary="));
  EXPECT_THAT(m.text, AllOf(HasSubstr("Hello Ada Lovelace"), HasSubstr(kRedeemUrl),
                            HasSubstr(kInstanceUrl), HasSubstr("helpdesk@contoso.example")));
  EXPECT_THAT(m.html, AllOf(HasSubstr("<a href=\"" + std::string(kInstanceUrl) + "\">"),
                            HasSubstr("rd=abc&amp;tenant=contoso")));
}

TEST_F(SmtpNotifierTest, ARetriedSendIsTheSameMessageAndASentOneIsNotSentAgain) {
  SmtpPeer peer;
  StartHost(Plain(peer.port()));
  Onboarding o = NewGuest("0002", "grace@fabrikam.com", "Grace", "Hopper");
  ASSERT_EQ(Notify(o).kind, Kind::kSucceeded);
  // The step ran again (say guestflowd crashed before storing mail_sent):
  // the outputs it kept before sending make the same bytes.
  o.FindStep(StepKind::kNotify)->outputs.erase("mail_sent");
  sleep(1);  // a new Date, were it not kept
  ASSERT_EQ(Notify(o).kind, Kind::kSucceeded);
  ASSERT_TRUE(peer.WaitForMessages(2, std::chrono::seconds(5)));
  const auto mails = peer.Received();
  EXPECT_EQ(mails[0].raw, mails[1].raw);

  // With mail_sent recorded, nothing more goes out.
  ASSERT_EQ(Notify(o).kind, Kind::kSucceeded);
  EXPECT_EQ(peer.Received().size(), 2u);
}

TEST_F(SmtpNotifierTest, Utf8SubjectAndNamesAreEncodedWords) {
  SmtpPeer peer;
  json settings = Plain(peer.port());
  settings["from"] = "Société Générale <it@socgen.example>";
  settings["template"] = {{"subject", "Bienvenue {{guest.first_name}} — accès 🎉"}};
  StartHost(settings);
  Onboarding o = NewGuest("0003", "zoe@fabrikam.com", "Zoë", "Çelik");
  ASSERT_EQ(Notify(o).kind, Kind::kSucceeded);
  const auto mails = peer.Received();
  ASSERT_EQ(mails.size(), 1u);
  const testing::MimeMessage m = ParseMime(mails[0].raw);
  const std::string head = mails[0].raw.substr(0, mails[0].raw.find("\r\n\r\n"));
  for (char c : head) ASSERT_LT(static_cast<unsigned char>(c), 0x80) << "8-bit byte in a header";
  EXPECT_EQ(testing::DecodeWords(m.Header("Subject")), "Bienvenue Zoë — accès 🎉");
  EXPECT_EQ(testing::DecodeWords(m.Header("From")), "Société Générale <it@socgen.example>");
  EXPECT_EQ(testing::DecodeWords(m.Header("To")), "Zoë Çelik <zoe@fabrikam.com>");
  EXPECT_THAT(m.text, HasSubstr("Hello Zoë Çelik"));
}

TEST_F(SmtpNotifierTest, StartTlsWithAuthFromAnEnvironmentVariable) {
  const std::unique_ptr<SmtpPeer> tls_peer =
      TlsPeer("starttls", std::string("mailer:") + kPassword);
  SmtpPeer& peer = *tls_peer;
  StartHost({{"host", "localhost"},
             {"port", peer.port()},
             {"security", "starttls"},
             {"from", "it@contoso.example"},
             {"username", "mailer"},
             {"password", {{"env", "SMTP_TEST_PASSWORD"}}},
             {"ca_file", cert_.cert_file}});
  Onboarding o = NewGuest("0004", "ada@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, Kind::kSucceeded) << outcome.error;
  const auto mails = peer.Received();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_TRUE(mails[0].tls);
  EXPECT_EQ(mails[0].auth_user, "mailer");

  // check() goes as far as AUTH, and sends nothing.
  const std::vector<PluginCheck> checks = Checks();
  bool found = false;
  for (const PluginCheck& c : checks) {
    if (c.name != "smtp server") continue;
    found = true;
    EXPECT_TRUE(c.ok) << c.detail;
    EXPECT_THAT(c.detail, AllOf(HasSubstr("STARTTLS"), HasSubstr("AUTH as mailer")));
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(peer.Received().size(), 1u);
}

TEST_F(SmtpNotifierTest, ImplicitTlsWithThePasswordFromAFile) {
  const std::unique_ptr<SmtpPeer> tls_peer = TlsPeer("tls", std::string("mailer:") + kPassword);
  SmtpPeer& peer = *tls_peer;
  std::ofstream(dir_ / "smtp-password") << kPassword << "\n";
  std::filesystem::permissions(dir_ / "smtp-password", std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write);
  StartHost({{"host", "127.0.0.1"},
             {"port", peer.port()},
             {"security", "tls"},
             {"from", "it@contoso.example"},
             {"username", "mailer"},
             {"password", {{"file", "smtp-password"}}},  // next to the config
             {"ca_file", cert_.cert_file}});
  Onboarding o = NewGuest("0005", "ada@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("smtp_server"), absl::StrCat("smtps://127.0.0.1:", peer.port()));
  const auto mails = peer.Received();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_TRUE(mails[0].tls);
  EXPECT_EQ(mails[0].auth_user, "mailer");
}

TEST_F(SmtpNotifierTest, AnUntrustedCertificateIsAPermanentTlsFailure) {
  const std::unique_ptr<SmtpPeer> tls_peer = TlsPeer("starttls", "");
  SmtpPeer& peer = *tls_peer;
  StartHost({{"host", "127.0.0.1"},
             {"port", peer.port()},
             {"from", "it@contoso.example"}});  // no ca_file: the system CAs
  Onboarding o = NewGuest("0006", "ada@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_THAT(outcome.error, AllOf(HasSubstr("TLS failed"), HasSubstr("ca_file"),
                                   HasSubstr(absl::StrCat("127.0.0.1:", peer.port()))));
  EXPECT_TRUE(peer.Received().empty());
}

TEST_F(SmtpNotifierTest, StartTlsThatTheServerDoesNotOfferIsPermanent) {
  SmtpPeer peer;  // plain
  StartHost({{"host", "127.0.0.1"}, {"port", peer.port()}, {"from", "it@contoso.example"}});
  Onboarding o = NewGuest("0007", "ada@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("does not offer STARTTLS"));
  EXPECT_TRUE(peer.Received().empty());
}

TEST_F(SmtpNotifierTest, ARefusedRecipientIsPermanentWithTheServersWords) {
  SmtpPeer peer;
  StartHost(Plain(peer.port()));
  Onboarding o = NewGuest("0008", "refuse-me@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_THAT(outcome.error, AllOf(HasSubstr("550"), HasSubstr("Recipient address rejected")));
  EXPECT_EQ(outcome.plugin, "smtp_notifier");
  EXPECT_TRUE(peer.Received().empty());
}

TEST_F(SmtpNotifierTest, ATemporaryRefusalIsRetried) {
  SmtpPeer peer;
  StartHost(Plain(peer.port()));
  Onboarding o = NewGuest("0009", "busy-mailbox@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, Kind::kRetry);
  EXPECT_THAT(outcome.error, AllOf(HasSubstr("451"), HasSubstr("try again later")));
}

TEST_F(SmtpNotifierTest, AnUnreachableServerIsRetriedAndFailsTheCheck) {
  StartHost(Plain(ClosedPort()));
  Onboarding o = NewGuest("0010", "ada@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, Kind::kRetry);
  EXPECT_THAT(outcome.error, HasSubstr("unreachable"));
  bool found = false;
  for (const PluginCheck& c : Checks()) {
    if (c.name != "smtp server") continue;
    found = true;
    EXPECT_FALSE(c.ok);
    EXPECT_THAT(c.detail, HasSubstr("unreachable"));
  }
  EXPECT_TRUE(found);
}

TEST_F(SmtpNotifierTest, AWrongPasswordIsPermanentAndNeverShown) {
  const std::unique_ptr<SmtpPeer> tls_peer = TlsPeer("starttls", "mailer:the-right-one");
  SmtpPeer& peer = *tls_peer;
  StartHost({{"host", "localhost"},
             {"port", peer.port()},
             {"from", "it@contoso.example"},
             {"username", "mailer"},
             {"password", {{"env", "SMTP_TEST_PASSWORD"}}},
             {"ca_file", cert_.cert_file}});
  Onboarding o = NewGuest("0011", "ada@fabrikam.com");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_THAT(outcome.error,
              AllOf(HasSubstr("refused the username or password"), Not(HasSubstr(kPassword))));
}

TEST_F(SmtpNotifierTest, BadSettingsAreRefusedAtCreate) {
  auto error_of = [&](const json& settings) {
    auto host = MakeHost(settings);
    return host.ok() ? std::string("created") : std::string(host.status().message());
  };
  const json base = Plain(2525);
  json no_host = base;
  no_host.erase("host");
  EXPECT_THAT(error_of(no_host), AllOf(HasSubstr("contoso"), HasSubstr("'host' is required")));
  json bad_from = base;
  bad_from["from"] = "not an address";
  EXPECT_THAT(error_of(bad_from), HasSubstr("'from'"));
  json clear_auth = base;
  clear_auth["username"] = "mailer";
  clear_auth["password"] = {{"env", "SMTP_TEST_PASSWORD"}};
  EXPECT_THAT(error_of(clear_auth), HasSubstr("unencrypted"));
  json literal = base;
  literal["security"] = "starttls";
  literal["username"] = "mailer";
  literal["password"] = kPassword;
  EXPECT_THAT(error_of(literal), AllOf(HasSubstr(R"({"env": "VARIABLE"} or {"file": "path"})"),
                                       Not(HasSubstr(kPassword))));
  json missing_env = literal;
  missing_env["password"] = {{"env", "SMTP_TEST_NO_SUCH_VARIABLE"}};
  EXPECT_THAT(error_of(missing_env), HasSubstr("SMTP_TEST_NO_SUCH_VARIABLE is not set"));
  json typo = base;
  typo["securty"] = "tls";
  EXPECT_THAT(error_of(typo), HasSubstr("unknown key 'securty'"));
  json bad_security = base;
  bad_security["security"] = "ssl";
  EXPECT_THAT(error_of(bad_security), HasSubstr("starttls, tls or none"));
  json bad_template = base;
  bad_template["template"] = {{"html", "<p>{{guest.title}}</p>"}};
  EXPECT_THAT(error_of(bad_template),
              AllOf(HasSubstr("template.html"), HasSubstr("'guest.title'")));
  json no_ca = base;
  no_ca["ca_file"] = "missing-ca.pem";
  EXPECT_THAT(error_of(no_ca), AllOf(HasSubstr("'ca_file'"), HasSubstr("missing-ca.pem")));
}

}  // namespace
}  // namespace guestflow
