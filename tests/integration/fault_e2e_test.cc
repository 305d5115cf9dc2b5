// Cloud faults end to end: a real guestflowd with the Microsoft plugins
// against a guestflow-emulator that answers 10 % of requests 503, 5 % 429
// with Retry-After, resets 2 % of connections and answers 1 % after the
// client's timeout. Every guest still ends SUCCEEDED with one of each side
// effect in the cloud; guests with a permanent problem (no free seats, a role
// that does not exist) end FAILED with the cloud's reason, by that answer and
// not by running out of attempts; a row with an email Microsoft refuses is
// refused at the door and reaches no cloud.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/bulk_import.h"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"

namespace guestflow {
namespace {

using ::guestflow::itest::EmulatorProcess;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using ::testing::HasSubstr;

// Enough guests for every kind of fault to hit many of them: about 650
// requests, some 65 answered 503 and 30 answered 429.
constexpr int kGuests = 50;
constexpr int kMaxAttempts = 30;
constexpr char kBadEmail[] = "o#brien@fabrikam.com";  // Graph refuses '#'

std::string Email(int i) { return absl::StrCat("fault", i, "@fabrikam.com"); }

class FaultE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator_ =
        std::make_unique<EmulatorProcess>(GUESTFLOW_BULK_FIXTURE, dir_.File("emulator.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
    ASSERT_EQ(emulator_->SetKnobs(R"({
        "throttle_scale": 0,
        "latency_ms": {"token": 2, "graph": 5, "admin": 5, "dataverse": 5},
        "error_rate": 0.10, "throttle_rate": 0.05, "reset_rate": 0.02,
        "slow_rate": 0.01, "slow_ms": 2500})"),
              "");

    // Many attempts with short back-offs: about one request in seven fails
    // on purpose, so a step of five requests fails half its attempts.
    std::string config = absl::StrReplaceAll(
        itest::DemoConfig(GUESTFLOW_DEMO_CONFIG, emulator_->url(), PLUGIN_DIR, dir_.path()),
        {
            {"  workers: 8\n", "  workers: 16\n"},
            {"  max_attempts: 8\n", absl::StrCat("  max_attempts: ", kMaxAttempts, "\n")},
            {"  backoff_initial: 500ms\n", "  backoff_initial: 50ms\n"},
            {"  backoff_max: 30s\n", "  backoff_max: 1s\n"},
            {"\nstore:\n", "\nhttp:\n  request_timeout: 1500ms\n  connect_timeout: 1s\n\nstore:\n"},
        });
    config = itest::WithoutLimits(config);
    ASSERT_NE(config.find("request_timeout: 1500ms"), std::string::npos);
    ASSERT_NE(config.find("admin: {requests: 0}"), std::string::npos);
    WriteFile(dir_.File("guestflowd.yaml"), config);
    server_ =
        std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("guestflowd.log"));
    server_->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
    ASSERT_TRUE(server_->Start()) << server_->log();
    onboarding_ = v1::OnboardingService::NewStub(server_->Channel());
    batches_ = v1::BatchService::NewStub(server_->Channel());
  }

  v1::Onboarding Start(const std::string& tenant, const std::string& email,
                       const std::vector<std::string>& roles = {}) {
    v1::StartOnboardingRequest r = itest::GuestRequest(tenant, email);
    for (const std::string& role : roles) r.mutable_options()->add_roles(role);
    v1::Onboarding o;
    grpc::Status s = onboarding_->StartOnboarding(itest::Deadline().get(), r, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  nlohmann::json Counters() { return itest::CloudCounters(*emulator_); }

  static const v1::Step& FailedStep(const v1::Onboarding& o) {
    for (const v1::Step& step : o.steps()) {
      if (step.state() == v1::STEP_STATE_FAILED) return step;
    }
    return o.steps(0);
  }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::OnboardingService::Stub> onboarding_;
  std::unique_ptr<v1::BatchService::Stub> batches_;
};

TEST_F(FaultE2eTest, EveryGuestSucceedsThroughFaultsAndPermanentProblemsFailAtOnce) {
  // The batch: kGuests good rows and one the cloud would refuse.
  std::string csv = "Email,FirstName,LastName,UsageLocation\n";
  for (int i = 0; i < kGuests; ++i) absl::StrAppend(&csv, Email(i), ",Fault,Guest", i, ",GB\n");
  absl::StrAppend(&csv, kBadEmail, ",Owen,OBrien,IE\n");
  v1::Batch batch;
  {
    auto context = itest::Deadline(60);
    auto writer = batches_->CreateBatch(context.get(), &batch);
    v1::CreateBatchRequest header;
    header.mutable_header()->set_tenant("contoso");
    header.mutable_header()->set_request_id("fault-batch");
    ASSERT_TRUE(writer->Write(header));
    v1::CreateBatchRequest body;
    body.set_csv_chunk(csv);
    ASSERT_TRUE(writer->Write(body));
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(batch.rows_total(), kGuests + 1);
  ASSERT_EQ(batch.rows_invalid(), 1);
  ASSERT_EQ(batch.rejected_size(), 1);
  EXPECT_EQ(batch.rejected(0).line(), kGuests + 2);
  EXPECT_THAT(batch.rejected(0).error(), HasSubstr("#")) << batch.rejected(0).DebugString();

  // Permanent problems, started alongside.
  std::vector<std::string> no_seats, no_role;
  for (int i = 0; i < 3; ++i) {
    no_seats.push_back(Start("contoso-sales", absl::StrCat("noseat", i, "@fabrikam.com")).name());
    no_role.push_back(
        Start("contoso", absl::StrCat("norole", i, "@fabrikam.com"), {"Chief Wizard"}).name());
  }

  // The batch ends with every guest onboarded.
  const v1::Batch now = itest::WaitForBatch([this] { return server_->Channel(); }, batch.name());
  ASSERT_TRUE(now.done()) << now.DebugString();
  EXPECT_EQ(now.counts().at("ONBOARDING_STATE_SUCCEEDED"), kGuests) << now.DebugString();

  for (const std::string& name : no_seats) {
    const v1::Onboarding o = itest::WaitForEnd(*onboarding_, name);
    ASSERT_EQ(o.state(), v1::ONBOARDING_STATE_FAILED) << o.DebugString();
    const v1::Step& step = FailedStep(o);
    EXPECT_EQ(step.kind(), v1::STEP_KIND_LICENSE) << o.DebugString();
    EXPECT_THAT(o.error(), HasSubstr("DYN365_ENTERPRISE_SALES")) << o.DebugString();
    EXPECT_THAT(o.error(), ::testing::Not(HasSubstr("gave up after"))) << o.DebugString();
    EXPECT_LT(step.attempts(), kMaxAttempts) << o.DebugString();
  }
  for (const std::string& name : no_role) {
    const v1::Onboarding o = itest::WaitForEnd(*onboarding_, name);
    ASSERT_EQ(o.state(), v1::ONBOARDING_STATE_FAILED) << o.DebugString();
    const v1::Step& step = FailedStep(o);
    EXPECT_EQ(step.kind(), v1::STEP_KIND_ROLE) << o.DebugString();
    EXPECT_THAT(o.error(), HasSubstr("Chief Wizard")) << o.DebugString();
    EXPECT_THAT(o.error(), ::testing::Not(HasSubstr("gave up after"))) << o.DebugString();
    EXPECT_LT(step.attempts(), kMaxAttempts) << o.DebugString();
  }

  // The faults happened, and no side effect was done twice.
  const nlohmann::json c = Counters();
  const nlohmann::json codes = c["status_codes"];
  EXPECT_GT(codes.value("503", 0), 0) << codes.dump();
  EXPECT_GT(codes.value("429", 0), 0) << codes.dump();
  for (int i = 0; i < kGuests; ++i) {
    EXPECT_EQ(c["guests_created_by_email"].value(Email(i), 0), 1) << Email(i);
  }
  EXPECT_EQ(c["invitations_by_email"].value(kBadEmail, 0), 0);
  for (const char* kind : {"license_assignments", "role_associations", "group_member_adds"}) {
    for (const auto& [key, n] : c[kind].items()) EXPECT_EQ(n, 1) << kind << " " << key;
  }
  // The guests whose role does not exist were licensed before that step.
  EXPECT_EQ(c["license_assignments"].size(), static_cast<size_t>(kGuests + no_role.size()));
  std::printf("faults: 503 x %d, 429 x %d, invitations %zu for %d guests\n", codes.value("503", 0),
              codes.value("429", 0), c["invitations_by_email"].size(), kGuests + 6);
}

}  // namespace
}  // namespace guestflow
