#include "client/batch_commands.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "client/exit_codes.h"
#include "client/file_chunks.h"
#include "fake_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace guestflow::cli {
namespace {

using ::guestflow::cli::testing::FakeServer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

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

}  // namespace
}  // namespace guestflow::cli
