#include "client/batch_text.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

}  // namespace guestflow::cli
