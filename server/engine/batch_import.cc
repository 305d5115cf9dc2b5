#include "server/engine/batch_import.h"

#include <utility>
#include <variant>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/guest_validation.h"

namespace guestflow {
namespace {

// What the header asks for, to tell a re-sent file from another one that
// reuses the request_id.
std::string HeaderFingerprint(const BatchHeader& h) {
  const OnboardingOptions& o = h.options;
  nlohmann::json j = {
      {"tenant", h.tenant},
      {"usage_location", h.usage_location},
      {"roles", o.roles},
      {"send", o.send_invitation_message.has_value() ? nlohmann::json(*o.send_invitation_message)
                                                     : nlohmann::json()},
      {"message", o.invitation_message},
      {"update_email", o.update_dynamics_email.has_value()
                           ? nlohmann::json(*o.update_dynamics_email)
                           : nlohmann::json()},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RowErrorsText(const std::vector<RowError>& errors) {
  std::vector<std::string> parts;
  parts.reserve(errors.size());
  for (const RowError& e : errors) {
    parts.push_back(e.column.empty() ? e.reason : absl::StrCat(e.column, ": ", e.reason));
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace

std::string NewBatchId() {
  thread_local absl::BitGen gen;
  const uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  return absl::StrFormat("b%012x%08x", millis & 0xFFFFFFFFFFFFULL, absl::Uniform<uint32_t>(gen));
}

absl::StatusOr<std::unique_ptr<BatchImport>> BatchImport::Begin(Engine* engine, BatchStore* batches,
                                                                Clock* clock,
                                                                const BatchHeader& header) {
  if (header.tenant.empty()) {
    return absl::InvalidArgumentError(
        "header.tenant is required: the tenant of rows without a "
        "Tenant column");
  }
  GF_RETURN_IF_ERROR(engine->FindTenant(header.tenant).status());
  GF_RETURN_IF_ERROR(ValidateOptions(header.options));
  if (!header.usage_location.empty()) {
    GF_RETURN_IF_ERROR(ValidateUsageLocation(header.usage_location, "header.usage_location"));
  }
  std::unique_ptr<BatchImport> import(new BatchImport(engine, batches, clock, header));
  if (header.validate_only) return import;

  BatchRecord batch;
  batch.id = NewBatchId();
  batch.tenant = header.tenant;
  batch.request_id = header.request_id;
  batch.request_fingerprint = HeaderFingerprint(header);
  batch.create_time = clock->Now();
  batch.update_time = batch.create_time;
  GF_ASSIGN_OR_RETURN(CreateBatchResult created, batches->CreateBatch(batch));
  if (!created.created && created.batch.request_fingerprint != batch.request_fingerprint) {
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id ", header.request_id, " was used for batches/", created.batch.id,
        " with another tenant or other options; use a new request_id for a new batch"));
  }
  import->result_.batch = created.batch;
  if (!created.created) GF_RETURN_IF_ERROR(import->LoadRecordedItems());
  return import;
}

// A batch continued by a re-sent file: its recorded lines are skipped, and
// their emails count as seen.
absl::Status BatchImport::LoadRecordedItems() {
  BatchItemQuery query;
  query.batch_id = result_.batch.id;
  query.page_size = 1000;
  do {
    GF_ASSIGN_OR_RETURN(BatchItemPage page, batches_->ListItems(query));
    for (const BatchItemRecord& item : page.items) {
      recorded_[item.line] = true;
      if (!item.onboarding_id.empty()) {
        emails_.emplace(absl::AsciiStrToLower(item.email), item.line);
      }
    }
    query.page_token = page.next_page_token;
  } while (!query.page_token.empty());
  return absl::OkStatus();
}

absl::Status BatchImport::Feed(absl::string_view bytes) {
  std::vector<CsvRecord> records;
  GF_RETURN_IF_ERROR(reader_.Feed(bytes, &records));
  return Take(records);
}

absl::StatusOr<BatchImportResult> BatchImport::Finish() {
  std::vector<CsvRecord> records;
  GF_RETURN_IF_ERROR(reader_.Finish(&records));
  GF_RETURN_IF_ERROR(Take(records));
  if (!mapper_.has_value()) {
    return absl::InvalidArgumentError(
        "the file has no header line (expected columns such as InvitedUserEmailAddress or Email, "
        "FirstName, LastName, UsageLocation)");
  }
  GF_RETURN_IF_ERROR(Flush());
  if (!header_.validate_only) {
    GF_RETURN_IF_ERROR(batches_->MarkInputComplete(result_.batch.id, clock_->Now()));
    GF_ASSIGN_OR_RETURN(result_.batch, batches_->GetBatch(result_.batch.id));
  }
  return result_;
}

absl::Status BatchImport::Take(std::vector<CsvRecord>& records) {
  for (CsvRecord& record : records) {
    if (!mapper_.has_value()) {
      if (GuestRowMapper::IsPortalVersionLine(record)) continue;
      GF_ASSIGN_OR_RETURN(GuestRowMapper mapper, GuestRowMapper::FromHeader(record));
      mapper.set_default_usage_location(header_.usage_location);
      mapper_ = std::move(mapper);
      continue;
    }
    if (GuestRowMapper::IsBlankRecord(record)) continue;
    GF_RETURN_IF_ERROR(TakeRow(record));
  }
  return absl::OkStatus();
}

absl::Status BatchImport::TakeRow(const CsvRecord& record) {
  ++result_.rows_read;
  if (recorded_.contains(record.line)) return absl::OkStatus();
  std::variant<GuestRow, std::vector<RowError>> mapped = mapper_->Map(record);
  if (auto* errors = std::get_if<std::vector<RowError>>(&mapped)) {
    Reject(record.line, mapper_->EmailOf(record), RowErrorsText(*errors));
    return FlushIfFull();
  }
  GuestRow& row = std::get<GuestRow>(mapped);
  const std::string key = absl::AsciiStrToLower(row.guest.email);
  if (auto [it, inserted] = emails_.emplace(key, record.line); !inserted) {
    Reject(record.line, row.guest.email,
           absl::StrCat("duplicate: ", row.guest.email, " is on line ", it->second,
                        " of this batch already"));
    return FlushIfFull();
  }

  StartRequest request;
  request.tenant = row.tenant.empty() ? header_.tenant : row.tenant;
  request.guest = std::move(row.guest);
  request.options = header_.options;
  if (!row.roles.empty()) request.options.roles = std::move(row.roles);
  if (row.send_invitation_message.has_value()) {
    request.options.send_invitation_message = row.send_invitation_message;
  }
  if (!row.invitation_message.empty()) {
    request.options.invitation_message = std::move(row.invitation_message);
  }
  request.validate_only = header_.validate_only;
  request.requested_by = header_.requested_by;
  if (header_.check_tenant) {
    if (absl::Status allowed = header_.check_tenant(request.tenant); !allowed.ok()) {
      Reject(record.line, request.guest.email, std::string(allowed.message()));
      return FlushIfFull();
    }
  }
  if (!header_.validate_only) {
    request.batch_id = result_.batch.id;
    request.request_id = absl::StrCat("batch/", result_.batch.id, "/line/", record.line);
  }
  absl::StatusOr<CreateResult> started = engine_->Start(request);
  if (!started.ok()) {
    // A row the engine refuses (an unknown tenant in its Tenant column,
    // say) is the row's problem; the store failing, or being full, is the
    // stream's: the file is re-sent later and goes on from there.
    const absl::StatusCode code = started.status().code();
    if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kInternal ||
        code == absl::StatusCode::kResourceExhausted) {
      return started.status();
    }
    Reject(record.line, request.guest.email, std::string(started.status().message()));
    return FlushIfFull();
  }
  if (started->created) ++result_.rows_started;
  if (!header_.validate_only) {
    BatchItemRecord item;
    item.line = record.line;
    item.email = request.guest.email;
    item.onboarding_id = started->onboarding.id;
    pending_.push_back(std::move(item));
  }
  return FlushIfFull();
}

absl::Status BatchImport::FlushIfFull() {
  return pending_.size() >= kItemsPerTransaction ? Flush() : absl::OkStatus();
}

void BatchImport::Reject(int64_t line, std::string email, std::string error) {
  ++result_.rows_invalid;
  BatchItemRecord item;
  item.line = line;
  item.email = std::move(email);
  item.error = std::move(error);
  if (result_.rejected.size() < kMaxRejected) result_.rejected.push_back(item);
  if (!header_.validate_only) pending_.push_back(std::move(item));
}

// A row started but not yet recorded when the stream breaks is found again
// by its request_id when the file is re-sent.
absl::Status BatchImport::Flush() {
  if (pending_.empty()) return absl::OkStatus();
  GF_RETURN_IF_ERROR(batches_->AddItems(result_.batch.id, pending_));
  pending_.clear();
  return absl::OkStatus();
}

}  // namespace guestflow
