#include "server/batch/guest_row.h"

#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/batch/csv_reader.h"
#include "server/model/guest_validation.h"

namespace guestflow {

void PrintTo(const RowError& error, std::ostream* os) { *os << error.ToString(); }

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;
using ::testing::StartsWith;

CsvRecord Rec(int64_t line, std::vector<std::string> fields) {
  return CsvRecord{line, std::move(fields)};
}

GuestRowMapper Mapper(std::vector<std::string> header) {
  absl::StatusOr<GuestRowMapper> mapper = GuestRowMapper::FromHeader(Rec(1, std::move(header)));
  EXPECT_TRUE(mapper.ok()) << mapper.status();
  return *std::move(mapper);
}

std::string HeaderError(std::vector<std::string> header) {
  absl::StatusOr<GuestRowMapper> mapper = GuestRowMapper::FromHeader(Rec(1, std::move(header)));
  EXPECT_EQ(mapper.status().code(), absl::StatusCode::kInvalidArgument) << mapper.status();
  return std::string(mapper.status().message());
}

GuestRow Row(const GuestRowMapper& mapper, std::vector<std::string> fields, int64_t line = 2) {
  auto result = mapper.Map(Rec(line, std::move(fields)));
  if (auto* errors = std::get_if<std::vector<RowError>>(&result)) {
    ADD_FAILURE() << "row refused: " << ::testing::PrintToString(*errors);
    return GuestRow();
  }
  return std::get<GuestRow>(std::move(result));
}

std::vector<RowError> Errors(const GuestRowMapper& mapper, std::vector<std::string> fields,
                             int64_t line = 2) {
  auto result = mapper.Map(Rec(line, std::move(fields)));
  if (std::holds_alternative<GuestRow>(result)) {
    ADD_FAILURE() << "row accepted";
    return {};
  }
  return std::get<std::vector<RowError>>(std::move(result));
}

RowError Err(int64_t line, std::string column, std::string reason) {
  return RowError{line, std::move(column), std::move(reason)};
}

constexpr absl::string_view kUkReason =
    "\"UK\" is not an ISO 3166-1 alpha-2 code; the United Kingdom is \"GB\"";

// --- RowError ------------------------------------------------------------------

TEST(RowErrorTest, ToStringNamesLineAndColumn) {
  EXPECT_EQ(Err(12, "UsageLocation", std::string(kUkReason)).ToString(),
            "line 12, column UsageLocation: \"UK\" is not an ISO 3166-1 alpha-2 code; the United "
            "Kingdom is \"GB\"");
  EXPECT_EQ(Err(3, "", "expected 4 fields, got 3").ToString(), "line 3: expected 4 fields, got 3");
}

// --- Headers ----------------------------------------------------------------------

TEST(GuestRowMapperTest, OurColumns) {
  const GuestRowMapper mapper =
      Mapper({"Email", "FirstName", "LastName", "DisplayName", "UsageLocation", "Roles", "Tenant"});
  EXPECT_EQ(mapper.field_count(), 7u);
  const GuestRow row = Row(mapper,
                           {"ada@fabrikam.com", "Ada", "Lovelace", "Ada L. (Fabrikam)", "GB",
                            "Salesperson;Support", "contoso"},
                           5);
  EXPECT_EQ(row.line, 5);
  EXPECT_EQ(row.guest.email, "ada@fabrikam.com");
  EXPECT_EQ(row.guest.first_name, "Ada");
  EXPECT_EQ(row.guest.last_name, "Lovelace");
  EXPECT_EQ(row.guest.display_name, "Ada L. (Fabrikam)");
  EXPECT_EQ(row.guest.usage_location, "GB");
  EXPECT_THAT(row.roles, ElementsAre("Salesperson", "Support"));
  EXPECT_EQ(row.tenant, "contoso");
  EXPECT_EQ(row.send_invitation_message, std::nullopt);
  EXPECT_EQ(row.invitation_message, "");
  EXPECT_EQ(row.redirect_url, "");
}

TEST(GuestRowMapperTest, HeaderNamesIgnoreCaseAndSurroundingSpaces) {
  const GuestRowMapper mapper =
      Mapper({" EMAIL ", "firstname", "LASTNAME\t", "usageLocation", "roles", "TENANT"});
  const GuestRow row = Row(mapper, {"a@b.com", "A", "B", "US", "X", "t1"});
  EXPECT_EQ(row.guest.email, "a@b.com");
  EXPECT_EQ(row.guest.first_name, "A");
  EXPECT_EQ(row.guest.last_name, "B");
  EXPECT_EQ(row.guest.usage_location, "US");
  EXPECT_THAT(row.roles, ElementsAre("X"));
  EXPECT_EQ(row.tenant, "t1");
}

TEST(GuestRowMapperTest, PowerShellSampleHeader) {
  // Microsoft's sample file has only Name and InvitedUserEmailAddress: the
  // header is accepted, but every row lacks the usage location.
  const GuestRowMapper mapper = Mapper({"Name", "InvitedUserEmailAddress"});
  EXPECT_THAT(
      Errors(mapper, {"Gmail B2B Invitee", "b2binvitee@gmail.com"}),
      ElementsAre(Err(2, "",
                      "the file has no UsageLocation column (add one, or give the batch a default "
                      "usage location); required; an ISO 3166-1 alpha-2 "
                      "country code (expected two upper-case letters such as \"US\", \"GB\" or "
                      "\"JP\"); a license cannot be assigned without it")));

  const GuestRowMapper with_location = Mapper({"Name", "InvitedUserEmailAddress", "UsageLocation"});
  const GuestRow row = Row(with_location, {"Gmail B2B Invitee", "b2binvitee@gmail.com", "US"});
  EXPECT_EQ(row.guest.email, "b2binvitee@gmail.com");
  EXPECT_EQ(row.guest.display_name, "Gmail B2B Invitee");
  EXPECT_EQ(row.guest.first_name, "Gmail B2B");
  EXPECT_EQ(row.guest.last_name, "Invitee");

  // A batch's default usage location fills the column the sample lacks, and
  // an empty cell of a file that has it.
  GuestRowMapper with_default = Mapper({"Name", "InvitedUserEmailAddress"});
  with_default.set_default_usage_location("GB");
  EXPECT_EQ(Row(with_default, {"Gmail B2B Invitee", "b2binvitee@gmail.com"}).guest.usage_location,
            "GB");
  GuestRowMapper empty_cell = Mapper({"Name", "InvitedUserEmailAddress", "UsageLocation"});
  empty_cell.set_default_usage_location("GB");
  EXPECT_EQ(Row(empty_cell, {"A B", "a@fabrikam.com", ""}).guest.usage_location, "GB");
  EXPECT_EQ(Row(empty_cell, {"A B", "a@fabrikam.com", "FR"}).guest.usage_location, "FR");
}

// The portal's template header, as downloaded.
constexpr absl::string_view kPortalHeader =
    "Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] "
    "Required,Send invitation message (true or false) [sendEmail],Customized invitation message "
    "[customizedMessageBody]";

TEST(GuestRowMapperTest, PortalTemplate) {
  // The template with our usage location and name columns added.
  const std::string file = absl::StrCat(
      "\xEF\xBB\xBFversion:v1.0,,,,,,\r\n", kPortalHeader,
      ",Usage location [UsageLocation],FirstName,LastName\r\n"
      "ada@fabrikam.com,https://myapps.microsoft.com,true,\"Welcome, Ada!\nSee you.\",GB,Ada,"
      "Lovelace\r\n"
      "bob@fabrikam.com,https://contoso.crm.dynamics.com/main.aspx?app=x,FALSE,,UK,Bob,Smith\r\n");
  CsvReader reader;
  std::vector<CsvRecord> records;
  ASSERT_TRUE(reader.Feed(file, &records).ok());
  ASSERT_TRUE(reader.Finish(&records).ok());
  ASSERT_THAT(records, SizeIs(4));

  EXPECT_TRUE(GuestRowMapper::IsPortalVersionLine(records[0]));
  absl::StatusOr<GuestRowMapper> mapper = GuestRowMapper::FromHeader(records[1]);
  ASSERT_TRUE(mapper.ok()) << mapper.status();

  const GuestRow ada = Row(*mapper, records[2].fields, records[2].line);
  EXPECT_EQ(ada.line, 3);
  EXPECT_EQ(ada.guest.email, "ada@fabrikam.com");
  EXPECT_EQ(ada.redirect_url, "https://myapps.microsoft.com");
  EXPECT_THAT(ada.send_invitation_message, Optional(true));
  EXPECT_EQ(ada.invitation_message, "Welcome, Ada!\nSee you.");
  EXPECT_EQ(ada.guest.usage_location, "GB");
  EXPECT_EQ(ada.guest.first_name, "Ada");
  EXPECT_EQ(ada.guest.last_name, "Lovelace");

  // Columns are reported as written in the header.
  const std::vector<RowError> bob = Errors(*mapper, records[3].fields, records[3].line);
  EXPECT_THAT(bob, ElementsAre(Err(5, "Usage location [UsageLocation]", std::string(kUkReason))));
  EXPECT_EQ(bob[0].ToString(),
            "line 5, column Usage location [UsageLocation]: \"UK\" is not an ISO 3166-1 alpha-2 "
            "code; the United Kingdom is \"GB\"");
}

TEST(GuestRowMapperTest, UnchangedPortalTemplateLacksNamesAndUsageLocation) {
  const GuestRowMapper mapper = Mapper(absl::StrSplit(kPortalHeader, ','));
  // Problems of the columns the file lacks come after those of its fields.
  EXPECT_THAT(Errors(mapper, {"ada@fabrikam.com", "https://myapps.microsoft.com", "maybe", ""}),
              ElementsAre(Err(2, "Send invitation message (true or false) [sendEmail]",
                              "\"maybe\" is neither true nor false"),
                          Err(2, "",
                              "the file has no FirstName column (nor a Name or DisplayName "
                              "column to take it from); required (the guest's first name)"),
                          Err(2, "",
                              "the file has no LastName column (nor a Name or DisplayName "
                              "column to take it from); required (the guest's last name)"),
                          Err(2, "",
                              "the file has no UsageLocation column (add one, or give the batch a "
                              "default usage location); required; an ISO 3166-1 "
                              "alpha-2 country code (expected two upper-case letters such as "
                              "\"US\", \"GB\" or \"JP\"); a license cannot be assigned without "
                              "it")));
}

TEST(GuestRowMapperTest, PortalVersionLine) {
  EXPECT_TRUE(GuestRowMapper::IsPortalVersionLine(Rec(1, {"version:v1.0"})));
  EXPECT_TRUE(GuestRowMapper::IsPortalVersionLine(Rec(1, {" Version:V1.0 ", "", " "})));
  EXPECT_FALSE(GuestRowMapper::IsPortalVersionLine(Rec(1, {"version:v2.0"})));
  EXPECT_FALSE(GuestRowMapper::IsPortalVersionLine(Rec(1, {"version:v1.0", "Email"})));
  EXPECT_FALSE(GuestRowMapper::IsPortalVersionLine(Rec(1, {"Email", "version:v1.0"})));
  EXPECT_FALSE(GuestRowMapper::IsPortalVersionLine(Rec(1, {})));
}

TEST(GuestRowMapperTest, BlankRecord) {
  EXPECT_TRUE(GuestRowMapper::IsBlankRecord(Rec(9, {"", " ", "\t"})));
  EXPECT_FALSE(GuestRowMapper::IsBlankRecord(Rec(9, {"", "x", ""})));
}

TEST(GuestRowMapperTest, UnknownColumnIsRefusedListingTheKnownOnes) {
  EXPECT_EQ(HeaderError({"Email", "UsageLocation", "Phone"}),
            "line 1, column 3 \"Phone\": unknown column; the known columns are Email (or "
            "InvitedUserEmailAddress, inviteeEmail), FirstName, LastName, DisplayName (or Name), "
            "UsageLocation, Roles, Tenant, inviteRedirectURL, sendEmail, customizedMessageBody "
            "(names ignore case)");
  EXPECT_THAT(HeaderError({"Email", "Phone number [phone] Required"}),
              StartsWith("line 1, column 2 \"Phone number [phone] Required\": unknown column"));
  EXPECT_THAT(HeaderError({"Email", ""}),
              StartsWith("line 1, column 2 \"\": the column has no name; remove it or name it"));
}

TEST(GuestRowMapperTest, DuplicateColumnIsRefused) {
  EXPECT_EQ(HeaderError({"Email", "UsageLocation", "email"}),
            "line 1, column 3 \"email\": a second email column (column 1 \"Email\" is one "
            "already); keep one");
  EXPECT_EQ(HeaderError({"InvitedUserEmailAddress", "Email address to invite [inviteeEmail]"}),
            "line 1, column 2 \"Email address to invite [inviteeEmail]\": a second email column "
            "(column 1 \"InvitedUserEmailAddress\" is one already); keep one");
  EXPECT_THAT(HeaderError({"Email", "Name", "DisplayName"}),
              HasSubstr("column 3 \"DisplayName\": a second display name column (column 2 "
                        "\"Name\" is one already)"));
}

TEST(GuestRowMapperTest, MissingEmailColumnIsRefused) {
  EXPECT_EQ(HeaderError({"Name", "UsageLocation"}),
            "line 1: no email column; name one Email, InvitedUserEmailAddress or inviteeEmail");
}

TEST(GuestRowMapperTest, EveryHeaderProblemIsListed) {
  const std::vector<std::string> lines =
      absl::StrSplit(HeaderError({"Phone", "Roles", "roles"}), '\n');
  ASSERT_THAT(lines, SizeIs(3));
  EXPECT_THAT(lines[0], StartsWith("line 1, column 1 \"Phone\": unknown column"));
  EXPECT_THAT(lines[1], StartsWith("line 1, column 3 \"roles\": a second roles column"));
  EXPECT_THAT(lines[2], StartsWith("line 1: no email column"));
}

// --- Rows --------------------------------------------------------------------------

TEST(GuestRowMapperTest, EveryBadFieldIsReportedInColumnOrder) {
  const GuestRowMapper mapper =
      Mapper({"UsageLocation", "LastName", "Email", "FirstName", "sendEmail", "inviteRedirectURL"});
  EXPECT_THAT(
      Errors(mapper, {"UK", "", "ada@", "Ada", "yes", "ftp://x"}, 12),
      ElementsAre(Err(12, "UsageLocation", std::string(kUkReason)),
                  Err(12, "LastName", "required (the guest's last name)"),
                  Err(12, "Email",
                      "\"ada@\": the domain after \"@\" is missing; expected an address like "
                      "name@example.com"),
                  Err(12, "sendEmail", "\"yes\" is neither true nor false"),
                  Err(12, "inviteRedirectURL",
                      "\"ftp://x\" is not an http(s) URL; expected an absolute http(s) URL such "
                      "as https://myapps.microsoft.com")));
}

TEST(GuestRowMapperTest, MessagesAreThoseOfTheApi) {
  // The same validator, without the API's field name.
  const GuestRowMapper mapper = Mapper({"Email", "FirstName", "LastName", "UsageLocation"});
  Guest guest;
  guest.email = "a b@c.com";
  guest.first_name = "A";
  guest.last_name = "B";
  guest.usage_location = "de";
  const std::string api = std::string(ValidateGuest(guest).message());
  const std::vector<RowError> errors = Errors(mapper, {"a b@c.com", "A", "B", "de"});
  ASSERT_THAT(errors, SizeIs(2));
  EXPECT_EQ(api, absl::StrCat("guest.email: ", errors[0].reason,
                              "\nguest.usage_location: ", errors[1].reason));
  EXPECT_EQ(errors[1].reason, "\"de\" must be upper case: \"DE\" (Germany)");
}

TEST(GuestRowMapperTest, WrongFieldCount) {
  const GuestRowMapper mapper = Mapper({"Email", "FirstName", "LastName", "UsageLocation"});
  EXPECT_THAT(Errors(mapper, {"a@b.com", "A", "B"}, 7),
              ElementsAre(Err(7, "", "expected 4 fields, got 3")));
  EXPECT_THAT(Errors(mapper, {"a@b.com", "Smith", " Jr.", "B", "GB"}, 8),
              ElementsAre(Err(8, "",
                              "expected 4 fields, got 5 (a value that holds a comma must be in "
                              "quotes)")));
}

TEST(GuestRowMapperTest, ValuesAreTrimmedOfSpacesAndTabsOnly) {
  const GuestRowMapper mapper = Mapper(
      {"Email", "FirstName", "LastName", "UsageLocation", "Tenant", "customizedMessageBody"});
  const GuestRow row =
      Row(mapper, {" a@b.com\t", "  Ada ", "\tLovelace", " GB ", " t1 ", "  Hi,\nwelcome \n "});
  EXPECT_EQ(row.guest.email, "a@b.com");
  EXPECT_EQ(row.guest.first_name, "Ada");
  EXPECT_EQ(row.guest.last_name, "Lovelace");
  EXPECT_EQ(row.guest.usage_location, "GB");
  EXPECT_EQ(row.tenant, "t1");
  EXPECT_EQ(row.invitation_message, "Hi,\nwelcome \n");
}

TEST(GuestRowMapperTest, RolesAreSplitAtSemicolons) {
  const GuestRowMapper mapper =
      Mapper({"Email", "FirstName", "LastName", "UsageLocation", "Roles"});
  const auto roles = [&](std::string value) {
    return Row(mapper, {"a@b.com", "A", "B", "GB", std::move(value)}).roles;
  };
  EXPECT_THAT(roles(""), IsEmpty());
  EXPECT_THAT(roles("Salesperson"), ElementsAre("Salesperson"));
  EXPECT_THAT(roles(" Salesperson ; Customer Service Representative;;Support; "),
              ElementsAre("Salesperson", "Customer Service Representative", "Support"));
  EXPECT_THAT(roles(";"), IsEmpty());

  EXPECT_THAT(Errors(mapper, {"a@b.com", "A", "B", "GB", "Sales;Support;sales"}),
              ElementsAre(Err(2, "Roles",
                              "Roles[2]: \"sales\" is listed twice (also Roles[0]); role names are "
                              "compared ignoring case")));
  std::vector<std::string> many;
  many.reserve(33);
  for (int i = 0; i < 33; ++i) many.push_back(absl::StrCat("Role", i));
  EXPECT_THAT(Errors(mapper, {"a@b.com", "A", "B", "GB", absl::StrJoin(many, ";")}),
              ElementsAre(Err(2, "Roles", "33 roles given; at most 32 are allowed")));
  const std::vector<RowError> two =
      Errors(mapper, {"a@b.com", "A", "B", "GB", absl::StrCat("A;a;", std::string(101, 'x'))});
  ASSERT_THAT(two, SizeIs(1));  // one error per field, naming each bad role
  EXPECT_THAT(two[0].reason, StartsWith("Roles[1]: \"a\" is listed twice"));
  EXPECT_THAT(two[0].reason, HasSubstr("; Roles[2]: \"xxx"));
}

TEST(GuestRowMapperTest, NamesAreTakenFromTheDisplayNameWhenTheirColumnsAreMissing) {
  const GuestRowMapper mapper = Mapper({"Email", "Name", "UsageLocation"});
  const auto names = [&](std::string display) {
    const GuestRow row = Row(mapper, {"a@b.com", std::move(display), "GB"});
    return std::vector<std::string>{row.guest.first_name, row.guest.last_name,
                                    row.guest.display_name};
  };
  EXPECT_THAT(names("Ada Lovelace"), ElementsAre("Ada", "Lovelace", "Ada Lovelace"));
  EXPECT_THAT(names("Mary Ann Smith"), ElementsAre("Mary Ann", "Smith", "Mary Ann Smith"));
  EXPECT_THAT(names("  Ada   Lovelace "), ElementsAre("Ada", "Lovelace", "Ada   Lovelace"));
  EXPECT_THAT(names("Cher"), ElementsAre("Cher", "Cher", "Cher"));

  // Only a missing column is derived.
  const GuestRowMapper with_first = Mapper({"Email", "DisplayName", "UsageLocation", "FirstName"});
  const GuestRow row = Row(with_first, {"a@b.com", "Ada Lovelace", "GB", "Augusta Ada"});
  EXPECT_EQ(row.guest.first_name, "Augusta Ada");
  EXPECT_EQ(row.guest.last_name, "Lovelace");
  EXPECT_THAT(Errors(with_first, {"a@b.com", "Ada Lovelace", "GB", ""}),
              ElementsAre(Err(2, "FirstName", "required (the guest's first name)")));
}

TEST(GuestRowMapperTest, ProblemsOfDerivedNamesGoToTheDisplayNameColumn) {
  const GuestRowMapper mapper = Mapper({"Email", "Name", "UsageLocation"});
  EXPECT_THAT(Errors(mapper, {"a@b.com", "", "GB"}),
              ElementsAre(Err(2, "Name",
                              "required (the guest's name; first and last names are taken "
                              "from it)")));
  const std::string long_word(70, 'x');
  const std::string shown = absl::StrCat("\"", std::string(64, 'x'), "...\"");
  EXPECT_THAT(Errors(mapper, {"a@b.com", absl::StrCat("Ada ", long_word), "GB"}),
              ElementsAre(Err(2, "Name",
                              absl::StrCat("the last name taken from it: ", shown,
                                           " is 70 characters long; at most 64 are allowed"))));
  // A bad display name is reported once, not once more for each name taken
  // from it.
  EXPECT_THAT(Errors(mapper, {"a@b.com", "Ada\x01 Lovelace", "GB"}),
              ElementsAre(Err(2, "Name",
                              "\"Ada\\u0001 Lovelace\" contains the control character U+0001 at "
                              "character 4; remove it")));
}

TEST(GuestRowMapperTest, SendEmailIsTrueOrFalse) {
  const GuestRowMapper mapper = Mapper({"Email", "FirstName", "LastName", "UsageLocation",
                                        "Send invitation message (true or false) [sendEmail]"});
  const auto send = [&](std::string value) {
    return Row(mapper, {"a@b.com", "A", "B", "GB", std::move(value)}).send_invitation_message;
  };
  EXPECT_THAT(send("true"), Optional(true));
  EXPECT_THAT(send("TRUE"), Optional(true));
  EXPECT_THAT(send(" False "), Optional(false));
  EXPECT_EQ(send(""), std::nullopt);
  EXPECT_THAT(Errors(mapper, {"a@b.com", "A", "B", "GB", "1"}),
              ElementsAre(Err(2, "Send invitation message (true or false) [sendEmail]",
                              "\"1\" is neither true nor false")));
}

TEST(GuestRowMapperTest, RedirectUrlMustBeHttp) {
  const GuestRowMapper mapper =
      Mapper({"Email", "FirstName", "LastName", "UsageLocation", "inviteRedirectURL"});
  const auto check = [&](std::string url) {
    auto result = mapper.Map(Rec(2, {"a@b.com", "A", "B", "GB", std::move(url)}));
    if (auto* row = std::get_if<GuestRow>(&result)) return std::string("ok: ") + row->redirect_url;
    return std::get<std::vector<RowError>>(result).at(0).reason;
  };
  EXPECT_EQ(check("https://myapps.microsoft.com"), "ok: https://myapps.microsoft.com");
  EXPECT_EQ(check("HTTP://127.0.0.1:8080/x?y#z"), "ok: HTTP://127.0.0.1:8080/x?y#z");
  EXPECT_EQ(check(""), "ok: ");
  EXPECT_THAT(check("myapps.microsoft.com"), StartsWith("\"myapps.microsoft.com\" is not an "
                                                        "http(s) URL"));
  EXPECT_THAT(check("https:///path"), StartsWith("\"https:///path\" has no host"));
  EXPECT_THAT(check("https://user:pw@host.com"), HasSubstr("contains a user name or password"));
  EXPECT_THAT(check("https://host.com/a b"), HasSubstr("contains a space"));
}

TEST(GuestRowMapperTest, InvitationMessageIsChecked) {
  const GuestRowMapper mapper =
      Mapper({"Email", "FirstName", "LastName", "UsageLocation", "customizedMessageBody"});
  EXPECT_THAT(Errors(mapper, {"a@b.com", "A", "B", "GB", std::string(2001, 'm')}),
              ElementsAre(Err(2, "customizedMessageBody",
                              absl::StrCat("\"", std::string(64, 'm'),
                                           "...\" is 2001 characters long; at most 2000 are "
                                           "allowed"))));
}

TEST(GuestRowMapperTest, MapperIsUsableAfterMove) {
  absl::StatusOr<GuestRowMapper> mapper =
      GuestRowMapper::FromHeader(Rec(1, {"Email", "FirstName", "LastName", "UsageLocation"}));
  ASSERT_TRUE(mapper.ok());
  const GuestRowMapper moved = *std::move(mapper);
  EXPECT_EQ(Row(moved, {"a@b.com", "A", "B", "GB"}).guest.email, "a@b.com");
}

}  // namespace
}  // namespace guestflow
