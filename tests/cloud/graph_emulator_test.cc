// The emulator's Microsoft Graph routes over real HTTP: the wire facts of
// microsoft-apis.md B, C, D, E and G (status codes, bodies, literal
// messages), directory replication and usage-location lags, and the
// idempotency counters.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/cloud/cloud_test_env.h"

namespace guestflow::cloudtest {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kFabrikamDirectory[] = "2b7e151c-2a6f-4f1d-8e3c-7a9b0c1d2e02";
constexpr char kFabrikamClientId[] = "4c9d0e1f-2a3b-4c5d-8e6f-7a8b9c0d1e02";
constexpr char kFabrikamSecret[] = "fabrikam-emulator-secret";
constexpr char kPlan1[] = "ea126fc5-a19e-42e2-a731-da9d437bffcf";
constexpr char kSales[] = "1e1a282c-9c54-43a2-9310-98ef728faace";
constexpr char kAdminId[] = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c01";

// An answer: status and parsed body (null when empty or not JSON).
// nlohmann::json's noexcept move constructor calls assert_invariant(), which
// clang-tidy cannot prove does not throw.
struct Answer {  // NOLINT(bugprone-exception-escape)
  int status = 0;
  json body;
  std::string raw;
};

// Graph through httplib with one tenant's token.
class GraphCaller {
 public:
  GraphCaller(const std::string& base_url, const std::string& directory,
              const std::string& client_id, const std::string& secret,
              const std::string& scope = "https://graph.microsoft.com/.default")
      : client_(base_url) {
    httplib::Params form = {{"grant_type", "client_credentials"},
                            {"client_id", client_id},
                            {"client_secret", secret},
                            {"scope", scope}};
    auto res = client_.Post(("/" + directory + "/oauth2/v2.0/token").c_str(), form);
    if (res && res->status == 200) token_ = json::parse(res->body).value("access_token", "");
    EXPECT_FALSE(token_.empty()) << "no token for " << directory;
  }

  Answer Get(const std::string& path) { return Wrap(client_.Get(path.c_str(), Headers())); }
  Answer Post(const std::string& path, const json& body) {
    return Wrap(client_.Post(path.c_str(), Headers(), body.dump(), "application/json"));
  }
  Answer Patch(const std::string& path, const json& body) {
    return Wrap(client_.Patch(path.c_str(), Headers(), body.dump(), "application/json"));
  }
  Answer PostRaw(const std::string& path, const std::string& body) {
    return Wrap(client_.Post(path.c_str(), Headers(), body, "application/json"));
  }

 private:
  httplib::Headers Headers() const { return {{"Authorization", "Bearer " + token_}}; }
  static Answer Wrap(const httplib::Result& res) {
    Answer a;
    if (!res) {
      ADD_FAILURE() << "no answer: " << httplib::to_string(res.error());
      return a;
    }
    a.status = res->status;
    a.raw = res->body;
    a.body = json::parse(res->body, nullptr, false);
    if (a.body.is_discarded()) a.body = json();
    return a;
  }

  httplib::Client client_;
  std::string token_;
};

std::string ErrorCode(const Answer& a) { return a.body["error"].value("code", ""); }
std::string ErrorMessage(const Answer& a) { return a.body["error"].value("message", ""); }

json Invitation(const std::string& email) {
  return {{"invitedUserEmailAddress", email},
          {"inviteRedirectUrl", "https://contoso.crm.dynamics.com"},
          {"invitedUserDisplayName", "Ada Lovelace"},
          {"sendInvitationMessage", false}};
}

// Percent-encodes a query value (everything but RFC 3986 unreserved).
std::string Encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

class GraphEmulatorTest : public ::testing::Test {
 protected:
  GraphEmulatorTest()
      : graph_(env_.base_url(), kContosoDirectory, kContosoClientId, kContosoSecret) {}

  // Invites `email` and returns the guest's object id.
  std::string InviteGuest(const std::string& email) {
    Answer a = graph_.Post("/v1.0/invitations", Invitation(email));
    EXPECT_EQ(a.status, 201) << a.raw;
    return a.body["invitedUser"].value("id", "");
  }

  json Counters() { return env_.GetJson("/_emulator/counters"); }

  json Sku(const std::string& sku_id) {
    Answer a = graph_.Get("/v1.0/subscribedSkus");
    for (const json& s : a.body["value"]) {
      if (s["skuId"] == sku_id) return s;
    }
    ADD_FAILURE() << "no sku " << sku_id;
    return json();
  }

  // Polls GET /users/{id} until it stops answering 404 (replication).
  bool WaitVisible(const std::string& id) {
    for (int i = 0; i < 100; ++i) {
      if (graph_.Get("/v1.0/users/" + id).status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  CloudTestEnv env_;
  GraphCaller graph_;
};

TEST_F(GraphEmulatorTest, InvitationAnswersTheDocumentedShapeAndCreatesAGuest) {
  Answer a = graph_.Post("/v1.0/invitations", Invitation("ada@fabrikam.com"));
  ASSERT_EQ(a.status, 201) << a.raw;
  const json& inv = a.body;
  EXPECT_EQ(inv["@odata.context"],
            "https://graph.microsoft.com/v1.0/$metadata#invitations/$entity");
  std::vector<std::string> keys;
  for (const auto& [k, v] : inv.items()) keys.push_back(k);
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre(
                        "@odata.context", "id", "inviteRedeemUrl", "invitedUserDisplayName",
                        "invitedUserType", "invitedUserEmailAddress", "sendInvitationMessage",
                        "resetRedemption", "inviteRedirectUrl", "status", "invitedUserMessageInfo",
                        "invitedUser"));
  EXPECT_EQ(inv["status"], "PendingAcceptance");
  EXPECT_EQ(inv["invitedUserType"], "Guest");
  EXPECT_EQ(inv["invitedUserDisplayName"], "Ada Lovelace");
  EXPECT_EQ(inv["invitedUserEmailAddress"], "ada@fabrikam.com");
  EXPECT_EQ(inv["inviteRedirectUrl"], "https://contoso.crm.dynamics.com");
  EXPECT_EQ(inv["sendInvitationMessage"], false);
  EXPECT_EQ(inv["resetRedemption"], false);
  const std::string redeem = inv["inviteRedeemUrl"];
  EXPECT_THAT(redeem, StartsWith("https://login.microsoftonline.com/redeem?rd=https%3a%2f%2f"
                                 "invitations.microsoft.com%2fredeem%2f%3ftenant%3d"));
  EXPECT_THAT(redeem, HasSubstr(kContosoDirectory));
  const std::string user_id = inv["invitedUser"]["id"];
  EXPECT_THAT(redeem, HasSubstr("user%3d" + user_id));
  EXPECT_NE(inv["id"], user_id);
  EXPECT_EQ(inv["invitedUserMessageInfo"],
            json::parse(R"({"messageLanguage":null,"customizedMessageBody":null,
                            "ccRecipients":[{"emailAddress":{"name":null,"address":null}}]})"));

  Answer user = graph_.Get("/v1.0/users/" + user_id +
                           "?$select=id,userPrincipalName,mail,otherMails,userType,"
                           "externalUserState,usageLocation,assignedLicenses");
  ASSERT_EQ(user.status, 200) << user.raw;
  EXPECT_EQ(user.body["userPrincipalName"], "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com");
  EXPECT_EQ(user.body["mail"], "ada@fabrikam.com");
  EXPECT_EQ(user.body["otherMails"], json::array({"ada@fabrikam.com"}));
  EXPECT_EQ(user.body["userType"], "Guest");
  EXPECT_EQ(user.body["externalUserState"], "PendingAcceptance");
  EXPECT_TRUE(user.body["usageLocation"].is_null());
  EXPECT_EQ(user.body["assignedLicenses"], json::array());

  const json c = Counters();
  EXPECT_EQ(c["invitations_by_email"]["ada@fabrikam.com"], 1);
  EXPECT_EQ(c["guests_created_by_email"]["ada@fabrikam.com"], 1);
}

TEST_F(GraphEmulatorTest, InvitationCarriesTheMessageInfoItWasGiven) {
  json body = Invitation("cc@fabrikam.com");
  body["invitedUserMessageInfo"] = {
      {"customizedMessageBody", "Welcome"},
      {"ccRecipients", {{{"emailAddress", {{"address", "boss@contoso.com"}}}}}}};
  Answer a = graph_.Post("/v1.0/invitations", body);
  ASSERT_EQ(a.status, 201) << a.raw;
  EXPECT_EQ(a.body["invitedUserMessageInfo"]["customizedMessageBody"], "Welcome");
  EXPECT_EQ(a.body["invitedUserMessageInfo"]["ccRecipients"][0]["emailAddress"]["address"],
            "boss@contoso.com");
  EXPECT_TRUE(a.body["invitedUserMessageInfo"]["messageLanguage"].is_null());
}

TEST_F(GraphEmulatorTest, ReinvitingAnExistingEmailReturnsTheSameUser) {
  const std::string first = InviteGuest("Grace@Fabrikam.com");
  Answer again = graph_.Post("/v1.0/invitations", Invitation("grace@fabrikam.com"));
  ASSERT_EQ(again.status, 201);
  EXPECT_EQ(again.body["invitedUser"]["id"], first);
  EXPECT_EQ(again.body["status"], "PendingAcceptance");

  // A member's address answers with the member.
  Answer admin = graph_.Post("/v1.0/invitations", Invitation("ADMIN@contoso.onmicrosoft.com"));
  ASSERT_EQ(admin.status, 201);
  EXPECT_EQ(admin.body["invitedUser"]["id"], kAdminId);

  const json c = Counters();
  EXPECT_EQ(c["invitations_by_email"]["grace@fabrikam.com"], 2);
  EXPECT_EQ(c["guests_created_by_email"]["grace@fabrikam.com"], 1);
  EXPECT_FALSE(c["guests_created_by_email"].contains("admin@contoso.onmicrosoft.com"));
}

TEST_F(GraphEmulatorTest, InvitationBodyIsValidated) {
  auto expect_bad = [&](const json& body, const std::string& why) {
    Answer a = graph_.Post("/v1.0/invitations", body);
    EXPECT_EQ(a.status, 400) << why << ": " << a.raw;
    EXPECT_EQ(ErrorCode(a), "Request_BadRequest") << why;
    EXPECT_TRUE(a.body["error"]["innerError"].contains("request-id")) << why;
  };
  json no_email = Invitation("x@y.com");
  no_email.erase("invitedUserEmailAddress");
  expect_bad(no_email, "no email");
  json no_redirect = Invitation("x@y.com");
  no_redirect.erase("inviteRedirectUrl");
  expect_bad(no_redirect, "no redirect");
  for (const char* email : {"a#b@fabrikam.com", "a,b@fabrikam.com", "a b@fabrikam.com",
                            "a(b)@fabrikam.com", "a:b@fabrikam.com", ".ada@fabrikam.com",
                            "ada-@fabrikam.com", "ada@", "adafabrikam.com", "a@b@c.com"}) {
    expect_bad(Invitation(email), email);
  }
  json unknown = Invitation("x@y.com");
  unknown["invitedUserEmail"] = "x@y.com";
  expect_bad(unknown, "unknown property");
  json two_cc = Invitation("x@y.com");
  two_cc["invitedUserMessageInfo"] = {{"ccRecipients",
                                       {{{"emailAddress", {{"address", "a@b.com"}}}},
                                        {{"emailAddress", {{"address", "c@d.com"}}}}}}};
  expect_bad(two_cc, "two cc");

  Answer not_json = graph_.PostRaw("/v1.0/invitations", "{not json");
  EXPECT_EQ(not_json.status, 400);

  // `_`, `.` and `-` inside the user name are fine.
  EXPECT_EQ(graph_.Post("/v1.0/invitations", Invitation("a_b.c-d@fabrikam.com")).status, 201);
  EXPECT_EQ(Counters()["guests_created_by_email"].size(), 1u);
}

TEST_F(GraphEmulatorTest, TenantWithoutInvitationsAnswers403WithTheDocumentedMessage) {
  GraphCaller fabrikam(env_.base_url(), kFabrikamDirectory, kFabrikamClientId, kFabrikamSecret);
  Answer a = fabrikam.Post("/v1.0/invitations", Invitation("ada@contoso.com"));
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(ErrorMessage(a),
            "Guest invitations not allowed for your company. Contact your company administrator "
            "for more details.");
  EXPECT_FALSE(Counters()["guests_created_by_email"].contains("ada@contoso.com"));
}

TEST_F(GraphEmulatorTest, UsersFilterFindsByMailUpnAndOtherMails) {
  const std::string id = InviteGuest("o'brien@fabrikam.com");
  auto ids = [&](const std::string& filter, const std::string& extra = "") {
    Answer a = graph_.Get("/v1.0/users?$filter=" + Encode(filter) + extra);
    EXPECT_EQ(a.status, 200) << filter << ": " << a.raw;
    std::vector<std::string> out;
    for (const json& u : a.body["value"]) out.push_back(u.value("id", ""));
    return out;
  };
  EXPECT_THAT(ids("mail eq 'O''Brien@FABRIKAM.com'"), ElementsAre(id));
  EXPECT_THAT(ids("otherMails/any(x:x eq 'o''brien@fabrikam.com')"), ElementsAre(id));
  EXPECT_THAT(ids("othermails/any(id:id eq 'O''BRIEN@fabrikam.com')"), ElementsAre(id));
  EXPECT_THAT(ids("userPrincipalName eq 'o''brien_fabrikam.com#EXT#@contoso.onmicrosoft.com'"),
              ElementsAre(id));
  EXPECT_THAT(ids("mail eq 'nobody@x.com' or otherMails/any(m:m eq 'o''brien@fabrikam.com')"),
              ElementsAre(id));
  EXPECT_THAT(ids("mail eq 'admin@contoso.onmicrosoft.com'"), ElementsAre(kAdminId));
  EXPECT_THAT(ids("mail eq 'nobody@x.com'"), ElementsAre());

  Answer selected = graph_.Get("/v1.0/users?$filter=" + Encode("mail eq 'o''brien@fabrikam.com'") +
                               "&$select=id,mail");
  ASSERT_EQ(selected.status, 200);
  EXPECT_EQ(selected.body["@odata.context"],
            "https://graph.microsoft.com/v1.0/$metadata#users(id,mail)");
  EXPECT_EQ(selected.body["value"][0], json({{"id", id}, {"mail", "o'brien@fabrikam.com"}}));

  Answer unsupported = graph_.Get("/v1.0/users?$filter=" + Encode("city eq 'Paris'"));
  EXPECT_EQ(unsupported.status, 400);
  EXPECT_EQ(ErrorCode(unsupported), "Request_UnsupportedQuery");
  EXPECT_EQ(graph_.Get("/v1.0/users?$filter=" + Encode("mail eq 'unterminated")).status, 400);
  EXPECT_EQ(graph_.Get("/v1.0/users?$select=nosuchproperty").status, 400);
}

TEST_F(GraphEmulatorTest, NewGuestIsInvisibleUntilReplicated) {
  env_.SetKnobs({{"replication_lag_ms", 1500}});
  const std::string id = InviteGuest("late@fabrikam.com");

  Answer get = graph_.Get("/v1.0/users/" + id);
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(ErrorCode(get), "Request_ResourceNotFound");
  EXPECT_EQ(ErrorMessage(get),
            "Resource '" + id +
                "' does not exist or one of its queried reference-property objects are not "
                "present.");
  EXPECT_EQ(graph_.Patch("/v1.0/users/" + id, {{"usageLocation", "GB"}}).status, 404);
  EXPECT_EQ(graph_
                .Post("/v1.0/groups/" + std::string(kContosoGroup) + "/members/$ref",
                      {{"@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/" + id}})
                .status,
            404);
  Answer query =
      graph_.Get("/v1.0/users?$filter=" + Encode("otherMails/any(x:x eq 'late@fabrikam.com')"));
  EXPECT_EQ(query.body["value"].size(), 0u);

  // The directory itself knows the address: no second guest meanwhile.
  EXPECT_EQ(
      graph_.Post("/v1.0/invitations", Invitation("late@fabrikam.com")).body["invitedUser"]["id"],
      id);
  EXPECT_EQ(Counters()["guests_created_by_email"]["late@fabrikam.com"], 1);

  ASSERT_TRUE(WaitVisible(id));
  query = graph_.Get("/v1.0/users?$filter=" + Encode("otherMails/any(x:x eq 'late@fabrikam.com')"));
  EXPECT_EQ(query.body["value"].size(), 1u);
}

TEST_F(GraphEmulatorTest, PatchUserUpdatesTheProfile) {
  const std::string id = InviteGuest("pat@fabrikam.com");
  Answer ok = graph_.Patch("/v1.0/users/" + id, {{"givenName", "Pat"},
                                                 {"surname", "Smith"},
                                                 {"displayName", "Pat Smith"},
                                                 {"usageLocation", "GB"}});
  EXPECT_EQ(ok.status, 204);
  EXPECT_TRUE(ok.raw.empty());
  Answer user =
      graph_.Get("/v1.0/users/" + id + "?$select=givenName,surname,displayName,usageLocation");
  EXPECT_EQ(user.body["givenName"], "Pat");
  EXPECT_EQ(user.body["surname"], "Smith");
  EXPECT_EQ(user.body["displayName"], "Pat Smith");
  EXPECT_EQ(user.body["usageLocation"], "GB");
  EXPECT_EQ(user.body["@odata.context"],
            "https://graph.microsoft.com/v1.0/$metadata#users(givenName,surname,displayName,"
            "usageLocation)/$entity");

  Answer uk = graph_.Patch("/v1.0/users/" + id, {{"usageLocation", "UK"}});
  EXPECT_EQ(uk.status, 400);
  EXPECT_EQ(ErrorCode(uk), "Request_BadRequest");
  EXPECT_EQ(ErrorMessage(uk), "Property usageLocation is invalid.");
  for (const char* code : {"JP", "US", "FR", "DE", "NL"}) {
    EXPECT_EQ(graph_.Patch("/v1.0/users/" + id, {{"usageLocation", code}}).status, 204) << code;
  }

  EXPECT_EQ(graph_.Patch("/v1.0/users/" + id, {{"favouriteColour", "blue"}}).status, 400);
  EXPECT_EQ(graph_.Patch("/v1.0/users/" + id, {{"assignedLicenses", json::array()}}).status, 400);
  EXPECT_EQ(graph_.Patch("/v1.0/users/" + id, {{"displayName", ""}}).status, 400);
  // A refused PATCH changes nothing, not even its valid properties.
  EXPECT_EQ(graph_.Patch("/v1.0/users/" + id, {{"givenName", "X"}, {"usageLocation", "UK"}}).status,
            400);
  EXPECT_EQ(graph_.Get("/v1.0/users/" + id + "?$select=givenName").body["givenName"], "Pat");

  Answer unknown =
      graph_.Patch("/v1.0/users/00000000-0000-4000-8000-000000000000", {{"givenName", "X"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrorCode(unknown), "Request_ResourceNotFound");
}

TEST_F(GraphEmulatorTest, SubscribedSkusHasTheDocumentedShape) {
  Answer a = graph_.Get("/v1.0/subscribedSkus");
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body["@odata.context"], "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus");
  ASSERT_EQ(a.body["value"].size(), 2u);
  const json plan1 = Sku(kPlan1);
  EXPECT_EQ(plan1["accountId"], kContosoDirectory);
  EXPECT_EQ(plan1["accountName"], "Contoso Ltd");
  EXPECT_EQ(plan1["appliesTo"], "User");
  EXPECT_EQ(plan1["capabilityStatus"], "Enabled");
  EXPECT_EQ(plan1["consumedUnits"], 3);
  EXPECT_EQ(plan1["id"], std::string(kContosoDirectory) + "_" + kPlan1);
  EXPECT_EQ(plan1["prepaidUnits"],
            json({{"enabled", 25}, {"lockedOut", 0}, {"suspended", 0}, {"warning", 0}}));
  EXPECT_EQ(plan1["skuPartNumber"], "DYN365_ENTERPRISE_PLAN1");
  ASSERT_EQ(plan1["servicePlans"].size(), 1u);
  EXPECT_EQ(plan1["servicePlans"][0]["servicePlanName"], "DYN365_ENTERPRISE_P1");
  EXPECT_EQ(plan1["servicePlans"][0]["servicePlanId"], "d56f3deb-50d8-465a-bedb-f079817ccac1");
  ASSERT_EQ(plan1["subscriptionIds"].size(), 1u);
  EXPECT_EQ(graph_.Get("/v1.0/subscribedSkus").body["value"][0]["subscriptionIds"],
            a.body["value"][0]["subscriptionIds"]);

  Answer selected = graph_.Get("/v1.0/subscribedSkus?$select=skuId,skuPartNumber");
  EXPECT_EQ(selected.body["value"][0],
            json({{"skuId", kPlan1}, {"skuPartNumber", "DYN365_ENTERPRISE_PLAN1"}}));
  EXPECT_EQ(graph_.Get("/v1.0/subscribedSkus?$filter=" + Encode("skuId eq 'x'")).status, 400);
}

TEST_F(GraphEmulatorTest, AssignLicenseFollowsTheDocumentedRules) {
  const std::string id = InviteGuest("lic@fabrikam.com");
  const json add_plan1 = {{"addLicenses", {{{"disabledPlans", json::array()}, {"skuId", kPlan1}}}},
                          {"removeLicenses", json::array()}};
  const std::string path = "/v1.0/users/" + id + "/assignLicense";

  Answer no_location = graph_.Post(path, add_plan1);
  EXPECT_EQ(no_location.status, 400);
  EXPECT_EQ(ErrorCode(no_location), "Request_BadRequest");
  EXPECT_EQ(ErrorMessage(no_location),
            "License assignment cannot be done for user with invalid usage location.");

  ASSERT_EQ(graph_.Patch("/v1.0/users/" + id, {{"usageLocation", "GB"}}).status, 204);
  Answer ok = graph_.Post(path, add_plan1);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["id"], id);
  EXPECT_EQ(ok.body["assignedLicenses"],
            json::array({{{"disabledPlans", json::array()}, {"skuId", kPlan1}}}));
  EXPECT_EQ(Sku(kPlan1)["consumedUnits"], 4);

  Answer again = graph_.Post(path, add_plan1);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Sku(kPlan1)["consumedUnits"], 4);
  EXPECT_EQ(Counters()["license_assignments"][id + "|" + kPlan1], 1);

  Answer no_seats =
      graph_.Post(path, {{"addLicenses", {{{"disabledPlans", json::array()}, {"skuId", kSales}}}},
                         {"removeLicenses", json::array()}});
  EXPECT_EQ(no_seats.status, 400);
  EXPECT_EQ(ErrorMessage(no_seats), std::string("Subscription with SKU ") + kSales +
                                        " does not have any available licenses.");
  EXPECT_EQ(Sku(kSales)["consumedUnits"], 5);

  Answer bad_guid =
      graph_.Post(path, {{"addLicenses", {{{"disabledPlans", json::array()}, {"skuId", "DYN365"}}}},
                         {"removeLicenses", json::array()}});
  EXPECT_EQ(bad_guid.status, 400);
  EXPECT_THAT(ErrorMessage(bad_guid),
              StartsWith("Cannot convert a primitive value to the expected type 'Edm.Guid'"));

  Answer missing = graph_.Post(path, {{"addLicenses", json::array()}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(ErrorMessage(missing), HasSubstr("removeLicenses"));

  Answer unknown_sku = graph_.Post(
      path,
      {{"addLicenses",
        {{{"disabledPlans", json::array()}, {"skuId", "00000000-0000-4000-8000-000000000001"}}}},
       {"removeLicenses", json::array()}});
  EXPECT_EQ(unknown_sku.status, 400);

  Answer unknown_user =
      graph_.Post("/v1.0/users/00000000-0000-4000-8000-000000000000/assignLicense", add_plan1);
  EXPECT_EQ(unknown_user.status, 404);
  EXPECT_EQ(ErrorCode(unknown_user), "Request_ResourceNotFound");

  // removeLicenses gives the seat back.
  Answer removed = graph_.Post(
      path, {{"addLicenses", json::array()}, {"removeLicenses", json::array({kPlan1})}});
  EXPECT_EQ(removed.status, 200);
  EXPECT_EQ(removed.body["assignedLicenses"], json::array());
  EXPECT_EQ(Sku(kPlan1)["consumedUnits"], 3);
}

TEST_F(GraphEmulatorTest, AFreshUsageLocationIsNotSeenByLicensingAtOnce) {
  env_.SetKnobs({{"usage_location_lag_ms", 1000}});
  const std::string id = InviteGuest("lag@fabrikam.com");
  ASSERT_EQ(graph_.Patch("/v1.0/users/" + id, {{"usageLocation", "FR"}}).status, 204);
  const json add = {{"addLicenses", {{{"disabledPlans", json::array()}, {"skuId", kPlan1}}}},
                    {"removeLicenses", json::array()}};
  const std::string path = "/v1.0/users/" + id + "/assignLicense";
  Answer early = graph_.Post(path, add);
  EXPECT_EQ(early.status, 400);
  EXPECT_EQ(ErrorMessage(early),
            "License assignment cannot be done for user with invalid usage location.");
  int status = 0;
  for (int i = 0; i < 60 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = graph_.Post(path, add).status;
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(Counters()["license_assignments"][id + "|" + kPlan1], 1);
}

TEST_F(GraphEmulatorTest, GroupMembersRef) {
  const std::string id = InviteGuest("member@fabrikam.com");
  const std::string path = "/v1.0/groups/" + std::string(kContosoGroup) + "/members/$ref";
  const json ref = {{"@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/" + id}};

  Answer added = graph_.Post(path, ref);
  EXPECT_EQ(added.status, 204);
  EXPECT_TRUE(added.raw.empty());
  Answer again = graph_.Post(path, ref);
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(ErrorCode(again), "Request_BadRequest");
  EXPECT_EQ(ErrorMessage(again),
            "One or more added object references already exist for the following modified "
            "properties: 'members'.");
  EXPECT_EQ(Counters()["group_member_adds"][std::string(kContosoGroup) + "|" + id], 1);

  Answer unknown_user = graph_.Post(
      path,
      {{"@odata.id",
        "https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-4000-8000-000000000000"}});
  EXPECT_EQ(unknown_user.status, 404);
  EXPECT_EQ(ErrorCode(unknown_user), "Request_ResourceNotFound");
  Answer unknown_group =
      graph_.Post("/v1.0/groups/00000000-0000-4000-8000-0000000000aa/members/$ref", ref);
  EXPECT_EQ(unknown_group.status, 404);
  EXPECT_THAT(ErrorMessage(unknown_group), HasSubstr("00000000-0000-4000-8000-0000000000aa"));
  Answer malformed = graph_.Post(
      path, {{"@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/not-a-guid"}});
  EXPECT_EQ(malformed.status, 400);
  EXPECT_THAT(ErrorMessage(malformed), StartsWith("Invalid object identifier"));

  Answer group =
      graph_.Get("/v1.0/groups/" + std::string(kContosoGroup) + "?$select=id,displayName");
  EXPECT_EQ(group.status, 200);
  EXPECT_EQ(group.body["displayName"], "Dynamics 365 users");
}

TEST_F(GraphEmulatorTest, SendMailIsAcceptedCountedAndKept) {
  const json mail = {
      {"message",
       {{"subject", "Welcome to Contoso Sales"},
        {"body", {{"contentType", "Text"}, {"content", "https://contoso.crm.dynamics.com"}}},
        {"toRecipients", {{{"emailAddress", {{"address", "ada@fabrikam.com"}}}}}}}},
      {"saveToSentItems", false}};
  Answer sent = graph_.Post("/v1.0/users/admin@contoso.onmicrosoft.com/sendMail", mail);
  EXPECT_EQ(sent.status, 202);
  EXPECT_TRUE(sent.raw.empty());
  EXPECT_EQ(Counters()["mails_sent"]["admin@contoso.onmicrosoft.com"], 1);
  const json kept = env_.GetJson("/_emulator/mail");
  ASSERT_EQ(kept["value"].size(), 1u);
  EXPECT_EQ(kept["value"][0]["message"], mail["message"]);
  EXPECT_EQ(kept["value"][0]["saveToSentItems"], false);

  json no_recipient = mail;
  no_recipient["message"].erase("toRecipients");
  EXPECT_EQ(graph_.Post("/v1.0/users/admin@contoso.onmicrosoft.com/sendMail", no_recipient).status,
            400);
  json bad_type = mail;
  bad_type["message"]["body"]["contentType"] = "markdown";
  EXPECT_EQ(graph_.Post("/v1.0/users/admin@contoso.onmicrosoft.com/sendMail", bad_type).status,
            400);
  EXPECT_EQ(graph_.Post("/v1.0/users/nobody@contoso.onmicrosoft.com/sendMail", mail).status, 404);
  EXPECT_EQ(env_.GetJson("/_emulator/mail")["value"].size(), 1u);
}

TEST_F(GraphEmulatorTest, GraphWantsAGraphToken) {
  httplib::Client anonymous(env_.base_url());
  auto res = anonymous.Get("/v1.0/users");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  GraphCaller dataverse(env_.base_url(), kContosoDirectory, kContosoClientId, kContosoSecret,
                        env_.base_url() + "/orgs/contoso/.default");
  EXPECT_EQ(dataverse.Get("/v1.0/users").status, 401);
  EXPECT_EQ(dataverse.Post("/v1.0/invitations", Invitation("t@fabrikam.com")).status, 401);
  EXPECT_FALSE(Counters()["guests_created_by_email"].contains("t@fabrikam.com"));
}

}  // namespace
}  // namespace guestflow::cloudtest
