// /metrics of a real guestflowd after one guest is onboarded against the
// cloud emulator: the text parses as the Prometheus exposition format (an
// independent parser, tests/support/check_prometheus_text.py) and holds the
// series and values that onboarding must have produced.
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"

namespace guestflow {
namespace {

using ::guestflow::itest::EmulatorProcess;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;

// name{a="x",b="y"} (labels sorted) -> value, from the checker's JSON lines.
using Samples = std::map<std::string, double>;

std::string Key(const std::string& name, std::map<std::string, std::string> labels) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(absl::StrCat(k, "=\"", v, "\""));
  return parts.empty() ? name : absl::StrCat(name, "{", absl::StrJoin(parts, ","), "}");
}

class MetricsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator_ =
        std::make_unique<EmulatorProcess>(GUESTFLOW_DEMO_FIXTURE, dir_.File("emulator.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
    WriteFile(dir_.File("guestflowd.yaml"),
              itest::DemoConfig(GUESTFLOW_DEMO_CONFIG, emulator_->url(), PLUGIN_DIR, dir_.path()));
    server_ =
        std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("guestflowd.log"));
    server_->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
    ASSERT_TRUE(server_->Start()) << server_->log();
  }

  // Scrapes, checks the format, and returns the samples.
  Samples Scrape() {
    const std::string body = server_->ScrapeMetrics();
    EXPECT_FALSE(body.empty());
    WriteFile(dir_.File("metrics.txt"), body);
    const itest::RunResult checked = itest::Run({CHECK_PROMETHEUS_TEXT, dir_.File("metrics.txt")});
    EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << body;
    Samples samples;
    for (absl::string_view line : absl::StrSplit(checked.output, '\n', absl::SkipEmpty())) {
      const nlohmann::json j = nlohmann::json::parse(line);
      std::map<std::string, std::string> labels = j["labels"];
      samples[Key(j["name"], labels)] = j["value"].is_null() ? -1 : j["value"].get<double>();
    }
    return samples;
  }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(MetricsE2eTest, AnOnboardingShowsInEveryFamily) {
  ASSERT_GT(server_->MetricsPort(), 0) << server_->log();
  auto stub = v1::OnboardingService::NewStub(server_->Channel());
  v1::Onboarding o;
  ASSERT_TRUE(stub->StartOnboarding(itest::Deadline().get(),
                                    itest::GuestRequest("contoso", "ada@fabrikam.com"), &o)
                  .ok());
  ASSERT_EQ(itest::WaitForEnd(*stub, o.name()).state(), v1::ONBOARDING_STATE_SUCCEEDED);
  // One call without credentials, for the code label.
  v1::GetOnboardingRequest get;
  get.set_name(o.name());
  v1::Onboarding ignored;
  ASSERT_EQ(v1::OnboardingService::NewStub(server_->Channel(""))
                ->GetOnboarding(itest::Deadline().get(), get, &ignored)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  Samples s = Scrape();
  const auto at = [&s](const std::string& name, std::map<std::string, std::string> labels) {
    auto it = s.find(Key(name, labels));
    return it == s.end() ? -1.0 : it->second;
  };
  // RPCs by method and code, with their latency.
  EXPECT_EQ(at("guestflow_rpc_requests_total",
               {{"method", "OnboardingService/StartOnboarding"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(at("guestflow_rpc_requests_total",
               {{"method", "OnboardingService/GetOnboarding"}, {"code", "UNAUTHENTICATED"}}),
            1);
  EXPECT_EQ(
      at("guestflow_rpc_duration_seconds_count", {{"method", "OnboardingService/StartOnboarding"}}),
      1);
  // Onboardings by tenant and state; nothing queued or leased any more.
  EXPECT_EQ(at("guestflow_onboardings", {{"tenant", "contoso"}, {"state", "SUCCEEDED"}}), 1);
  EXPECT_EQ(at("guestflow_queue_depth", {}), 0);
  EXPECT_EQ(at("guestflow_leases", {}), 0);
  // Each step succeeded once, in its plugin, and took some time.
  for (const auto& [step, plugin] :
       std::map<std::string, std::string>{{"invite", "azure_ad_invite"},
                                          {"profile", "azure_ad_invite"},
                                          {"license", "graph_license"},
                                          {"role", "dataverse_role"},
                                          {"notify", "outbox_notifier"}}) {
    EXPECT_EQ(at("guestflow_step_outcomes_total",
                 {{"step", step}, {"plugin", plugin}, {"outcome", "SUCCEEDED"}}),
              1)
        << step;
    EXPECT_GE(at("guestflow_step_duration_seconds_count", {{"step", step}, {"plugin", plugin}}), 1)
        << step;
  }
  // The invitation: one POST answered 201 by Graph, as the emulator counted.
  EXPECT_EQ(at("guestflow_cloud_requests_total",
               {{"service", "graph"}, {"method", "POST"}, {"status", "201"}}),
            1);
  EXPECT_GE(at("guestflow_cloud_request_duration_seconds_count", {{"service", "dataverse"}}), 1);
  EXPECT_EQ(at("guestflow_build_info", {{"version", "0.1.0"}, {"store", "sqlite"}}), 1);
  EXPECT_EQ(at("guestflow_replicas", {}), 1);

  // The log tells the same guest's story, one grep away, with the cloud's
  // request ids.
  const std::string log = server_->log();
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (!absl::StrContains(line, absl::StrCat("onboarding=", o.name().substr(12)))) continue;
    ++lines;
    EXPECT_THAT(std::string(line), ::testing::HasSubstr("tenant=contoso")) << line;
  }
  EXPECT_GE(lines, 10) << log;
  EXPECT_THAT(log, ::testing::ContainsRegex("cloud call POST [^ ]*/v1.0/invitations -> 201 "
                                            "onboarding=[0-9a-f]+ tenant=contoso step=invite "
                                            "plugin=azure_ad_invite service=graph "
                                            "request_id=[0-9a-f-]{36}"));
}

}  // namespace
}  // namespace guestflow
