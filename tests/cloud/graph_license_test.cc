// The graph_license plugin (step `license`) loaded by the real PluginHost
// next to azure_ad_invite, against the in-process emulator: SKU resolution,
// seats, idempotency, the usage-location lag, replication, throttling,
// check().
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
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
using ::testing::Not;

constexpr char kPlan1[] = "ea126fc5-a19e-42e2-a731-da9d437bffcf";
constexpr char kSales[] = "1e1a282c-9c54-43a2-9310-98ef728faace";

using testing::FailingGraph;

class GraphLicenseTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*keep_lags=*/false); }

  void Start(bool keep_lags) {
    host_.reset();
    env_ = std::make_unique<CloudTestEnv>(GUESTFLOW_DEMO_FIXTURE, keep_lags);
    // The accept loop runs on its own thread; an environment stopped before
    // it runs would wait forever in its destructor.
    httplib::Client client(env_->base_url());
    for (int i = 0; i < 200; ++i) {
      auto res = client.Get("/_emulator/health");
      if (res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the emulator does not answer";
  }

  TenantConfig Contoso(const json& license_settings) const {
    return env_->ContosoTenant(
        {{"invite", PluginBinding{"azure_ad_invite", R"({"replication_poll_ms":50})"}},
         {"license", PluginBinding{"graph_license", license_settings.dump()}}});
  }

  PluginHost& Host(const json& license_settings) { return HostFor(Contoso(license_settings)); }
  PluginHost& HostFor(const TenantConfig& tenant) {
    host_ = env_->MakeHost({"azure_ad_invite.so", "graph_license.so"}, {tenant});
    EXPECT_NE(host_, nullptr);
    return *host_;
  }

  // Runs `step` until it neither waits nor asks for a retry (~5 s at most).
  static StepOutcome RunUntilDone(PluginHost& host, Onboarding& o, StepKind step) {
    StepOutcome outcome;
    for (int i = 0; i < 100; ++i) {
      outcome = CloudTestEnv::RunStep(host, o, step);
      if (outcome.kind != StepOutcome::Kind::kWait && outcome.kind != StepOutcome::Kind::kRetry &&
          outcome.kind != StepOutcome::Kind::kThrottled) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return outcome;
  }

  // A guest invited and given a profile (names, usage location).
  Onboarding Prepared(PluginHost& host, const std::string& email,
                      const std::string& usage_location = "GB") {
    Onboarding o = CloudTestEnv::NewOnboarding("contoso", email, usage_location);
    StepOutcome invite = RunUntilDone(host, o, StepKind::kInvite);
    EXPECT_EQ(invite.kind, StepOutcome::Kind::kSucceeded) << invite.error;
    StepOutcome profile = RunUntilDone(host, o, StepKind::kProfile);
    EXPECT_EQ(profile.kind, StepOutcome::Kind::kSucceeded) << profile.error;
    return o;
  }

  static std::string Output(const Onboarding& o, StepKind step, const std::string& key) {
    const Step* s = o.FindStep(step);
    auto it = s->outputs.find(key);
    return it == s->outputs.end() ? "" : it->second;
  }

  json Counters() const { return env_->GetJson("/_emulator/counters"); }

  int Consumed(const std::string& part_number) const {
    const json state = env_->GetJson("/_emulator/state");
    for (const json& sku : state["tenants"][0]["skus"]) {
      if (sku["skuPartNumber"] == part_number) return sku["consumed"];
    }
    ADD_FAILURE() << "no sku " << part_number;
    return -1;
  }

  // The assignLicense calls journaled, once there are `expected` (~2 s at
  // most): the emulator journals a request after it answered it.
  int AssignLicenseCalls(int expected = 0) const {
    int n = 0;
    for (int i = 0; i < 200; ++i) {
      n = 0;
      for (const json& e : env_->GetJson("/_emulator/journal")) {
        if (e["path"].get<std::string>().find("/assignLicense") != std::string::npos) ++n;
      }
      if (n >= expected) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return n;
  }

  std::unique_ptr<CloudTestEnv> env_;
  std::unique_ptr<PluginHost> host_;
};

TEST_F(GraphLicenseTest, TheLicenseIsAssignedOnce) {
  PluginHost& host = Host({{"sku", "DYN365_ENTERPRISE_PLAN1"}});
  Onboarding o = Prepared(host, "lic@fabrikam.com");
  const std::string user = Output(o, StepKind::kInvite, "invited_user_id");

  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kLicense, "sku_id"), kPlan1);
  EXPECT_EQ(Output(o, StepKind::kLicense, "sku_part_number"), "DYN365_ENTERPRISE_PLAN1");
  EXPECT_EQ(Output(o, StepKind::kLicense, "license_already_assigned"), "false");
  EXPECT_EQ(Counters()["license_assignments"][user + "|" + kPlan1], 1);
  EXPECT_EQ(Consumed("DYN365_ENTERPRISE_PLAN1"), 4);

  // Again, as after a crash: the user already has it.
  outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kLicense, "license_already_assigned"), "true");
  EXPECT_EQ(Counters()["license_assignments"][user + "|" + kPlan1], 1);
  EXPECT_EQ(Consumed("DYN365_ENTERPRISE_PLAN1"), 4);
}

TEST_F(GraphLicenseTest, TheSkuCanBeNamedByItsId) {
  PluginHost& host = Host({{"sku", "EA126FC5-A19E-42E2-A731-DA9D437BFFCF"}});
  Onboarding o = Prepared(host, "byid@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Output(o, StepKind::kLicense, "sku_part_number"), "DYN365_ENTERPRISE_PLAN1");
}

TEST_F(GraphLicenseTest, AnUnknownSkuFailsNamingTheTenantsSkus) {
  PluginHost& host = Host({{"sku", "DYN365_BUSINESS_PREMIUM"}});
  Onboarding o = Prepared(host, "nosku@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("DYN365_BUSINESS_PREMIUM"));
  EXPECT_THAT(outcome.error, HasSubstr(std::string("DYN365_ENTERPRISE_PLAN1 (") + kPlan1 + ")"));
  EXPECT_THAT(outcome.error, HasSubstr(std::string("DYN365_ENTERPRISE_SALES (") + kSales + ")"));
  EXPECT_EQ(AssignLicenseCalls(), 0);
}

TEST_F(GraphLicenseTest, NoFreeSeatsFailsWithTheCounts) {
  PluginHost& host = Host({{"sku", "DYN365_ENTERPRISE_SALES"}});
  Onboarding o = Prepared(host, "full@fabrikam.com");
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_EQ(outcome.error, "no free seats of DYN365_ENTERPRISE_SALES (5 of 5 used)");
  EXPECT_EQ(AssignLicenseCalls(), 0);
  EXPECT_EQ(Consumed("DYN365_ENTERPRISE_SALES"), 5);
}

TEST_F(GraphLicenseTest, TheUsageLocationLagIsRetriedThenSucceeds) {
  Start(/*keep_lags=*/true);
  env_->SetKnobs({{"replication_lag_ms", 0}, {"usage_location_lag_ms", 1000}});
  PluginHost& host = Host({{"sku", "DYN365_ENTERPRISE_PLAN1"},
                           {"usage_location_retry_ms", 150},
                           {"usage_location_retries", 100}});
  Onboarding o = Prepared(host, "lag@fabrikam.com");
  const std::string user = Output(o, StepKind::kInvite, "invited_user_id");

  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kRetry) << outcome.error;
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_EQ(*outcome.retry_after, absl::Milliseconds(150));
  EXPECT_THAT(outcome.error, HasSubstr("invalid usage location"));
  EXPECT_EQ(Output(o, StepKind::kLicense, "usage_location_retries"), "1");

  outcome = RunUntilDone(host, o, StepKind::kLicense);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Counters()["license_assignments"][user + "|" + kPlan1], 1);
}

TEST_F(GraphLicenseTest, AMissingUsageLocationFailsAfterAFewRetries) {
  PluginHost& host = Host({{"sku", "DYN365_ENTERPRISE_PLAN1"},
                           {"usage_location_retry_ms", 10},
                           {"usage_location_retries", 2}});
  Onboarding o = Prepared(host, "nowhere@fabrikam.com", /*usage_location=*/"");
  EXPECT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kLicense).kind, StepOutcome::Kind::kRetry);
  EXPECT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kLicense).kind, StepOutcome::Kind::kRetry);
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error,
              HasSubstr("License assignment cannot be done for user with invalid usage location."));
  EXPECT_THAT(outcome.error, HasSubstr("usageLocation is not set"));
  EXPECT_EQ(AssignLicenseCalls(3), 3);
}

TEST_F(GraphLicenseTest, ANotYetReplicatedGuestIsWaitedFor) {
  Start(/*keep_lags=*/true);
  env_->SetKnobs({{"replication_lag_ms", 800}, {"usage_location_lag_ms", 0}});
  PluginHost& host = Host({{"sku", "DYN365_ENTERPRISE_PLAN1"}, {"replication_poll_ms", 75}});
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "fresh@fabrikam.com");
  ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kInvite).kind, StepOutcome::Kind::kSucceeded);
  // (profile skipped: the guest stays without usage location; the license
  // step must first see the user at all.)
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  ASSERT_EQ(outcome.kind, StepOutcome::Kind::kWait) << outcome.error;
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_EQ(*outcome.retry_after, absl::Milliseconds(75));
  EXPECT_EQ(AssignLicenseCalls(), 0);
}

TEST_F(GraphLicenseTest, AWrongSecretIsAPermanentFailure) {
  setenv("GF_CLOUDTEST_WRONG_SECRET", "not-the-secret", 1);
  TenantConfig tenant = Contoso({{"sku", "DYN365_ENTERPRISE_PLAN1"}});
  tenant.client_secret = SecretRef{SecretRef::Source::kEnv, "GF_CLOUDTEST_WRONG_SECRET"};
  PluginHost& host = HostFor(tenant);
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "secret@fabrikam.com");
  o.FindStep(StepKind::kInvite)->outputs["invited_user_id"] =
      "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c01";
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("AADSTS7000215"));
  EXPECT_THAT(outcome.error, Not(HasSubstr("not-the-secret")));
}

TEST_F(GraphLicenseTest, AnUnavailableGraphIsRetriedAfterItsRetryAfter) {
  FailingGraph unavailable(503, "3");
  TenantConfig tenant = Contoso({{"sku", "DYN365_ENTERPRISE_PLAN1"}});
  tenant.graph_url = unavailable.url();
  PluginHost& host = HostFor(tenant);
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "busy@fabrikam.com");
  o.FindStep(StepKind::kInvite)->outputs["invited_user_id"] =
      "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c01";
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kRetry);
  ASSERT_TRUE(outcome.retry_after.has_value());
  EXPECT_EQ(*outcome.retry_after, absl::Seconds(3));
  EXPECT_THAT(outcome.error, HasSubstr("GET /subscribedSkus answered 503: Service unavailable"));
  EXPECT_EQ(unavailable.requests(), 1);
}

TEST_F(GraphLicenseTest, TheEmulatorsInjectedFaultsAreRetried) {
  PluginHost& host = Host({{"sku", "DYN365_ENTERPRISE_PLAN1"}});
  Onboarding o = Prepared(host, "faults@fabrikam.com");
  env_->SetKnobs({{"error_rate", 1.0}});
  StepOutcome outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kRetry) << outcome.error;
  EXPECT_THAT(outcome.error, HasSubstr("503"));
  env_->SetKnobs({{"error_rate", 0.0}});
  outcome = CloudTestEnv::RunStep(host, o, StepKind::kLicense);
  EXPECT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  EXPECT_EQ(Counters()["license_assignments"].size(), 1u);
}

TEST_F(GraphLicenseTest, TheSkuListIsCachedPerInstance) {
  PluginHost& host = Host({{"sku", "DYN365_ENTERPRISE_PLAN1"}});
  for (const char* email : {"c1@fabrikam.com", "c2@fabrikam.com", "c3@fabrikam.com"}) {
    Onboarding o = Prepared(host, email);
    ASSERT_EQ(CloudTestEnv::RunStep(host, o, StepKind::kLicense).kind,
              StepOutcome::Kind::kSucceeded);
  }
  int listings = 0;
  for (const json& e : env_->GetJson("/_emulator/journal")) {
    if (e["path"].get<std::string>().rfind("/v1.0/subscribedSkus", 0) == 0) ++listings;
  }
  EXPECT_EQ(listings, 1);
  EXPECT_EQ(Consumed("DYN365_ENTERPRISE_PLAN1"), 6);
}

TEST_F(GraphLicenseTest, CheckReportsTokenSkuSeatsAndGroup) {
  PluginHost& host =
      Host({{"sku", "DYN365_ENTERPRISE_PLAN1"}, {"security_group_id", kContosoGroup}});
  absl::StatusOr<std::vector<PluginCheck>> checks = host.CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  std::map<std::string, PluginCheck> by_name;
  for (const PluginCheck& c : *checks) by_name[c.name] = c;
  ASSERT_TRUE(by_name.count("sku DYN365_ENTERPRISE_PLAN1"));
  EXPECT_TRUE(by_name["sku DYN365_ENTERPRISE_PLAN1"].ok);
  ASSERT_TRUE(by_name.count("free seats of DYN365_ENTERPRISE_PLAN1"));
  EXPECT_TRUE(by_name["free seats of DYN365_ENTERPRISE_PLAN1"].ok);
  EXPECT_EQ(by_name["free seats of DYN365_ENTERPRISE_PLAN1"].detail, "22 of 25 free");
  EXPECT_TRUE(by_name["graph token"].ok);
  EXPECT_TRUE(by_name["security group"].ok) << by_name["security group"].detail;

  PluginHost& full = Host({{"sku", "DYN365_ENTERPRISE_SALES"}});
  checks = full.CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  by_name.clear();
  for (const PluginCheck& c : *checks) by_name[c.name] = c;
  EXPECT_FALSE(by_name["free seats of DYN365_ENTERPRISE_SALES"].ok);
  EXPECT_EQ(by_name["free seats of DYN365_ENTERPRISE_SALES"].detail, "0 of 5 free");

  PluginHost& unknown = Host({{"sku", "NOPE"}});
  checks = unknown.CheckTenant("contoso");
  ASSERT_TRUE(checks.ok()) << checks.status();
  by_name.clear();
  for (const PluginCheck& c : *checks) by_name[c.name] = c;
  EXPECT_FALSE(by_name["sku NOPE"].ok);
  EXPECT_THAT(by_name["sku NOPE"].detail, HasSubstr("DYN365_ENTERPRISE_PLAN1"));
}

TEST_F(GraphLicenseTest, SettingsAreCheckedAtLoad) {
  Config config;
  config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
  config.server.plugins = {"azure_ad_invite.so", "graph_license.so"};
  config.tenants = {Contoso(json::object())};
  absl::StatusOr<std::unique_ptr<PluginHost>> host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("'sku' is required"));
  config.tenants = {Contoso({{"sku", "X"}, {"usage_location_retry_ms", "5s"}})};
  host = PluginHost::Create(config, HostServices{});
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()),
              HasSubstr("'usage_location_retry_ms' must be an integer"));
}

}  // namespace
}  // namespace guestflow::cloudtest
