// BatchImport: one CreateBatch stream, from its header to its last byte.
// Reads the CSV as it arrives (server/batch/csv_reader.h), maps and
// validates each row (server/batch/guest_row.h), refuses a second row of an
// email the batch has already, starts every valid row as an onboarding tied
// to the batch, and records one item per row (BatchStore), a hundred rows per
// transaction. Only the unfinished record, the pending items and the set of
// emails seen are held in memory.
//
// Idempotency: a batch with a request_id is found again by it (the same
// tenant and options, else ALREADY_EXISTS); a row whose line is recorded
// already is skipped, and a row's onboarding has the request_id
// "batch/<batch>/line/<n>", so a file re-sent after a broken stream (or a
// crash between starting a row and recording it) continues the batch and
// starts nothing twice.
//
// validate_only: the same reading and checks, nothing stored or started.
//
// Thread-compatible: one stream feeds it from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/batch/csv_reader.h"
#include "server/batch/guest_row.h"
#include "server/common/clock.h"
#include "server/engine/engine.h"
#include "server/store/batch_store.h"

namespace guestflow {

struct BatchHeader {
  std::string tenant;  // of rows without a Tenant column
  std::string request_id;
  bool validate_only = false;
  OnboardingOptions options;   // for every row; a row's own columns win
  std::string usage_location;  // of rows without one; "" for none
  std::string requested_by;    // the caller, for every onboarding it starts
  // Set: the tenants the caller may use. A row naming another one is
  // refused with this error (the engine never sees it).
  std::function<absl::Status(absl::string_view tenant)> check_tenant;
};

// What an import has done so far.
struct BatchImportResult {
  BatchRecord batch;  // empty id with validate_only
  int64_t rows_read = 0;
  int64_t rows_invalid = 0;
  int64_t rows_started = 0;  // onboardings this stream created
  // The first kMaxRejected refused rows (all of them are items too).
  std::vector<BatchItemRecord> rejected;
};

class BatchImport {
 public:
  static constexpr size_t kMaxRejected = 1000;
  static constexpr size_t kItemsPerTransaction = 100;

  // Checks the header (tenant known, options valid) and creates or finds
  // the batch. Errors: INVALID_ARGUMENT (options), NOT_FOUND (tenant),
  // ALREADY_EXISTS (request_id reused for another tenant or options), and
  // the stores'.
  static absl::StatusOr<std::unique_ptr<BatchImport>> Begin(Engine* engine, BatchStore* batches,
                                                            Clock* clock,
                                                            const BatchHeader& header);

  // The next bytes of the file. A row's problem is an item, never an error;
  // errors are INVALID_ARGUMENT for a file that is not CSV or has a bad
  // header ("line L, column C: ..."), and the stores'.
  absl::Status Feed(absl::string_view bytes);

  // End of the file: the last row, the pending items, and the batch marked
  // as read whole.
  absl::StatusOr<BatchImportResult> Finish();

  const BatchImportResult& progress() const { return result_; }

 private:
  BatchImport(Engine* engine, BatchStore* batches, Clock* clock, BatchHeader header)
      : engine_(engine), batches_(batches), clock_(clock), header_(std::move(header)) {}

  absl::Status LoadRecordedItems();
  absl::Status Take(std::vector<CsvRecord>& records);
  absl::Status TakeRow(const CsvRecord& record);
  void Reject(int64_t line, std::string email, std::string error);
  absl::Status FlushIfFull();
  absl::Status Flush();

  Engine* const engine_;
  BatchStore* const batches_;
  Clock* const clock_;
  const BatchHeader header_;
  CsvReader reader_;
  std::optional<GuestRowMapper> mapper_;
  BatchImportResult result_;
  // Lower-case email -> the line that has it; and the lines recorded by an
  // earlier stream of the same batch.
  absl::flat_hash_map<std::string, int64_t> emails_;
  absl::flat_hash_map<int64_t, bool> recorded_;
  std::vector<BatchItemRecord> pending_;
};

// `batches/{batch}`'s new id: time-ordered and random, like onboarding ids.
std::string NewBatchId();

}  // namespace guestflow
