// BatchService through a real guestflowd on the fake plugins: a CSV with
// good, invalid and duplicate rows gives the right counts and per-row
// reasons; validate_only starts nothing; the same file re-sent with the same
// request_id creates nothing twice; WatchBatch follows the batch to its end;
// ListBatchItems pages and filters.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "guestflow/v1/batch_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"
#include "tests/support/test_callers.h"

namespace guestflow {
namespace {

using ::guestflow::itest::Deadline;
using ::guestflow::itest::ReadFile;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"(server:
  listen: 127.0.0.1:0
  plaintext: true
  plugin_dir: {plugin_dir}
  plugins: [fake_invite.so, fake_license.so, fake_role.so, fake_notifier.so]
store:
  sqlite: {path: {dir}/guestflow.db}
engine:
  workers: 4
  max_unfinished: {max_unfinished}
tenants:
  - id: contoso
    azure: {tenant_id: contoso.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://contoso.crm.dynamics.com}
    onboarding: {default_roles: [Salesperson]}
    plugins:
      invite: {name: fake_invite, settings: {journal: {dir}/journal.jsonl, delay_ms: {delay}}}
      license: {name: fake_license}
      role: {name: fake_role}
      notifier: {name: fake_notifier}
)";

// Portal version line, a header with our columns and Microsoft's, and rows:
// 3 good, 1 bad email, 1 bad country, 1 duplicate (another case), 1 quoted
// with a comma and a line break in the name.
constexpr char kCsv[] =
    "version:v1.0\r\n"
    "InvitedUserEmailAddress,FirstName,LastName,UsageLocation,Roles\r\n"
    "ada@fabrikam.com,Ada,Lovelace,GB,Salesperson\r\n"
    "grace@fabrikam.com,Grace,Hopper,US,Salesperson;Sales Manager\r\n"
    "not-an-email,Bob,Builder,GB,\r\n"
    "alan@fabrikam.com,Alan,Turing,UK,\r\n"
    "ADA@fabrikam.com,Ada,Again,GB,\r\n"
    "\"edsger@fabrikam.com\",\"Edsger\",\"Dijkstra, W.\",NL,\r\n";

class BatchE2eTest : public ::testing::Test {
 protected:
  void StartServer(int invite_delay_ms = 0, int max_unfinished = 100000) {
    WriteFile(dir_.File("guestflowd.yaml"),
              absl::StrCat(absl::StrReplaceAll(
                               kConfig, {{"{plugin_dir}", PLUGIN_DIR},
                                         {"{dir}", dir_.path()},
                                         {"{delay}", absl::StrCat(invite_delay_ms)},
                                         {"{max_unfinished}", absl::StrCat(max_unfinished)}}),
                           test_callers::kCallersYaml));
    server_ = std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("gf.log"));
    ASSERT_TRUE(server_->Start()) << server_->log();
    batches_ = v1::BatchService::NewStub(server_->Channel());
    onboardings_ = v1::OnboardingService::NewStub(server_->Channel());
  }

  // Streams `csv` in chunks of `chunk` bytes after the header.
  grpc::Status Import(const std::string& csv, const std::string& request_id, bool validate_only,
                      v1::Batch* batch, size_t chunk = 7) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto writer = batches_->CreateBatch(&context, batch);
    v1::CreateBatchRequest header;
    header.mutable_header()->set_tenant("contoso");
    header.mutable_header()->set_request_id(request_id);
    header.mutable_header()->set_validate_only(validate_only);
    bool open = writer->Write(header);
    for (size_t i = 0; open && i < csv.size(); i += chunk) {
      v1::CreateBatchRequest r;
      r.set_csv_chunk(csv.substr(i, chunk));
      open = writer->Write(r);
    }
    if (open) writer->WritesDone();
    return writer->Finish();
  }

  v1::Batch WaitForDone(const std::string& name) {
    v1::Batch b;
    for (int i = 0; i < 600; ++i) {
      v1::GetBatchRequest r;
      r.set_name(name);
      EXPECT_TRUE(batches_->GetBatch(Deadline().get(), r, &b).ok());
      if (b.done()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return b;
  }

  std::vector<v1::BatchItem> Items(const std::string& name, v1::OnboardingState state, bool invalid,
                                   int page_size) {
    std::vector<v1::BatchItem> items;
    v1::ListBatchItemsRequest r;
    r.set_parent(name);
    r.set_state(state);
    r.set_invalid(invalid);
    r.set_page_size(page_size);
    do {
      v1::ListBatchItemsResponse page;
      const grpc::Status s = batches_->ListBatchItems(Deadline().get(), r, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& item : page.items()) items.push_back(item);
      r.set_page_token(page.next_page_token());
    } while (!r.page_token().empty());
    return items;
  }

  int Onboardings() {
    v1::ListOnboardingsRequest r;
    r.set_page_size(1000);
    v1::ListOnboardingsResponse page;
    EXPECT_TRUE(onboardings_->ListOnboardings(Deadline().get(), r, &page).ok());
    return page.onboardings_size();
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::BatchService::Stub> batches_;
  std::unique_ptr<v1::OnboardingService::Stub> onboardings_;
};

TEST_F(BatchE2eTest, AFullServerCutsTheBatchAndTheSameFileLaterGoesOn) {
  // At most 3 onboardings not ended; each invitation takes 400 ms.
  StartServer(/*invite_delay_ms=*/400, /*max_unfinished=*/3);
  std::string csv = "Email,FirstName,LastName,UsageLocation\n";
  for (int i = 0; i < 6; ++i) absl::StrAppend(&csv, "full", i, "@fabrikam.com,Full,Guest,GB\n");
  v1::Batch first;
  const grpc::Status cut = Import(csv, "full-1", false, &first, 4096);
  ASSERT_EQ(cut.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << cut.error_message();
  EXPECT_THAT(cut.error_message(), HasSubstr("retry in 30 s"));
  EXPECT_THAT(cut.error_message(), HasSubstr("re-send the file with the same request_id"));

  // Later, the same file under the same request_id goes on where it stopped.
  v1::Batch again;
  grpc::Status sent;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sent = Import(csv, "full-1", false, &again, 4096);
    if (sent.ok()) break;
    ASSERT_EQ(sent.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << sent.error_message();
  }
  ASSERT_TRUE(sent.ok()) << sent.error_message();
  EXPECT_EQ(again.rows_total(), 6);
  const v1::Batch done = WaitForDone(again.name());
  EXPECT_EQ(done.counts().at("ONBOARDING_STATE_SUCCEEDED"), 6) << done.DebugString();
  // One onboarding per row, however many times the file was sent.
  v1::ListOnboardingsRequest list;
  list.set_page_size(100);
  v1::ListOnboardingsResponse all;
  grpc::ClientContext context;
  ASSERT_TRUE(onboardings_->ListOnboardings(&context, list, &all).ok());
  EXPECT_EQ(all.onboardings_size(), 6);
  // Each names who asked: the connection that sent the file.
  for (const v1::Onboarding& o : all.onboardings()) {
    EXPECT_EQ(o.requested_by(), "test-admin") << o.name();  // the authenticated caller
  }
}

TEST_F(BatchE2eTest, GoodInvalidAndDuplicateRowsAreCountedWithTheirReasons) {
  StartServer();
  v1::Batch created;
  const grpc::Status s = Import(kCsv, "file-1", false, &created);
  ASSERT_TRUE(s.ok()) << s.error_message() << server_->log();
  EXPECT_THAT(created.name(), HasSubstr("batches/"));
  EXPECT_EQ(created.rows_total(), 6);
  EXPECT_EQ(created.rows_invalid(), 3);
  EXPECT_TRUE(created.input_complete());
  ASSERT_EQ(created.rejected_size(), 3);
  EXPECT_EQ(created.rejected(0).line(), 5);
  EXPECT_EQ(created.rejected(0).email(), "not-an-email");
  EXPECT_THAT(created.rejected(0).error(), HasSubstr("InvitedUserEmailAddress"));
  EXPECT_EQ(created.rejected(1).line(), 6);
  EXPECT_THAT(created.rejected(1).error(), HasSubstr("\"GB\""));
  EXPECT_EQ(created.rejected(2).line(), 7);
  EXPECT_THAT(created.rejected(2).error(), HasSubstr("duplicate"));
  EXPECT_THAT(created.rejected(2).error(), HasSubstr("line 3"));

  const v1::Batch done = WaitForDone(created.name());
  ASSERT_TRUE(done.done()) << done.DebugString();
  EXPECT_EQ(done.counts().at("ONBOARDING_STATE_SUCCEEDED"), 3) << done.DebugString();
  EXPECT_TRUE(done.has_finish_time());
  EXPECT_GT(done.guests_per_second(), 0);

  const auto all = Items(created.name(), v1::ONBOARDING_STATE_UNSPECIFIED, false, 2);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].line(), 3);
  EXPECT_EQ(all[0].state(), v1::ONBOARDING_STATE_SUCCEEDED);
  EXPECT_THAT(all[0].onboarding(), HasSubstr("onboardings/"));
  EXPECT_EQ(all[5].email(), "edsger@fabrikam.com");
  EXPECT_EQ(Items(created.name(), v1::ONBOARDING_STATE_UNSPECIFIED, true, 100).size(), 3u);
  EXPECT_EQ(Items(created.name(), v1::ONBOARDING_STATE_SUCCEEDED, false, 100).size(), 3u);
  EXPECT_EQ(Onboardings(), 3);

  // The onboarding carries the row's roles and the batch.
  v1::GetOnboardingRequest get;
  get.set_name(all[1].onboarding());
  v1::Onboarding grace;
  ASSERT_TRUE(onboardings_->GetOnboarding(Deadline().get(), get, &grace).ok());
  EXPECT_EQ(grace.batch(), created.name());
  ASSERT_EQ(grace.options().roles_size(), 2);
  EXPECT_EQ(grace.options().roles(1), "Sales Manager");
}

TEST_F(BatchE2eTest, ValidateOnlyStartsNothing) {
  StartServer();
  v1::Batch verdict;
  ASSERT_TRUE(Import(kCsv, "", true, &verdict).ok());
  EXPECT_TRUE(verdict.name().empty());
  EXPECT_EQ(verdict.rows_total(), 6);
  EXPECT_EQ(verdict.rows_invalid(), 3);
  EXPECT_EQ(verdict.rejected_size(), 3);
  EXPECT_EQ(Onboardings(), 0);
}

TEST_F(BatchE2eTest, TheSameFileAgainWithTheSameRequestIdCreatesNothingTwice) {
  StartServer();
  v1::Batch first, second;
  ASSERT_TRUE(Import(kCsv, "file-1", false, &first).ok());
  // Sent again (a retry after a lost answer, say), in other chunk sizes.
  ASSERT_TRUE(Import(kCsv, "file-1", false, &second, 1000).ok());
  EXPECT_EQ(second.name(), first.name());
  EXPECT_EQ(second.rows_total(), 6);
  EXPECT_EQ(second.rows_invalid(), 3);
  EXPECT_EQ(Onboardings(), 3);
  // A broken first stream (half the file) is continued by the whole file.
  v1::Batch half, whole;
  const std::string csv = kCsv;
  ASSERT_TRUE(Import(csv.substr(0, csv.find("not-an-email")), "file-2", false, &half).ok());
  EXPECT_EQ(half.rows_total(), 2);
  ASSERT_TRUE(Import(csv, "file-2", false, &whole).ok());
  EXPECT_EQ(whole.name(), half.name());
  EXPECT_EQ(whole.rows_total(), 6);
  EXPECT_EQ(Onboardings(), 6);
}

// Microsoft's PowerShell sample: Name and InvitedUserEmailAddress only; the
// batch's default usage location fills the rest, names come from Name.
TEST_F(BatchE2eTest, MicrosoftsPowerShellSampleWithADefaultUsageLocation) {
  StartServer();
  const std::string csv =
      "Name,InvitedUserEmailAddress\nAda Lovelace,ada@fabrikam.com\n"
      "Grace Brewster Hopper,grace@fabrikam.com\n";
  v1::Batch without;
  ASSERT_TRUE(Import(csv, "", true, &without).ok());
  EXPECT_EQ(without.rows_invalid(), 2);
  ASSERT_GE(without.rejected_size(), 1);
  EXPECT_THAT(without.rejected(0).error(), HasSubstr("default usage location"));

  grpc::ClientContext context;
  v1::Batch with;
  auto writer = batches_->CreateBatch(&context, &with);
  v1::CreateBatchRequest header;
  header.mutable_header()->set_tenant("contoso");
  header.mutable_header()->set_usage_location("GB");
  ASSERT_TRUE(writer->Write(header));
  v1::CreateBatchRequest body;
  body.set_csv_chunk(csv);
  ASSERT_TRUE(writer->Write(body));
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(with.rows_invalid(), 0) << with.DebugString();
  const auto items = Items(with.name(), v1::ONBOARDING_STATE_UNSPECIFIED, false, 10);
  ASSERT_EQ(items.size(), 2u);
  v1::GetOnboardingRequest get;
  get.set_name(items[1].onboarding());
  v1::Onboarding grace;
  ASSERT_TRUE(onboardings_->GetOnboarding(Deadline().get(), get, &grace).ok());
  EXPECT_EQ(grace.guest().first_name(), "Grace Brewster");
  EXPECT_EQ(grace.guest().last_name(), "Hopper");
  EXPECT_EQ(grace.guest().usage_location(), "GB");
}

TEST_F(BatchE2eTest, ABadFileOrHeaderIsRefusedWithTheLine) {
  StartServer();
  v1::Batch b;
  grpc::Status s = Import("Email,Shoe size\r\nada@fabrikam.com,42\r\n", "", false, &b);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("Shoe size"));
  s = Import("Email,FirstName,LastName,UsageLocation\r\n\"ada@x.com,Ada,L,GB\r\n", "", false, &b);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("line 2"));
}

TEST_F(BatchE2eTest, WatchBatchFollowsTheBatchToItsEnd) {
  StartServer(/*invite_delay_ms=*/60);
  std::string csv = "Email,FirstName,LastName,UsageLocation\r\n";
  for (int i = 0; i < 12; ++i) absl::StrAppend(&csv, "g", i, "@fabrikam.com,G,", i, ",GB\r\n");
  v1::Batch created;
  ASSERT_TRUE(Import(csv, "watched", false, &created, 4096).ok());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::WatchBatchRequest r;
  r.set_name(created.name());
  auto reader = batches_->WatchBatch(&context, r);
  std::vector<v1::Batch> seen;
  v1::Batch b;
  while (reader->Read(&b)) seen.push_back(b);
  const grpc::Status s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(seen.size(), 2u) << "a start and an end at least";
  EXPECT_TRUE(seen.back().done());
  EXPECT_EQ(seen.back().counts().at("ONBOARDING_STATE_SUCCEEDED"), 12);
  // Progress only grows.
  int64_t last = -1;
  for (const v1::Batch& snapshot : seen) {
    const auto it = snapshot.counts().find("ONBOARDING_STATE_SUCCEEDED");
    const int64_t succeeded = it == snapshot.counts().end() ? 0 : it->second;
    EXPECT_GE(succeeded, last);
    last = succeeded;
  }
  // Watching a finished batch answers once and ends.
  grpc::ClientContext again;
  auto reader2 = batches_->WatchBatch(&again, r);
  int n = 0;
  while (reader2->Read(&b)) ++n;
  EXPECT_TRUE(reader2->Finish().ok());
  EXPECT_EQ(n, 1);
  // An unknown batch.
  grpc::ClientContext unknown;
  r.set_name("batches/nope");
  auto reader3 = batches_->WatchBatch(&unknown, r);
  while (reader3->Read(&b)) {
  }
  EXPECT_EQ(reader3->Finish().error_code(), grpc::NOT_FOUND);
}

// A kB figure of /proc/<pid>/status ("VmHWM", "VmRSS"), or -1.
int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  const size_t at = status.find(field + ":");
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + field.size() + 1, nullptr, 10);
}

// 20,000 rows streamed in 64 KiB chunks (generated on the fly: the test
// never holds the file either) cost the server a bounded amount of memory:
// its peak resident size grows by less than 48 MiB however long the file.
TEST_F(BatchE2eTest, ATwentyThousandRowImportStaysUnderAFixedMemoryBound) {
  StartServer();
  const int64_t before = ProcStatusKb(server_->pid(), "VmHWM");
  ASSERT_GT(before, 0);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(240));
  v1::Batch batch;
  auto writer = batches_->CreateBatch(&context, &batch);
  v1::CreateBatchRequest header;
  header.mutable_header()->set_tenant("contoso");
  header.mutable_header()->set_request_id("twenty-thousand");
  ASSERT_TRUE(writer->Write(header));
  constexpr int kRows = 20000;
  std::string chunk = "Email,FirstName,LastName,UsageLocation\r\n";
  for (int i = 0; i < kRows; ++i) {
    absl::StrAppend(&chunk, "guest", i, "@fabrikam.com,Guest,Number ", i, ",GB\r\n");
    if (chunk.size() >= 64 * 1024 || i + 1 == kRows) {
      v1::CreateBatchRequest r;
      r.set_csv_chunk(chunk);
      ASSERT_TRUE(writer->Write(r));
      chunk.clear();
    }
  }
  writer->WritesDone();
  const grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(batch.rows_total(), kRows);
  EXPECT_EQ(batch.rows_invalid(), 0);

  const int64_t after = ProcStatusKb(server_->pid(), "VmHWM");
  std::printf("guestflowd peak RSS: %lld kB before, %lld kB after importing %d rows\n",
              static_cast<long long>(before), static_cast<long long>(after), kRows);
  EXPECT_LT(after - before, 48 * 1024) << "peak RSS grew by " << (after - before) << " kB";
}

}  // namespace
}  // namespace guestflow
