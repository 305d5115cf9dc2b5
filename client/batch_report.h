// The `import --report FILE` file: one record per input row (line, email,
// state, onboarding, failed_step, reason), as CSV or JSON by the file's
// extension, written to FILE.tmp and renamed over FILE only when complete.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "guestflow/v1/batch_service.pb.h"

namespace guestflow::cli {

enum class ReportFormat { kCsv, kJson };

// kCsv for `*.csv`, kJson for `*.json` (extension case-insensitive).
// INVALID_ARGUMENT for any other name.
absl::StatusOr<ReportFormat> ReportFormatForPath(absl::string_view path);

// One CSV field per RFC 4180, after OWASP's CSV-injection advice: a value
// starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` so that a
// spreadsheet shows it as text instead of running it as a formula; then the
// value is put in double quotes (inner quotes doubled) if it holds a comma,
// a quote, CR or LF.
std::string CsvField(absl::string_view value);

// The report's state word: `REFUSED` for a row refused by validation (state
// UNSPECIFIED), else the state (`SUCCEEDED`, `FAILED`, `QUEUED`...).
std::string ReportStateText(const v1::BatchItem& item);

// Writes a report record by record, so that memory stays bounded however many
// rows the batch has. Not thread-safe.
//
// Lifecycle: Open() creates `<path>.tmp` (truncating a stale one); Add()
// appends records; Commit() completes the file (JSON: closes the array),
// flushes it and renames it to `path`. Destroying a writer that was not
// committed (or whose Commit failed) removes the .tmp file, so an existing
// `path` is never replaced by a partial report.
//
// CSV: a header row `line,email,state,onboarding,failed_step,reason`, then one
// row per record, CRLF line ends, fields through CsvField().
// JSON: an array of objects with those keys in that order, one object per
// line; `line` is a number, the others strings (`""` when absent).
class ReportWriter {
 public:
  // INVALID_ARGUMENT for a name that is not .csv/.json; PERMISSION_DENIED,
  // NOT_FOUND... (from errno) when `<path>.tmp` cannot be created.
  static absl::StatusOr<std::unique_ptr<ReportWriter>> Open(const std::string& path);

  ~ReportWriter();
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  // DATA_LOSS when writing failed (a full disk...). Must not be called after
  // Commit().
  absl::Status Add(const v1::BatchItem& item);

  // DATA_LOSS when the last writes or the close failed; the rename's error
  // (with both paths) when it failed. Call at most once.
  absl::Status Commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  int64_t records() const { return records_; }

 private:
  ReportWriter(std::string path, ReportFormat format);

  absl::Status WriteError() const;

  const std::string path_;
  const std::string temp_path_;
  const ReportFormat format_;
  std::ofstream out_;
  int64_t records_ = 0;
  bool committed_ = false;
};

}  // namespace guestflow::cli
