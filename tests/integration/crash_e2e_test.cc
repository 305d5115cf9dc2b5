// Crash survival end to end: an import of 1,000 guests through the Microsoft
// plugins and the cloud emulator while guestflowd is killed with SIGKILL at
// random moments (once while the file is still being sent) and restarted on
// the same SQLite file. Every guest must end SUCCEEDED with exactly one
// invitation, guest user, group membership, license and role association in
// the cloud; a notification may be sent again only for a step a kill
// interrupted, at most once per kill, and always under the same delivery id.
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/bulk_import.h"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"
#include "tests/support/webhook_receiver.h"

namespace guestflow {
namespace {

using ::guestflow::itest::EmulatorProcess;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;

constexpr int kGuests = 1000;
constexpr int kKills = 6;  // the first while the file is being sent
constexpr char kRequestId[] = "crash-import-1";
constexpr char kHookSecret[] = "crash-test-webhook-secret";

constexpr char kPrefix[] = "crash";

class CrashE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator_ =
        // The demo tenant with 100,000 seats (the bulk benchmark's fixture).
        std::make_unique<EmulatorProcess>(GUESTFLOW_BULK_FIXTURE, dir_.File("emulator.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
    ASSERT_EQ(emulator_->SetKnobs(itest::kKillTestKnobs), "");

    std::string config = itest::WithWebhookNotifier(
        itest::DemoConfig(GUESTFLOW_DEMO_CONFIG, emulator_->url(), PLUGIN_DIR, dir_.path()),
        receiver_.Url());
    ASSERT_FALSE(config.empty());
    config = absl::StrReplaceAll(config,
                                 {
                                     {"  workers: 8\n", "  workers: 32\n"},
                                     {"  backoff_initial: 500ms\n", "  backoff_initial: 100ms\n"},
                                 });
    // The emulator does not throttle here; neither does guestflowd.
    config = itest::WithoutLimits(config);
    ASSERT_NE(config.find("workers: 32"), std::string::npos);
    ASSERT_NE(config.find("webhook_notifier.so]"), std::string::npos);
    ASSERT_NE(config.find("admin: {requests: 0}"), std::string::npos);
    WriteFile(dir_.File("guestflowd.yaml"), config);
    server_ =
        std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("guestflowd.log"));
    server_->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
    server_->SetEnv("HOOK_SECRET", kHookSecret);
    ASSERT_TRUE(server_->Start()) << server_->log();
  }

  std::unique_ptr<v1::BatchService::Stub> Batches() {
    return v1::BatchService::NewStub(server_->Channel());
  }

  // Sends the whole file under kRequestId; the call's status.
  grpc::Status SendFile(v1::Batch* batch) {
    auto context = itest::Deadline(120);
    auto stub = Batches();
    auto writer = stub->CreateBatch(context.get(), batch);
    v1::CreateBatchRequest header;
    header.mutable_header()->set_tenant("contoso");
    header.mutable_header()->set_request_id(kRequestId);
    bool open = writer->Write(header);
    const std::string csv = itest::BulkCsv(kPrefix, kGuests);
    constexpr size_t kChunk = 4096;
    for (size_t i = 0; open && i < csv.size(); i += kChunk) {
      v1::CreateBatchRequest r;
      r.set_csv_chunk(csv.substr(i, kChunk));
      open = writer->Write(r);
    }
    if (open) writer->WritesDone();
    return writer->Finish();
  }

  void Restart() {
    ASSERT_TRUE(server_->Start()) << server_->log();
    ++restarts_;
  }

  nlohmann::json Counters() { return itest::CloudCounters(*emulator_); }

  TempDir dir_;
  testing::WebhookReceiver receiver_{kHookSecret};
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<ServerProcess> server_;
  int restarts_ = 0;
};

TEST_F(CrashE2eTest, AThousandGuestsSurviveRepeatedKillsWithNothingDoneTwice) {
  absl::BitGen bitgen;
  const uint32_t seed = absl::Uniform<uint32_t>(bitgen);
  std::printf("crash test seed %u\n", seed);
  std::seed_seq seq{seed};
  std::mt19937 rng(seq);
  auto between = [&rng](int low_ms, int high_ms) {
    return std::chrono::milliseconds(std::uniform_int_distribution<int>(low_ms, high_ms)(rng));
  };

  // Kill 1: while the file is still arriving (or just after).
  v1::Batch batch;
  {
    std::thread killer([&] {
      std::this_thread::sleep_for(between(50, 400));
      server_->Kill9();
    });
    (void)SendFile(&batch);  // most likely cut off; the re-send below decides
    killer.join();
  }
  Restart();
  // The same file with the same request_id continues the batch.
  grpc::Status sent = SendFile(&batch);
  ASSERT_TRUE(sent.ok()) << sent.error_message() << server_->log();
  ASSERT_TRUE(batch.input_complete());
  ASSERT_EQ(batch.rows_total(), kGuests);
  ASSERT_EQ(batch.rows_invalid(), 0);

  // Kills 2..kKills while the guests are onboarded.
  for (int kill = 2; kill <= kKills; ++kill) {
    std::this_thread::sleep_for(between(500, 2500));
    server_->Kill9();
    Restart();
  }

  // Then let it finish.
  const v1::Batch now = itest::WaitForBatch([this] { return server_->Channel(); }, batch.name());
  ASSERT_TRUE(now.done()) << now.DebugString() << server_->log();
  EXPECT_EQ(now.counts().at("ONBOARDING_STATE_SUCCEEDED"), kGuests) << now.DebugString();
  EXPECT_EQ(restarts_, kKills);

  // The cloud: exactly one of every side effect per guest.
  itest::ExpectEverySideEffectOnce(Counters(), kPrefix, kGuests);

  // Notifications: every guest told; a second delivery only for a notify
  // step a kill cut short, at most one per kill, under the same delivery id.
  const int duplicates = itest::CountRepeatedNotifications(receiver_, kGuests);
  EXPECT_LE(duplicates, kKills);
  std::printf("crash test: %d guests, %d kills, %d duplicate notifications\n", kGuests, kKills,
              duplicates);
}

}  // namespace
}  // namespace guestflow
