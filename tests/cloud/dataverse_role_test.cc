// The dataverse_role plugin against the emulator, loaded by the real
// PluginHost with the real libcurl client and OAuth2 token provider. Guests
// are set up as the earlier steps would leave them, through the emulator's
// Graph routes over raw HTTP: invited, usage location set, licensed, and in
// the security group that gates the environment.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using json = nlohmann::json;
using Kind = StepOutcome::Kind;

constexpr char kRootBu[] = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2901";
constexpr char kSalesperson[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01";
constexpr char kSalesManager[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02";
constexpr char kPlan1[] = "ea126fc5-a19e-42e2-a731-da9d437bffcf";

// Short polls keep the tests fast; the defaults are covered by the settings
// parser.
const json kFastPolls = {
    {"license_poll_ms", 200}, {"sync_poll_ms", 100}, {"disabled_poll_ms", 100}};

std::string NoApplicationUserFixture() {
  return (std::filesystem::path(__FILE__).parent_path() / "testdata" /
          "dataverse_no_application_user.yaml")
      .string();
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kSucceeded:
      return "SUCCEEDED";
    case Kind::kRetry:
      return "RETRY";
    case Kind::kWait:
      return "WAIT";
    case Kind::kThrottled:
      return "THROTTLED";
    case Kind::kFailed:
      return "FAILED";
  }
  return "?";
}

std::string Describe(const StepOutcome& o) {
  std::string text = absl::StrCat(KindName(o.kind), " error='", o.error, "'");
  if (o.retry_after) absl::StrAppend(&text, " retry_after=", absl::FormatDuration(*o.retry_after));
  for (const auto& [k, v] : o.outputs) absl::StrAppend(&text, " ", k, "=", v);
  return text;
}

class DataverseRoleTest : public ::testing::Test {
 protected:
  explicit DataverseRoleTest(const std::string& fixture = GUESTFLOW_DEMO_FIXTURE,
                             bool keep_lags = false)
      : env_(fixture, keep_lags), graph_(env_.base_url()) {
    WaitUntilServing(graph_);
  }

  // cpp-httplib's stop() is a no-op until the serving thread has entered its
  // accept loop, so a test that sent nothing could hang in ~CloudTestEnv: an
  // answered request proves the loop runs.
  static void WaitUntilServing(httplib::Client& client) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto res = client.Get("/_emulator/health");
      if (res && res->status == 200) return;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "the emulator does not answer /_emulator/health";
  }

  TenantConfig Tenant(const json& settings = kFastPolls) const {
    return env_.ContosoTenant({{"role", PluginBinding{"dataverse_role", settings.dump()}}});
  }

  std::unique_ptr<PluginHost> Host(const json& settings = kFastPolls) {
    return env_.MakeHost({"dataverse_role.so"}, {Tenant(settings)});
  }

  std::string GraphToken() {
    httplib::Params form{{"client_id", kContosoClientId},
                         {"client_secret", kContosoSecret},
                         {"scope", "https://graph.microsoft.com/.default"},
                         {"grant_type", "client_credentials"}};
    auto res =
        graph_.Post(absl::StrCat("/", kContosoDirectory, "/oauth2/v2.0/token").c_str(), form);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    return res && res->status == 200 ? json::parse(res->body)["access_token"].get<std::string>()
                                     : std::string();
  }

  // Sends until the answer has `want` (directory replication and the usage
  // location lag make fresh guests answer 404/400 for a moment).
  httplib::Result SendUntil(int want, const std::function<httplib::Result()>& send) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (true) {
      httplib::Result res = send();
      if ((res && res->status == want) || absl::Now() > deadline) return res;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // What the invite, profile and license steps leave behind: an invited
  // guest with a usage location and a license, in the environment's security
  // group (when the fixture has it). Returns its object id.
  std::string LicensedGuest(const std::string& email, bool join_group = true) {
    const std::string token = GraphToken();
    const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
    auto invited = graph_.Post("/v1.0/invitations", auth,
                               json{{"invitedUserEmailAddress", email},
                                    {"inviteRedirectUrl", env_.base_url() + "/orgs/contoso"},
                                    {"sendInvitationMessage", false}}
                                   .dump(),
                               "application/json");
    EXPECT_TRUE(invited && invited->status == 201) << (invited ? invited->body : "no answer");
    if (!invited || invited->status != 201) return "";
    const std::string id = json::parse(invited->body)["invitedUser"]["id"].get<std::string>();

    auto patched = SendUntil(204, [&] {
      return graph_.Patch(
          absl::StrCat("/v1.0/users/", id).c_str(), auth,
          json{{"usageLocation", "GB"}, {"givenName", "Ada"}, {"surname", "Guest"}}.dump(),
          "application/json");
    });
    EXPECT_TRUE(patched && patched->status == 204) << (patched ? patched->body : "no answer");
    auto licensed = SendUntil(200, [&] {
      return graph_.Post(
          absl::StrCat("/v1.0/users/", id, "/assignLicense").c_str(), auth,
          json{{"addLicenses", {{{"skuId", kPlan1}, {"disabledPlans", json::array()}}}},
               {"removeLicenses", json::array()}}
              .dump(),
          "application/json");
    });
    EXPECT_TRUE(licensed && licensed->status == 200) << (licensed ? licensed->body : "no answer");
    if (join_group) {
      auto member = graph_.Post(
          absl::StrCat("/v1.0/groups/", kContosoGroup, "/members/$ref").c_str(), auth,
          json{{"@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/" + id}}.dump(),
          "application/json");
      EXPECT_TRUE(member && member->status == 204) << (member ? member->body : "no answer");
    }
    return id;
  }

  static Onboarding RoleOnboarding(const std::string& email, const std::string& object_id,
                                   std::vector<std::string> roles, bool update_email = false) {
    Onboarding o = CloudTestEnv::NewOnboarding("contoso", email);
    o.FindStep(StepKind::kInvite)->outputs["invited_user_id"] = object_id;
    for (StepKind done : {StepKind::kInvite, StepKind::kProfile, StepKind::kLicense}) {
      o.FindStep(done)->state = StepState::kSucceeded;
    }
    o.options.roles = std::move(roles);
    o.options.update_dynamics_email = update_email;
    return o;
  }

  // Runs the role step as the engine would (honouring WAIT and RETRY delays)
  // until it succeeds or fails; returns every outcome.
  std::vector<StepOutcome> RunToEnd(PluginHost& host, Onboarding& o) {
    std::vector<StepOutcome> outcomes;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      outcomes.push_back(CloudTestEnv::RunStep(host, o, StepKind::kRole));
      const StepOutcome& last = outcomes.back();
      if (last.kind == Kind::kSucceeded || last.kind == Kind::kFailed) break;
      absl::SleepFor(
          std::min(last.retry_after.value_or(absl::Milliseconds(100)), absl::Seconds(2)));
    }
    return outcomes;
  }

  json Journal(int64_t after = 0) {
    return env_.GetJson(absl::StrCat("/_emulator/journal?after=", after));
  }
  int64_t LastSequence() {
    json j = Journal();
    return j.empty() ? 0 : j.back()["sequence"].get<int64_t>();
  }
  static int Count(const json& journal, const std::string& method, const std::string& path_part,
                   int status = 0) {
    int n = 0;
    for (const json& e : journal) {
      if (e["method"] == method && absl::StrContains(e["path"].get<std::string>(), path_part) &&
          (status == 0 || e["status"] == status)) {
        ++n;
      }
    }
    return n;
  }

  json RoleAssociations() { return env_.GetJson("/_emulator/counters")["role_associations"]; }

  // Runs `f` on the systemuser of `object_id` under the emulator's lock.
  void WithSystemUser(const std::string& object_id,
                      const std::function<void(emulator::SystemUser&)>& f) {
    env_.emulator().state().Locked([&](emulator::CloudState& s) {
      for (auto& su : s.FindEnvironmentById(kContosoEnvironment, nullptr)->system_users) {
        if (su.aad_object_id == object_id) f(su);
      }
      return 0;
    });
  }

  CloudTestEnv env_;
  httplib::Client graph_;
};

TEST_F(DataverseRoleTest, MakesTheGuestASystemUserWithTwoRoles) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("ada@fabrikam.com");
  Onboarding o = RoleOnboarding("ada@fabrikam.com", id, {"Salesperson", "Sales Manager"});

  const StepOutcome outcome = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(outcome.kind, Kind::kSucceeded) << Describe(outcome);
  const auto& out = outcome.outputs;
  ASSERT_EQ(out.count("systemuser_id"), 1u);
  const std::string su = out.at("systemuser_id");
  EXPECT_EQ(out.at("business_unit_id"), kRootBu);
  EXPECT_EQ(out.at("sync_requested"), "true");
  EXPECT_EQ(out.at("roles"), "Salesperson,Sales Manager");
  EXPECT_EQ(out.at("roles_added"), "2");

  // The roles of the user's (root) business unit, not Sales' Salesperson.
  EXPECT_EQ(RoleAssociations(), (json{{absl::StrCat(su, "|", kSalesperson), 1},
                                      {absl::StrCat(su, "|", kSalesManager), 1}}));
  std::set<std::string> roles;
  WithSystemUser(id, [&](emulator::SystemUser& u) { roles = u.role_ids; });
  EXPECT_THAT(roles, UnorderedElementsAre(kSalesperson, kSalesManager));
  const json journal = Journal();
  EXPECT_EQ(Count(journal, "POST", "/addUser?api-version=2023-06-01", 200), 1);
  EXPECT_EQ(Count(journal, "POST", "/systemuserroles_association/$ref", 204), 2);
  // The user's roles came with its row ($expand): no request of their own.
  EXPECT_EQ(Count(journal, "GET", "/systemuserroles_association"), 0);
  EXPECT_EQ(Count(journal, "GET", "$expand=systemuserroles_association"), 2)
      << "the look before addUser and the one after it";
}

TEST_F(DataverseRoleTest, TheNextGuestsTakeTheResolvedRolesFromTheCache) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string first_id = LicensedGuest("ida@fabrikam.com");
  Onboarding first = RoleOnboarding("ida@fabrikam.com", first_id, {"Salesperson", "Sales Manager"});
  ASSERT_EQ(CloudTestEnv::RunStep(*host, first, StepKind::kRole).kind, Kind::kSucceeded);
  EXPECT_EQ(Count(Journal(), "GET", "/roles?"), 2);

  const std::string second_id = LicensedGuest("jon@fabrikam.com");
  const int64_t seen = LastSequence();
  Onboarding second =
      RoleOnboarding("jon@fabrikam.com", second_id, {"sales manager", "Salesperson"});
  const StepOutcome outcome = CloudTestEnv::RunStep(*host, second, StepKind::kRole);
  ASSERT_EQ(outcome.kind, Kind::kSucceeded) << Describe(outcome);
  // Spelled as Dataverse spells them, though asked for in lower case.
  EXPECT_EQ(outcome.outputs.at("roles"), "Sales Manager,Salesperson");
  EXPECT_EQ(outcome.outputs.at("roles_added"), "2");
  const std::string su = outcome.outputs.at("systemuser_id");
  EXPECT_EQ(RoleAssociations()[absl::StrCat(su, "|", kSalesperson)], 1);
  EXPECT_EQ(RoleAssociations()[absl::StrCat(su, "|", kSalesManager)], 1);
  const json journal = Journal(seen);
  EXPECT_EQ(Count(journal, "GET", "/roles?"), 0);
  // What a guest costs in Dataverse requests now: the look before addUser,
  // the one after it, and one association per role.
  int dataverse = 0;
  for (const json& e : journal) {
    if (absl::StrContains(e["path"].get<std::string>(), "/api/data/")) ++dataverse;
  }
  EXPECT_EQ(dataverse, 4) << journal.dump();
}

TEST_F(DataverseRoleTest, WithoutTheCacheEveryGuestLooksTheRolesUp) {
  json settings = kFastPolls;
  settings["role_cache_ms"] = 0;
  auto host = Host(settings);
  ASSERT_NE(host, nullptr);
  for (const std::string email : {"kim@fabrikam.com", "lou@fabrikam.com"}) {
    Onboarding o = RoleOnboarding(email, LicensedGuest(email), {"Salesperson"});
    ASSERT_EQ(CloudTestEnv::RunStep(*host, o, StepKind::kRole).kind, Kind::kSucceeded);
  }
  EXPECT_EQ(Count(Journal(), "GET", "/roles?"), 2);
}

TEST_F(DataverseRoleTest, RolesReplacedAfterTheyWereCachedAreLookedUpAgainInOneRetry) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string first_id = LicensedGuest("max@fabrikam.com");
  Onboarding first = RoleOnboarding("max@fabrikam.com", first_id, {"Salesperson", "Sales Manager"});
  ASSERT_EQ(CloudTestEnv::RunStep(*host, first, StepKind::kRole).kind, Kind::kSucceeded);

  // An admin deletes both roles and creates others of the same names.
  constexpr char kNewSalesperson[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4cff";
  constexpr char kNewSalesManager[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4cfe";
  env_.emulator().state().Locked([&](emulator::CloudState& s) {
    for (auto& role : s.FindEnvironmentById(kContosoEnvironment, nullptr)->roles) {
      if (role.id == kSalesperson) role.id = kNewSalesperson;
      if (role.id == kSalesManager) role.id = kNewSalesManager;
    }
    return 0;
  });

  const std::string second_id = LicensedGuest("ned@fabrikam.com");
  Onboarding second =
      RoleOnboarding("ned@fabrikam.com", second_id, {"Salesperson", "Sales Manager"});
  const StepOutcome refused = CloudTestEnv::RunStep(*host, second, StepKind::kRole);
  ASSERT_EQ(refused.kind, Kind::kRetry) << Describe(refused);
  EXPECT_THAT(refused.error, HasSubstr("roleid " + std::string(kSalesperson)));
  EXPECT_THAT(refused.error, HasSubstr("Does Not Exist"));
  EXPECT_THAT(refused.error, HasSubstr("looked up again"));

  // One retry looks both names up again, not one attempt per stale role.
  const int64_t seen = LastSequence();
  const StepOutcome again = CloudTestEnv::RunStep(*host, second, StepKind::kRole);
  ASSERT_EQ(again.kind, Kind::kSucceeded) << Describe(again);
  EXPECT_EQ(Count(Journal(seen), "GET", "/roles?"), 2);
  const std::string su = again.outputs.at("systemuser_id");
  EXPECT_EQ(RoleAssociations()[absl::StrCat(su, "|", kNewSalesperson)], 1);
  EXPECT_EQ(RoleAssociations()[absl::StrCat(su, "|", kNewSalesManager)], 1);
}

TEST_F(DataverseRoleTest, AThrottledAssociationOfACachedRoleWaitsForRetryAfterAndKeepsTheRole) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string first_id = LicensedGuest("oli@fabrikam.com");
  Onboarding first = RoleOnboarding("oli@fabrikam.com", first_id, {"Salesperson"});
  ASSERT_EQ(CloudTestEnv::RunStep(*host, first, StepKind::kRole).kind, Kind::kSucceeded);

  // Two Dataverse requests in 300 s (a limit set now counts from now): the
  // next guest's two looks pass, its association is the one over.
  const std::string second_id = LicensedGuest("pia@fabrikam.com");
  env_.SetKnobs({{"throttle_limits", {{"dataverse", {{"requests", 2}, {"per_s", 300}}}}}});
  Onboarding second = RoleOnboarding("pia@fabrikam.com", second_id, {"Salesperson"});
  const StepOutcome throttled = CloudTestEnv::RunStep(*host, second, StepKind::kRole);
  ASSERT_EQ(throttled.kind, Kind::kThrottled) << Describe(throttled);
  EXPECT_THAT(throttled.error, HasSubstr("systemuserroles_association"));
  ASSERT_TRUE(throttled.retry_after.has_value());
  EXPECT_GT(*throttled.retry_after, absl::Seconds(200)) << "Dataverse's Retry-After, kept";

  env_.SetKnobs({{"throttle_limits", json::object()}});
  const int64_t seen = LastSequence();
  const StepOutcome done = CloudTestEnv::RunStep(*host, second, StepKind::kRole);
  ASSERT_EQ(done.kind, Kind::kSucceeded) << Describe(done);
  EXPECT_EQ(Count(Journal(seen), "GET", "/roles?"), 0) << "the role stayed in the cache";
}

TEST_F(DataverseRoleTest, RunningAgainAssignsNothingNew) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("bea@fabrikam.com");
  Onboarding first = RoleOnboarding("bea@fabrikam.com", id, {"Salesperson", "Sales Manager"});
  ASSERT_EQ(CloudTestEnv::RunStep(*host, first, StepKind::kRole).kind, Kind::kSucceeded);
  const json before = RoleAssociations();
  const int64_t seen = LastSequence();

  // A new onboarding of the same guest finds everything in place.
  Onboarding second = RoleOnboarding("bea@fabrikam.com", id, {"Sales Manager", "salesperson"});
  const StepOutcome again = CloudTestEnv::RunStep(*host, second, StepKind::kRole);
  ASSERT_EQ(again.kind, Kind::kSucceeded) << Describe(again);
  EXPECT_EQ(again.outputs.at("roles_added"), "0");
  EXPECT_EQ(again.outputs.at("roles"), "Sales Manager,Salesperson");
  EXPECT_EQ(again.outputs.count("sync_requested"), 0u) << "the systemuser exists: no addUser";
  EXPECT_EQ(RoleAssociations(), before);
  const json journal = Journal(seen);
  EXPECT_EQ(Count(journal, "POST", "/addUser"), 0);
  EXPECT_EQ(Count(journal, "POST", "$ref"), 0);
}

TEST_F(DataverseRoleTest, OnlyTheMissingRoleIsAssociated) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("cy@fabrikam.com");
  Onboarding first = RoleOnboarding("cy@fabrikam.com", id, {"Salesperson"});
  const StepOutcome one = CloudTestEnv::RunStep(*host, first, StepKind::kRole);
  ASSERT_EQ(one.kind, Kind::kSucceeded) << Describe(one);
  EXPECT_EQ(one.outputs.at("roles_added"), "1");
  const std::string su = one.outputs.at("systemuser_id");

  Onboarding both = RoleOnboarding("cy@fabrikam.com", id, {"Salesperson", "Sales Manager"});
  const StepOutcome two = CloudTestEnv::RunStep(*host, both, StepKind::kRole);
  ASSERT_EQ(two.kind, Kind::kSucceeded) << Describe(two);
  EXPECT_EQ(two.outputs.at("roles_added"), "1");
  EXPECT_EQ(RoleAssociations(), (json{{absl::StrCat(su, "|", kSalesperson), 1},
                                      {absl::StrCat(su, "|", kSalesManager), 1}}));
}

TEST_F(DataverseRoleTest, AnUnknownRoleFailsWithItsNameBeforeAnyAssociation) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("dee@fabrikam.com");
  Onboarding o = RoleOnboarding("dee@fabrikam.com", id, {"Salesperson", "Chief Dreamer"});
  const StepOutcome outcome = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(outcome.kind, Kind::kFailed) << Describe(outcome);
  EXPECT_THAT(outcome.error, HasSubstr("role 'Chief Dreamer' does not exist in business unit "
                                       "contoso (7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2901)"));
  EXPECT_TRUE(RoleAssociations().empty()) << RoleAssociations().dump();
}

TEST_F(DataverseRoleTest, WaitsForTheDataverseSync) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("eve@fabrikam.com");
  env_.SetKnobs({{"dataverse_sync_delay_ms", 1000}});
  Onboarding o = RoleOnboarding("eve@fabrikam.com", id, {"Salesperson"});

  const std::vector<StepOutcome> outcomes = RunToEnd(*host, o);
  ASSERT_GE(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].kind, Kind::kWait) << Describe(outcomes[0]);
  EXPECT_EQ(outcomes[0].retry_after, absl::Milliseconds(100));
  EXPECT_THAT(outcomes[0].error, HasSubstr("waiting for Dataverse to create the systemuser"));
  EXPECT_EQ(outcomes[0].outputs.at("sync_requested"), "true");
  EXPECT_EQ(outcomes[1].kind, Kind::kWait) << Describe(outcomes[1]);
  EXPECT_EQ(outcomes.back().kind, Kind::kSucceeded) << Describe(outcomes.back());
  EXPECT_EQ(Count(Journal(), "POST", "/addUser"), 1) << "addUser is requested once";
}

class LaggingCloudTest : public DataverseRoleTest {
 protected:
  LaggingCloudTest() : DataverseRoleTest(GUESTFLOW_DEMO_FIXTURE, /*keep_lags=*/true) {}
};

TEST_F(LaggingCloudTest, WaitsWhileTheLicenseIsNotSeenThenSucceeds) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  // Long enough that the step surely runs before the license is effective.
  env_.SetKnobs({{"license_propagation_ms", 1500}});
  const std::string id = LicensedGuest("fay@fabrikam.com");
  Onboarding o = RoleOnboarding("fay@fabrikam.com", id, {"Salesperson"});

  const std::vector<StepOutcome> outcomes = RunToEnd(*host, o);
  ASSERT_GE(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].kind, Kind::kWait) << Describe(outcomes[0]);
  EXPECT_EQ(outcomes[0].retry_after, absl::Milliseconds(200)) << "license_poll_ms";
  EXPECT_THAT(outcomes[0].error, HasSubstr("userNotLicensed"));
  EXPECT_EQ(outcomes[0].outputs.count("sync_requested"), 0u);
  ASSERT_EQ(outcomes.back().kind, Kind::kSucceeded) << Describe(outcomes.back());
  EXPECT_EQ(outcomes.back().outputs.at("roles_added"), "1");
  const json journal = Journal();
  EXPECT_GE(Count(journal, "POST", "/addUser", 400), 1);
  EXPECT_EQ(Count(journal, "POST", "/addUser", 200), 1);
}

TEST_F(DataverseRoleTest, ThrottlingIsRetriedAfterRetryAfter) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("gus@fabrikam.com");
  // One Dataverse request per 300 s: the step's second one is throttled.
  env_.SetKnobs({{"throttle_scale", 0.000001}});
  Onboarding o = RoleOnboarding("gus@fabrikam.com", id, {"Salesperson"});
  const StepOutcome throttled = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(throttled.kind, Kind::kThrottled) << Describe(throttled);
  EXPECT_THAT(throttled.error, HasSubstr("429"));
  EXPECT_THAT(throttled.error,
              HasSubstr("Number of requests exceeded the limit of 1 over time window of 300 "
                        "seconds."));
  ASSERT_TRUE(throttled.retry_after.has_value());
  // Dataverse's Retry-After is whole seconds: the time left in its window.
  EXPECT_GT(*throttled.retry_after, absl::Seconds(200));
  EXPECT_LE(*throttled.retry_after, absl::Seconds(300));
  EXPECT_EQ(absl::ToInt64Milliseconds(*throttled.retry_after) % 1000, 0);
  EXPECT_EQ(throttled.outputs.at("sync_requested"), "true") << "kept for the next attempt";

  env_.SetKnobs({{"throttle_scale", 1.0}});
  const StepOutcome done = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(done.kind, Kind::kSucceeded) << Describe(done);
  EXPECT_EQ(Count(Journal(), "POST", "/addUser"), 1);
}

TEST_F(DataverseRoleTest, UpdatesTheDynamicsEmailOnceWithIfMatch) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("hal@fabrikam.com");
  Onboarding first = RoleOnboarding("hal@fabrikam.com", id, {"Salesperson"});
  ASSERT_EQ(CloudTestEnv::RunStep(*host, first, StepKind::kRole).kind, Kind::kSucceeded);
  // As in a pre-9.0 organization: the primary email is not the guest's.
  WithSystemUser(id, [](emulator::SystemUser& u) {
    u.internal_email = "hal_fabrikam.com#EXT#@contoso.onmicrosoft.com";
  });
  const int64_t seen = LastSequence();

  Onboarding o = RoleOnboarding("hal@fabrikam.com", id, {"Salesperson"}, /*update_email=*/true);
  const StepOutcome updated = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(updated.kind, Kind::kSucceeded) << Describe(updated);
  EXPECT_EQ(updated.outputs.at("email_updated"), "true");
  Onboarding again = RoleOnboarding("hal@fabrikam.com", id, {"Salesperson"}, true);
  const StepOutcome unchanged = CloudTestEnv::RunStep(*host, again, StepKind::kRole);
  ASSERT_EQ(unchanged.kind, Kind::kSucceeded) << Describe(unchanged);
  EXPECT_EQ(unchanged.outputs.count("email_updated"), 0u);

  // The emulator refuses a PATCH without If-Match (400): the 204 proves it.
  const json journal = Journal(seen);
  EXPECT_EQ(Count(journal, "PATCH", "/systemusers("), 1);
  ASSERT_EQ(Count(journal, "PATCH", "/systemusers(", 204), 1) << journal.dump();
  for (const json& e : journal) {
    if (e["method"] == "PATCH") {
      EXPECT_EQ(json::parse(e["body"].get<std::string>()),
                (json{{"internalemailaddress", "hal@fabrikam.com"}}));
    }
  }
  std::string email;
  WithSystemUser(id, [&](emulator::SystemUser& u) { email = u.internal_email; });
  EXPECT_EQ(email, "hal@fabrikam.com");
}

TEST_F(DataverseRoleTest, ADisabledSystemUserIsSyncedAgainThenGetsItsRoles) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("ida@fabrikam.com");
  Onboarding first = RoleOnboarding("ida@fabrikam.com", id, {"Sales Manager"});
  const StepOutcome made = CloudTestEnv::RunStep(*host, first, StepKind::kRole);
  ASSERT_EQ(made.kind, Kind::kSucceeded) << Describe(made);
  WithSystemUser(id, [](emulator::SystemUser& u) { u.disabled = true; });

  // addUser re-syncs the user, which is licensed and in the group: enabled.
  Onboarding o = RoleOnboarding("ida@fabrikam.com", id, {"Salesperson"});
  const StepOutcome outcome = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(outcome.kind, Kind::kSucceeded) << Describe(outcome);
  EXPECT_EQ(outcome.outputs.at("roles_added"), "1");
  EXPECT_EQ(Count(Journal(), "POST", "/addUser", 200), 2);
}

TEST_F(DataverseRoleTest, AUserDataverseKeepsDisabledIsWaitedOnWithTheReason) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("jo@fabrikam.com");
  env_.emulator().state().Locked([&](emulator::CloudState& s) {
    s.FindTenant(kContosoDirectory)->FindUser(id)->account_enabled = false;
    return 0;
  });
  Onboarding o = RoleOnboarding("jo@fabrikam.com", id, {"Salesperson"});
  const StepOutcome first = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(first.kind, Kind::kWait) << Describe(first);
  EXPECT_THAT(first.error, HasSubstr("is disabled in Dataverse"));
  EXPECT_EQ(first.retry_after, absl::Milliseconds(100)) << "disabled_poll_ms";
  EXPECT_EQ(first.outputs.at("business_unit_id"), kRootBu);
  const StepOutcome second = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  EXPECT_EQ(second.kind, Kind::kWait) << Describe(second);
  EXPECT_EQ(Count(Journal(), "POST", "/addUser"), 1) << "no second addUser while waiting";
  EXPECT_TRUE(RoleAssociations().empty());
}

TEST_F(DataverseRoleTest, AGuestOutsideTheSecurityGroupFailsWithTheReason) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("kai@fabrikam.com", /*join_group=*/false);
  Onboarding o = RoleOnboarding("kai@fabrikam.com", id, {"Salesperson"});
  const StepOutcome outcome = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(outcome.kind, Kind::kFailed) << Describe(outcome);
  EXPECT_THAT(outcome.error, HasSubstr("not a member of the security group"));
  EXPECT_THAT(outcome.error, HasSubstr("userNotInSecurityGroup"));
}

TEST_F(DataverseRoleTest, WithoutTheInviteOutputTheStepFails) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  Onboarding o = RoleOnboarding("lee@fabrikam.com", "", {"Salesperson"});
  o.FindStep(StepKind::kInvite)->outputs.erase("invited_user_id");
  const StepOutcome outcome = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(outcome.kind, Kind::kFailed) << Describe(outcome);
  EXPECT_THAT(outcome.error, HasSubstr("invited_user_id"));
  EXPECT_TRUE(Journal().empty()) << "nothing was sent";
}

TEST_F(DataverseRoleTest, CheckVerifiesTokensApplicationUserEnvironmentAndRoles) {
  json settings = kFastPolls;
  settings["tenant_settings"] = {{"instance_url", env_.base_url() + "/orgs/contoso"},
                                 {"admin_url", env_.base_url()},
                                 {"environment_id", kContosoEnvironment}};
  settings["default_roles"] = {"Salesperson", "Sales Manager", "Chief Dreamer"};
  auto host = Host(settings);
  ASSERT_NE(host, nullptr);
  auto checks = host->CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  std::map<std::string, PluginCheck> by_name;
  std::string all;
  for (const PluginCheck& c : *checks) {
    by_name[c.name] = c;
    absl::StrAppend(&all, c.ok ? "ok " : "FAIL ", c.name, ": ", c.detail, "\n");
  }
  for (const char* name : {"dataverse token", "dataverse application user",
                           "power platform admin token", "power platform environment",
                           "root business unit", "role 'Salesperson'", "role 'Sales Manager'"}) {
    ASSERT_EQ(by_name.count(name), 1u) << name << "\n" << all;
    EXPECT_TRUE(by_name[name].ok) << name << "\n" << all;
  }
  EXPECT_THAT(by_name["root business unit"].detail, HasSubstr(kRootBu));
  ASSERT_EQ(by_name.count("role 'Chief Dreamer'"), 1u) << all;
  EXPECT_FALSE(by_name["role 'Chief Dreamer'"].ok);
  EXPECT_THAT(by_name["role 'Chief Dreamer'"].detail, HasSubstr("does not exist"));
}

TEST_F(DataverseRoleTest, CheckUsesTheTenantTheHostDescribes) {
  // The host hands every instance its tenant's endpoints and defaults, so the
  // check can reach Dataverse with no tenant_settings in the plugin settings.
  auto host = Host();
  ASSERT_NE(host, nullptr);
  auto checks = host->CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  std::map<std::string, bool> by_name;
  for (const PluginCheck& c : *checks) by_name[c.name] = c.ok;
  EXPECT_EQ(by_name.count("dataverse_role setup"), 0u);
  EXPECT_TRUE(by_name["dataverse token"]);
  EXPECT_TRUE(by_name["dataverse application user"]);
  EXPECT_TRUE(by_name["root business unit"]);
}

TEST_F(DataverseRoleTest, BadSettingsAreRefusedAtLoad) {
  Config config;
  config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
  config.server.plugins = {"dataverse_role.so"};
  config.tenants = {Tenant({{"sync_pol_ms", 5}})};
  auto host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("sync_pol_ms"));
  config.tenants = {Tenant({{"license_poll_ms", "soon"}})};
  host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("license_poll_ms"));
  config.tenants = {Tenant({{"role_cache_ms", -1}})};
  host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("role_cache_ms"));
}

class NoApplicationUserRoleTest : public DataverseRoleTest {
 protected:
  NoApplicationUserRoleTest() : DataverseRoleTest(NoApplicationUserFixture()) {}
};

TEST_F(NoApplicationUserRoleTest, FailsWithDataversesNotAMemberMessage) {
  auto host = Host();
  ASSERT_NE(host, nullptr);
  const std::string id = LicensedGuest("max@fabrikam.com", /*join_group=*/false);
  Onboarding o = RoleOnboarding("max@fabrikam.com", id, {"Salesperson"});
  const StepOutcome outcome = CloudTestEnv::RunStep(*host, o, StepKind::kRole);
  ASSERT_EQ(outcome.kind, Kind::kFailed) << Describe(outcome);
  EXPECT_THAT(outcome.error, HasSubstr("The user is not a member of the organization."));
  EXPECT_THAT(outcome.error, HasSubstr("0x80072560"));
  EXPECT_THAT(outcome.error, HasSubstr("application user"));
}

TEST_F(NoApplicationUserRoleTest, CheckReportsTheMissingApplicationUser) {
  json settings = kFastPolls;
  settings["tenant_settings"] = {{"instance_url", env_.base_url() + "/orgs/contoso"},
                                 {"admin_url", env_.base_url()},
                                 {"environment_id", kContosoEnvironment}};
  auto host = Host(settings);
  ASSERT_NE(host, nullptr);
  auto checks = host->CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  bool reported = false;
  for (const PluginCheck& c : *checks) {
    if (c.name == "dataverse application user") {
      reported = true;
      EXPECT_FALSE(c.ok);
      EXPECT_THAT(c.detail, HasSubstr("0x80072560"));
    }
  }
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace guestflow
