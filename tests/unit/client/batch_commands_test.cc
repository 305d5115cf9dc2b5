#include "client/batch_commands.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/exit_codes.h"
#include "client/file_chunks.h"
#include "fake_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "test_values.h"

namespace guestflow::cli {
namespace {

using ::guestflow::cli::testing::FakeServer;
using ::guestflow::cli::testing::Lines;
using ::guestflow::cli::testing::Refused;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// What the fake CreateBatch saw.
struct Upload {
  std::mutex mu;
  bool header_first = false;
  v1::BatchHeader header;
  std::vector<size_t> chunk_sizes;
  std::string csv;
};

std::string SampleCsv(size_t min_bytes) {
  std::string csv = "InvitedUserEmailAddress,FirstName,LastName,UsageLocation\n";
  for (int i = 0; csv.size() < min_bytes; ++i) {
    csv += "guest" + std::to_string(i) + "@example.com,Guest,Number" + std::to_string(i) + ",GB\n";
  }
  return csv;
}

ImportArgs ContosoImport() {
  ImportArgs args;
  args.path = "guests.csv";
  args.tenant = "contoso";
  return args;
}

void RecordUploads(FakeServer& server, Upload& upload) {
  server.batch.on_create = [&upload](grpc::ServerReader<v1::CreateBatchRequest>* reader,
                                     v1::Batch* out) {
    std::lock_guard<std::mutex> lock(upload.mu);
    v1::CreateBatchRequest request;
    bool first = true;
    while (reader->Read(&request)) {
      if (first) {
        upload.header_first = request.has_header();
        upload.header = request.header();
        first = false;
        continue;
      }
      upload.chunk_sizes.push_back(request.csv_chunk().size());
      upload.csv += request.csv_chunk();
    }
    out->set_name("batches/b1");
    out->set_tenant(upload.header.tenant());
    out->set_request_id(upload.header.request_id());
    out->set_rows_total(3);
    (*out->mutable_counts())["ONBOARDING_STATE_QUEUED"] = 3;
    return grpc::Status::OK;
  };
}

TEST(ImportCsvTest, HeaderThenChunksOfAtMost64KiB) {
  FakeServer server;
  Upload upload;
  RecordUploads(server, upload);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  const std::string csv = SampleCsv(2 * kUploadChunkBytes + 100);
  std::istringstream in(csv);

  ASSERT_EQ(ImportCsv(server.ctx, ContosoImport(), in), kExitOk) << server.err.str();
  std::lock_guard<std::mutex> lock(upload.mu);
  EXPECT_TRUE(upload.header_first);
  EXPECT_EQ(upload.header.tenant(), "contoso");
  EXPECT_THAT(upload.header.request_id(),
              MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_FALSE(upload.header.validate_only());
  ASSERT_EQ(upload.chunk_sizes.size(), 3u);
  EXPECT_EQ(upload.chunk_sizes[0], kUploadChunkBytes);
  EXPECT_EQ(upload.chunk_sizes[1], kUploadChunkBytes);
  EXPECT_EQ(upload.csv, csv);
  EXPECT_THAT(server.out.str(), HasSubstr("name:       batches/b1\n"));
  EXPECT_THAT(server.out.str(), HasSubstr("states:     QUEUED 3\n"));
}

TEST(ImportCsvTest, GivenRequestIdValidateOnlyAndJson) {
  FakeServer server;
  Upload upload;
  RecordUploads(server, upload);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.json = true;
  ImportArgs args = ContosoImport();
  args.request_id = "batch-key";
  args.validate_only = true;
  std::istringstream in("InvitedUserEmailAddress\nada@example.com\n");

  ASSERT_EQ(ImportCsv(server.ctx, args, in), kExitOk) << server.err.str();
  EXPECT_EQ(upload.header.request_id(), "batch-key");
  EXPECT_TRUE(upload.header.validate_only());
  const nlohmann::json json = nlohmann::json::parse(server.out.str());
  EXPECT_EQ(json.at("name"), "batches/b1");
  EXPECT_EQ(json.at("requestId"), "batch-key");
}

TEST(ImportCsvTest, UnimplementedSaysTheServerCannotImportYet) {
  FakeServer server;
  ASSERT_NO_FATAL_FAILURE(server.Start(/*with_batch=*/false));
  std::istringstream in(SampleCsv(3 * kUploadChunkBytes));
  EXPECT_EQ(ImportCsv(server.ctx, ContosoImport(), in), kExitError);
  EXPECT_THAT(server.err.str(), HasSubstr("error: UNIMPLEMENTED: the server at " +
                                          server.ctx.server + " does not support CSV import yet"));
  EXPECT_THAT(server.out.str(), IsEmpty());
}

TEST(ImportCsvTest, EarlyRefusalStopsTheUploadAndIsReported) {
  FakeServer server;
  server.batch.on_create = [](grpc::ServerReader<v1::CreateBatchRequest>* reader, v1::Batch*) {
    v1::CreateBatchRequest header;
    reader->Read(&header);
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown tenant 'contoso'");
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  std::istringstream in(SampleCsv(40 * kUploadChunkBytes));
  EXPECT_EQ(ImportCsv(server.ctx, ContosoImport(), in), kExitError);
  EXPECT_EQ(server.err.str(), "error: NOT_FOUND: unknown tenant 'contoso'\n");
}

TEST(RunImportTest, UnreadableFileIsALocalError) {
  FakeServer server;
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.path = (std::filesystem::temp_directory_path() / "guestflow-no-such-file.csv").string();
  EXPECT_EQ(RunImport(server.ctx, args), kExitError);
  EXPECT_THAT(server.err.str(), HasSubstr("error: cannot read " + args.path));

  server.err.str("");
  args.path = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(RunImport(server.ctx, args), kExitError);
  EXPECT_THAT(server.err.str(), HasSubstr("is a directory"));
}

TEST(RunImportTest, ReadsTheNamedFile) {
  FakeServer server;
  Upload upload;
  RecordUploads(server, upload);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("guestflow-cli-test-" + std::to_string(::getpid()) + ".csv");
  const std::string csv = SampleCsv(1000);
  std::ofstream(path, std::ios::binary) << csv;
  ImportArgs args = ContosoImport();
  args.path = path.string();
  EXPECT_EQ(RunImport(server.ctx, args), kExitOk) << server.err.str();
  std::filesystem::remove(path);
  EXPECT_EQ(upload.csv, csv);
}

// --- dry run, refused rows, --wait, --report ---------------------------------

v1::BatchItem Row(int64_t line, const std::string& email, v1::OnboardingState state,
                  v1::StepKind failed_step = v1::STEP_KIND_UNSPECIFIED,
                  const std::string& error = "") {
  v1::BatchItem item;
  item.set_line(line);
  item.set_email(email);
  item.set_state(state);
  item.set_onboarding("onboardings/o" + std::to_string(line));
  item.set_failed_step(failed_step);
  item.set_error(error);
  return item;
}

// A snapshot of batches/b1 with `succeeded + failed + running` valid rows.
v1::Batch Snapshot(int64_t succeeded, int64_t failed, int64_t running) {
  v1::Batch batch;
  batch.set_name("batches/b1");
  batch.set_tenant("contoso");
  batch.set_request_id("r-1");
  auto& counts = *batch.mutable_counts();
  if (succeeded > 0) counts["ONBOARDING_STATE_SUCCEEDED"] = succeeded;
  if (failed > 0) counts["ONBOARDING_STATE_FAILED"] = failed;
  if (running > 0) counts["ONBOARDING_STATE_RUNNING"] = running;
  batch.set_rows_total(succeeded + failed + running);
  batch.set_input_complete(true);
  batch.set_done(running == 0);
  return batch;
}

// CreateBatch reads the whole upload, then answers `batch`.
void AnswerCreate(FakeServer& server, const v1::Batch& batch, std::atomic<bool>* called = nullptr) {
  server.batch.on_create = [batch, called](grpc::ServerReader<v1::CreateBatchRequest>* reader,
                                           v1::Batch* out) {
    if (called != nullptr) *called = true;
    v1::CreateBatchRequest request;
    while (reader->Read(&request)) {
    }
    *out = batch;
    return grpc::Status::OK;
  };
}

// WatchBatch writes `snapshots`, then ends OK.
void AnswerWatch(FakeServer& server, std::vector<v1::Batch> snapshots) {
  server.batch.on_watch = [snapshots](grpc::ServerContext*, const v1::WatchBatchRequest& request,
                                      grpc::ServerWriter<v1::Batch>* writer) {
    EXPECT_EQ(request.name(), "batches/b1");
    for (const v1::Batch& snapshot : snapshots) writer->Write(snapshot);
    return grpc::Status::OK;
  };
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

constexpr char kCsv[] = "InvitedUserEmailAddress,UsageLocation\nada@example.com,GB\n";

// A temporary directory for reports, removed afterwards.
class ImportReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("guestflow-import-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST(ImportDryRunTest, PrintsTheVerdictAndExits2WhenARowIsRefused) {
  FakeServer server;
  Upload upload;
  v1::Batch verdict;
  verdict.set_tenant("contoso");
  verdict.set_rows_total(1234);
  verdict.set_rows_invalid(2);
  verdict.set_input_complete(true);
  *verdict.add_rejected() =
      Refused(3, "bob@example", "UsageLocation: 'UK' is not a country; use GB");
  *verdict.add_rejected() = Refused(9, "", "InvitedUserEmailAddress: missing");
  server.batch.on_create = [&upload, verdict](grpc::ServerReader<v1::CreateBatchRequest>* reader,
                                              v1::Batch* out) {
    v1::CreateBatchRequest request;
    reader->Read(&request);
    {
      std::lock_guard<std::mutex> lock(upload.mu);
      upload.header = request.header();
    }
    while (reader->Read(&request)) {
    }
    *out = verdict;
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.validate_only = true;
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded) << server.err.str();
  EXPECT_TRUE(upload.header.validate_only());
  EXPECT_EQ(server.out.str(),
            "dry run: nothing was started\n"
            "rows read:    1,234\n"
            "rows refused: 2\n"
            "line 3  bob@example  UsageLocation: 'UK' is not a country; use GB\n"
            "line 9  -  InvitedUserEmailAddress: missing\n");
  EXPECT_THAT(server.err.str(), IsEmpty());
  EXPECT_THAT(server.batch.Calls(), IsEmpty());  // nothing to watch or list
}

TEST(ImportDryRunTest, ExitsZeroWhenEveryRowIsValid) {
  FakeServer server;
  v1::Batch verdict;
  verdict.set_rows_total(2);
  AnswerCreate(server, verdict);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.validate_only = true;
  std::istringstream in(kCsv);
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitOk) << server.err.str();
  EXPECT_EQ(server.out.str(), "dry run: nothing was started\nrows read:    2\nrows refused: 0\n");
}

TEST(ImportDryRunTest, SaysHowManyRefusedRowsTheServerDidNotReturn) {
  FakeServer server;
  v1::Batch verdict;
  verdict.set_rows_total(5000);
  verdict.set_rows_invalid(1500);
  *verdict.add_rejected() = Refused(2, "a@x", "bad");
  AnswerCreate(server, verdict);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.validate_only = true;
  std::istringstream in(kCsv);
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded);
  EXPECT_THAT(server.out.str(),
              HasSubstr("rows refused: 1,500\nline 2  a@x  bad\n"
                        "... and 1,499 more (the server returns the first 1,000)\n"));
}

TEST(ImportDryRunTest, JsonPrintsTheVerdictAndKeepsTheExitCode) {
  FakeServer server;
  v1::Batch verdict;
  verdict.set_rows_total(2);
  verdict.set_rows_invalid(1);
  *verdict.add_rejected() = Refused(2, "a@x", "bad");
  AnswerCreate(server, verdict);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.json = true;
  ImportArgs args = ContosoImport();
  args.validate_only = true;
  std::istringstream in(kCsv);
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded);
  const nlohmann::json json = nlohmann::json::parse(server.out.str());
  EXPECT_EQ(json.at("rowsInvalid"), "1");  // int64 is a string in proto3 JSON
  EXPECT_EQ(json.at("rejected").at(0).at("email"), "a@x");
}

TEST_F(ImportReportTest, DryRunReportHoldsTheRefusedRowsOnly) {
  FakeServer server;
  v1::Batch verdict;
  verdict.set_rows_total(3000);
  verdict.set_rows_invalid(1001);
  *verdict.add_rejected() = Refused(4, "-x@example.com", "InvitedUserEmailAddress: not an email");
  *verdict.add_rejected() = Refused(7, "c@example.com", "UsageLocation: missing");
  AnswerCreate(server, verdict);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.validate_only = true;
  args.report_path = (dir_ / "refused.csv").string();
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded);
  EXPECT_EQ(ReadFile(args.report_path),
            "line,email,state,onboarding,failed_step,reason\r\n"
            "4,'-x@example.com,REFUSED,,,InvitedUserEmailAddress: not an email\r\n"
            "7,c@example.com,REFUSED,,,UsageLocation: missing\r\n");
  EXPECT_FALSE(std::filesystem::exists(args.report_path + ".tmp"));
  EXPECT_THAT(server.batch.Calls(), IsEmpty());
  EXPECT_THAT(server.out.str(), HasSubstr("report: " + args.report_path + " (2 rows)\n"));
  EXPECT_THAT(server.err.str(), HasSubstr("holds the first 2 of 1,001 refused rows"));
}

TEST(ImportRefusedRowsTest, AllOffATerminalAtMostTwentyOnOne) {
  v1::Batch created = Snapshot(0, 0, 5);
  created.set_rows_total(30);
  created.set_rows_invalid(25);
  for (int line = 2; line < 27; ++line) {
    *created.add_rejected() = Refused(line, "g" + std::to_string(line) + "@x", "bad");
  }
  for (const bool terminal : {false, true}) {
    SCOPED_TRACE(terminal ? "terminal" : "pipe");
    FakeServer server;
    AnswerCreate(server, created);
    ASSERT_NO_FATAL_FAILURE(server.Start());
    server.ctx.terminal = terminal;
    std::istringstream in(kCsv);
    EXPECT_EQ(ImportCsv(server.ctx, ContosoImport(), in), kExitNotSucceeded);
    const std::string out = server.out.str();
    EXPECT_THAT(out, StartsWith("name:       batches/b1\n"));
    EXPECT_THAT(out, HasSubstr("rows:       30 read, 25 invalid\n"));
    EXPECT_THAT(out, HasSubstr("finished:   -\nline 2  g2@x  bad\n"));
    EXPECT_THAT(out, HasSubstr("line 21  g21@x  bad\n"));
    if (terminal) {
      EXPECT_THAT(out, Not(HasSubstr("line 22")));
      EXPECT_THAT(out, HasSubstr("line 21  g21@x  bad\n... and 5 more, see --report\n"));
    } else {
      EXPECT_THAT(out, HasSubstr("line 26  g26@x  bad\n"));
      EXPECT_THAT(out, Not(HasSubstr("more")));
    }
    EXPECT_THAT(server.batch.Calls(), IsEmpty());  // no --wait: no watch
  }
}

TEST(ImportWaitTest, FollowsTheBatchToItsEnd) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  AnswerWatch(server, {Snapshot(0, 0, 3), Snapshot(1, 0, 2), Snapshot(3, 0, 0)});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitOk) << server.err.str();
  EXPECT_THAT(server.batch.Calls(), ElementsAre("watch"));
  const std::vector<std::string> lines = Lines(server.out.str());
  ASSERT_GE(lines.size(), 3u);
  // Plain lines (not a terminal): the first snapshot at once, the rest
  // within 2 s folded into the final line.
  EXPECT_EQ(lines[lines.size() - 3], "0/3 done \u00b7 0 failed \u00b7 3 in flight");
  EXPECT_THAT(lines[lines.size() - 2], StartsWith("3/3 done \u00b7 0 failed \u00b7 0 in flight"));
  EXPECT_EQ(lines.back(), "batches/b1 done: 3 succeeded");
  EXPECT_EQ(server.out.str().find('\r'), std::string::npos);
  EXPECT_THAT(server.err.str(), IsEmpty());
}

TEST(ImportWaitTest, TerminalDrawsABarInPlace) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  AnswerWatch(server, {Snapshot(3, 0, 0)});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.terminal = true;
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitOk) << server.err.str();
  EXPECT_THAT(server.out.str(), HasSubstr("\r[..........] 0/3 done"));
  EXPECT_THAT(server.out.str(), HasSubstr("\r[##########] 3/3 done"));
  EXPECT_THAT(server.out.str(), HasSubstr("\nbatches/b1 done: 3 succeeded\n"));
}

TEST(ImportWaitTest, ExitsTwoWhenAnOnboardingFailed) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  v1::Batch last = Snapshot(1, 1, 0);
  (*last.mutable_counts())["ONBOARDING_STATE_CANCELLED"] = 1;
  last.set_rows_total(3);
  AnswerWatch(server, {last});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded) << server.err.str();
  EXPECT_EQ(Lines(server.out.str()).back(), "batches/b1 done: 1 succeeded, 1 failed, 1 cancelled");
}

TEST(ImportWaitTest, ABatchThatIsDoneAtOnceIsNotWatched) {
  FakeServer server;
  AnswerCreate(server, Snapshot(2, 0, 0));
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitOk) << server.err.str();
  EXPECT_THAT(server.batch.Calls(), IsEmpty());
  EXPECT_EQ(Lines(server.out.str()).back(), "batches/b1 done: 2 succeeded");
}

TEST(ImportWaitTest, JsonPrintsOnlyTheFinalBatch) {
  FakeServer server;
  v1::Batch created = Snapshot(0, 0, 2);
  created.set_rows_total(3);
  created.set_rows_invalid(1);
  *created.add_rejected() = Refused(4, "x@", "not an email");
  AnswerCreate(server, created);
  v1::Batch last = Snapshot(2, 0, 0);
  last.set_rows_total(3);
  last.set_rows_invalid(1);
  AnswerWatch(server, {Snapshot(1, 0, 1), last});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.json = true;
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded) << server.err.str();
  const std::vector<std::string> lines = Lines(server.out.str());
  ASSERT_THAT(lines, SizeIs(1));
  const nlohmann::json json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json.at("done"), true);
  EXPECT_EQ(json.at("counts").at("ONBOARDING_STATE_SUCCEEDED"), "2");
  // Watch snapshots carry no refused rows; the upload's are kept.
  ASSERT_EQ(json.at("rejected").size(), 1u);
  EXPECT_EQ(json.at("rejected").at(0).at("line"), "4");
}

TEST(ImportWaitTest, ReopensTheWatchAfterUnavailable) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  std::atomic<int> watches{0};
  server.batch.on_watch = [&watches](grpc::ServerContext*, const v1::WatchBatchRequest&,
                                     grpc::ServerWriter<v1::Batch>* writer) {
    if (watches++ == 0) {
      writer->Write(Snapshot(1, 0, 2));
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
    }
    writer->Write(Snapshot(2, 0, 1));
    writer->Write(Snapshot(3, 0, 0));
    return grpc::Status::OK;
  };
  server.batch.on_get = [](const v1::GetBatchRequest& request, v1::Batch* out) {
    EXPECT_EQ(request.name(), "batches/b1");
    *out = Snapshot(2, 0, 1);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitOk) << server.err.str();
  EXPECT_THAT(server.batch.Calls(), ElementsAre("watch", "get", "watch"));
  EXPECT_THAT(server.err.str(),
              HasSubstr("watch of batches/b1 lost (UNAVAILABLE: server shutting down); "
                        "reconnecting in 1ms"));
  EXPECT_EQ(Lines(server.out.str()).back(), "batches/b1 done: 3 succeeded");
}

TEST(ImportWaitTest, AStreamThatEndsBeforeDoneIsReopenedToo) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 2));
  std::atomic<int> watches{0};
  server.batch.on_watch = [&watches](grpc::ServerContext*, const v1::WatchBatchRequest&,
                                     grpc::ServerWriter<v1::Batch>* writer) {
    writer->Write(watches++ == 0 ? Snapshot(1, 0, 1) : Snapshot(2, 0, 0));
    return grpc::Status::OK;
  };
  server.batch.on_get = [](const v1::GetBatchRequest&, v1::Batch* out) {
    *out = Snapshot(1, 0, 1);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitOk) << server.err.str();
  EXPECT_THAT(server.batch.Calls(), ElementsAre("watch", "get", "watch"));
  EXPECT_THAT(server.err.str(), HasSubstr("lost (the stream ended early); reconnecting"));
}

TEST(ImportWaitTest, GetBatchFindsItDoneWithoutAnotherWatch) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  server.batch.on_watch = [](grpc::ServerContext*, const v1::WatchBatchRequest&,
                             grpc::ServerWriter<v1::Batch>* writer) {
    writer->Write(Snapshot(1, 0, 2));
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone");
  };
  server.batch.on_get = [](const v1::GetBatchRequest&, v1::Batch* out) {
    *out = Snapshot(2, 1, 0);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded) << server.err.str();
  EXPECT_THAT(server.batch.Calls(), ElementsAre("watch", "get"));
}

TEST(ImportWaitTest, GivesUpAfterTenReconnectsWithoutProgress) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  server.batch.on_watch = [](grpc::ServerContext*, const v1::WatchBatchRequest&,
                             grpc::ServerWriter<v1::Batch>* writer) {
    writer->Write(Snapshot(0, 0, 3));
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "flapping");
  };
  server.batch.on_get = [](const v1::GetBatchRequest&, v1::Batch* out) {
    *out = Snapshot(0, 0, 3);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitError);
  const std::vector<std::string> calls = server.batch.Calls();
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "watch"), 10);
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "get"), 9);
  EXPECT_THAT(server.err.str(), HasSubstr("error: UNAVAILABLE: "));
  EXPECT_THAT(server.err.str(), HasSubstr("flapping"));
}

TEST(ImportWaitTest, ATimeoutBoundsTheReconnects) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  std::atomic<int> finished{0};
  server.batch.on_watch = [&finished](grpc::ServerContext*, const v1::WatchBatchRequest&,
                                      grpc::ServerWriter<v1::Batch>* writer) {
    // Progress every time, so only the deadline stops it.
    const int done = ++finished;
    writer->Write(Snapshot(std::min(done, 2), 0, 3 - std::min(done, 2)));
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "flapping");
  };
  server.batch.on_get = [](const v1::GetBatchRequest&, v1::Batch* out) {
    *out = Snapshot(0, 0, 3);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.stream_timeout = absl::Milliseconds(300);
  server.ctx.reconnect_backoff = absl::Milliseconds(40);
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);
  const absl::Time start = absl::Now();
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitError);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(server.err.str(), HasSubstr("error: UNAVAILABLE: "));
}

TEST(ImportWaitTest, OtherErrorsAreNotRetried) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  server.batch.on_watch = [](grpc::ServerContext*, const v1::WatchBatchRequest&,
                             grpc::ServerWriter<v1::Batch>*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no batch batches/b1");
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  std::istringstream in(kCsv);
  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitError);
  EXPECT_THAT(server.batch.Calls(), ElementsAre("watch"));
  EXPECT_THAT(server.err.str(), HasSubstr("error: NOT_FOUND: no batch batches/b1"));
}

TEST_F(ImportReportTest, PagesThroughEveryItemAfterTheWait) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  AnswerWatch(server, {Snapshot(2, 1, 0)});
  server.batch.on_list_items = [](const v1::ListBatchItemsRequest& request,
                                  v1::ListBatchItemsResponse* out) {
    if (request.page_token().empty()) {
      *out->add_items() = Row(2, "ada@example.com", v1::ONBOARDING_STATE_SUCCEEDED);
      *out->add_items() = Refused(3, "@home", "not an email");
      out->set_next_page_token("p2");
    } else {
      *out->add_items() = Row(4, "bob@example.com", v1::ONBOARDING_STATE_FAILED,
                              v1::STEP_KIND_LICENSE, "no free seats");
    }
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.wait = true;
  args.report_path = (dir_ / "result.json").string();
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitNotSucceeded) << server.err.str();
  EXPECT_THAT(server.batch.Calls(), ElementsAre("watch", "list", "list"));
  ASSERT_EQ(server.batch.list_requests.size(), 2u);
  EXPECT_EQ(server.batch.list_requests[0].parent(), "batches/b1");
  EXPECT_EQ(server.batch.list_requests[0].page_size(), 1000);
  EXPECT_FALSE(server.batch.list_requests[0].invalid());
  EXPECT_EQ(server.batch.list_requests[1].page_token(), "p2");

  const nlohmann::json report = nlohmann::json::parse(ReadFile(args.report_path));
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[0], nlohmann::json({{"line", 2},
                                       {"email", "ada@example.com"},
                                       {"state", "SUCCEEDED"},
                                       {"onboarding", "onboardings/o2"},
                                       {"failed_step", ""},
                                       {"reason", ""}}));
  EXPECT_EQ(report[1].at("state"), "REFUSED");
  EXPECT_EQ(report[2].at("failed_step"), "license");
  EXPECT_EQ(report[2].at("reason"), "no free seats");
  EXPECT_FALSE(std::filesystem::exists(args.report_path + ".tmp"));
  EXPECT_EQ(Lines(server.out.str()).back(), "report: " + args.report_path + " (3 rows)");
}

TEST_F(ImportReportTest, AnRpcErrorWhilePagingLeavesNoFile) {
  FakeServer server;
  AnswerCreate(server, Snapshot(0, 0, 3));
  std::atomic<int> pages{0};
  server.batch.on_list_items = [&pages](const v1::ListBatchItemsRequest&,
                                        v1::ListBatchItemsResponse* out) {
    if (pages++ > 0) return grpc::Status(grpc::StatusCode::INTERNAL, "store broke");
    *out->add_items() = Row(2, "ada@example.com", v1::ONBOARDING_STATE_QUEUED);
    out->set_next_page_token("p2");
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.report_path = (dir_ / "result.csv").string();
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitError);
  EXPECT_THAT(server.err.str(), HasSubstr("error: INTERNAL: store broke"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(ImportReportTest, AReportThatCannotBeWrittenStopsBeforeTheUpload) {
  FakeServer server;
  std::atomic<bool> created{false};
  AnswerCreate(server, Snapshot(0, 0, 3), &created);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ImportArgs args = ContosoImport();
  args.report_path = (dir_ / "missing" / "result.csv").string();
  std::istringstream in(kCsv);

  EXPECT_EQ(ImportCsv(server.ctx, args, in), kExitError);
  EXPECT_FALSE(created);
  EXPECT_THAT(server.err.str(),
              HasSubstr("error: cannot write the report " + args.report_path + ".tmp"));
  EXPECT_THAT(server.out.str(), IsEmpty());
}

}  // namespace
}  // namespace guestflow::cli
