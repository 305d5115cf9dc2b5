#include "client/batch_progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/table.h"

namespace guestflow::cli {
namespace {

constexpr char kSeparator[] = " \u00b7 ";  // middle dot

// Keeps the first `columns` code points of `text`.
std::string CutToColumns(const std::string& text, size_t columns) {
  size_t kept = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (kept == columns) return text.substr(0, i);
    ++kept;
  }
  return text;
}

}  // namespace

BatchProgress SummarizeBatch(const v1::Batch& batch) {
  BatchProgress progress;
  int64_t counted = 0;
  for (const auto& [key, count] : batch.counts()) {
    counted += count;
    v1::OnboardingState state = v1::ONBOARDING_STATE_UNSPECIFIED;
    if (!v1::OnboardingState_Parse(key, &state)) continue;
    if (state == v1::ONBOARDING_STATE_SUCCEEDED) progress.succeeded += count;
    if (state == v1::ONBOARDING_STATE_FAILED) progress.failed += count;
    if (state == v1::ONBOARDING_STATE_CANCELLED) progress.cancelled += count;
  }
  progress.finished = progress.succeeded + progress.failed + progress.cancelled;
  progress.total = std::max(counted, batch.rows_total() - batch.rows_invalid());
  progress.in_flight = std::max<int64_t>(0, progress.total - progress.finished);
  progress.refused = batch.rows_invalid();
  progress.input_complete = batch.input_complete();
  progress.done = batch.done();
  return progress;
}

std::string FormatThousands(int64_t value) {
  // Built on the magnitude as unsigned so that INT64_MIN does not overflow.
  const bool negative = value < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  std::string digits = absl::StrCat(magnitude);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3 + 1);
  if (negative) out.push_back('-');
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string FormatEta(absl::Duration remaining) {
  if (remaining <= absl::ZeroDuration()) return "0:00";
  const int64_t total = absl::ToInt64Seconds(absl::Ceil(remaining, absl::Seconds(1)));
  const int64_t hours = total / 3600;
  const int64_t minutes = total / 60 % 60;
  const int64_t seconds = total % 60;
  if (hours > 0) return absl::StrFormat("%d:%02d:%02d", hours, minutes, seconds);
  return absl::StrFormat("%d:%02d", minutes, seconds);
}

std::string FormatRate(double guests_per_second) {
  if (guests_per_second >= 1) return absl::StrFormat("%.1f guests/s", guests_per_second);
  return absl::StrFormat("%.2f guests/s", guests_per_second);
}

std::string FormatProgressLine(const BatchProgress& progress,
                               std::optional<double> guests_per_second, size_t bar_width) {
  std::string line;
  if (bar_width > 0) {
    size_t filled = 0;
    if (progress.total > 0) {
      const double ratio =
          static_cast<double>(progress.finished) / static_cast<double>(progress.total);
      filled = std::min(bar_width, static_cast<size_t>(ratio * static_cast<double>(bar_width)));
    }
    absl::StrAppend(&line, "[", std::string(filled, '#'), std::string(bar_width - filled, '.'),
                    "] ");
  }
  absl::StrAppend(&line, FormatThousands(progress.finished), "/", FormatThousands(progress.total),
                  progress.input_complete ? "" : "+", " done", kSeparator,
                  FormatThousands(progress.failed), " failed");
  if (progress.cancelled > 0) {
    absl::StrAppend(&line, kSeparator, FormatThousands(progress.cancelled), " cancelled");
  }
  absl::StrAppend(&line, kSeparator, FormatThousands(progress.in_flight), " in flight");
  if (guests_per_second.has_value()) {
    const double rate = std::max(0.0, *guests_per_second);
    absl::StrAppend(&line, kSeparator, FormatRate(rate));
    if (progress.in_flight > 0) {
      absl::StrAppend(&line, kSeparator, "ETA ",
                      rate > 0
                          ? FormatEta(absl::Seconds(static_cast<double>(progress.in_flight) / rate))
                          : "-");
    }
  }
  return line;
}

void RateMeter::Add(absl::Time now, int64_t finished) {
  if (!samples_.empty() && now < samples_.back().first) return;
  samples_.emplace_back(now, finished);
  // Keep one sample at or before the window's start: after a stall the rate
  // then spans the stall instead of vanishing.
  while (samples_.size() > 2 && samples_[1].first <= now - window_) samples_.pop_front();
}

std::optional<double> RateMeter::Rate() const {
  if (samples_.size() < 2) return std::nullopt;
  const auto& [first_time, first_count] = samples_.front();
  const auto& [last_time, last_count] = samples_.back();
  const absl::Duration span = last_time - first_time;
  if (span < absl::Seconds(1)) return std::nullopt;
  return std::max(0.0, static_cast<double>(last_count - first_count) / absl::ToDoubleSeconds(span));
}

ProgressPrinter::ProgressPrinter(std::ostream* out, Options options,
                                 std::function<absl::Time()> clock)
    : out_(out), options_(options), clock_(std::move(clock)) {}

std::string ProgressPrinter::LineFor(const v1::Batch& batch, absl::Time now) {
  const BatchProgress progress = SummarizeBatch(batch);
  meter_.Add(now, progress.finished);
  std::optional<double> rate = meter_.Rate();
  if (!rate.has_value() && batch.guests_per_second() > 0) rate = batch.guests_per_second();
  return FormatProgressLine(progress, rate, options_.terminal ? options_.bar_width : 0);
}

void ProgressPrinter::Draw(const std::string& line) {
  if (!options_.terminal) {
    *out_ << line << '\n' << std::flush;
    return;
  }
  std::string shown = options_.max_columns > 0 ? CutToColumns(line, options_.max_columns) : line;
  const size_t columns = DisplayWidth(shown);
  if (columns < drawn_columns_) shown.append(drawn_columns_ - columns, ' ');
  *out_ << '\r' << shown << std::flush;
  drawn_columns_ = columns;
}

void ProgressPrinter::Update(const v1::Batch& batch) {
  const absl::Time now = clock_();
  // Always fed to the meter, printed or not, so the rate stays current.
  std::string line = LineFor(batch, now);
  const absl::Duration interval =
      options_.terminal ? options_.terminal_interval : options_.plain_interval;
  if (last_print_.has_value() && now - *last_print_ < interval) return;
  last_print_ = now;
  Draw(line);
  last_line_ = std::move(line);
}

void ProgressPrinter::Finish(const v1::Batch& batch) {
  std::string line = LineFor(batch, clock_());
  if (options_.terminal) {
    Draw(line);
    *out_ << '\n' << std::flush;
    drawn_columns_ = 0;
  } else if (line != last_line_) {
    Draw(line);
  }
  last_line_ = std::move(line);
}

void ProgressPrinter::BreakLine() {
  if (!options_.terminal || drawn_columns_ == 0) return;
  *out_ << '\n' << std::flush;
  drawn_columns_ = 0;
}

}  // namespace guestflow::cli
