// WatchBatch on a real gRPC server over a fake BatchStore: changes announced
// faster than the watch interval share snapshots (the store summarizes
// the batch at most once per interval, not once per change), the snapshot
// that shows the batch done still comes and ends the stream, and a change
// announced while a snapshot is being made is never lost.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "server/api/access.h"
#include "server/api/batch_service.h"
#include "server/auth/caller_token.h"
#include "server/common/clock.h"
#include "server/engine/change_feed.h"
#include "server/engine/engine.h"
#include "server/engine/worker_pool.h"
#include "server/store/batch_store.h"

namespace guestflow {
namespace {

constexpr char kBatchId[] = "b-1";
constexpr char kToken[] = "gft_batch-watch-test-token";
constexpr absl::Duration kInterval = absl::Milliseconds(300);

// One batch of `total` rows whose onboardings the test moves from QUEUED to
// SUCCEEDED. Summarize reads the counts, then (while `hold` is set) waits
// for the test to let it return them: a snapshot read before a change.
class FakeBatchStore : public BatchStore {
 public:
  explicit FakeBatchStore(int64_t total) : total_(total) {}

  absl::StatusOr<CreateBatchResult> CreateBatch(const BatchRecord&) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<BatchRecord> GetBatch(absl::string_view id) override {
    if (id != kBatchId) return absl::NotFoundError(absl::StrCat("batch ", id, " not found"));
    BatchRecord b;
    b.id = kBatchId;
    b.tenant = "contoso";
    b.input_complete = true;
    b.create_time = absl::FromUnixSeconds(1767225600);
    b.update_time = b.create_time;
    return b;
  }
  absl::Status AddItems(absl::string_view, const std::vector<BatchItemRecord>&) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::Status MarkInputComplete(absl::string_view, absl::Time) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<BatchSummary> Summarize(absl::string_view) override {
    absl::MutexLock lock(&mu_);
    ++summaries_;
    BatchSummary summary;
    summary.rows_total = total_;
    if (succeeded_ > 0) summary.counts[OnboardingState::kSucceeded] = succeeded_;
    if (succeeded_ < total_) summary.counts[OnboardingState::kQueued] = total_ - succeeded_;
    if (succeeded_ > 0) summary.last_finish_time = absl::FromUnixSeconds(1767225700);
    reading_ = true;
    mu_.Await(absl::Condition(
        +[](bool* hold) { return !*hold; }, &hold_));
    reading_ = false;
    return summary;
  }
  absl::StatusOr<BatchItemPage> ListItems(const BatchItemQuery&) override {
    return absl::UnimplementedError("not in this test");
  }

  void Succeed(int64_t n) {
    absl::MutexLock lock(&mu_);
    succeeded_ += n;
  }
  int64_t summaries() {
    absl::MutexLock lock(&mu_);
    return summaries_;
  }
  // Makes the next Summarize wait, after it has read the counts, until
  // Let().
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  void AwaitReading() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&reading_));
  }
  void Let() {
    absl::MutexLock lock(&mu_);
    hold_ = false;
  }

 private:
  const int64_t total_;
  absl::Mutex mu_;
  int64_t succeeded_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t summaries_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
};

class BatchWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> hash = HashCallerToken(kToken);
    ASSERT_TRUE(hash.ok()) << hash.status();
    const std::vector<std::string> parts = absl::StrSplit(*hash, ':');
    ASSERT_EQ(parts.size(), 3u);
    auto config = std::make_shared<Config>();
    CallerConfig caller;
    caller.name = "watcher";
    caller.role = CallerRole::kReader;
    caller.all_tenants = true;
    caller.token_salt_hex = parts[1];
    caller.token_digest_hex = parts[2];
    config->callers.push_back(caller);
    access_ = std::make_unique<Access>([config] { return config; });
    engine_ = std::make_unique<Engine>(nullptr, nullptr, nullptr, &clock_, &feed_, nullptr);
    pool_ = std::make_unique<WorkerPool>("api", 4, 64);
    service_ = std::make_unique<BatchServiceImpl>(engine_.get(), &store_, &clock_, pool_.get(),
                                                  access_.get(), kInterval);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::BatchService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    pool_->Shutdown();
  }

  std::unique_ptr<grpc::ClientReader<v1::Batch>> Watch(grpc::ClientContext* context) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::WatchBatchRequest request;
    request.set_name(absl::StrCat("batches/", kBatchId));
    return stub_->WatchBatch(context, request);
  }

  // A watch whose first snapshot (nothing done yet) has been read.
  std::unique_ptr<grpc::ClientReader<v1::Batch>> WatchFromTheStart(grpc::ClientContext* context) {
    auto reader = Watch(context);
    v1::Batch first;
    EXPECT_TRUE(reader->Read(&first));
    EXPECT_EQ(Succeeded(first), 0);
    EXPECT_FALSE(first.done());
    return reader;
  }

  void Change(int64_t succeeded) {
    store_.Succeed(succeeded);
    feed_.Publish(BatchFeedKey(kBatchId));
  }

  // Reads the stream to its end; fails the test unless it ended OK with a
  // snapshot of the whole batch done. Returns the snapshots read.
  static std::vector<v1::Batch> ReadToTheDoneBatch(grpc::ClientReader<v1::Batch>& reader) {
    std::vector<v1::Batch> seen;
    v1::Batch b;
    while (reader.Read(&b)) seen.push_back(b);
    const grpc::Status s = reader.Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(seen.empty()) << "the watch never showed the batch done";
    if (!seen.empty()) {
      EXPECT_TRUE(seen.back().done());
      EXPECT_EQ(Succeeded(seen.back()), 100);
    }
    return seen;
  }

  static int64_t Succeeded(const v1::Batch& b) {
    const auto it = b.counts().find("ONBOARDING_STATE_SUCCEEDED");
    return it == b.counts().end() ? 0 : it->second;
  }

  FakeClock clock_;
  ChangeFeed feed_;
  FakeBatchStore store_{100};
  std::unique_ptr<Access> access_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<BatchServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::BatchService::Stub> stub_;
};

// 100 changes, one every 10 ms: the watch summarizes the batch about once
// per interval (plus the first snapshot and the last), not once per change,
// and its last snapshot shows every guest succeeded and the batch done.
TEST_F(BatchWatchTest, ChangesWithinTheIntervalShareOneSnapshot) {
  grpc::ClientContext context;
  auto reader = WatchFromTheStart(&context);
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    Change(1);
    absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Duration took = absl::Now() - start;
  const std::vector<v1::Batch> seen = ReadToTheDoneBatch(*reader);
  // The first snapshot, one per interval while the changes came, the last.
  const int64_t most = 3 + absl::ToInt64Milliseconds(took) / absl::ToInt64Milliseconds(kInterval);
  EXPECT_LE(store_.summaries(), most) << "100 changes in " << took;
  EXPECT_LE(static_cast<int64_t>(seen.size()), most);
}

// A snapshot read before a change, which then shows nothing new, is
// followed by another one: the change announced meanwhile (here the last
// one, which ends the batch) is not dropped.
TEST_F(BatchWatchTest, AChangeAnnouncedWhileASnapshotIsMadeIsNotLost) {
  grpc::ClientContext context;
  auto reader = WatchFromTheStart(&context);
  // A poke with nothing changed: its snapshot reads 0 succeeded and waits.
  store_.Hold();
  feed_.Publish(BatchFeedKey(kBatchId));
  store_.AwaitReading();
  Change(100);  // done, announced while that snapshot is being made
  store_.Let();
  ReadToTheDoneBatch(*reader);
}

}  // namespace
}  // namespace guestflow
