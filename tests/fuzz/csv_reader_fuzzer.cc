// Fuzz target: the bulk-import CSV reader (server/batch/csv_reader.h) and what
// a CreateBatch stream does with its records (server/engine/batch_import.h,
// validate_only: header mapping, row mapping, the API's validators).
//
// Input: the bytes of a CSV file, as a client streams them.
//
// Invariants checked:
// - The records and the error are the same whether the file arrives whole or
//   in chunks of any size (the reader's documented promise).
// - An error is INVALID_ARGUMENT starting with "line "; a record has 1 to
//   max_fields fields within the byte limits, valid UTF-8, on strictly
//   increasing lines; the reader never buffers more than max_record_bytes.
// - The import refuses a file only with INVALID_ARGUMENT; every refused row
//   has a reason; with validate_only nothing is started.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "server/batch/csv_reader.h"
#include "server/engine/batch_import.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/validate_only_engine.h"

namespace guestflow {
namespace {

// Small enough that short inputs reach every limit.
constexpr CsvReader::Limits kLimits{/*max_field_bytes=*/64, /*max_record_bytes=*/256,
                                    /*max_fields=*/12};

struct ReadResult {
  std::vector<CsvRecord> records;
  absl::Status status;
};

// Feeds `input` in chunks of 1, 2, ... `max_chunk` bytes, round and round
// (everything at once when max_chunk is 0), then finishes.
ReadResult Read(absl::string_view input, size_t max_chunk) {
  CsvReader reader(kLimits);
  ReadResult result;
  size_t chunk = 1;
  while (!input.empty() && result.status.ok()) {
    const size_t n = max_chunk == 0 ? input.size() : std::min(chunk, input.size());
    result.status = reader.Feed(input.substr(0, n), &result.records);
    input.remove_prefix(n);
    chunk = chunk % (max_chunk == 0 ? 1 : max_chunk) + 1;
    GF_FUZZ_CHECK(reader.buffered_bytes() <= kLimits.max_record_bytes, result.status.ToString());
  }
  if (result.status.ok()) result.status = reader.Finish(&result.records);
  return result;
}

void CheckRecords(const ReadResult& read) {
  if (!read.status.ok()) {
    GF_FUZZ_CHECK(read.status.code() == absl::StatusCode::kInvalidArgument, read.status.ToString());
    GF_FUZZ_CHECK(absl::StartsWith(read.status.message(), "line "), read.status.message());
  }
  int64_t previous_line = 0;
  for (const CsvRecord& record : read.records) {
    GF_FUZZ_CHECK(record.line > previous_line, "record lines must increase");
    previous_line = record.line;
    GF_FUZZ_CHECK(!record.fields.empty() && record.fields.size() <= kLimits.max_fields,
                  "field count out of limits");
    size_t bytes = 0;
    for (const std::string& field : record.fields) {
      GF_FUZZ_CHECK(field.size() <= kLimits.max_field_bytes, field);
      GF_FUZZ_CHECK(fuzz::IsUtf8(field), field);
      bytes += field.size();
    }
    GF_FUZZ_CHECK(bytes <= kLimits.max_record_bytes, "record longer than the limit");
  }
}

void CheckImport(absl::string_view input) {
  static auto* const engine = new fuzz::ValidateOnlyEngine();
  BatchHeader header;
  header.tenant = fuzz::ValidateOnlyEngine::kTenant;
  header.validate_only = true;
  // Half the inputs exercise the default usage location of rows without one.
  if (input.size() % 2 == 1) header.usage_location = "GB";
  absl::StatusOr<std::unique_ptr<BatchImport>> import =
      BatchImport::Begin(engine->engine(), /*batches=*/nullptr, engine->clock(), header);
  GF_FUZZ_CHECK(import.ok(), import.status().ToString());

  absl::Status status;
  constexpr size_t kChunk = 97;
  for (size_t i = 0; i < input.size() && status.ok(); i += kChunk) {
    status = (*import)->Feed(input.substr(i, kChunk));
  }
  absl::StatusOr<BatchImportResult> result =
      status.ok() ? (*import)->Finish() : absl::StatusOr<BatchImportResult>(status);
  if (!result.ok()) {
    GF_FUZZ_CHECK(result.status().code() == absl::StatusCode::kInvalidArgument,
                  result.status().ToString());
    GF_FUZZ_CHECK(!result.status().message().empty(), "empty error message");
    return;
  }
  GF_FUZZ_CHECK(result->rows_started == 0, "validate_only started an onboarding");
  GF_FUZZ_CHECK(result->rows_invalid <= result->rows_read, "more invalid rows than rows");
  GF_FUZZ_CHECK(result->rejected.size() ==
                    std::min(static_cast<size_t>(result->rows_invalid), BatchImport::kMaxRejected),
                "a refused row is missing from the report");
  for (const BatchItemRecord& item : result->rejected) {
    GF_FUZZ_CHECK(!item.error.empty(), "a refused row without a reason");
  }
}

}  // namespace

namespace fuzz {

void FuzzOne(std::string_view bytes) {
  const absl::string_view input(bytes.data(), bytes.size());
  const ReadResult whole = Read(input, 0);
  CheckRecords(whole);
  for (size_t max_chunk : {1, 7}) {
    const ReadResult chunked = Read(input, max_chunk);
    GF_FUZZ_CHECK(chunked.status == whole.status, chunked.status.ToString());
    GF_FUZZ_CHECK(chunked.records == whole.records, "records depend on the chunking");
  }
  CheckImport(input);
}

}  // namespace fuzz
}  // namespace guestflow
