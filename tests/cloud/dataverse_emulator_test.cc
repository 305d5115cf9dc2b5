// The emulator's Power Platform admin (addUser) and Dataverse Web API routes,
// over raw HTTP. Users are put into the emulated directory through its state
// so that these tests depend on no other route group.
#include <cctype>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "emulator/odata_query.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/cloud/cloud_test_env.h"

namespace guestflow {
namespace {

using ::guestflow::cloudtest::CloudTestEnv;
using ::guestflow::cloudtest::kContosoClientId;
using ::guestflow::cloudtest::kContosoDirectory;
using ::guestflow::cloudtest::kContosoEnvironment;
using ::guestflow::cloudtest::kContosoGroup;
using ::guestflow::cloudtest::kContosoSecret;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;

constexpr char kRootBu[] = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2901";
constexpr char kSalesBu[] = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2902";
constexpr char kSalesperson[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01";
constexpr char kSalesManager[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02";
constexpr char kSalespersonOfSales[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c04";
constexpr char kPlan1[] = "ea126fc5-a19e-42e2-a731-da9d437bffcf";
constexpr char kFabrikamDirectory[] = "2b7e151c-2a6f-4f1d-8e3c-7a9b0c1d2e02";
constexpr char kFabrikamClientId[] = "4c9d0e1f-2a3b-4c5d-8e6f-7a8b9c0d1e02";
constexpr char kFabrikamSecret[] = "fabrikam-emulator-secret";

constexpr char kApi[] = "/orgs/contoso/api/data/v9.2/";

std::string AddUserPath(const std::string& env, const std::string& version = "2023-06-01") {
  std::string path = absl::StrCat(
      "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/", env, "/addUser");
  if (!version.empty()) absl::StrAppend(&path, "?api-version=", version);
  return path;
}

std::string PercentEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

std::string NoApplicationUserFixture() {
  return (std::filesystem::path(__FILE__).parent_path() / "testdata" /
          "dataverse_no_application_user.yaml")
      .string();
}

class DataverseEmulatorTest : public ::testing::Test {
 protected:
  explicit DataverseEmulatorTest(const std::string& fixture = GUESTFLOW_DEMO_FIXTURE)
      : env_(fixture), client_(env_.base_url()) {
    // cpp-httplib's stop() is a no-op until the serving thread has entered
    // its accept loop: an answered request proves it has, so that
    // ~CloudTestEnv cannot hang.
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto res = client_.Get("/_emulator/health");
      if (res && res->status == 200) return;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "the emulator does not answer /_emulator/health";
  }

  std::string Token(const std::string& scope, const std::string& directory = kContosoDirectory,
                    const std::string& client_id = kContosoClientId,
                    const std::string& secret = kContosoSecret) {
    httplib::Params form{{"client_id", client_id},
                         {"client_secret", secret},
                         {"scope", scope},
                         {"grant_type", "client_credentials"}};
    auto res = client_.Post(absl::StrCat("/", directory, "/oauth2/v2.0/token").c_str(), form);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    if (!res || res->status != 200) return "";
    return json::parse(res->body)["access_token"].get<std::string>();
  }

  std::string AdminToken() { return Token("https://service.powerapps.com/.default"); }
  std::string DataverseToken() {
    return Token(absl::StrCat(env_.base_url(), "/orgs/contoso/.default"));
  }

  httplib::Headers Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token},
            {"Accept", "application/json"},
            {"OData-MaxVersion", "4.0"},
            {"OData-Version", "4.0"}};
  }

  // A user of the contoso directory; licensed and in the environment's
  // security group unless told otherwise. Returns its object id.
  std::string AddDirectoryUser(const std::string& name, bool licensed = true,
                               bool in_group = true) {
    const std::string id = emulator::NewGuid();
    env_.emulator().state().Locked([&](emulator::CloudState& s) {
      emulator::Tenant* t = s.FindTenant(kContosoDirectory);
      emulator::User u;
      u.id = id;
      u.user_principal_name = absl::StrCat(name, "_fabrikam.com#EXT#@contoso.onmicrosoft.com");
      u.mail = absl::StrCat(name, "@fabrikam.com");
      u.given_name = "Ada";
      u.surname = name;
      u.user_type = "Guest";
      if (licensed) {
        u.assigned_sku_ids = {kPlan1};
        u.license_effective_at = absl::InfinitePast();
      }
      t->users.push_back(u);
      if (in_group) t->FindGroup(kContosoGroup)->members.insert(id);
      return 0;
    });
    return id;
  }

  httplib::Result AddUser(const std::string& object_id, const std::string& key = "objectId") {
    return client_.Post(AddUserPath(kContosoEnvironment).c_str(), Bearer(AdminToken()),
                        json{{key, object_id}}.dump(), "application/json");
  }

  httplib::Result Get(const std::string& path, const std::string& token) {
    return client_.Get(absl::StrCat(kApi, path).c_str(), Bearer(token));
  }

  // The systemuser row of `object_id`, via the Web API ({} if none).
  json FindSystemUser(const std::string& object_id, const std::string& token) {
    auto res = Get(
        absl::StrCat("systemusers?$filter=azureactivedirectoryobjectid%20eq%20", object_id), token);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    if (!res) return json::object();
    json rows = json::parse(res->body)["value"];
    return rows.empty() ? json::object() : rows[0];
  }

  // A licensed guest made a systemuser through addUser; returns its id.
  std::string SystemUser(const std::string& name, const std::string& token) {
    const std::string object_id = AddDirectoryUser(name);
    auto res = AddUser(object_id);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    return FindSystemUser(object_id, token).value("systemuserid", "");
  }

  httplib::Result Associate(const std::string& systemuser, const std::string& role,
                            const std::string& token) {
    return client_.Post(
        absl::StrCat(kApi, "systemusers(", systemuser, ")/systemuserroles_association/$ref")
            .c_str(),
        Bearer(token),
        json{{"@odata.id",
              absl::StrCat("https://contoso.crm.dynamics.com/api/data/v9.2/roles(", role, ")")}}
            .dump(),
        "application/json");
  }

  json Counters() { return env_.GetJson("/_emulator/counters"); }

  static std::string ErrorCode(const httplib::Result& res) {
    if (!res) return "<no answer>";
    json body = json::parse(res->body, nullptr, false);
    if (!body.is_object() || !body.contains("error")) return "<no error>";
    return body["error"].value("code", "");
  }

  CloudTestEnv env_;
  httplib::Client client_;
};

TEST_F(DataverseEmulatorTest, AddUserNeedsASupportedApiVersion) {
  const std::string id = AddDirectoryUser("v");
  const httplib::Headers auth = Bearer(AdminToken());
  const std::string body = json{{"objectId", id}}.dump();
  auto missing =
      client_.Post(AddUserPath(kContosoEnvironment, "").c_str(), auth, body, "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_EQ(ErrorCode(missing), "MissingApiVersionParameter");
  auto wrong = client_.Post(AddUserPath(kContosoEnvironment, "2099-01-01").c_str(), auth, body,
                            "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 400);
  for (const char* version : {"2019-05-01", "2020-10-01", "2021-04-01", "2023-06-01"}) {
    auto ok = client_.Post(AddUserPath(kContosoEnvironment, version).c_str(), auth, body,
                           "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << version << " " << ok->body;
  }
}

TEST_F(DataverseEmulatorTest, AddUserRefusesUnknownOrForeignEnvironmentsAndUsers) {
  const std::string id = AddDirectoryUser("x");
  auto unknown = client_.Post(AddUserPath(emulator::NewGuid()).c_str(), Bearer(AdminToken()),
                              json{{"objectId", id}}.dump(), "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  // Fabrikam's app may not add users to Contoso's environment.
  const std::string fabrikam = Token("https://service.powerapps.com/.default", kFabrikamDirectory,
                                     kFabrikamClientId, kFabrikamSecret);
  auto foreign = client_.Post(AddUserPath(kContosoEnvironment).c_str(), Bearer(fabrikam),
                              json{{"objectId", id}}.dump(), "application/json");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 404);

  auto no_user = AddUser(emulator::NewGuid());
  ASSERT_TRUE(no_user);
  EXPECT_EQ(no_user->status, 404);

  auto no_body = client_.Post(AddUserPath(kContosoEnvironment).c_str(), Bearer(AdminToken()), "{}",
                              "application/json");
  ASSERT_TRUE(no_body);
  EXPECT_EQ(no_body->status, 400);

  auto graph_token = client_.Post(AddUserPath(kContosoEnvironment).c_str(),
                                  Bearer(Token("https://graph.microsoft.com/.default")),
                                  json{{"objectId", id}}.dump(), "application/json");
  ASSERT_TRUE(graph_token);
  EXPECT_EQ(graph_token->status, 401);
}

TEST_F(DataverseEmulatorTest, AddUserSaysUserNotLicensedUntilTheLicenseIsEffective) {
  const std::string unlicensed = AddDirectoryUser("u", /*licensed=*/false);
  auto res = AddUser(unlicensed);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("userNotLicensed"));

  // Licensed, but the license has not propagated yet.
  env_.emulator().state().Locked([&](emulator::CloudState& s) {
    emulator::User* u = s.FindTenant(kContosoDirectory)->FindUser(unlicensed);
    u->assigned_sku_ids = {kPlan1};
    u->license_effective_at = absl::Now() + absl::Hours(1);
    return 0;
  });
  res = AddUser(unlicensed);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("userNotLicensed"));
  EXPECT_TRUE(FindSystemUser(unlicensed, DataverseToken()).empty());

  env_.emulator().state().Locked([&](emulator::CloudState& s) {
    s.FindTenant(kContosoDirectory)->FindUser(unlicensed)->license_effective_at = absl::Now();
    return 0;
  });
  res = AddUser(unlicensed);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(DataverseEmulatorTest, AddUserNeedsTheEnvironmentsSecurityGroup) {
  const std::string outsider = AddDirectoryUser("o", /*licensed=*/true, /*in_group=*/false);
  auto res = AddUser(outsider);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_THAT(res->body, HasSubstr("userNotInSecurityGroup"));
}

TEST_F(DataverseEmulatorTest, AddUserCreatesOneSystemUserInTheRootBusinessUnit) {
  const std::string object_id = AddDirectoryUser("grace");
  auto first = AddUser(object_id);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "");
  auto second = AddUser(object_id, "ObjectId");  // the key some callers use
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);

  const std::string token = DataverseToken();
  auto res = Get(absl::StrCat("systemusers?$select=systemuserid,isdisabled,_businessunitid_value,"
                              "internalemailaddress,domainname,firstname,lastname&$filter="
                              "azureactivedirectoryobjectid%20eq%20",
                              object_id),
                 token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("OData-Version"), "4.0");
  const json body = json::parse(res->body);
  ASSERT_EQ(body["value"].size(), 1u) << "addUser is idempotent";
  const json& row = body["value"][0];
  EXPECT_THAT(body["@odata.context"].get<std::string>(),
              HasSubstr("$metadata#systemusers(systemuserid,isdisabled,_businessunitid_value,"));
  EXPECT_THAT(row["@odata.etag"].get<std::string>(), HasSubstr("W/\""));
  EXPECT_EQ(row["_businessunitid_value"], kRootBu);
  EXPECT_EQ(row["isdisabled"], false);
  EXPECT_EQ(row["internalemailaddress"], "grace@fabrikam.com");
  EXPECT_EQ(row["domainname"], "grace_fabrikam.com#EXT#@contoso.onmicrosoft.com");
  EXPECT_EQ(row["firstname"], "Ada");
  EXPECT_EQ(row["lastname"], "grace");
  EXPECT_FALSE(row.contains("azureactivedirectoryobjectid")) << "not selected";
}

// Look-ups among many system users find exactly the one asked for, whatever
// the case of the id or email, by the columns the emulator checks before it
// builds a row (ids, email) and by the others alike.
TEST_F(DataverseEmulatorTest, SystemUsersAreFoundByAnyColumnInAnyCase) {
  const std::string token = DataverseToken();
  std::vector<std::string> object_ids;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    object_ids.push_back(AddDirectoryUser(absl::StrCat("user", i)));
    ASSERT_TRUE(AddUser(object_ids.back()));
    ids.push_back(FindSystemUser(object_ids.back(), token).value("systemuserid", ""));
    ASSERT_FALSE(ids.back().empty());
  }
  auto rows = [&](const std::string& query) {
    auto res = Get(absl::StrCat("systemusers?$select=systemuserid&$filter=", query), token);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    std::vector<std::string> found;
    if (res && res->status == 200) {
      const json body = json::parse(res->body);
      for (const json& row : body["value"]) found.push_back(row["systemuserid"]);
    }
    return found;
  };
  EXPECT_THAT(rows(absl::StrCat("azureactivedirectoryobjectid%20eq%20",
                                absl::AsciiStrToUpper(object_ids[3]))),
              ElementsAre(ids[3]));
  EXPECT_THAT(rows("internalemailaddress%20eq%20'USER2@fabrikam.com'"), ElementsAre(ids[2]));
  EXPECT_THAT(rows(absl::StrCat("systemuserid%20eq%20", ids[1])), ElementsAre(ids[1]));
  EXPECT_THAT(rows("lastname%20eq%20'user4'"), ElementsAre(ids[4]));
  EXPECT_THAT(
      rows("internalemailaddress%20eq%20'user2@fabrikam.com'%20and%20lastname%20eq%20'user3'"),
      IsEmpty());
  auto one =
      Get(absl::StrCat("systemusers(", absl::AsciiStrToUpper(ids[0]), ")?$select=lastname"), token);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->status, 200) << one->body;
  EXPECT_EQ(json::parse(one->body)["lastname"], "user0");
}

TEST_F(DataverseEmulatorTest, ASyncedUserStaysInvisibleForTheSyncDelay) {
  env_.SetKnobs({{"dataverse_sync_delay_ms", 60000}});
  const std::string object_id = AddDirectoryUser("late");
  auto res = AddUser(object_id);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const std::string token = DataverseToken();
  EXPECT_TRUE(FindSystemUser(object_id, token).empty());

  std::string id;
  env_.emulator().state().Locked([&](emulator::CloudState& s) {
    id = s.FindEnvironmentById(kContosoEnvironment, nullptr)->system_users.back().id;
    return 0;
  });
  auto single = Get(absl::StrCat("systemusers(", id, ")"), token);
  ASSERT_TRUE(single);
  EXPECT_EQ(single->status, 404);
  EXPECT_EQ(ErrorCode(single), "0x80040217");
  EXPECT_THAT(single->body,
              HasSubstr(absl::StrCat("systemuser With Id = ", id, " Does Not Exist")));
}

TEST_F(DataverseEmulatorTest, WhoAmINamesTheApplicationUserAndTheRootBusinessUnit) {
  auto res = Get("WhoAmI", DataverseToken());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("OData-Version"), "4.0");
  const json body = json::parse(res->body);
  EXPECT_EQ(body["BusinessUnitId"], kRootBu);
  EXPECT_TRUE(emulator::IsGuid(body["UserId"].get<std::string>()));
  EXPECT_TRUE(emulator::IsGuid(body["OrganizationId"].get<std::string>()));
  EXPECT_THAT(body["@odata.context"].get<std::string>(),
              HasSubstr("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"));
}

TEST_F(DataverseEmulatorTest, RolesAreFoundByNameInABusinessUnit) {
  const std::string token = DataverseToken();
  auto root =
      Get(absl::StrCat("roles?$select=roleid,name&$filter=name%20eq%20'Salesperson'%20and%20"
                       "_businessunitid_value%20eq%20",
                       kRootBu),
          token);
  ASSERT_TRUE(root);
  ASSERT_EQ(root->status, 200) << root->body;
  json rows = json::parse(root->body)["value"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["roleid"], kSalesperson);
  EXPECT_EQ(rows[0]["name"], "Salesperson");

  auto sales =
      Get(absl::StrCat("roles?$select=roleid,name&$filter=name%20eq%20'salesperson'%20and%20"
                       "_businessunitid_value%20eq%20",
                       kSalesBu),
          token);
  ASSERT_TRUE(sales);
  rows = json::parse(sales->body)["value"];
  ASSERT_EQ(rows.size(), 1u) << "string comparison ignores case, like Dataverse";
  EXPECT_EQ(rows[0]["roleid"], kSalespersonOfSales);

  // '' escapes a quote.
  env_.emulator().state().Locked([&](emulator::CloudState& s) {
    s.FindEnvironmentById(kContosoEnvironment, nullptr)
        ->roles.push_back({"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c99", "Partner's Agent", kRootBu});
    return 0;
  });
  auto quoted = Get("roles?$select=roleid&$filter=name%20eq%20'Partner''s%20Agent'", token);
  ASSERT_TRUE(quoted);
  ASSERT_EQ(quoted->status, 200) << quoted->body;
  rows = json::parse(quoted->body)["value"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["roleid"], "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c99");
}

TEST_F(DataverseEmulatorTest, TheRootBusinessUnitIsTheOneWithoutParent) {
  auto res =
      Get("businessunits?$select=businessunitid,name&$filter=_parentbusinessunitid_value%20"
          "eq%20null",
          DataverseToken());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json rows = json::parse(res->body)["value"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["businessunitid"], kRootBu);
  EXPECT_EQ(rows[0]["name"], "contoso");
}

TEST_F(DataverseEmulatorTest, MalformedQueriesAreRefusedLikeDataverse) {
  const std::string token = DataverseToken();
  const std::string guid = emulator::NewGuid();
  struct Case {
    std::string path;
    std::string message;
  };
  const Case cases[] = {
      {absl::StrCat("systemusers?$filter=azureactivedirectoryobjectid%20eq%20'", guid, "'"),
       "Found operand types 'Edm.Guid' and 'Edm.String'"},
      {"systemusers?$filter=nosuchcolumn%20eq%201",
       "Could not find a property named 'nosuchcolumn'"},
      {"systemusers?$select=systemuserid,bogus", "Could not find a property named 'bogus'"},
      {"systemusers?$filter=isdisabled%20eq", "Syntax error"},
      {"roles?$filter=name%20eq%20'unterminated", "unterminated string literal"},
      {"roles?$filter=name%20ne%20'x'", "only 'eq'"},
      {"roles?$filter=contains(name,'x')", "function 'contains'"},
      {"roles?$orderby=name", "'$orderby' is not supported"},
      {"roles?filter=name%20eq%20'x'", "'filter' is not supported"},
      {"roles?$top=0", "$top"},
      {"roles?$select=roleid&$select=name", "more than once"},
      {"WhoAmI?$select=UserId", "no query options"},
  };
  for (const Case& c : cases) {
    auto res = Get(c.path, token);
    ASSERT_TRUE(res) << c.path;
    EXPECT_EQ(res->status, 400) << c.path << " " << res->body;
    EXPECT_EQ(ErrorCode(res), "0x80060888") << c.path;
    EXPECT_THAT(res->body, HasSubstr(c.message)) << c.path;
    EXPECT_EQ(res->get_header_value("OData-Version"), "4.0") << c.path;
  }
  auto segment = Get("accounts", token);
  ASSERT_TRUE(segment);
  EXPECT_EQ(segment->status, 404);
  EXPECT_THAT(segment->body, HasSubstr("Resource not found for the segment 'accounts'"));
  auto bad_key = Get("systemusers(not-a-guid)", token);
  ASSERT_TRUE(bad_key);
  EXPECT_EQ(bad_key->status, 400);
  auto other_org = client_.Get("/orgs/nowhere/api/data/v9.2/WhoAmI", Bearer(token));
  ASSERT_TRUE(other_org);
  EXPECT_EQ(other_org->status, 404);
}

TEST_F(DataverseEmulatorTest, ARoleIsAssociatedOnceAndListedOnTheUser) {
  const std::string token = DataverseToken();
  const std::string user = SystemUser("lin", token);
  ASSERT_FALSE(user.empty());

  auto res = Associate(user, kSalesperson, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204) << res->body;
  EXPECT_EQ(res->get_header_value("OData-Version"), "4.0");
  EXPECT_EQ(Counters()["role_associations"][absl::StrCat(user, "|", kSalesperson)], 1);

  // Already associated: Dataverse's duplicate key (status chosen in the
  // emulator, see dataverse_routes.cc).
  auto again = Associate(user, kSalesperson, token);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 412);
  EXPECT_THAT(again->body, HasSubstr("Cannot insert duplicate key."));
  EXPECT_EQ(Counters()["role_associations"][absl::StrCat(user, "|", kSalesperson)], 1);

  ASSERT_EQ(Associate(user, kSalesManager, token)->status, 204);
  auto roles =
      Get(absl::StrCat("systemusers(", user, ")/systemuserroles_association?$select=roleid,name"),
          token);
  ASSERT_TRUE(roles);
  ASSERT_EQ(roles->status, 200) << roles->body;
  json rows = json::parse(roles->body)["value"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(json::parse(roles->body)["@odata.context"].get<std::string>(),
              HasSubstr("$metadata#roles(roleid,name)"));

  auto one =
      Get(absl::StrCat("systemusers(", user,
                       ")/systemuserroles_association?$select=roleid,name&$filter=roleid%20eq%20",
                       kSalesManager),
          token);
  ASSERT_TRUE(one);
  rows = json::parse(one->body)["value"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["name"], "Sales Manager");

  auto expanded = Get(absl::StrCat("systemusers(", user,
                                   ")?$select=systemuserid&$expand=systemuserroles_association($"
                                   "select=roleid,name)"),
                      token);
  ASSERT_TRUE(expanded);
  ASSERT_EQ(expanded->status, 200) << expanded->body;
  EXPECT_EQ(json::parse(expanded->body)["systemuserroles_association"].size(), 2u);

  auto removed = client_.Delete(
      absl::StrCat(kApi, "systemusers(", user, ")/systemuserroles_association/$ref?$id=",
                   PercentEncode(absl::StrCat(env_.base_url(), kApi, "roles(", kSalesManager, ")")))
          .c_str(),
      Bearer(token));
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->status, 204) << removed->body;
}

TEST_F(DataverseEmulatorTest, AssociationsThatDataverseRefuses) {
  const std::string token = DataverseToken();
  const std::string user = SystemUser("kim", token);
  ASSERT_FALSE(user.empty());

  auto unknown_role = Associate(user, emulator::NewGuid(), token);
  ASSERT_TRUE(unknown_role);
  EXPECT_EQ(unknown_role->status, 404);
  EXPECT_EQ(ErrorCode(unknown_role), "0x80060888");

  auto other_bu = Associate(user, kSalespersonOfSales, token);
  ASSERT_TRUE(other_bu);
  EXPECT_EQ(other_bu->status, 400);
  EXPECT_THAT(other_bu->body, HasSubstr("business unit"));

  auto unknown_user = Associate(emulator::NewGuid(), kSalesperson, token);
  ASSERT_TRUE(unknown_user);
  EXPECT_EQ(unknown_user->status, 404);
  EXPECT_EQ(ErrorCode(unknown_user), "0x80040217");

  auto not_a_reference = client_.Post(
      absl::StrCat(kApi, "systemusers(", user, ")/systemuserroles_association/$ref").c_str(),
      Bearer(token), R"({"roleid":"x"})", "application/json");
  ASSERT_TRUE(not_a_reference);
  EXPECT_EQ(not_a_reference->status, 400);

  env_.emulator().state().Locked([&](emulator::CloudState& s) {
    for (auto& su : s.FindEnvironmentById(kContosoEnvironment, nullptr)->system_users) {
      if (su.id == user) su.disabled = true;
    }
    return 0;
  });
  auto disabled = Associate(user, kSalesperson, token);
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->status, 400);
  EXPECT_EQ(ErrorCode(disabled), "0x80040225");
  EXPECT_TRUE(Counters()["role_associations"].empty());
}

TEST_F(DataverseEmulatorTest, PatchUpdatesTheEmailOnlyWithIfMatch) {
  const std::string token = DataverseToken();
  const std::string user = SystemUser("mo", token);
  ASSERT_FALSE(user.empty());
  const std::string path = absl::StrCat(kApi, "systemusers(", user, ")");
  const std::string body = json{{"internalemailaddress", "mo@fabrikam.example"}}.dump();

  httplib::Headers no_if_match = Bearer(token);
  auto upsert = client_.Patch(path.c_str(), no_if_match, body, "application/json");
  ASSERT_TRUE(upsert);
  EXPECT_EQ(upsert->status, 400);
  EXPECT_THAT(upsert->body, HasSubstr("If-Match: *"));

  httplib::Headers if_match = Bearer(token);
  if_match.emplace("If-Match", "*");
  auto unknown = client_.Patch(absl::StrCat(kApi, "systemusers(", emulator::NewGuid(), ")").c_str(),
                               if_match, body, "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  auto updated = client_.Patch(path.c_str(), if_match, body, "application/json");
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->status, 204) << updated->body;
  EXPECT_EQ(updated->get_header_value("OData-Version"), "4.0");
  auto read = Get(absl::StrCat("systemusers(", user, ")?$select=internalemailaddress"), token);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->status, 200) << read->body;
  const json row = json::parse(read->body);
  EXPECT_EQ(row["internalemailaddress"], "mo@fabrikam.example");
  EXPECT_THAT(row["@odata.context"].get<std::string>(), HasSubstr("/$entity"));

  // A stale ETag is a concurrency conflict; the current one passes.
  httplib::Headers stale = Bearer(token);
  stale.emplace("If-Match", "W/\"1\"");
  auto conflict = client_.Patch(path.c_str(), stale, body, "application/json");
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 412);
  httplib::Headers current = Bearer(token);
  current.emplace("If-Match", row["@odata.etag"].get<std::string>());
  current.emplace("Prefer", "return=representation");
  auto represented = client_.Patch(path.c_str(), current, body, "application/json");
  ASSERT_TRUE(represented);
  EXPECT_EQ(represented->status, 200) << represented->body;

  auto too_long = client_.Patch(path.c_str(), if_match,
                                json{{"internalemailaddress", std::string(101, 'a')}}.dump(),
                                "application/json");
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 400);
  EXPECT_THAT(too_long->body, HasSubstr("maximum allowed length of '100'"));

  auto read_only = client_.Patch(path.c_str(), if_match,
                                 json{{"azureactivedirectoryobjectid", emulator::NewGuid()}}.dump(),
                                 "application/json");
  ASSERT_TRUE(read_only);
  EXPECT_EQ(read_only->status, 400);
}

class NoApplicationUserTest : public DataverseEmulatorTest {
 protected:
  NoApplicationUserTest() : DataverseEmulatorTest(NoApplicationUserFixture()) {}
};

TEST_F(NoApplicationUserTest, AnAppWithoutApplicationUserIsNotAMember) {
  for (const char* path : {"WhoAmI", "systemusers", "roles?$select=roleid"}) {
    auto res = Get(path, DataverseToken());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << path;
    EXPECT_EQ(res->get_header_value("OData-Version"), "4.0");
    const json body = json::parse(res->body);
    EXPECT_EQ(body["error"]["code"], "0x80072560");
    EXPECT_EQ(body["error"]["message"], "The user is not a member of the organization.");
  }
}

TEST(ODataFilterTest, ParsesConjunctionsAndLiterals) {
  auto filter = emulator::ParseFilter(
      "(name eq 'O''Brien') and _businessunitid_value eq 7E6D5C4B-3A29-4180-9F7E-6D5C4B3A2901",
      emulator::RoleSchema());
  ASSERT_TRUE(filter.ok()) << filter.status();
  ASSERT_EQ(filter->size(), 2u);
  EXPECT_EQ((*filter)[0].text, "O'Brien");
  EXPECT_EQ((*filter)[1].kind, emulator::Comparison::Kind::kGuid);
  EXPECT_TRUE(emulator::Matches(
      json{{"name", "o'brien"}, {"_businessunitid_value", "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2901"}},
      *filter));
  EXPECT_FALSE(emulator::Matches(
      json{{"name", "OBrien"}, {"_businessunitid_value", "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2901"}},
      *filter));
  EXPECT_FALSE(emulator::ParseFilter("name eq 'x' or name eq 'y'", emulator::RoleSchema()).ok());
  EXPECT_FALSE(emulator::ParseFilter("", emulator::RoleSchema()).ok());
  EXPECT_FALSE(emulator::ParseFilter("name eq 'x' trailing", emulator::RoleSchema()).ok());
}

}  // namespace
}  // namespace guestflow
