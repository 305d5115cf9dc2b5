// BuildMessage: a text-only message stays text/plain; with HTML it becomes a
// multipart/alternative whose boundary is stable, absent from both parts and
// whose parts each carry their own encoding.
#include "common/mail_message.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow::plugins {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

MailMessage Sample() {
  MailMessage m;
  m.from = {"Contoso", "onboarding@contoso.example"};
  m.to = {"Zoë", "zoe@fabrikam.com"};
  m.subject = "Welcome";
  m.date = Rfc5322Date(0);
  m.message_id = "<0001@guestflow>";
  m.body = "Hello\nopen https://contoso.crm.dynamics.com\n";
  return m;
}

std::string BoundaryOf(const std::string& raw) {
  const std::string key = "boundary=\"";
  const size_t at = raw.find(key);
  if (at == std::string::npos) return "";
  return raw.substr(at + key.size(), raw.find('"', at + key.size()) - at - key.size());
}

TEST(MailMessageTest, TextOnlyIsTextPlain) {
  const std::string raw = BuildMessage(Sample());
  EXPECT_THAT(raw, HasSubstr("\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
  EXPECT_THAT(raw, Not(HasSubstr("multipart")));
  EXPECT_THAT(raw, HasSubstr("\r\n\r\nHello\r\nopen https://contoso.crm.dynamics.com\r\n"));
}

TEST(MailMessageTest, HtmlMakesAStableMultipartAlternative) {
  MailMessage m = Sample();
  m.html_body = "<p>Hello</p>\n<p>" + std::string(1200, 'x') + "</p>\n";
  const std::string raw = BuildMessage(m);
  EXPECT_EQ(raw, BuildMessage(m)) << "the same message builds the same bytes";
  const std::string boundary = BoundaryOf(raw);
  ASSERT_FALSE(boundary.empty()) << raw;
  EXPECT_THAT(raw, HasSubstr("Content-Type: multipart/alternative; boundary=\"" + boundary));

  const std::vector<std::string> parts = absl::StrSplit(raw, "\r\n--" + boundary);
  ASSERT_EQ(parts.size(), 4u) << raw;  // preamble, text, html, "--" epilogue
  EXPECT_THAT(parts[1], HasSubstr("Content-Type: text/plain; charset=UTF-8\r\n"
                                  "Content-Transfer-Encoding: 8bit\r\n\r\nHello\r\n"));
  // A 1200-octet line cannot go 8bit (998 max): quoted-printable, soft breaks.
  EXPECT_THAT(parts[2], HasSubstr("Content-Type: text/html; charset=UTF-8\r\n"
                                  "Content-Transfer-Encoding: quoted-printable\r\n"));
  EXPECT_THAT(parts[2], HasSubstr("=\r\n"));
  EXPECT_EQ(parts[3], "--\r\n");

  MailMessage other = m;
  other.message_id = "<0002@guestflow>";
  EXPECT_NE(BoundaryOf(BuildMessage(other)), boundary);
}

TEST(MailMessageTest, BoundaryAvoidsTheContent) {
  MailMessage m = Sample();
  m.html_body = "<p>x</p>";
  const std::string first = BoundaryOf(BuildMessage(m));
  m.body += first + "\n";  // a body that contains the boundary it would get
  const std::string second = BoundaryOf(BuildMessage(m));
  EXPECT_NE(second, first);
  EXPECT_THAT(m.body, Not(HasSubstr(second)));
}

TEST(MailMessageTest, DomainOf) {
  EXPECT_EQ(DomainOf("a@contoso.com"), "contoso.com");
  EXPECT_EQ(DomainOf("nodomain"), "");
}

}  // namespace
}  // namespace guestflow::plugins
