// The azure_ad_invite plugin (steps `invite` and `profile`) loaded by the real
// PluginHost, talking to the in-process emulator over HTTP with real OAuth2
// tokens: what it sends, what it records, that running a step again changes
// nothing, and how it treats each documented failure.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/cloud/cloud_test_env.h"
#include "tests/support/failing_graph.h"

namespace guestflow::cloudtest {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr char kPlugin[] = "azure_ad_invite.so";
constexpr char kAdminId[] = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c01";
constexpr char kGuidRegex[] = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

// Graph's documented 429 body.
constexpr char kThrottledBody[] =
    R"({"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"2020-08-18T12:51:51","message":"Please retry after","request-id":"94fb3b52-452a-4535-a601-69e0a90e3aa2","status":"429"},"message":"Please retry again later."}})";

class FailingGraph : public testing::FailingGraph {
 public:
  FailingGraph(int status, const std::string& retry_after)
      : testing::FailingGraph(status, retry_after, kThrottledBody) {}
};

class AzureAdInviteTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*keep_lags=*/false); }

  void Start(bool keep_lags) {
    host_.reset();
    env_ = std::make_unique<CloudTestEnv>(GUESTFLOW_DEMO_FIXTURE, keep_lags);
    WaitUntilServing(*env_);
  }

  // The emulator's accept loop starts on its own thread; an environment
  // stopped before that loop runs would wait forever in its destructor.
  static void WaitUntilServing(const CloudTestEnv& env) {
    httplib::Client client(env.base_url());
    for (int i = 0; i < 200; ++i) {
      auto res = client.Get("/_emulator/health");
      if (res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the emulator does not answer";
  }

  TenantConfig Contoso(const json& settings) const {
    return env_->ContosoTenant({{"invite", PluginBinding{"azure_ad_invite", settings.dump()}}});
  }

  PluginHost& Host(const json& settings = json::object()) {
    host_ = env_->MakeHost({kPlugin}, {Contoso(settings)});
    EXPECT_NE(host_, nullptr);
    return *host_;
  }
  PluginHost& HostFor(const TenantConfig& tenant) {
    host_ = env_->MakeHost({kPlugin}, {tenant});
    EXPECT_NE(host_, nullptr);
    return *host_;
  }

  json Counters() const { return env_->GetJson("/_emulator/counters"); }

  // The Graph requests the emulator answered, oldest first.
  std::vector<json> GraphRequests() const {
    std::vector<json> out;
    for (const json& e : env_->GetJson("/_emulator/journal")) {
      if (e["service"] == "graph") out.push_back(e);
    }
    return out;
  }

  // The Graph requests of `method` whose path starts with `path_prefix`,
  // once there are `expected` of them (at most ~2 s): the emulator journals a
  // request after it answered, so the newest may not be there yet.
  std::vector<json> Requests(const std::string& method, const std::string& path_prefix,
                             size_t expected) const {
    std::vector<json> out;
    for (int i = 0; i < 200; ++i) {
      out.clear();
      for (const json& e : GraphRequests()) {
        if (e["method"] == method && e["path"].get<std::string>().rfind(path_prefix, 0) == 0) {
          out.push_back(e);
        }
      }
      if (out.size() >= expected) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return out;
  }

  json User(const std::string& id) const {
    const json state = env_->GetJson("/_emulator/state");
    for (const json& t : state["tenants"]) {
      for (const json& u : t["users"]) {
        if (u["id"] == id) return u;
      }
    }
    ADD_FAILURE() << "no user " << id;
    return json();
  }

  static std::string Output(const Onboarding& o, StepKind step, const std::string& key) {
    const Step* s = o.FindStep(step);
    auto it = s->outputs.find(key);
    return it == s->outputs.end() ? "" : it->second;
  }

  // Runs `step` until it stops waiting (at most ~5 s).
  static StepOutcome RunUntilDone(PluginHost& host, Onboarding& o, StepKind step) {
    StepOutcome outcome;
    for (int i = 0; i < 100; ++i) {
      outcome = CloudTestEnv::RunStep(host, o, step);
      if (outcome.kind != StepOutcome::Kind::kWait) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return outcome;
  }

  std::unique_ptr<CloudTestEnv> env_;
  std::unique_ptr<PluginHost> host_;
};

TEST_F(AzureAdInviteTest, InviteCreatesTheGuestOnceAndRecordsItsIds) {
  PluginHost& host = Host();
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "ada@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  const std::string id = Output(o, StepKind::kInvite, "invited_user_id");
  EXPECT_THAT(id, MatchesRegex(kGuidRegex));
  EXPECT_THAT(Output(o, StepKind::kInvite, "invitation_id"), MatchesRegex(kGuidRegex));
  EXPECT_NE(Output(o, StepKind::kInvite, "invitation_id"), id);
  EXPECT_THAT(Output(o, StepKind::kInvite, "invite_redeem_url"),
              StartsWith("https://login.microsoftonline.com/redeem?rd="));
  EXPECT_EQ(Output(o, StepKind::kInvite, "existing_user"), "false");
  EXPECT_EQ(User(id)["userType"], "Guest");

  // What went over the wire: look up first, then the documented invitation.
  const std::vector<json> lookups = Requests("GET", "/v1.0/users?", 1);
  ASSERT_EQ(lookups.size(), 1u);
  EXPECT_THAT(lookups[0]["path"].get<std::string>(), HasSubstr("otherMails%2Fany"));
  const std::vector<json> invitations = Requests("POST", "/v1.0/invitations", 1);
  ASSERT_EQ(invitations.size(), 1u);
  const json body = json::parse(invitations[0]["body"].get<std::string>());
  EXPECT_EQ(body["invitedUserEmailAddress"], "ada@fabrikam.com");
  EXPECT_EQ(body["inviteRedirectUrl"], env_->base_url() + "/orgs/contoso");
  EXPECT_EQ(body["invitedUserDisplayName"], "Ada ada");
  EXPECT_EQ(body["sendInvitationMessage"], true);  // the tenant default
  EXPECT_FALSE(body.contains("invitedUserMessageInfo"));

  // Again, as after a crash: nothing new in the directory.
  outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kInvite, "invited_user_id"), id);
  const json c = Counters();
  EXPECT_EQ(c["invitations_by_email"]["ada@fabrikam.com"], 1);
  EXPECT_EQ(c["guests_created_by_email"]["ada@fabrikam.com"], 1);
  EXPECT_EQ(Requests("GET", "/v1.0/users?", 1).size(), 1u);
}

TEST_F(AzureAdInviteTest, AnInterruptedInviteWaitsForTheGuestToShowUpBeforeInvitingAgain) {
  // The directory shows a new guest 600 ms after the invitation.
  env_->SetKnobs({{"replication_lag_ms", 600}});
  PluginHost& host = Host({{"replication_poll_ms", 50}, {"reinvite_grace_ms", 3000}});
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "ivy@fabrikam.com");
  ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kInvite).kind, StepOutcome::Kind::kSucceeded);
  // A second onboarding of the same guest whose process died mid-invite:
  // the invitation may have been made; the guest is not visible yet.
  Onboarding again = CloudTestEnv::NewOnboarding("contoso", "ivy@fabrikam.com");
  again.FindStep(StepKind::kInvite)->outputs["interrupted_at_ms"] =
      std::to_string(absl::ToUnixMillis(absl::Now()));
  StepOutcome waited = CloudTestEnv::RunStep(host, again, StepKind::kInvite);
  ASSERT_EQ(waited.kind, StepOutcome::Kind::kWait) << waited.error;
  EXPECT_THAT(waited.error, HasSubstr("may have invited ivy@fabrikam.com"));
  // Once it shows up, it is found, not invited again.
  StepOutcome done = RunUntilDone(host, again, StepKind::kInvite);
  ASSERT_EQ(done.kind, StepOutcome::Kind::kSucceeded) << done.error;
  EXPECT_EQ(Output(again, StepKind::kInvite, "existing_user"), "true");
  EXPECT_EQ(Counters()["invitations_by_email"]["ivy@fabrikam.com"], 1);
}

TEST_F(AzureAdInviteTest, AfterTheGraceAnInterruptedInviteInvites) {
  PluginHost& host = Host({{"replication_poll_ms", 50}, {"reinvite_grace_ms", 200}});
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "jay@fabrikam.com");
  // Interrupted long ago (the POST never left, as it turns out).
  o.FindStep(StepKind::kInvite)->outputs["interrupted_at_ms"] =
      std::to_string(absl::ToUnixMillis(absl::Now() - absl::Seconds(1)));
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kInvite, "existing_user"), "false");
  EXPECT_EQ(Counters()["invitations_by_email"]["jay@fabrikam.com"], 1);
}

TEST_F(AzureAdInviteTest, AKnownEmailIsFoundNotInvitedAgain) {
  PluginHost& host = Host();
  Onboarding first = CloudTestEnv::NewOnboarding("contoso", "grace@fabrikam.com");
  ASSERT_EQ(CloudTestEnv::RunStep(host, first, StepKind::kInvite).kind,
            StepOutcome::Kind::kSucceeded);

  // A second onboarding of the same person, the address in another case.
  Onboarding second = CloudTestEnv::NewOnboarding("contoso", "Grace@Fabrikam.COM");
  StepOutcome outcome = CloudTestEnv::RunStep(host, second, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(second, StepKind::kInvite, "invited_user_id"),
            Output(first, StepKind::kInvite, "invited_user_id"));
  EXPECT_EQ(Output(second, StepKind::kInvite, "existing_user"), "true");
  EXPECT_EQ(Output(second, StepKind::kInvite, "invitation_id"), "");
  EXPECT_EQ(Counters()["invitations_by_email"]["grace@fabrikam.com"], 1);
}

TEST_F(AzureAdInviteTest, AnExistingMemberIsUsedAsIs) {
  PluginHost& host = Host();
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "admin@contoso.onmicrosoft.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kInvite, "invited_user_id"), kAdminId);
  EXPECT_EQ(Output(o, StepKind::kInvite, "existing_user"), "true");
  EXPECT_TRUE(Requests("POST", "/v1.0/invitations", 0).empty());
}

TEST_F(AzureAdInviteTest, EmailWithAnApostropheIsQuotedInTheLookup) {
  PluginHost& host = Host();
  Onboarding first = CloudTestEnv::NewOnboarding("contoso", "o'hara@fabrikam.com");
  ASSERT_EQ(CloudTestEnv::RunStep(host, first, StepKind::kInvite).kind,
            StepOutcome::Kind::kSucceeded);
  Onboarding second = CloudTestEnv::NewOnboarding("contoso", "o'hara@fabrikam.com");
  ASSERT_EQ(CloudTestEnv::RunStep(host, second, StepKind::kInvite).kind,
            StepOutcome::Kind::kSucceeded);
  EXPECT_EQ(Output(second, StepKind::kInvite, "existing_user"), "true");
  EXPECT_EQ(Counters()["invitations_by_email"]["o'hara@fabrikam.com"], 1);
}

TEST_F(AzureAdInviteTest, TheGuestJoinsTheSecurityGroupOnce) {
  PluginHost& host = Host({{"security_group_id", kContosoGroup}});
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "member@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kInvite, "group_member"), "true");
  const std::string id = Output(o, StepKind::kInvite, "invited_user_id");
  const std::vector<json> refs = Requests("POST", std::string("/v1.0/groups/") + kContosoGroup, 1);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(json::parse(refs[0]["body"].get<std::string>()),
            json({{"@odata.id", env_->base_url() + "/v1.0/directoryObjects/" + id}}));

  // The same step again records nothing new; a second onboarding of the same
  // person meets "already exist" and takes it as done.
  ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kInvite).kind, StepOutcome::Kind::kSucceeded);
  Onboarding again = CloudTestEnv::NewOnboarding("contoso", "member@fabrikam.com");
  outcome = CloudTestEnv::RunStep(host, again, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(again, StepKind::kInvite, "group_member"), "true");
  EXPECT_EQ(Counters()["group_member_adds"][std::string(kContosoGroup) + "|" + id], 1);
  EXPECT_EQ(Requests("POST", std::string("/v1.0/groups/") + kContosoGroup, 2).size(), 2u);
}

TEST_F(AzureAdInviteTest, AnUnknownSecurityGroupFails) {
  PluginHost& host = Host({{"security_group_id", "00000000-0000-4000-8000-0000000000aa"}});
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "nogroup@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("security group 00000000-0000-4000-8000-0000000000aa"));
  // The invitation itself is kept for the next attempt.
  EXPECT_THAT(Output(o, StepKind::kInvite, "invited_user_id"), MatchesRegex(kGuidRegex));
}

TEST_F(AzureAdInviteTest, MessageCcAndRedirectComeFromTheTenant) {
  TenantConfig tenant = Contoso({{"cc_email", "sponsor@contoso.com"},
                                 {"redirect_url", "https://contoso.crm4.dynamics.com/main.aspx"}});
  tenant.invitation_message = "Welcome to Contoso Sales";
  tenant.send_invitation_message = false;
  PluginHost& host = HostFor(tenant);
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "msg@fabrikam.com");
  ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kInvite).kind, StepOutcome::Kind::kSucceeded);
  const std::vector<json> invitations = Requests("POST", "/v1.0/invitations", 1);
  ASSERT_EQ(invitations.size(), 1u);
  const json body = json::parse(invitations[0]["body"].get<std::string>());
  EXPECT_EQ(body["inviteRedirectUrl"], "https://contoso.crm4.dynamics.com/main.aspx");
  EXPECT_EQ(body["sendInvitationMessage"], false);
  EXPECT_EQ(body["invitedUserMessageInfo"],
            json::parse(R"({"customizedMessageBody":"Welcome to Contoso Sales",
                            "ccRecipients":[{"emailAddress":{"address":"sponsor@contoso.com"}}]})"));
}

TEST_F(AzureAdInviteTest, ATenantThatForbidsInvitationsFails) {
  setenv("GF_CLOUDTEST_FABRIKAM_SECRET", "fabrikam-emulator-secret", 1);
  TenantConfig fabrikam = Contoso(json::object());
  fabrikam.id = "fabrikam";
  fabrikam.directory = "2b7e151c-2a6f-4f1d-8e3c-7a9b0c1d2e02";
  fabrikam.client_id = "4c9d0e1f-2a3b-4c5d-8e6f-7a8b9c0d1e02";
  fabrikam.client_secret = SecretRef{SecretRef::Source::kEnv, "GF_CLOUDTEST_FABRIKAM_SECRET"};
  fabrikam.instance_url = env_->base_url() + "/orgs/fabrikam";
  fabrikam.environment_id = "8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c02";
  PluginHost& host = HostFor(fabrikam);
  Onboarding o = CloudTestEnv::NewOnboarding("fabrikam", "ada@contoso.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error,
              HasSubstr("Guest invitations not allowed for your company. Contact your company "
                        "administrator for more details."));
  EXPECT_FALSE(Counters()["guests_created_by_email"].contains("ada@contoso.com"));
}

TEST_F(AzureAdInviteTest, AnAddressGraphWouldRefuseFailsBeforeAnyCall) {
  PluginHost& host = Host();
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "ada,lovelace@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("','"));
  EXPECT_TRUE(GraphRequests().empty());
}

TEST_F(AzureAdInviteTest, AWrongSecretIsAPermanentFailure) {
  setenv("GF_CLOUDTEST_WRONG_SECRET", "not-the-secret", 1);
  TenantConfig tenant = Contoso(json::object());
  tenant.client_secret = SecretRef{SecretRef::Source::kEnv, "GF_CLOUDTEST_WRONG_SECRET"};
  PluginHost& host = HostFor(tenant);
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "secret@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("Microsoft Graph token"));
  EXPECT_THAT(outcome.error, HasSubstr("AADSTS7000215"));
  EXPECT_THAT(outcome.error, ::testing::Not(HasSubstr("not-the-secret")));
  EXPECT_TRUE(GraphRequests().empty());
}

TEST_F(AzureAdInviteTest, ProfileSetsNamesAndUsageLocation) {
  PluginHost& host = Host();
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "prof@fabrikam.com", "gb");
  ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kInvite).kind, StepOutcome::Kind::kSucceeded);
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kProfile);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  const json user = User(Output(o, StepKind::kInvite, "invited_user_id"));
  EXPECT_EQ(user["givenName"], "Ada");
  EXPECT_EQ(user["surname"], "prof");
  EXPECT_EQ(user["usageLocation"], "GB");
  EXPECT_EQ(Output(o, StepKind::kProfile, "usage_location"), "GB");
  const std::vector<json> patches = Requests("PATCH", "/v1.0/users/", 1);
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_EQ(json::parse(patches[0]["body"].get<std::string>()), json({{"givenName", "Ada"},
                                                                      {"surname", "prof"},
                                                                      {"displayName", "Ada prof"},
                                                                      {"usageLocation", "GB"}}));
  // Again: same values, still fine.
  EXPECT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kProfile).kind, StepOutcome::Kind::kSucceeded);
}

TEST_F(AzureAdInviteTest, ProfileRefusesUkWithAHintForGb) {
  PluginHost& host = Host();
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "uk@fabrikam.com", "UK");
  ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kInvite).kind, StepOutcome::Kind::kSucceeded);
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kProfile);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("'UK'"));
  EXPECT_THAT(outcome.error, HasSubstr("use GB for the United Kingdom"));
  EXPECT_TRUE(Requests("PATCH", "/v1.0/users/", 0).empty());
}

TEST_F(AzureAdInviteTest, ProfileWithoutAnInvitedUserFails) {
  PluginHost& host = Host();
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "noinvite@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kProfile);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("invited_user_id"));
}

TEST_F(AzureAdInviteTest, BothStepsWaitForReplicationThenSucceed) {
  Start(/*keep_lags=*/true);
  env_->SetKnobs({{"replication_lag_ms", 1200}});
  PluginHost& host = Host({{"security_group_id", kContosoGroup}, {"replication_poll_ms", 100}});
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "slow@fabrikam.com");

  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kWait) << outcome.error;
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_EQ(*outcome.retry_after, absl::Milliseconds(100));
  const std::string id = Output(o, StepKind::kInvite, "invited_user_id");
  EXPECT_THAT(id, MatchesRegex(kGuidRegex));

  outcome = RunUntilDone(host, o, StepKind::kInvite);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kInvite, "group_member"), "true");
  EXPECT_EQ(Counters()["invitations_by_email"]["slow@fabrikam.com"], 1);
  EXPECT_EQ(Counters()["group_member_adds"][std::string(kContosoGroup) + "|" + id], 1);

  // A second guest: profile right after the invitation waits too.
  Onboarding other = CloudTestEnv::NewOnboarding("contoso", "slower@fabrikam.com");
  host_ = env_->MakeHost({kPlugin}, {Contoso({{"replication_poll_ms", 100}})});
  ASSERT_EQ(CloudTestEnv::RunStep(*host_, other, StepKind::kInvite).kind,
            StepOutcome::Kind::kSucceeded);
  outcome = CloudTestEnv::RunStep(*host_, other, StepKind::kProfile);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kWait) << outcome.error;
  EXPECT_THAT(outcome.error, HasSubstr("not replicated yet"));
  outcome = RunUntilDone(*host_, other, StepKind::kProfile);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(User(Output(other, StepKind::kInvite, "invited_user_id"))["usageLocation"], "GB");
}

TEST_F(AzureAdInviteTest, AThrottlingGraphIsRetriedAfterItsRetryAfter) {
  FailingGraph throttled(429, "2.128");
  TenantConfig tenant = Contoso(json::object());
  tenant.graph_url = throttled.url();
  PluginHost& host = HostFor(tenant);
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "busy@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kThrottled);
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_EQ(*outcome.retry_after, absl::Milliseconds(2128));
  EXPECT_THAT(outcome.error, HasSubstr("429"));
  EXPECT_THAT(outcome.error, HasSubstr("Please retry again later."));
  EXPECT_EQ(throttled.requests(), 1);
}

TEST_F(AzureAdInviteTest, TheEmulatorsGraphThrottlingIsRetriedAfterItsRetryAfter) {
  PluginHost& host = Host();
  // Quotas of one resource unit and one write: the lookup passes, the
  // invitation right after it is throttled.
  env_->SetKnobs({{"throttle_scale", 0.000001}});
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "throttled@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kInvite);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kThrottled) << outcome.error;
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_GT(*outcome.retry_after, absl::ZeroDuration());
  EXPECT_THAT(outcome.error, HasSubstr("answered 429"));
  EXPECT_FALSE(Counters()["guests_created_by_email"].contains("throttled@fabrikam.com"));
}

TEST_F(AzureAdInviteTest, AFailingGraphWithoutRetryAfterLeavesTheDelayToTheHost) {
  FailingGraph unavailable(503, "");
  TenantConfig tenant = Contoso(json::object());
  tenant.graph_url = unavailable.url();
  PluginHost& host = HostFor(tenant);
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "down@fabrikam.com", "GB");
  o.FindStep(StepKind::kInvite)->outputs["invited_user_id"] = kAdminId;
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kProfile);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kRetry);
  EXPECT_FALSE(outcome.retry_after.has_value());
  EXPECT_THAT(outcome.error, HasSubstr("503"));
}

TEST_F(AzureAdInviteTest, CheckReportsTokenAndGroup) {
  PluginHost& host = Host({{"security_group_id", kContosoGroup}});
  absl::StatusOr<std::vector<PluginCheck>> checks = host.CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  std::map<std::string, PluginCheck> by_name;
  for (const PluginCheck& c : *checks) by_name[c.name] = c;
  ASSERT_TRUE(by_name.count("graph token"));
  EXPECT_TRUE(by_name["graph token"].ok) << by_name["graph token"].detail;
  ASSERT_TRUE(by_name.count("security group"));
  EXPECT_TRUE(by_name["security group"].ok) << by_name["security group"].detail;
  EXPECT_THAT(by_name["security group"].detail, HasSubstr("Dynamics 365 users"));
}

TEST_F(AzureAdInviteTest, SettingsAreCheckedAtLoad) {
  Config config;
  config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
  config.server.plugins = {kPlugin};
  config.tenants = {Contoso({{"security_group", kContosoGroup}})};
  absl::StatusOr<std::unique_ptr<PluginHost>> host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("unknown key 'security_group'"));
  config.tenants = {Contoso({{"security_group_id", "Dynamics 365 users"}})};
  host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("must be a GUID"));
}

}  // namespace
}  // namespace guestflow::cloudtest
