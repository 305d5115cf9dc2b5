// BatchStore: the durable home of bulk onboardings (batches) and their input
// rows (items). A batch's onboardings themselves live in the Store, tagged
// with the batch id; an item names the onboarding its row started, or why
// the row was refused.
//
// Contract for every implementation:
// - Every method is atomic and thread-safe.
// - CreateBatch is idempotent on (tenant, request_id), as onboardings are.
// - AddItems never overwrites: an item whose (batch, line) is stored already
//   is left as it is, so re-sending a file continues a batch.
// - Errors: NOT_FOUND for an unknown batch, ALREADY_EXISTS for a taken batch
//   id, INVALID_ARGUMENT for a bad page token or page size or a line below
//   1, UNAVAILABLE / INTERNAL for the database itself.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/model/onboarding.h"

namespace guestflow {

struct BatchRecord {
  std::string id;  // the {batch} of `batches/{batch}`
  std::string tenant;
  std::string request_id;
  // What the header asked for (tenant, options), to tell a re-sent file
  // from another one that reuses the request_id.
  std::string request_fingerprint;
  bool input_complete = false;  // the whole file has been read once
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
};

struct BatchItemRecord {
  int64_t line = 0;  // 1-based line of the row in the file
  std::string email;
  std::string onboarding_id;  // empty: the row was refused
  std::string error;          // why it was refused

  // Read only (from the onboarding, when there is one):
  std::optional<OnboardingState> state;
  std::optional<StepKind> failed_step;
  std::string onboarding_error;
  std::string tenant;  // the onboarding's; empty for a refused row
};

struct BatchSummary {
  int64_t rows_total = 0;
  int64_t rows_invalid = 0;
  std::map<OnboardingState, int64_t> counts;   // the batch's onboardings by state
  std::optional<absl::Time> last_finish_time;  // of its finished onboardings
};

struct BatchItemQuery {
  std::string batch_id;
  std::optional<OnboardingState> state;  // only rows whose onboarding is in it
  bool invalid_only = false;             // only refused rows
  int page_size = 100;                   // > 0
  std::string page_token;
};

struct BatchItemPage {
  std::vector<BatchItemRecord> items;  // by line
  std::string next_page_token;
};

struct CreateBatchResult {
  BatchRecord batch;
  bool created = false;  // false: (tenant, request_id) existed
};

// INVALID_ARGUMENT naming the first item whose line is below 1 (lines are
// 1-based), OK otherwise; every AddItems checks this before writing.
inline absl::Status CheckItemLines(const std::vector<BatchItemRecord>& items) {
  for (const BatchItemRecord& item : items) {
    if (item.line < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch item line ", item.line, " (", item.email, "): lines start at 1"));
    }
  }
  return absl::OkStatus();
}

// Adds one (state, count, latest finish_time) row of a batch's onboardings
// to `summary`; INTERNAL for a state this build does not know.
inline absl::Status AddStateCount(BatchSummary& summary, absl::string_view batch_id,
                                  const std::string& state_name, int64_t count,
                                  std::optional<absl::Time> last_finish) {
  std::optional<OnboardingState> state = OnboardingStateFromName(state_name);
  if (!state.has_value()) {
    return absl::InternalError(
        absl::StrCat("batch ", batch_id, ": an onboarding has the unknown state ", state_name));
  }
  summary.counts[*state] = count;
  if (last_finish.has_value() &&
      (!summary.last_finish_time.has_value() || *last_finish > *summary.last_finish_time)) {
    summary.last_finish_time = last_finish;
  }
  return absl::OkStatus();
}

class BatchStore {
 public:
  virtual ~BatchStore() = default;

  [[nodiscard]] virtual absl::StatusOr<CreateBatchResult> CreateBatch(const BatchRecord& batch) = 0;
  [[nodiscard]] virtual absl::StatusOr<BatchRecord> GetBatch(absl::string_view id) = 0;
  // Stores the items whose line is new; the others are kept as they are.
  [[nodiscard]] virtual absl::Status AddItems(absl::string_view batch_id,
                                              const std::vector<BatchItemRecord>& items) = 0;
  [[nodiscard]] virtual absl::Status MarkInputComplete(absl::string_view batch_id,
                                                       absl::Time now) = 0;
  [[nodiscard]] virtual absl::StatusOr<BatchSummary> Summarize(absl::string_view batch_id) = 0;
  [[nodiscard]] virtual absl::StatusOr<BatchItemPage> ListItems(const BatchItemQuery& query) = 0;
};

}  // namespace guestflow
