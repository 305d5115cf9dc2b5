#include "client/batch_progress.h"

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_values.h"

namespace guestflow::cli {
namespace {

using ::guestflow::cli::testing::Lines;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Batch MakeBatch(int64_t succeeded, int64_t failed, int64_t cancelled, int64_t running,
                    int64_t queued) {
  v1::Batch batch;
  batch.set_name("batches/b1");
  auto& counts = *batch.mutable_counts();
  if (succeeded > 0) counts["ONBOARDING_STATE_SUCCEEDED"] = succeeded;
  if (failed > 0) counts["ONBOARDING_STATE_FAILED"] = failed;
  if (cancelled > 0) counts["ONBOARDING_STATE_CANCELLED"] = cancelled;
  if (running > 0) counts["ONBOARDING_STATE_RUNNING"] = running;
  if (queued > 0) counts["ONBOARDING_STATE_QUEUED"] = queued;
  batch.set_rows_total(succeeded + failed + cancelled + running + queued);
  batch.set_input_complete(true);
  batch.set_done(running + queued == 0);
  return batch;
}

TEST(SummarizeBatchTest, SplitsFinishedFromInFlight) {
  v1::Batch batch = MakeBatch(7, 2, 1, 3, 4);
  (*batch.mutable_counts())["ONBOARDING_STATE_FROM_THE_FUTURE"] = 5;
  batch.set_rows_total(batch.rows_total() + 5 + 6);  // 6 refused
  batch.set_rows_invalid(6);
  const BatchProgress progress = SummarizeBatch(batch);
  EXPECT_EQ(progress.succeeded, 7);
  EXPECT_EQ(progress.failed, 2);
  EXPECT_EQ(progress.cancelled, 1);
  EXPECT_EQ(progress.finished, 10);
  EXPECT_EQ(progress.total, 22);
  EXPECT_EQ(progress.in_flight, 12);  // running, queued and the unknown state
  EXPECT_EQ(progress.refused, 6);
  EXPECT_TRUE(progress.input_complete);
  EXPECT_FALSE(progress.done);
}

TEST(SummarizeBatchTest, RowsReadButNotYetCountedAreInFlight) {
  v1::Batch batch = MakeBatch(1, 0, 0, 0, 0);
  batch.set_rows_total(10);
  batch.set_rows_invalid(2);
  const BatchProgress progress = SummarizeBatch(batch);
  EXPECT_EQ(progress.total, 8);
  EXPECT_EQ(progress.in_flight, 7);
}

TEST(FormatThousandsTest, GroupsByThree) {
  EXPECT_EQ(FormatThousands(0), "0");
  EXPECT_EQ(FormatThousands(999), "999");
  EXPECT_EQ(FormatThousands(1000), "1,000");
  EXPECT_EQ(FormatThousands(1234567), "1,234,567");
  EXPECT_EQ(FormatThousands(-1234), "-1,234");
  EXPECT_EQ(FormatThousands(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
}

TEST(FormatEtaTest, MinutesSecondsAndHours) {
  EXPECT_EQ(FormatEta(absl::ZeroDuration()), "0:00");
  EXPECT_EQ(FormatEta(absl::Seconds(-3)), "0:00");
  EXPECT_EQ(FormatEta(absl::Seconds(22)), "0:22");
  EXPECT_EQ(FormatEta(absl::Milliseconds(21100)), "0:22");  // rounded up
  EXPECT_EQ(FormatEta(absl::Milliseconds(300)), "0:01");
  EXPECT_EQ(FormatEta(absl::Seconds(725)), "12:05");
  EXPECT_EQ(FormatEta(absl::Seconds(3723)), "1:02:03");
  EXPECT_EQ(FormatEta(absl::Hours(101)), "101:00:00");
}

TEST(FormatRateTest, OneDecimalFromOneUp) {
  EXPECT_EQ(FormatRate(35.24), "35.2 guests/s");
  EXPECT_EQ(FormatRate(1), "1.0 guests/s");
  EXPECT_EQ(FormatRate(0.25), "0.25 guests/s");
  EXPECT_EQ(FormatRate(0), "0.00 guests/s");
}

TEST(FormatProgressLineTest, TheFullLine) {
  // 1,222 succeeded + 12 failed = 1,234 done of 2,000; 766 left at 35.2/s
  // is 21.8 s.
  const BatchProgress progress = SummarizeBatch(MakeBatch(1222, 12, 0, 40, 726));
  EXPECT_EQ(FormatProgressLine(progress, 35.2),
            "[######....] 1,234/2,000 done \u00b7 12 failed \u00b7 766 in flight \u00b7 "
            "35.2 guests/s \u00b7 ETA 0:22");
}

TEST(FormatProgressLineTest, CancelledOnlyWhenSome) {
  const BatchProgress progress = SummarizeBatch(MakeBatch(5, 0, 3, 2, 0));
  EXPECT_EQ(FormatProgressLine(progress, std::nullopt, 0),
            "8/10 done \u00b7 0 failed \u00b7 3 cancelled \u00b7 2 in flight");
}

TEST(FormatProgressLineTest, NoRateNoEtaAndAStalledRate) {
  const BatchProgress progress = SummarizeBatch(MakeBatch(0, 0, 0, 4, 0));
  EXPECT_EQ(FormatProgressLine(progress, std::nullopt, 4),
            "[....] 0/4 done \u00b7 0 failed \u00b7 4 in flight");
  EXPECT_EQ(FormatProgressLine(progress, 0.0, 4),
            "[....] 0/4 done \u00b7 0 failed \u00b7 4 in flight \u00b7 0.00 guests/s \u00b7 ETA -");
}

TEST(FormatProgressLineTest, DoneHasAFullBarAndNoEta) {
  const BatchProgress progress = SummarizeBatch(MakeBatch(3, 1, 0, 0, 0));
  EXPECT_EQ(FormatProgressLine(progress, 2.0, 4),
            "[####] 4/4 done \u00b7 1 failed \u00b7 0 in flight \u00b7 2.0 guests/s");
}

TEST(FormatProgressLineTest, TotalIsOpenWhileTheFileIsRead) {
  v1::Batch batch = MakeBatch(1, 0, 0, 1, 0);
  batch.set_input_complete(false);
  EXPECT_THAT(FormatProgressLine(SummarizeBatch(batch), std::nullopt, 2),
              HasSubstr("[#.] 1/2+ done"));
  EXPECT_EQ(FormatProgressLine(SummarizeBatch(v1::Batch()), std::nullopt, 3),
            "[...] 0/0+ done \u00b7 0 failed \u00b7 0 in flight");
}

TEST(RateMeterTest, NeedsOneSecondOfSamples) {
  RateMeter meter;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(meter.Rate(), std::nullopt);
  meter.Add(t0, 0);
  EXPECT_EQ(meter.Rate(), std::nullopt);
  meter.Add(t0 + absl::Milliseconds(500), 10);
  EXPECT_EQ(meter.Rate(), std::nullopt);
  meter.Add(t0 + absl::Seconds(2), 20);
  EXPECT_DOUBLE_EQ(meter.Rate().value(), 10.0);
}

TEST(RateMeterTest, MeasuresOverTheLastWindow) {
  RateMeter meter(absl::Seconds(10));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  // Fast at first (10/s), then slow (1/s): the window forgets the start.
  for (int s = 0; s <= 10; ++s) meter.Add(t0 + absl::Seconds(s), s * 10);
  EXPECT_DOUBLE_EQ(meter.Rate().value(), 10.0);
  for (int s = 11; s <= 30; ++s) meter.Add(t0 + absl::Seconds(s), 100 + (s - 10));
  EXPECT_DOUBLE_EQ(meter.Rate().value(), 1.0);
}

TEST(RateMeterTest, AStallSpansTheOldSample) {
  RateMeter meter(absl::Seconds(10));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  meter.Add(t0, 0);
  meter.Add(t0 + absl::Seconds(1), 30);
  // Nothing for 59 s, then one more: 1 in the last 59 s.
  meter.Add(t0 + absl::Seconds(60), 31);
  EXPECT_NEAR(meter.Rate().value(), 1.0 / 59.0, 1e-9);
  // Time going backwards is ignored.
  meter.Add(t0, 1000);
  EXPECT_NEAR(meter.Rate().value(), 1.0 / 59.0, 1e-9);
}

class FakeClock {
 public:
  absl::Time Now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1795860245);
};

TEST(ProgressPrinterTest, PlainLinesAtMostEveryTwoSecondsAndAFinalOne) {
  std::ostringstream out;
  FakeClock clock;
  ProgressPrinter printer(&out, ProgressPrinter::Options{}, [&clock] { return clock.Now(); });

  printer.Update(MakeBatch(0, 0, 0, 10, 0));  // printed: the first one
  clock.Advance(absl::Milliseconds(500));
  printer.Update(MakeBatch(1, 0, 0, 9, 0));  // 0.5 s: skipped
  clock.Advance(absl::Milliseconds(1400));
  printer.Update(MakeBatch(2, 0, 0, 8, 0));  // 1.9 s: skipped
  clock.Advance(absl::Milliseconds(100));
  printer.Update(MakeBatch(4, 0, 0, 6, 0));  // 2.0 s: printed
  clock.Advance(absl::Seconds(1));
  printer.Update(MakeBatch(6, 0, 0, 4, 0));  // 1 s after: skipped
  clock.Advance(absl::Seconds(1));
  printer.Finish(MakeBatch(9, 1, 0, 0, 0));  // always printed

  // No bar off a terminal; the rate is the meter's: 4 in 2 s, then 10 in 4 s.
  EXPECT_THAT(Lines(out.str()),
              ElementsAre("0/10 done \u00b7 0 failed \u00b7 10 in flight",
                          "4/10 done \u00b7 0 failed \u00b7 6 in flight \u00b7 2.0 guests/s "
                          "\u00b7 ETA 0:03",
                          "10/10 done \u00b7 1 failed \u00b7 0 in flight \u00b7 2.5 guests/s"));
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(ProgressPrinterTest, PlainFinishDoesNotRepeatTheLastLine) {
  std::ostringstream out;
  FakeClock clock;
  ProgressPrinter printer(&out, ProgressPrinter::Options{}, [&clock] { return clock.Now(); });
  printer.Update(MakeBatch(3, 0, 0, 0, 0));
  printer.Finish(MakeBatch(3, 0, 0, 0, 0));
  EXPECT_EQ(Lines(out.str()).size(), 1u);
}

TEST(ProgressPrinterTest, UsesTheBatchRateUntilItMeasuresOne) {
  std::ostringstream out;
  FakeClock clock;
  ProgressPrinter printer(&out, ProgressPrinter::Options{}, [&clock] { return clock.Now(); });
  v1::Batch batch = MakeBatch(5, 0, 0, 10, 0);
  batch.set_guests_per_second(2.5);
  printer.Update(batch);
  EXPECT_EQ(out.str(),
            "5/15 done \u00b7 0 failed \u00b7 10 in flight \u00b7 2.5 guests/s \u00b7 ETA 0:04\n");
}

TEST(ProgressPrinterTest, TerminalRedrawsInPlace) {
  std::ostringstream out;
  FakeClock clock;
  ProgressPrinter::Options options;
  options.terminal = true;
  options.bar_width = 4;
  ProgressPrinter printer(&out, options, [&clock] { return clock.Now(); });

  printer.Update(MakeBatch(0, 0, 0, 0, 12));
  clock.Advance(absl::Milliseconds(50));
  printer.Update(MakeBatch(1, 0, 0, 0, 11));  // within 100 ms: not drawn
  clock.Advance(absl::Milliseconds(50));
  printer.Update(MakeBatch(1, 0, 0, 0, 2));  // a shorter line: padded
  clock.Advance(absl::Seconds(1));
  printer.Finish(MakeBatch(3, 0, 0, 0, 0));

  const std::string first = "[....] 0/12 done \u00b7 0 failed \u00b7 12 in flight";
  const std::string second = "[#...] 1/3 done \u00b7 0 failed \u00b7 2 in flight";
  const std::string last = "[####] 3/3 done \u00b7 0 failed \u00b7 0 in flight \u00b7 2.7 guests/s";
  EXPECT_EQ(out.str(), "\r" + first + "\r" + second + "  " + "\r" + last + "\n");
}

TEST(ProgressPrinterTest, TerminalLineIsCutToTheColumnsAndBreaksForMessages) {
  std::ostringstream out;
  FakeClock clock;
  ProgressPrinter::Options options;
  options.terminal = true;
  options.bar_width = 4;
  options.max_columns = 10;
  ProgressPrinter printer(&out, options, [&clock] { return clock.Now(); });
  printer.Update(MakeBatch(0, 0, 0, 0, 12));
  printer.BreakLine();
  printer.BreakLine();  // nothing drawn: no second newline
  EXPECT_EQ(out.str(), "\r[....] 0/1\n");
}

}  // namespace
}  // namespace guestflow::cli
