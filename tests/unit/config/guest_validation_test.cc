#include "server/model/guest_validation.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/model/iso3166.h"

namespace guestflow {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

Guest ValidGuest() {
  Guest g;
  g.email = "ada.lovelace@fabrikam.com";
  g.first_name = "Ada";
  g.last_name = "Lovelace";
  g.display_name = "Ada Lovelace (Fabrikam)";
  g.usage_location = "GB";
  return g;
}

// The message of a status that must be INVALID_ARGUMENT.
std::string Refused(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return absl::StrCat(status.message());
}

std::string EmailError(absl::string_view email) { return Refused(ValidateEmail(email)); }

// --- Guest ------------------------------------------------------------------

TEST(ValidateGuestTest, ValidGuestPasses) {
  EXPECT_TRUE(ValidateGuest(ValidGuest()).ok());
  Guest g = ValidGuest();
  g.display_name.clear();  // optional
  EXPECT_TRUE(ValidateGuest(g).ok());
}

TEST(ValidateGuestTest, EveryProblemIsReportedInFieldOrder) {
  Guest g;
  g.usage_location = "UK";
  g.first_name = "   ";
  const std::vector<std::string> lines = absl::StrSplit(Refused(ValidateGuest(g)), '\n');
  EXPECT_THAT(lines,
              ElementsAre("guest.email: required; expected an address like name@example.com",
                          "guest.first_name: is blank; the guest's first name is required",
                          "guest.last_name: required (the guest's last name)",
                          "guest.usage_location: \"UK\" is not an ISO 3166-1 alpha-2 code; the "
                          "United Kingdom is \"GB\""));
}

TEST(ValidateGuestTest, NamesAreRequired) {
  Guest g = ValidGuest();
  g.first_name.clear();
  EXPECT_EQ(Refused(ValidateGuest(g)), "guest.first_name: required (the guest's first name)");
  g = ValidGuest();
  g.last_name = " \t";
  EXPECT_EQ(Refused(ValidateGuest(g)),
            "guest.last_name: \" \\t\" contains the control character U+0009 at character 2; "
            "remove it");
  g.last_name = "  ";
  EXPECT_EQ(Refused(ValidateGuest(g)),
            "guest.last_name: is blank; the guest's last name is required");
}

TEST(ValidateGuestTest, NameLengthsAreCountedInCharacters) {
  Guest g = ValidGuest();
  // 64 two-byte characters: 128 bytes, still 64 characters.
  std::string name;
  for (int i = 0; i < 64; ++i) name += "é";
  g.first_name = name;
  g.last_name = std::string(64, 'x');
  EXPECT_TRUE(ValidateGuest(g).ok());
  g.first_name += "é";
  EXPECT_THAT(Refused(ValidateGuest(g)), HasSubstr("guest.first_name: \"éééé"));
  EXPECT_THAT(Refused(ValidateGuest(g)),
              HasSubstr("...\" is 65 characters long; at most 64 are allowed"));
  g = ValidGuest();
  g.last_name = std::string(65, 'x');
  EXPECT_THAT(Refused(ValidateGuest(g)), StartsWith("guest.last_name: \"xxxx"));
}

TEST(ValidateGuestTest, DisplayNameLimit) {
  Guest g = ValidGuest();
  g.display_name = std::string(256, 'd');
  EXPECT_TRUE(ValidateGuest(g).ok());
  g.display_name += "d";
  EXPECT_THAT(Refused(ValidateGuest(g)),
              AllOf(StartsWith("guest.display_name: \"dddd"),
                    HasSubstr("is 257 characters long; at most 256 are allowed")));
}

TEST(ValidateGuestTest, ControlCharactersAreRefused) {
  Guest g = ValidGuest();
  g.first_name = "Ada\nBob";
  EXPECT_EQ(Refused(ValidateGuest(g)),
            "guest.first_name: \"Ada\\nBob\" contains the control character U+000A at character "
            "4; remove it");
  g = ValidGuest();
  g.display_name = std::string("Ada\0", 4);
  EXPECT_THAT(Refused(ValidateGuest(g)), HasSubstr("control character U+0000"));
  g.display_name = "Ada \u202Eecilah";  // right-to-left override
  EXPECT_THAT(Refused(ValidateGuest(g)), HasSubstr("control character U+202E at character 5"));
  g.display_name = "Ada\x7F";
  EXPECT_THAT(Refused(ValidateGuest(g)), HasSubstr("control character U+007F"));
  g.display_name = "Ada\xC2\x85";  // NEL, a C1 control
  EXPECT_THAT(Refused(ValidateGuest(g)), HasSubstr("control character U+0085"));
}

TEST(ValidateGuestTest, InvalidUtf8IsRefused) {
  Guest g = ValidGuest();
  g.last_name = "Lov\xE9lace";  // Latin-1, not UTF-8
  EXPECT_EQ(Refused(ValidateGuest(g)),
            "guest.last_name: \"Lov\\xE9lace\" is not valid UTF-8 (bad byte at position 4)");
  g.last_name = "\xC0\xAF";  // overlong "/"
  EXPECT_THAT(Refused(ValidateGuest(g)), HasSubstr("is not valid UTF-8"));
  g.last_name = "\xED\xA0\x80";  // a UTF-16 surrogate
  EXPECT_THAT(Refused(ValidateGuest(g)), HasSubstr("is not valid UTF-8"));
}

TEST(ValidateGuestTest, UnicodeNamesAreAccepted) {
  Guest g = ValidGuest();
  g.first_name = "Zoë";
  g.last_name = "O'Brien-Łukasiewicz";
  g.display_name = "山田 太郎 😀";
  EXPECT_TRUE(ValidateGuest(g).ok());
}

// --- Email ------------------------------------------------------------------

TEST(ValidateEmailTest, ValidAddresses) {
  for (const char* email :
       {"a@b.co", "ada.lovelace@fabrikam.com", "under_score@sub.domain.example.org", "_lead@x.io",
        "trail_@x.io", "o'brien@example.ie", "a-b.c-d@ex-ample.com", "UPPER@EXAMPLE.COM",
        "1234@123.example", "x@xn--bcher-kva.example"}) {
    EXPECT_TRUE(ValidateEmail(email).ok()) << email << ": " << ValidateEmail(email);
  }
}

TEST(ValidateEmailTest, RequiredAndShaped) {
  EXPECT_EQ(EmailError(""), "guest.email: required; expected an address like name@example.com");
  EXPECT_EQ(EmailError("ada.fabrikam.com"),
            "guest.email: \"ada.fabrikam.com\" has no \"@\"; expected an address like "
            "name@example.com");
  EXPECT_EQ(EmailError("a@b@c.com"), "guest.email: \"a@b@c.com\" contains more than one \"@\"");
  EXPECT_EQ(EmailError("@c.com"), "guest.email: \"@c.com\" has nothing before \"@\"");
  EXPECT_EQ(EmailError("a@b"),
            "guest.email: \"a@b\": the domain \"b\" has no dot; expected an address like "
            "name@example.com");
  EXPECT_EQ(EmailError("a@"),
            "guest.email: \"a@\": the domain after \"@\" is missing; expected an address like "
            "name@example.com");
}

TEST(ValidateEmailTest, EveryCharacterGraphRefusesIsRefused) {
  const std::string forbidden = "~!#$%^&*()+=[]{}\\/|;:\"<>?,";
  ASSERT_EQ(forbidden.size(), 26u);
  for (char c : forbidden) {
    const std::string email = absl::StrCat("ada", std::string(1, c), "x@fabrikam.com");
    EXPECT_THAT(EmailError(email),
                HasSubstr("before \"@\", which Microsoft Graph does not accept in an invitation"))
        << email;
  }
  EXPECT_EQ(EmailError("ada+news@fabrikam.com"),
            "guest.email: \"ada+news@fabrikam.com\" contains \"+\" before \"@\", which Microsoft "
            "Graph does not accept in an invitation (not allowed: ~ ! # $ % ^ & * ( ) + = [ ] { } "
            "\\ / | ; : \" < > ? ,)");
}

TEST(ValidateEmailTest, DotAndHyphenNotAtTheEndsOfTheLocalPart) {
  for (const char* email : {".ada@x.com", "ada.@x.com", "-ada@x.com", "ada-@x.com"}) {
    EXPECT_THAT(EmailError(email), HasSubstr("the part before \"@\" starts or ends with")) << email;
  }
  EXPECT_EQ(EmailError("ada.@x.com"),
            "guest.email: \"ada.@x.com\": the part before \"@\" starts or ends with \".\", which "
            "Microsoft Graph does not accept");
  EXPECT_EQ(EmailError("ada..l@x.com"),
            "guest.email: \"ada..l@x.com\" has two dots in a row before \"@\"");
}

TEST(ValidateEmailTest, DomainLabels) {
  EXPECT_THAT(EmailError("a@x..com"), HasSubstr("has an empty part"));
  EXPECT_THAT(EmailError("a@.x.com"), HasSubstr("has an empty part"));
  EXPECT_THAT(EmailError("a@x.com."), HasSubstr("has an empty part"));
  EXPECT_EQ(EmailError("a@-x.com"),
            "guest.email: \"a@-x.com\": the domain part \"-x\" starts or ends with \"-\"; "
            "expected an address like name@example.com");
  EXPECT_THAT(EmailError("a@x-.com"), HasSubstr("the domain part \"x-\" starts or ends"));
  EXPECT_THAT(EmailError("a@ex_ample.com"),
              HasSubstr("the domain \"ex_ample.com\" contains \"_\"; only letters, digits, \"-\" "
                        "and \".\" are allowed"));
  EXPECT_THAT(EmailError("a@[10.0.0.1]"), HasSubstr("contains \"[\""));
  EXPECT_THAT(EmailError("a@10.0.0.1"), HasSubstr("the domain must be a name, not an IP address"));
  const std::string label63(63, 'l');
  EXPECT_TRUE(ValidateEmail(absl::StrCat("a@", label63, ".com")).ok());
  EXPECT_THAT(EmailError(absl::StrCat("a@", label63, "l.com")),
              HasSubstr("is 64 characters long; at most 63 are allowed"));
}

TEST(ValidateEmailTest, LengthLimits) {
  const std::string local64(64, 'a');
  EXPECT_TRUE(ValidateEmail(absl::StrCat(local64, "@x.com")).ok());
  EXPECT_THAT(EmailError(absl::StrCat(local64, "a@x.com")),
              HasSubstr("the part before \"@\" is 65 characters long; at most 64 are allowed"));
  // 254 characters exactly: 64 + "@" + 189-character domain.
  std::string domain;
  while (domain.size() < 189) domain += "abcdefghi.";
  domain.resize(185);
  domain += ".com";
  ASSERT_EQ(domain.size(), 189u);
  ASSERT_NE(domain[184], '.');
  const std::string longest = absl::StrCat(local64, "@", domain);
  ASSERT_EQ(longest.size(), 254u);
  EXPECT_TRUE(ValidateEmail(longest).ok()) << ValidateEmail(longest);
  EXPECT_THAT(EmailError(absl::StrCat("a", longest)),
              HasSubstr("is 255 characters long; at most 254 are allowed"));
}

TEST(ValidateEmailTest, SpacesControlsAndNonAsciiAreRefused) {
  EXPECT_EQ(EmailError("ada lovelace@x.com"),
            "guest.email: \"ada lovelace@x.com\" contains a space");
  EXPECT_EQ(EmailError(" ada@x.com"), "guest.email: \" ada@x.com\" contains a space");
  EXPECT_EQ(EmailError("ada@x.com\n"),
            "guest.email: \"ada@x.com\\n\" contains the control character U+000A; remove it");
  EXPECT_THAT(EmailError("zoë@x.com"),
              HasSubstr("contains a non-ASCII character; only ASCII addresses are accepted"));
  EXPECT_THAT(EmailError("a@bücher.example"), HasSubstr("xn-- form"));
}

TEST(ValidateEmailTest, FieldNameCanBeChosen) {
  EXPECT_EQ(Refused(ValidateEmail("a@b", "InvitedUserEmailAddress")),
            "InvitedUserEmailAddress: \"a@b\": the domain \"b\" has no dot; expected an address "
            "like name@example.com");
}

// --- Usage location -----------------------------------------------------------

TEST(UsageLocationTest, AllAssignedCodesAreAccepted) {
  const auto countries = Iso3166Countries();
  ASSERT_EQ(countries.size(), 249u);
  std::set<std::string> alpha2;
  std::set<std::string> alpha3;
  for (const Iso3166Country& c : countries) {
    EXPECT_TRUE(IsIso3166Alpha2(c.alpha2)) << c.alpha2;
    EXPECT_TRUE(ValidateUsageLocation(c.alpha2).ok()) << c.alpha2;
    EXPECT_EQ(FindIso3166Alpha2(c.alpha2), &c);
    EXPECT_EQ(FindIso3166Alpha3(c.alpha3), &c);
    alpha2.emplace(c.alpha2);
    alpha3.emplace(c.alpha3);
    EXPECT_FALSE(c.name.empty());
  }
  EXPECT_EQ(alpha2.size(), 249u);
  EXPECT_EQ(alpha3.size(), 249u);
  // Spot checks, including recent and unusual assignments.
  for (const char* code :
       {"GB", "US", "JP", "DE", "GR", "SS", "BQ", "CW", "SX", "AQ", "UM", "AX", "PS", "TW", "XK"}) {
    if (std::string(code) == "XK") {
      EXPECT_FALSE(IsIso3166Alpha2(code)) << "XK is user-assigned, not ISO";
    } else {
      EXPECT_TRUE(IsIso3166Alpha2(code)) << code;
    }
  }
  EXPECT_EQ(FindIso3166Alpha2("GB")->name, "United Kingdom");
  EXPECT_EQ(FindIso3166Alpha2("GB")->alpha3, "GBR");
}

TEST(UsageLocationTest, UnassignedCodesAreRefused) {
  for (const char* code :
       {"UK", "EU", "AN", "YU", "ZZ", "AA", "QQ", "XX", "gb", "Gb", "G", "GBR", "", "G B", "12"}) {
    EXPECT_FALSE(IsIso3166Alpha2(code)) << code;
    EXPECT_FALSE(ValidateUsageLocation(code).ok()) << code;
  }
}

TEST(UsageLocationTest, MessagesGiveTheFix) {
  EXPECT_EQ(Refused(ValidateUsageLocation("UK")),
            "guest.usage_location: \"UK\" is not an ISO 3166-1 alpha-2 code; the United Kingdom "
            "is \"GB\"");
  EXPECT_EQ(Refused(ValidateUsageLocation("uk")),
            "guest.usage_location: \"uk\" is not an ISO 3166-1 alpha-2 code; the United Kingdom "
            "is \"GB\"");
  EXPECT_EQ(Refused(ValidateUsageLocation("EL")),
            "guest.usage_location: \"EL\" is not an ISO 3166-1 alpha-2 code; Greece is \"GR\" "
            "(\"EL\" is the European Union's own abbreviation)");
  EXPECT_EQ(Refused(ValidateUsageLocation("gb")),
            "guest.usage_location: \"gb\" must be upper case: \"GB\" (United Kingdom)");
  EXPECT_EQ(Refused(ValidateUsageLocation("De")),
            "guest.usage_location: \"De\" must be upper case: \"DE\" (Germany)");
  EXPECT_EQ(Refused(ValidateUsageLocation("DEU")),
            "guest.usage_location: \"DEU\" is an ISO 3166-1 alpha-3 code; expected the alpha-2 "
            "code \"DE\" (Germany)");
  EXPECT_EQ(Refused(ValidateUsageLocation("usa")),
            "guest.usage_location: \"usa\" is an ISO 3166-1 alpha-3 code; expected the alpha-2 "
            "code \"US\" (United States)");
  EXPECT_EQ(Refused(ValidateUsageLocation("japan")),
            "guest.usage_location: \"japan\" is a country name; expected its ISO 3166-1 alpha-2 "
            "code \"JP\"");
  EXPECT_EQ(Refused(ValidateUsageLocation("EN")),
            "guest.usage_location: \"EN\" is not an ISO 3166-1 alpha-2 code; \"EN\" is the "
            "language code for English; use the country, such as \"GB\" or \"US\"");
  EXPECT_EQ(Refused(ValidateUsageLocation("QQ")),
            "guest.usage_location: \"QQ\" is not an ISO 3166-1 alpha-2 country code; expected "
            "two upper-case letters such as \"US\", \"GB\" or \"JP\"");
  EXPECT_EQ(Refused(ValidateUsageLocation("")),
            "guest.usage_location: required; an ISO 3166-1 alpha-2 country code (expected two "
            "upper-case letters such as \"US\", \"GB\" or \"JP\"); a license cannot be assigned "
            "without it");
  EXPECT_EQ(Refused(ValidateUsageLocation("G\n")),
            "guest.usage_location: \"G\\n\" is not an ISO 3166-1 alpha-2 country code; expected "
            "two upper-case letters such as \"US\", \"GB\" or \"JP\"");
  EXPECT_THAT(Refused(ValidateUsageLocation("JA")), HasSubstr("Japan is \"JP\""));
  EXPECT_THAT(Refused(ValidateUsageLocation("SP")), HasSubstr("Spain is \"ES\""));
}

TEST(UsageLocationTest, FieldNameCanBeChosen) {
  EXPECT_THAT(Refused(ValidateUsageLocation("UK", "UsageLocation")),
              StartsWith("UsageLocation: \"UK\""));
}

// --- Options ------------------------------------------------------------------

TEST(ValidateOptionsTest, DefaultOptionsPass) { EXPECT_TRUE(ValidateOptions({}).ok()); }

TEST(ValidateOptionsTest, RoleCount) {
  OnboardingOptions o;
  for (int i = 0; i < 32; ++i) o.roles.push_back(absl::StrCat("Role ", i));
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.roles.push_back("Role 32");
  EXPECT_EQ(Refused(ValidateOptions(o)), "options.roles: 33 roles given; at most 32 are allowed");
}

TEST(ValidateOptionsTest, RoleNames) {
  OnboardingOptions o;
  o.roles = {"Salesperson", ""};
  EXPECT_EQ(Refused(ValidateOptions(o)), "options.roles[1]: required (a security role name)");
  o.roles = {std::string(100, 'r')};
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.roles = {std::string(101, 'r')};
  EXPECT_THAT(Refused(ValidateOptions(o)),
              AllOf(StartsWith("options.roles[0]: \"rrrr"),
                    HasSubstr("is 101 characters long; at most 100 are allowed")));
  o.roles = {" Salesperson"};
  EXPECT_EQ(Refused(ValidateOptions(o)),
            "options.roles[0]: \" Salesperson\" has leading or trailing spaces");
  o.roles = {"Sales\tperson"};
  EXPECT_THAT(Refused(ValidateOptions(o)), HasSubstr("control character U+0009"));
}

TEST(ValidateOptionsTest, DuplicateRolesIgnoringCase) {
  OnboardingOptions o;
  o.roles = {"Salesperson", "Basic User", "SALESPERSON", "basic user"};
  const std::vector<std::string> lines = absl::StrSplit(Refused(ValidateOptions(o)), '\n');
  EXPECT_THAT(lines, ElementsAre("options.roles[2]: \"SALESPERSON\" is listed twice (also "
                                 "options.roles[0]); role names are compared ignoring case",
                                 "options.roles[3]: \"basic user\" is listed twice (also "
                                 "options.roles[1]); role names are compared ignoring case"));
}

TEST(ValidateOptionsTest, InvitationMessage) {
  OnboardingOptions o;
  o.invitation_message = std::string(2000, 'm');
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.invitation_message = "Hello,\r\n\tWelcome to Contoso.\n";
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.invitation_message = std::string(2001, 'm');
  EXPECT_THAT(Refused(ValidateOptions(o)),
              AllOf(StartsWith("options.invitation_message: \"mmmm"),
                    HasSubstr("...\" is 2001 characters long; at most 2000 are allowed")));
  o.invitation_message = "Hi\x01";
  EXPECT_EQ(Refused(ValidateOptions(o)),
            "options.invitation_message: \"Hi\\u0001\" contains the control character U+0001 at "
            "character 3; remove it");
}

TEST(ValidateOptionsTest, RolesAndMessageProblemsAreBothReported) {
  OnboardingOptions o;
  o.roles = {""};
  o.invitation_message = std::string(2001, 'm');
  const std::vector<std::string> lines = absl::StrSplit(Refused(ValidateOptions(o)), '\n');
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], StartsWith("options.roles[0]:"));
  EXPECT_THAT(lines[1], StartsWith("options.invitation_message:"));
}

TEST(ValidateRoleNamesTest, FieldNameCanBeChosen) {
  EXPECT_EQ(Refused(ValidateRoleNames({"A", "a"}, "Roles")),
            "Roles[1]: \"a\" is listed twice (also Roles[0]); role names are compared ignoring "
            "case");
}

}  // namespace
}  // namespace guestflow
