#include "client/batch_report.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/names.h"
#include "nlohmann/json.hpp"

namespace guestflow::cli {
namespace {

constexpr char kCsvHeader[] = "line,email,state,onboarding,failed_step,reason\r\n";

std::string FailedStepText(v1::StepKind kind) {
  return kind == v1::STEP_KIND_UNSPECIFIED ? "" : StepKindText(kind);
}

}  // namespace

absl::StatusOr<ReportFormat> ReportFormatForPath(absl::string_view path) {
  const std::string lower = absl::AsciiStrToLower(path);
  const std::string name = std::filesystem::path(lower).filename().string();
  if (absl::EndsWith(name, ".csv") && name.size() > 4) return ReportFormat::kCsv;
  if (absl::EndsWith(name, ".json") && name.size() > 5) return ReportFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("report file '", path, "' must end in .csv or .json (that picks the format)"));
}

std::string CsvField(absl::string_view value) {
  std::string field;
  field.reserve(value.size() + 3);
  if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' ||
                         value[0] == '\t' || value[0] == '\r')) {
    field.push_back('\'');
  }
  field.append(value.data(), value.size());
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  quoted.reserve(field.size() + 8);
  for (const char c : field) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string ReportStateText(const v1::BatchItem& item) {
  return item.state() == v1::ONBOARDING_STATE_UNSPECIFIED ? "REFUSED"
                                                          : OnboardingStateText(item.state());
}

absl::StatusOr<std::unique_ptr<ReportWriter>> ReportWriter::Open(const std::string& path) {
  absl::StatusOr<ReportFormat> format = ReportFormatForPath(path);
  if (!format.ok()) return format.status();
  std::unique_ptr<ReportWriter> writer(new ReportWriter(path, *format));
  errno = 0;
  writer->out_.open(writer->temp_path_, std::ios::binary | std::ios::trunc);
  if (!writer->out_.is_open()) {
    const int error = errno;
    // Nothing was created: the destructor has nothing to remove.
    writer->committed_ = true;
    return absl::ErrnoToStatus(error, absl::StrCat("cannot write the report ", writer->temp_path_));
  }
  writer->out_ << (writer->format_ == ReportFormat::kCsv ? kCsvHeader : "[");
  if (!writer->out_) return writer->WriteError();
  return writer;
}

ReportWriter::ReportWriter(std::string path, ReportFormat format)
    : path_(std::move(path)), temp_path_(path_ + ".tmp"), format_(format) {}

ReportWriter::~ReportWriter() {
  if (committed_) return;
  out_.close();
  std::error_code ignored;
  std::filesystem::remove(temp_path_, ignored);
}

absl::Status ReportWriter::WriteError() const {
  return absl::DataLossError(absl::StrCat("writing the report ", temp_path_, " failed",
                                          errno != 0 ? ": " : "",
                                          errno != 0 ? std::strerror(errno) : ""));
}

absl::Status ReportWriter::Add(const v1::BatchItem& item) {
  errno = 0;
  if (format_ == ReportFormat::kCsv) {
    out_ << item.line() << ',' << CsvField(item.email()) << ',' << CsvField(ReportStateText(item))
         << ',' << CsvField(item.onboarding()) << ','
         << CsvField(FailedStepText(item.failed_step())) << ',' << CsvField(item.error()) << "\r\n";
  } else {
    nlohmann::ordered_json object;
    object["line"] = item.line();
    object["email"] = item.email();
    object["state"] = ReportStateText(item);
    object["onboarding"] = item.onboarding();
    object["failed_step"] = FailedStepText(item.failed_step());
    object["reason"] = item.error();
    // Rows come from a user's file and may not be UTF-8; dump() would throw
    // on such bytes, replace() writes U+FFFD instead.
    out_ << (records_ == 0 ? "\n" : ",\n")
         << object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  ++records_;
  if (!out_) return WriteError();
  return absl::OkStatus();
}

absl::Status ReportWriter::Commit() {
  if (format_ == ReportFormat::kJson) out_ << (records_ == 0 ? "]\n" : "\n]\n");
  errno = 0;
  out_.flush();
  if (!out_) return WriteError();
  out_.close();
  if (out_.fail()) return WriteError();
  std::error_code error;
  std::filesystem::rename(temp_path_, path_, error);
  if (error) {
    return absl::ErrnoToStatus(
        error.value(), absl::StrCat("cannot rename the report ", temp_path_, " to ", path_));
  }
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace guestflow::cli
