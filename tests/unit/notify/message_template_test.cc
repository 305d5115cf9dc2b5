// MessageTemplate: the default reads well in both branches, organizations'
// templates render their fields, and every mistake is caught at construction
// (i.e. at config load) with the template and the field named.
#include "common/message_template.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace guestflow::plugins {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

Fields Ada() {
  Fields f;
  f.guest_name = "Ada Lovelace";
  f.first_name = "Ada";
  f.last_name = "Lovelace";
  f.email = "ada@fabrikam.com";
  f.instance_url = "https://contoso.crm.dynamics.com";
  f.redeem_url = "https://login.microsoftonline.com/redeem?rd=x&y=1";
  f.organization_name = "Contoso & Co";
  f.onboarding = "0001";
  f.tenant = "contoso";
  return f;
}

std::string ErrorOf(const json& settings) {
  try {
    MessageTemplate t(settings, "test_notifier");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(MessageTemplateTest, DefaultWithRedeemUrl) {
  const MessageTemplate t(json::object(), "test_notifier");
  const RenderedMessage m = t.Render(Ada());
  EXPECT_EQ(m.subject, "Your access to Contoso & Co Dynamics 365");
  EXPECT_THAT(m.text,
              AllOf(HasSubstr("Hello Ada Lovelace,\n"), HasSubstr(Ada().redeem_url),
                    HasSubstr(Ada().instance_url), HasSubstr("Sign in with ada@fabrikam.com."),
                    Not(HasSubstr("invites@microsoft.com")), Not(HasSubstr("Questions?"))));
  // The invitation comes first; text is not HTML-escaped.
  EXPECT_LT(m.text.find(Ada().redeem_url), m.text.find(Ada().instance_url));
  EXPECT_THAT(m.text, Not(HasSubstr("&amp;")));
  // No line is left holding only a section tag.
  EXPECT_THAT(m.text, Not(HasSubstr("{{")));
  EXPECT_THAT(m.text, Not(HasSubstr("\n\n\n")));
  // The HTML escapes what it must.
  EXPECT_THAT(m.html, AllOf(HasSubstr("Contoso &amp; Co"), HasSubstr("rd=x&amp;y=1"),
                            HasSubstr("<a href=\"https://contoso.crm.dynamics.com\">")));
}

TEST(MessageTemplateTest, DefaultWithoutRedeemUrlPointsAtMicrosoftsMail) {
  Fields f = Ada();
  f.redeem_url.clear();
  f.support_contact = "helpdesk@contoso.example";
  const RenderedMessage m = MessageTemplate(json::object(), "t").Render(f);
  EXPECT_THAT(m.text, Not(HasSubstr("\n\n\n")));
  EXPECT_THAT(m.text, HasSubstr("Questions? Contact helpdesk@contoso.example.\n-- \n"));
  EXPECT_THAT(m.text, AllOf(HasSubstr("invites@microsoft.com"), HasSubstr(f.instance_url),
                            HasSubstr("Questions? Contact helpdesk@contoso.example."),
                            Not(HasSubstr("redeem"))));
  EXPECT_THAT(m.html, HasSubstr("helpdesk@contoso.example"));
}

TEST(MessageTemplateTest, OrganizationTemplateUsesItsFields) {
  const json settings = {
      {"template",
       {{"subject", "Bienvenue {{guest.first_name}} chez {{organization.name}}"},
        {"text",
         "{{#guest}}{{last_name}}/{{email}}{{/guest}} {{instance_url}} {{onboarding}} {{tenant}}"
         "{{#redeem_url}} R={{redeem_url}}{{/redeem_url}}"},
        {"html", ""}}}};
  const MessageTemplate t(settings, "t");
  Fields f = Ada();
  const RenderedMessage m = t.Render(f);
  EXPECT_EQ(m.subject, "Bienvenue Ada chez Contoso & Co");
  EXPECT_EQ(m.text, "Lovelace/ada@fabrikam.com https://contoso.crm.dynamics.com 0001 contoso R=" +
                        f.redeem_url);
  EXPECT_EQ(m.html, "");  // turned off
  f.redeem_url.clear();
  EXPECT_THAT(t.Render(f).text, Not(HasSubstr("R=")));
}

TEST(MessageTemplateTest, SubjectIsOneLine) {
  const MessageTemplate t({{"template", {{"subject", "Hi\r\n{{guest.name}}\nBcc: x@y.z"}}}}, "t");
  Fields f = Ada();
  f.guest_name = "Eve\r\nBcc: all@contoso.example";
  const std::string subject = t.Render(f).subject;
  EXPECT_EQ(subject.find_first_of("\r\n"), std::string::npos) << subject;
}

TEST(MessageTemplateTest, UnknownFieldIsAnErrorNamingIt) {
  EXPECT_THAT(ErrorOf({{"template", {{"text", "Hello {{guest.nmae}}"}}}}),
              AllOf(HasSubstr("test_notifier settings"), HasSubstr("template.text"),
                    HasSubstr("'guest.nmae'"), HasSubstr("guest.first_name")));
  // Inside a section that only renders when an optional field is set...
  EXPECT_THAT(ErrorOf({{"template", {{"html", "{{#redeem_url}}{{redem_url}}{{/redeem_url}}"}}}}),
              AllOf(HasSubstr("template.html"), HasSubstr("'redem_url'")));
  // ...and inside one that renders only when it is not.
  EXPECT_THAT(ErrorOf({{"template", {{"subject", "{{^redeem_url}}{{orgname}}{{/redeem_url}}x"}}}}),
              AllOf(HasSubstr("template.subject"), HasSubstr("'orgname'")));
  EXPECT_THAT(ErrorOf({{"template", {{"text", "{{> footer}}"}}}}), HasSubstr("partial"));
}

TEST(MessageTemplateTest, SyntaxAndShapeErrors) {
  EXPECT_THAT(ErrorOf({{"template", {{"text", "{{#guest}}unclosed"}}}}),
              AllOf(HasSubstr("template.text"), HasSubstr("guest")));
  EXPECT_THAT(ErrorOf({{"template", {{"subject", "{{#redeem_url}}{{/redeem_url}}"}}}}),
              HasSubstr("renders empty"));
  EXPECT_THAT(ErrorOf({{"template", "hello"}}), HasSubstr("must be an object"));
  EXPECT_THAT(ErrorOf({{"template", {{"body", "x"}}}}), HasSubstr("unknown key 'template.body'"));
  EXPECT_THAT(ErrorOf({{"template", {{"text", 5}}}}),
              HasSubstr("'template.text' must be a string"));
  EXPECT_THAT(ErrorOf({{"template", {{"text", "a"}, {"text_file", "b"}}}}), HasSubstr("not both"));
}

TEST(MessageTemplateTest, FilesResolveAgainstBaseDir) {
  char pattern[] = "/tmp/message_template_test.XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::filesystem::path dir = pattern;
  std::ofstream(dir / "welcome.txt") << "Welcome {{guest.first_name}} to {{instance_url}}";
  const MessageTemplate t(
      {{"base_dir", dir.string()}, {"template", {{"text_file", "welcome.txt"}}}}, "t");
  EXPECT_EQ(t.Render(Ada()).text, "Welcome Ada to https://contoso.crm.dynamics.com");

  std::ofstream(dir / "bad.html") << "<p>{{guest.phone}}</p>";
  EXPECT_THAT(ErrorOf({{"base_dir", dir.string()}, {"template", {{"html_file", "bad.html"}}}}),
              HasSubstr("'guest.phone'"));
  EXPECT_THAT(ErrorOf({{"base_dir", dir.string()}, {"template", {{"text_file", "missing.txt"}}}}),
              AllOf(HasSubstr("cannot read template.text_file"), HasSubstr("missing.txt"),
                    HasSubstr("No such file")));
  EXPECT_THAT(ErrorOf({{"template", {{"text_file", "relative.txt"}}}}), HasSubstr("base_dir"));
  std::filesystem::remove_all(dir);
}

TEST(MessageTemplateTest, FieldsFromStepInput) {
  const StepInput in = ParseStepInput(
      json{{"onboarding", "onboardings/0042"},
           {"tenant", "contoso"},
           {"guest", {{"email", "zoe@fabrikam.com"}, {"first_name", "Zoë"}, {"last_name", "Ñu"}}},
           {"tenant_settings",
            {{"instance_url", "https://x.crm.dynamics.com"},
             {"support_contact", "help@contoso.example"}}},
           {"outputs", {{"invite", {{"invite_redeem_url", "https://redeem"}}}}}}
          .dump());
  const Fields f = FieldsFrom(in);
  EXPECT_EQ(f.guest_name, "Zoë Ñu");
  EXPECT_EQ(f.onboarding, "0042");
  EXPECT_EQ(f.organization_name, "contoso");  // no display_name: the id
  EXPECT_EQ(f.support_contact, "help@contoso.example");
  EXPECT_EQ(f.redeem_url, "https://redeem");
  EXPECT_EQ(f.instance_url, "https://x.crm.dynamics.com");
}

}  // namespace
}  // namespace guestflow::plugins
