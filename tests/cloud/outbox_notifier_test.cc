// The outbox_notifier plugin, loaded by the real PluginHost: the .eml it
// writes is parsed back (headers, RFC 2047 words, body), rewritten whole on a
// retry, safe against header injection, and refused or failed with the path
// when the folder is wrong. Needs no cloud: it only writes files.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kInstanceUrl[] = "https://contoso.crm.dynamics.com";
constexpr char kRedeemUrl[] =
    "https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem"
    "%2f%3ftenant%3d6f0c1b1e%26user%3d1234";

using Eml = testing::MimeMessage;
using testing::DecodeWords;

Eml ParseEml(const std::string& raw) { return testing::ParseMime(raw); }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class OutboxNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/outbox_notifier_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    outbox_ = root_ / "outbox";
  }
  void TearDown() override {
    host_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  TenantConfig Tenant(const nlohmann::json& settings) {
    TenantConfig t;
    t.id = "contoso";
    t.display_name = tenant_display_name_;
    t.directory = "6f0c1b1e-3b7a-4c55-9a53-2d1f6f6e0c01";
    t.client_id = "0b8f4c8e-7f4a-4f0f-9b1a-5c3d2e1f0a01";
    t.instance_url = instance_url_;
    t.plugins["notifier"] = PluginBinding{"outbox_notifier", settings.dump()};
    return t;
  }

  absl::StatusOr<std::unique_ptr<PluginHost>> MakeHost(const nlohmann::json& settings) {
    Config config;
    config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
    config.server.plugins = {"outbox_notifier.so"};
    config.tenants = {Tenant(settings)};
    return PluginHost::Create(config, HostServices{Clock::Real(), nullptr, nullptr});
  }

  void StartHost(const nlohmann::json& settings) {
    auto host = MakeHost(settings);
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
  }

  static Onboarding NewGuest(const std::string& id, const std::string& email,
                             const std::string& first, const std::string& last,
                             const std::string& redeem_url = kRedeemUrl) {
    return testing::InvitedGuest(id, email, first, last, redeem_url);
  }
  StepOutcome Notify(Onboarding& o) { return testing::RunNotify(*host_, o); }

  std::vector<fs::path> OutboxFiles() const {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(outbox_)) files.push_back(e.path());
    return files;
  }

  fs::path root_;
  fs::path outbox_;
  std::string tenant_display_name_ = "Contoso Ltd";
  std::string instance_url_ = kInstanceUrl;
  std::unique_ptr<PluginHost> host_;
};

TEST_F(OutboxNotifierTest, WritesAnRfc5322MessageThatParsesBack) {
  StartHost({{"dir", outbox_.string()}, {"from", "Contoso IT <it@contoso.example>"}});
  Onboarding o = NewGuest("0001-abc", "ada@fabrikam.com", "Ada", "Lovelace");
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;

  const fs::path path = outbox_ / "0001-abc.eml";
  EXPECT_EQ(outcome.outputs.at("eml_path"), path.string());
  EXPECT_EQ(outcome.outputs.at("message_id"), "<0001-abc@guestflow>");
  ASSERT_EQ(OutboxFiles(), std::vector<fs::path>{path}) << "no temporary file may be left";

  const Eml eml = ParseEml(ReadFile(path));
  EXPECT_EQ(eml.Header("From"), "Contoso IT <it@contoso.example>");
  EXPECT_EQ(eml.Header("To"), "Ada Lovelace <ada@fabrikam.com>");
  EXPECT_EQ(eml.Header("Subject"), "Your access to Contoso Ltd Dynamics 365");
  EXPECT_TRUE(std::regex_match(
      eml.Header("Date"),
      std::regex(
          R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000)")))
      << eml.Header("Date");
  EXPECT_EQ(eml.Header("Message-ID"), "<0001-abc@guestflow>");
  EXPECT_EQ(eml.Header("MIME-Version"), "1.0");
  EXPECT_THAT(eml.Header("Content-Type"), HasSubstr("multipart/alternative; boundary="));
  EXPECT_EQ(eml.text_headers.Get("Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(eml.text_headers.Get("Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(eml.html_headers.Get("Content-Type"), "text/html; charset=UTF-8");
  EXPECT_THAT(eml.html, AllOf(HasSubstr("<a href=\"" + std::string(kInstanceUrl) + "\">"),
                              HasSubstr("Hello Ada Lovelace")));
  for (const char* once : {"From", "To", "Subject", "Date", "Message-ID"}) {
    EXPECT_EQ(eml.Count(once), 1) << once;
  }
  EXPECT_THAT(eml.text,
              AllOf(HasSubstr(kInstanceUrl), HasSubstr(kRedeemUrl), HasSubstr("Contoso Ltd"),
                    HasSubstr("accept the invitation"), HasSubstr("Hello Ada Lovelace")));
  // The invitation comes before the instance.
  EXPECT_LT(eml.text.find(kRedeemUrl), eml.text.find(kInstanceUrl));

  // CRLF everywhere, no bare CR or LF, no line over 998 octets.
  const std::string& raw = eml.raw;
  ASSERT_TRUE(absl::EndsWith(raw, "\r\n"));
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n') {
      ASSERT_TRUE(i > 0 && raw[i - 1] == '\r') << "bare LF at " << i;
    }
    if (raw[i] == '\r') {
      ASSERT_TRUE(i + 1 < raw.size() && raw[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  for (absl::string_view line : absl::StrSplit(raw, "\r\n")) EXPECT_LE(line.size(), 998u);
}

TEST_F(OutboxNotifierTest, RetryRewritesTheSameFile) {
  StartHost({{"dir", outbox_.string()}});
  Onboarding o = NewGuest("0002", "grace@fabrikam.com", "Grace", "Hopper");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  const fs::path path = outbox_ / "0002.eml";
  const std::string first = ReadFile(path);
  // Someone edits (or a crash half-wrote) the file: the retry replaces it whole.
  std::ofstream(path, std::ios::trunc) << "garbage";
  sleep(1);  // a new Date, were it not kept from the first attempt
  const StepOutcome again = Notify(o);
  ASSERT_EQ(again.kind, StepOutcome::Kind::kSucceeded) << again.error;
  EXPECT_EQ(again.outputs.at("eml_path"), path.string());
  EXPECT_EQ(ReadFile(path), first);
  EXPECT_EQ(OutboxFiles().size(), 1u);
  EXPECT_EQ(ParseEml(first).Header("From"), "guestflow@localhost");  // the default sender
}

TEST_F(OutboxNotifierTest, NonAsciiNamesAreEncodedWords) {
  tenant_display_name_ = "Société Générale de Démo";
  StartHost({{"dir", outbox_.string()},
             {"template", {{"subject", "Bienvenue chez Société Générale — accès 🎉"}}}});
  Onboarding o = NewGuest("0003", "zoe@fabrikam.com", "Zoë", "Çelik-Øster");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  const std::string raw = ReadFile(outbox_ / "0003.eml");
  const Eml eml = ParseEml(raw);

  const std::string head = raw.substr(0, raw.find("\r\n\r\n"));
  for (char c : head) ASSERT_LT(static_cast<unsigned char>(c), 0x80) << "8-bit byte in a header";
  EXPECT_THAT(eml.Header("To"), HasSubstr("=?UTF-8?B?"));
  EXPECT_EQ(DecodeWords(eml.Header("To")), "Zoë Çelik-Øster <zoe@fabrikam.com>");
  EXPECT_THAT(eml.Header("Subject"), HasSubstr("=?UTF-8?B?"));
  EXPECT_EQ(DecodeWords(eml.Header("Subject")), "Bienvenue chez Société Générale — accès 🎉");
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    EXPECT_LE(line.size(), 76u) << line;  // RFC 2047: lines with encoded-words
  }
  EXPECT_THAT(eml.text, AllOf(HasSubstr("Société Générale de Démo"), HasSubstr("Hello Zoë")));
}

TEST_F(OutboxNotifierTest, HeaderInjectionIsImpossible) {
  tenant_display_name_ = "Contoso\r\nBcc: boss@contoso.example";
  StartHost({{"dir", outbox_.string()},
             {"template", {{"subject", "Hi\r\nBcc: all@contoso.example\n\nbody"}}}});
  Onboarding o = NewGuest("0004", "eve@fabrikam.com", "Eve\r\nBcc: victim@example.com", "X");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  const Eml eml = ParseEml(ReadFile(outbox_ / "0004.eml"));
  EXPECT_EQ(eml.Count("Bcc"), 0);
  EXPECT_EQ(eml.Header("Subject"), "Hi Bcc: all@contoso.example body");
  EXPECT_THAT(eml.Header("To"), HasSubstr("<eve@fabrikam.com>"));

  Onboarding bad = NewGuest("0005", "eve@fabrikam.com\r\nBcc: victim@example.com", "Eve", "X");
  const StepOutcome refused = Notify(bad);
  EXPECT_EQ(refused.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(refused.error, HasSubstr("email"));
  EXPECT_FALSE(fs::exists(outbox_ / "0005.eml"));
}

TEST_F(OutboxNotifierTest, OnboardingIdsBecomeSafeFileNamesAndMessageIds) {
  StartHost({{"dir", outbox_.string()}});
  Onboarding o = NewGuest("../evil id@x", "ada@fabrikam.com", "Ada", "L");
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  const fs::path path = outcome.outputs.at("eml_path");
  EXPECT_EQ(path.parent_path(), outbox_);
  EXPECT_EQ(path.filename(), "=2E=2E=2Fevil=20id=40x.eml");
  EXPECT_EQ(outcome.outputs.at("message_id"), "<=2E=2E=2Fevil=20id=40x@guestflow>");
}

TEST_F(OutboxNotifierTest, WithoutARedeemUrlTheGuestIsStillToldToAcceptFirst) {
  StartHost({{"dir", outbox_.string()}});
  Onboarding o = NewGuest("0006", "ada@fabrikam.com", "Ada", "L", /*redeem_url=*/"");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  const Eml eml = ParseEml(ReadFile(outbox_ / "0006.eml"));
  EXPECT_THAT(eml.text, AllOf(HasSubstr("accept the invitation"), HasSubstr(kInstanceUrl),
                              Not(HasSubstr("redeem"))));
}

TEST_F(OutboxNotifierTest, OverlongLinesAreQuotedPrintable) {
  const std::string long_url = absl::StrCat(kRedeemUrl, "&pad=", std::string(1200, 'p'));
  StartHost({{"dir", outbox_.string()}});
  Onboarding o = NewGuest("0007", "ada@fabrikam.com", "Ada", "L", long_url);
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  const std::string raw = ReadFile(outbox_ / "0007.eml");
  for (absl::string_view line : absl::StrSplit(raw, "\r\n")) EXPECT_LE(line.size(), 998u);
  const Eml eml = ParseEml(raw);
  EXPECT_EQ(eml.text_headers.Get("Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_THAT(eml.text, AllOf(HasSubstr(long_url), HasSubstr(kInstanceUrl)));
}

TEST_F(OutboxNotifierTest, UnwritableFolderFailsWithItsPath) {
  std::ofstream(root_ / "a-file") << "x";
  const fs::path bad = root_ / "a-file" / "outbox";
  StartHost({{"dir", bad.string()}});
  Onboarding o = NewGuest("0008", "ada@fabrikam.com", "Ada", "L");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr(bad.string()));
}

TEST_F(OutboxNotifierTest, MissingFolderIsMade) {
  outbox_ = root_ / "deep" / "er" / "outbox";
  StartHost({{"dir", outbox_.string()}});
  Onboarding o = NewGuest("0009", "ada@fabrikam.com", "Ada", "L");
  ASSERT_EQ(Notify(o).kind, StepOutcome::Kind::kSucceeded);
  EXPECT_TRUE(fs::exists(outbox_ / "0009.eml"));
}

TEST_F(OutboxNotifierTest, RelativeFolderNeedsABaseDir) {
  auto refused = MakeHost({{"dir", "outbox"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("contoso"), HasSubstr("\"outbox\""), HasSubstr("base_dir")));

  StartHost({{"dir", "outbox"}, {"base_dir", root_.string()}});
  Onboarding o = NewGuest("0010", "ada@fabrikam.com", "Ada", "L");
  const StepOutcome outcome = Notify(o);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(outcome.outputs.at("eml_path"), (root_ / "outbox" / "0010.eml").string());
}

TEST_F(OutboxNotifierTest, BadSettingsAreRefusedAtCreate) {
  auto no_dir = MakeHost(nlohmann::json::object());
  ASSERT_FALSE(no_dir.ok());
  EXPECT_THAT(no_dir.status().message(), HasSubstr("`dir` is required"));

  auto not_a_string = MakeHost({{"dir", 5}});
  ASSERT_FALSE(not_a_string.ok());
  EXPECT_THAT(not_a_string.status().message(), HasSubstr("`dir` must be a string"));

  auto bad_from = MakeHost({{"dir", outbox_.string()}, {"from", "not an address\r\nBcc: x@y.z"}});
  ASSERT_FALSE(bad_from.ok());
  EXPECT_THAT(bad_from.status().message(), HasSubstr("`from`"));

  auto old_key = MakeHost({{"dir", outbox_.string()}, {"subject", "Welcome"}});
  ASSERT_FALSE(old_key.ok());
  EXPECT_THAT(old_key.status().message(), HasSubstr("unknown setting `subject`"));

  auto bad_template =
      MakeHost({{"dir", outbox_.string()}, {"template", {{"text", "Hi {{guest.nickname}}"}}}});
  ASSERT_FALSE(bad_template.ok());
  EXPECT_THAT(bad_template.status().message(),
              AllOf(HasSubstr("contoso"), HasSubstr("outbox_notifier settings"),
                    HasSubstr("template.text"), HasSubstr("'guest.nickname'")));
}

TEST_F(OutboxNotifierTest, NoInstanceUrlIsAPermanentFailure) {
  instance_url_ = "";
  StartHost({{"dir", outbox_.string()}});
  Onboarding o = NewGuest("0011", "ada@fabrikam.com", "Ada", "L");
  const StepOutcome outcome = Notify(o);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("instance URL"));
}

}  // namespace
}  // namespace guestflow
