// Several replicas on one PostgreSQL, end to end: three guestflowd processes
// share a database (a schema of the ctest fixture's throwaway server) and
// split a batch of 600 guests through the Microsoft plugins and the cloud
// emulator, with no coordinator. Mid-batch one replica is killed with
// SIGKILL (its leases expire and the others take its onboardings over) and
// another gets SIGTERM (it stops leasing, finishes or releases what it holds,
// and exits 0). The last one finishes the batch: every guest SUCCEEDED,
// exactly one invitation, guest user, group membership, license and role
// association each in the cloud, and a notification sent again only under
// its first delivery id.
#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/store/pg_connection.h"
#include "tests/integration/bulk_import.h"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"
#include "tests/support/webhook_receiver.h"
#include "tests/unit/store/pg_test_util.h"

namespace guestflow {
namespace {

using ::guestflow::itest::EmulatorProcess;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;

constexpr int kGuests = 600;
constexpr int kReplicas = 3;
constexpr char kRequestId[] = "replica-import-1";
constexpr char kHookSecret[] = "replica-test-webhook-secret";

constexpr char kPrefix[] = "replica";

class ReplicaE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dsn = testing::ScratchSchemaDsn(dir_.path());
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    emulator_ =
        std::make_unique<EmulatorProcess>(GUESTFLOW_BULK_FIXTURE, dir_.File("emulator.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
    ASSERT_EQ(emulator_->SetKnobs(itest::kKillTestKnobs), "");

    std::string config = itest::WithWebhookNotifier(
        itest::DemoConfig(GUESTFLOW_DEMO_CONFIG, emulator_->url(), PLUGIN_DIR, dir_.path()),
        receiver_.Url());
    ASSERT_FALSE(config.empty());
    const size_t store_at = config.find("  sqlite: {path:");
    ASSERT_NE(store_at, std::string::npos);
    config.replace(store_at, config.find('\n', store_at) - store_at,
                   "  postgres: {dsn_env: GUESTFLOW_PG_DSN, pool_size: 6}");
    // A short lease, so that a dead replica's onboardings are taken over in
    // seconds; a short grace for the drained one.
    config = absl::StrReplaceAll(config,
                                 {
                                     {"  workers: 8\n", "  workers: 12\n  lease: 3s\n"},
                                     {"  backoff_initial: 500ms\n", "  backoff_initial: 100ms\n"},
                                     {"  shutdown_grace: 30s\n", "  shutdown_grace: 10s\n"},
                                 });
    config = itest::WithoutLimits(config);
    ASSERT_NE(config.find("lease: 3s"), std::string::npos);
    ASSERT_NE(config.find("shutdown_grace: 10s"), std::string::npos);
    ASSERT_NE(config.find("postgres: {dsn_env"), std::string::npos);
    for (int i = 0; i < kReplicas; ++i) {
      const std::string name = absl::StrCat("replica", i);
      WriteFile(dir_.File(name + ".yaml"), config);
      auto server =
          std::make_unique<ServerProcess>(dir_.File(name + ".yaml"), dir_.File(name + ".log"));
      server->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
      server->SetEnv("HOOK_SECRET", kHookSecret);
      server->SetEnv("GUESTFLOW_PG_DSN", dsn_);
      replicas_.push_back(std::move(server));
    }
    // One at a time: the first migrates the schema.
    for (auto& r : replicas_) ASSERT_TRUE(r->Start()) << r->log();
  }

  grpc::Status SendFile(ServerProcess& to, v1::Batch* batch) {
    auto context = itest::Deadline(120);
    auto stub = v1::BatchService::NewStub(to.Channel());
    auto writer = stub->CreateBatch(context.get(), batch);
    v1::CreateBatchRequest header;
    header.mutable_header()->set_tenant("contoso");
    header.mutable_header()->set_request_id(kRequestId);
    bool open = writer->Write(header);
    v1::CreateBatchRequest body;
    body.set_csv_chunk(itest::BulkCsv(kPrefix, kGuests));
    open = open && writer->Write(body);
    if (open) writer->WritesDone();
    return writer->Finish();
  }

  int64_t Succeeded(ServerProcess& via, const std::string& batch) {
    v1::GetBatchRequest r;
    r.set_name(batch);
    v1::Batch b;
    grpc::Status s =
        v1::BatchService::NewStub(via.Channel())->GetBatch(itest::Deadline().get(), r, &b);
    EXPECT_TRUE(s.ok()) << s.error_message();
    auto it = b.counts().find("ONBOARDING_STATE_SUCCEEDED");
    return it == b.counts().end() ? 0 : it->second;
  }

  // Waits until `n` guests of the batch have SUCCEEDED (asking `via`).
  void WaitForSucceeded(ServerProcess& via, const std::string& batch, int64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (Succeeded(via, batch) < n) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "stuck below " << n;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Rows of `sql` (one text column) from the replicas' database.
  std::vector<std::string> Query(const std::string& sql) {
    std::vector<std::string> out;
    PgPoolOptions options;
    options.size = 1;
    absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(dsn_, options);
    EXPECT_TRUE(pool.ok()) << pool.status();
    if (!pool.ok()) return out;
    absl::Status status = (*pool)->InTransaction([&](PgSession& s) -> absl::Status {
      absl::StatusOr<PgResult> r = s.Exec(sql);
      if (!r.ok()) return r.status();
      for (int i = 0; i < r->rows(); ++i) out.push_back(r->Text(i, 0));
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  nlohmann::json Counters() { return itest::CloudCounters(*emulator_); }

  TempDir dir_;
  std::string dsn_;
  testing::WebhookReceiver receiver_{kHookSecret};
  std::unique_ptr<EmulatorProcess> emulator_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
};

TEST_F(ReplicaE2eTest, ThreeReplicasSplitABatchSurviveAKillAndADrainAndDoNothingTwice) {
  ServerProcess& a = *replicas_[0];
  ServerProcess& killed = *replicas_[1];
  ServerProcess& drained = *replicas_[2];
  std::vector<std::string> pids;  // as lease owners spell them
  for (const auto& r : replicas_) pids.push_back(absl::StrCat("-", r->pid(), "-"));
  const std::string killed_pid = absl::StrCat("-", killed.pid(), "-");
  const std::string drained_pid = absl::StrCat("-", drained.pid(), "-");

  // Each learns from the others' heartbeats that three share the cloud's
  // limits (Microsoft counts them per app and tenant, not per process).
  for (const auto& r : replicas_) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (r->log().find("3 replica(s) share this database") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_NE(r->log().find("3 replica(s) share this database"), std::string::npos) << r->log();
  }

  v1::Batch batch;
  grpc::Status sent = SendFile(a, &batch);
  ASSERT_TRUE(sent.ok()) << sent.error_message() << a.log();
  ASSERT_EQ(batch.rows_total(), kGuests);

  // SIGKILL one replica while the batch is under way: whatever it held
  // stays leased to it until the lease expires.
  WaitForSucceeded(a, batch.name(), kGuests / 6);
  killed.Kill9();
  const auto kill_time = std::chrono::steady_clock::now();
  const std::vector<std::string> orphaned =
      Query(absl::StrCat("SELECT id FROM onboardings WHERE lease_owner LIKE '%", killed_pid, "%'"));
  std::printf("replica test: the killed replica held %zu leases\n", orphaned.size());

  // SIGTERM another: it drains, exits 0, and leaves no lease behind.
  WaitForSucceeded(a, batch.name(), kGuests / 2);
  const auto term_start = std::chrono::steady_clock::now();
  EXPECT_EQ(drained.Stop(), 0) << drained.log();
  const double drain_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - term_start).count();
  EXPECT_LT(drain_s, 15.0) << "past shutdown_grace (10 s) and the RPC grace";
  EXPECT_TRUE(
      Query(absl::StrCat("SELECT id FROM onboardings WHERE lease_owner LIKE '%", drained_pid, "%'"))
          .empty())
      << "the drained replica left leases behind";

  // The survivor finishes the batch, the dead replica's share included.
  const v1::Batch done = itest::WaitForBatch([&a] { return a.Channel(); }, batch.name());
  ASSERT_TRUE(done.done()) << done.DebugString() << a.log();
  EXPECT_EQ(done.counts().at("ONBOARDING_STATE_SUCCEEDED"), kGuests) << done.DebugString();
  const double finish_after_kill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - kill_time).count();

  // Every replica ran steps; the killed one's onboardings were resumed by
  // another (their history names both).
  const std::vector<std::string> workers = Query(
      "SELECT DISTINCT substring(message from ' on (guestflowd-[^ ]+)$') FROM events "
      "WHERE type IN ('step_started', 'step_resumed')");
  std::set<std::string> by_pid;
  for (const std::string& w : workers) {
    for (const std::string& pid : pids) {
      if (w.find(pid) != std::string::npos) by_pid.insert(pid);
    }
  }
  EXPECT_EQ(by_pid.size(), static_cast<size_t>(kReplicas)) << "not every replica ran steps";
  if (!orphaned.empty()) {
    const std::vector<std::string> taken_over = Query(absl::StrCat(
        "SELECT onboarding_id FROM events WHERE type IN ('step_started', 'step_resumed') "
        "GROUP BY onboarding_id HAVING bool_or(message LIKE '%",
        killed_pid, "%') AND bool_or(message NOT LIKE '%", killed_pid,
        "%' AND message LIKE '% on guestflowd-%')"));
    EXPECT_FALSE(taken_over.empty()) << "no onboarding of the killed replica was taken over";
  }

  // The cloud: exactly one of every side effect per guest.
  itest::ExpectEverySideEffectOnce(Counters(), kPrefix, kGuests);

  // Notifications: every guest told; a second delivery only under the first
  // delivery id, and only for a notify step the kill cut short.
  const int duplicates = itest::CountRepeatedNotifications(receiver_, kGuests);
  EXPECT_LE(duplicates, static_cast<int>(orphaned.size()));
  std::printf(
      "replica test: %d guests on %d replicas; drain took %.1f s; finished %.1f s after the kill; "
      "%d duplicate notifications\n",
      kGuests, kReplicas, drain_s, finish_after_kill_s, duplicates);
}

}  // namespace
}  // namespace guestflow
