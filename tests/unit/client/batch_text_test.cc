#include "client/batch_text.h"

#include <cstdint>
#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "test_values.h"

namespace guestflow::cli {
namespace {

using ::guestflow::cli::testing::Refused;

TEST(RenderBatchTest, CountsInStateOrder) {
  v1::Batch batch;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        name: "batches/b1"
        tenant: "contoso"
        request_id: "r-9"
        rows_total: 12
        rows_invalid: 2
        counts { key: "ONBOARDING_STATE_SUCCEEDED" value: 7 }
        counts { key: "ONBOARDING_STATE_QUEUED" value: 3 }
        counts { key: "SOMETHING_NEW" value: 1 }
        create_time { seconds: 1795860245 }
        guests_per_second: 1.5
      )pb",
      &batch));
  EXPECT_EQ(RenderBatch(batch),
            "name:       batches/b1\n"
            "tenant:     contoso\n"
            "request id: r-9\n"
            "rows:       12 read, 2 invalid\n"
            "states:     QUEUED 3, SUCCEEDED 7, SOMETHING_NEW 1\n"
            "created:    2026-11-28T10:04:05Z\n"
            "finished:   -\n"
            "rate:       1.50 guests/s\n");
}

TEST(RenderBatchTest, EmptyBatch) {
  EXPECT_EQ(RenderBatch(v1::Batch()),
            "name:       -\n"
            "tenant:     -\n"
            "request id: -\n"
            "rows:       0 read, 0 invalid\n"
            "states:     -\n"
            "created:    -\n"
            "finished:   -\n");
}

TEST(RenderRefusedRowTest, LineEmailReasonOnOneLine) {
  EXPECT_EQ(RenderRefusedRow(Refused(7, "bob@example.com", "UsageLocation: use GB")),
            "line 7  bob@example.com  UsageLocation: use GB");
  EXPECT_EQ(RenderRefusedRow(Refused(8, "", "two\nlines")), "line 8  -  two lines");
}

TEST(RenderRefusedRowsTest, LimitAndHowManyMore) {
  v1::Batch batch;
  batch.set_rows_invalid(1500);
  for (int line = 2; line < 5; ++line) *batch.add_rejected() = Refused(line, "a@x", "bad");
  EXPECT_EQ(RenderRefusedRows(batch, 2, ", see --report"),
            "line 2  a@x  bad\nline 3  a@x  bad\n... and 1,498 more, see --report\n");
  batch.set_rows_invalid(3);
  EXPECT_EQ(RenderRefusedRows(batch, 10, "!"),
            "line 2  a@x  bad\nline 3  a@x  bad\nline 4  a@x  bad\n");
  EXPECT_EQ(RenderRefusedRows(v1::Batch(), 10, "!"), "");
}

TEST(RenderDryRunVerdictTest, CountsThenRows) {
  v1::Batch batch;
  batch.set_rows_total(12345);
  batch.set_rows_invalid(1);
  *batch.add_rejected() = Refused(4, "x", "InvitedUserEmailAddress: no @");
  EXPECT_EQ(RenderDryRunVerdict(batch),
            "dry run: nothing was started\n"
            "rows read:    12,345\n"
            "rows refused: 1\n"
            "line 4  x  InvitedUserEmailAddress: no @\n");
}

TEST(RenderBatchOutcomeTest, DurationAndNonZeroCounts) {
  v1::Batch batch;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        name: "batches/b1"
        rows_total: 2000
        rows_invalid: 35
        counts { key: "ONBOARDING_STATE_SUCCEEDED" value: 1950 }
        counts { key: "ONBOARDING_STATE_FAILED" value: 12 }
        counts { key: "ONBOARDING_STATE_CANCELLED" value: 3 }
        create_time { seconds: 1795860245 }
        finish_time { seconds: 1795860490 }
        done: true
      )pb",
      &batch));
  EXPECT_EQ(RenderBatchOutcome(batch),
            "batches/b1 done in 4m05s: 1,950 succeeded, 12 failed, 3 cancelled, 35 refused");
  batch.clear_finish_time();
  batch.set_done(false);
  (*batch.mutable_counts())["ONBOARDING_STATE_RUNNING"] = 5;
  batch.set_rows_total(2005);
  EXPECT_EQ(
      RenderBatchOutcome(batch),
      "batches/b1 not done: 1,950 succeeded, 12 failed, 3 cancelled, 5 in flight, 35 refused");
}

}  // namespace
}  // namespace guestflow::cli
