#include "client/batch_text.h"

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

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

}  // namespace
}  // namespace guestflow::cli
