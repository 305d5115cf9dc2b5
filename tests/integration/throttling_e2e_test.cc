// Throttling end to end: a real guestflowd with the Microsoft plugins against
// a guestflow-emulator whose Graph write limit is tight (4 writes, refilled
// at 2 a second), over gRPC and HTTP.
//   - Without a limit of its own, guestflowd meets the cloud's 429s: every
//     guest still succeeds, and no throttled retry uses up an attempt
//     (engine.max_attempts is 2).
//   - Told the cloud's figure, guestflowd paces itself: no 429 at all.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
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

constexpr int kGuests = 6;  // 4 Graph writes each: 24 writes, about 10 s at 2 a second

class ThrottlingE2eTest : public ::testing::Test {
 protected:
  // deploy/guestflowd.demo.yaml against the emulator, with two attempts per
  // step and `limits` as given.
  void Start(const std::string& limits) {
    emulator_ =
        std::make_unique<EmulatorProcess>(GUESTFLOW_DEMO_FIXTURE, dir_.File("emulator.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
    ASSERT_EQ(emulator_->SetKnobs(
                  R"({"throttle_limits": {"graph_writes": {"requests": 4, "per_s": 2}}})"),
              "");

    std::string config = absl::StrReplaceAll(
        itest::DemoConfig(GUESTFLOW_DEMO_CONFIG, emulator_->url(), PLUGIN_DIR, dir_.path()),
        {{"  max_attempts: 8\n", "  max_attempts: 2\n"},
         {"\ntenants:\n", absl::StrCat("\nlimits:\n", limits, "\ntenants:\n")}});
    ASSERT_NE(config.find("max_attempts: 2"), std::string::npos);
    WriteFile(dir_.File("guestflowd.yaml"), config);
    server_ =
        std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("guestflowd.log"));
    server_->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
    ASSERT_TRUE(server_->Start()) << server_->log();
    onboarding_ = v1::OnboardingService::NewStub(server_->Channel());
  }

  // Starts kGuests onboardings at once and waits for each to end.
  std::vector<v1::Onboarding> OnboardAll() {
    std::vector<std::string> names;
    for (int i = 0; i < kGuests; ++i) {
      v1::StartOnboardingRequest r =
          itest::GuestRequest("contoso", absl::StrCat("guest", i, "@fabrikam.com"));
      r.set_request_id(absl::StrCat("throttle-", i));
      v1::Onboarding o;
      grpc::Status s = onboarding_->StartOnboarding(itest::Deadline().get(), r, &o);
      EXPECT_TRUE(s.ok()) << s.error_message();
      names.push_back(o.name());
    }
    std::vector<v1::Onboarding> done;
    for (const std::string& name : names) done.push_back(itest::WaitForEnd(*onboarding_, name));
    return done;
  }

  int Answered429() {
    httplib::Client client(emulator_->url());
    auto res = client.Get("/_emulator/counters");
    EXPECT_TRUE(res && res->status == 200);
    if (!res) return -1;
    const nlohmann::json codes = nlohmann::json::parse(res->body)["status_codes"];
    return codes.contains("429") ? codes["429"].get<int>() : 0;
  }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::OnboardingService::Stub> onboarding_;
};

TEST_F(ThrottlingE2eTest, CloudThrottlingPacesTheGuestsAndFailsNone) {
  Start("  graph_writes: {requests: 0}");  // guestflowd does not pace Graph writes
  for (const v1::Onboarding& o : OnboardAll()) {
    ASSERT_EQ(o.state(), v1::ONBOARDING_STATE_SUCCEEDED)
        << o.DebugString() << server_->log() << emulator_->log();
    for (const v1::Step& step : o.steps()) {
      // Every 429 was retried without counting: one attempt, the one that
      // succeeded.
      EXPECT_EQ(step.attempts(), 1) << o.name() << " " << step.DebugString();
    }
  }
  // The cloud did throttle: more 429s than the two attempts a step has.
  const int answered = Answered429();
  EXPECT_GT(answered, 2);
  // And /metrics counted each of them, with the seconds they asked to wait.
  const std::string metrics = server_->ScrapeMetrics();
  EXPECT_THAT(metrics, ::testing::HasSubstr(absl::StrCat(
                           "guestflow_cloud_throttled_total{service=\"graph\",tenant=\"contoso\"} ",
                           answered, "\n")));
  EXPECT_THAT(metrics, ::testing::ContainsRegex(
                           "guestflow_cloud_retry_after_seconds_total\\{service=\"graph\","
                           "tenant=\"contoso\"\\} [1-9]"));
}

TEST_F(ThrottlingE2eTest, GuestflowdToldTheCloudsLimitIsNeverThrottled) {
  // The emulator's figure with a margin for the time a request takes to
  // arrive, as an operator would set it.
  Start("  graph_writes: {requests: 4, per: 2200ms}");
  for (const v1::Onboarding& o : OnboardAll()) {
    ASSERT_EQ(o.state(), v1::ONBOARDING_STATE_SUCCEEDED) << o.DebugString() << server_->log();
  }
  EXPECT_EQ(Answered429(), 0) << emulator_->log();
  EXPECT_THAT(server_->ScrapeMetrics(),
              ::testing::AllOf(::testing::HasSubstr("guestflow_cloud_requests_total"),
                               ::testing::Not(::testing::HasSubstr("throttled_total{"))));
}

}  // namespace
}  // namespace guestflow
