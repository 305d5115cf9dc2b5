// Batches as text for people. Pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "guestflow/v1/batch_service.pb.h"

namespace guestflow::cli {

// Labelled lines: name, tenant, request id, rows (total and invalid), the
// count of each state (sorted by state order), created, finished, rate.
std::string RenderBatch(const v1::Batch& batch);

// `line 7  bob@example.com  UsageLocation: 'UK' is not ISO 3166-1; use GB`
// (no newline): a refused row. Control characters become spaces; an empty
// email or reason reads `-`.
std::string RenderRefusedRow(const v1::BatchItem& item);

// The refused rows of `batch.rejected`, one RenderRefusedRow per line, at most
// `limit` of them; then, when rows_invalid says there are more than shown,
// `... and N more` followed by `more_hint` (e.g. `, see --report`). Empty
// when no row was refused.
std::string RenderRefusedRows(const v1::Batch& batch, size_t limit, absl::string_view more_hint);

// The verdict of a dry run (`import --dry-run`):
//   dry run: nothing was started
//   rows read:    2,000
//   rows refused: 3
// then every refused row the server returned (RenderRefusedRows, no limit).
std::string RenderDryRunVerdict(const v1::Batch& batch);

// One line, no newline, once a batch is done:
// `batches/b1 done in 4m05s: 1,950 succeeded, 12 failed, 3 cancelled, 35 refused`
// (`in ...` only when both times are set; zero counts but `succeeded` left out).
std::string RenderBatchOutcome(const v1::Batch& batch);

}  // namespace guestflow::cli
