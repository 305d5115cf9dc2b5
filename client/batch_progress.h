// The progress of a batch as `guestflow import --wait` shows it: a pure
// summary of a Batch snapshot, its one-line text, a rate meter, and a printer
// that redraws the line on a terminal or throttles plain lines elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "guestflow/v1/batch_service.pb.h"

namespace guestflow::cli {

// What a Batch snapshot says about its onboardings.
struct BatchProgress {
  // Onboardings the batch has started so far: the valid rows read. Grows
  // while `input_complete` is false.
  int64_t total = 0;
  // Ended onboardings: succeeded + failed + cancelled.
  int64_t finished = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t cancelled = 0;
  // The others: QUEUED, RUNNING, WAITING, and states this client does not
  // know (a newer server's).
  int64_t in_flight = 0;
  // Rows refused by validation (they start no onboarding).
  int64_t refused = 0;
  bool input_complete = false;
  bool done = false;
};

// Reads the counts (keyed by OnboardingState enum name) of `batch`. `total`
// is the larger of the counts' sum and rows_total - rows_invalid, so rows
// read but not yet counted show as in flight.
BatchProgress SummarizeBatch(const v1::Batch& batch);

// `1,234,567`; `-1,234` for negative numbers.
std::string FormatThousands(int64_t value);

// `0:22`, `12:05`, `1:02:03`: whole seconds, rounded up so that a last
// fraction of a second does not read as 0:00. Negative durations read 0:00.
std::string FormatEta(absl::Duration remaining);

// `35.2 guests/s` (one decimal from 1 up, two below).
std::string FormatRate(double guests_per_second);

// One line, no newline:
//   [#####.....] 1,234/2,000 done · 12 failed · 40 in flight · 35.2 guests/s · ETA 0:22
// - the bar (`bar_width` cells, none when 0) fills with finished / total;
// - `2,000+` while the file is still being read;
// - `· N cancelled` after `failed` only when some were cancelled;
// - rate and ETA only when `guests_per_second` is given; ETA (in_flight /
//   rate) only while some are in flight, `ETA -` when the rate is zero.
std::string FormatProgressLine(const BatchProgress& progress,
                               std::optional<double> guests_per_second, size_t bar_width = 10);

// The rate at which onboardings finish, measured over a sliding window of
// samples. Not thread-safe.
class RateMeter {
 public:
  explicit RateMeter(absl::Duration window = absl::Seconds(10)) : window_(window) {}

  // Records that `finished` onboardings had ended at `now`. Times must not
  // go backwards; a sample older than the last one is ignored.
  void Add(absl::Time now, int64_t finished);

  // Finished per second between the oldest kept sample (the last one at or
  // before `window` ago, so that a stall still counts) and the newest;
  // nullopt until the samples span at least one second.
  std::optional<double> Rate() const;

 private:
  absl::Duration window_;
  std::deque<std::pair<absl::Time, int64_t>> samples_;
};

// Prints a batch's progress to `out` (borrowed; it must outlive the
// printer). Not thread-safe.
//
// Terminal mode redraws one line in place (`\r`, padded with spaces to wipe
// a longer previous line, cut to `max_columns` when that is not 0 so that it
// never wraps), at most once per `terminal_interval`. Plain mode writes a
// whole line at most once per `plain_interval` (the first update always
// prints). Finish() always writes the final state once more (unless plain
// mode just printed that same line) and ends the line.
//
// The rate shown is the RateMeter's, or the batch's own guests_per_second
// until the meter has one.
class ProgressPrinter {
 public:
  struct Options {
    bool terminal = false;
    size_t max_columns = 0;
    size_t bar_width = 10;
    absl::Duration terminal_interval = absl::Milliseconds(100);
    absl::Duration plain_interval = absl::Seconds(2);
  };

  // `clock` gives the current time (tests inject a fake one).
  ProgressPrinter(std::ostream* out, Options options, std::function<absl::Time()> clock);

  void Update(const v1::Batch& batch);
  void Finish(const v1::Batch& batch);

  // On a terminal, ends a drawn line so that a message written elsewhere
  // (stderr) does not land in the middle of it; the next Update redraws.
  void BreakLine();

 private:
  std::string LineFor(const v1::Batch& batch, absl::Time now);
  void Draw(const std::string& line);

  std::ostream* const out_;
  const Options options_;
  const std::function<absl::Time()> clock_;
  RateMeter meter_;
  std::optional<absl::Time> last_print_;
  std::string last_line_;
  size_t drawn_columns_ = 0;  // terminal: width of the line on screen, 0 if none
};

}  // namespace guestflow::cli
