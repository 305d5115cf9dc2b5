#include "client/batch_text.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/batch_progress.h"
#include "client/duration_text.h"
#include "client/names.h"
#include "client/table.h"
#include "client/time_text.h"

namespace guestflow::cli {

std::string RenderBatch(const v1::Batch& batch) {
  std::string out;
  AppendField(out, "name", batch.name());
  AppendField(out, "tenant", batch.tenant());
  AppendField(out, "request id", batch.request_id());
  AppendField(out, "rows",
              absl::StrCat(batch.rows_total(), " read, ", batch.rows_invalid(), " invalid"));
  // Keys are enum names; order them as the states run, unknown keys last.
  std::vector<std::pair<int, std::string>> counts;
  for (const auto& [key, count] : batch.counts()) {
    v1::OnboardingState state = v1::ONBOARDING_STATE_UNSPECIFIED;
    const bool known = v1::OnboardingState_Parse(key, &state);
    counts.emplace_back(known ? static_cast<int>(state) : 1000,
                        absl::StrCat(known ? OnboardingStateText(state) : key, " ", count));
  }
  std::sort(counts.begin(), counts.end());
  std::vector<std::string> words;
  words.reserve(counts.size());
  for (auto& [order, text] : counts) words.push_back(std::move(text));
  AppendField(out, "states", absl::StrJoin(words, ", "));
  AppendField(out, "created", FormatTimestamp(batch.create_time()));
  AppendField(out, "finished", FormatTimestamp(batch.finish_time()));
  if (batch.guests_per_second() > 0) {
    AppendField(out, "rate", absl::StrFormat("%.2f guests/s", batch.guests_per_second()));
  }
  return out;
}

std::string RenderRefusedRow(const v1::BatchItem& item) {
  return absl::StrCat("line ", item.line(), "  ", SanitizeCell(item.email()), "  ",
                      SanitizeCell(item.error()));
}

std::string RenderRefusedRows(const v1::Batch& batch, size_t limit, absl::string_view more_hint) {
  std::string out;
  size_t shown = 0;
  for (const v1::BatchItem& item : batch.rejected()) {
    if (shown == limit) break;
    absl::StrAppend(&out, RenderRefusedRow(item), "\n");
    ++shown;
  }
  const int64_t refused = std::max<int64_t>(batch.rows_invalid(), batch.rejected_size());
  const int64_t more = refused - static_cast<int64_t>(shown);
  if (more > 0) absl::StrAppend(&out, "... and ", FormatThousands(more), " more", more_hint, "\n");
  return out;
}

std::string RenderDryRunVerdict(const v1::Batch& batch) {
  const int64_t refused = std::max<int64_t>(batch.rows_invalid(), batch.rejected_size());
  std::string out = "dry run: nothing was started\n";
  absl::StrAppend(&out, "rows read:    ", FormatThousands(batch.rows_total()), "\n");
  absl::StrAppend(&out, "rows refused: ", FormatThousands(refused), "\n");
  absl::StrAppend(&out, RenderRefusedRows(batch, static_cast<size_t>(batch.rejected_size()),
                                          " (the server returns the first 1,000)"));
  return out;
}

std::string RenderBatchOutcome(const v1::Batch& batch) {
  const BatchProgress progress = SummarizeBatch(batch);
  std::string out = batch.name().empty() ? "batch" : batch.name();
  absl::StrAppend(&out, batch.done() ? " done" : " not done");
  if (IsSet(batch.create_time()) && IsSet(batch.finish_time())) {
    absl::StrAppend(
        &out, " in ",
        FormatDurationText(ToAbslTime(batch.finish_time()) - ToAbslTime(batch.create_time())));
  }
  std::vector<std::string> parts = {
      absl::StrCat(FormatThousands(progress.succeeded), " succeeded")};
  if (progress.failed > 0) {
    parts.push_back(absl::StrCat(FormatThousands(progress.failed), " failed"));
  }
  if (progress.cancelled > 0) {
    parts.push_back(absl::StrCat(FormatThousands(progress.cancelled), " cancelled"));
  }
  if (progress.in_flight > 0) {
    parts.push_back(absl::StrCat(FormatThousands(progress.in_flight), " in flight"));
  }
  if (progress.refused > 0) {
    parts.push_back(absl::StrCat(FormatThousands(progress.refused), " refused"));
  }
  absl::StrAppend(&out, ": ", absl::StrJoin(parts, ", "));
  return out;
}

}  // namespace guestflow::cli
