#include "client/rpc_error.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

using ::testing::HasSubstr;

TEST(GrpcCodeNameTest, CanonicalNames) {
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  // A code no name is known for. grpc::StatusCode has no fixed underlying
  // type, so only values its enumerators' bits can hold (-32..31) are valid:
  // 99 would be undefined behaviour before the call.
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(20)), "CODE_20");
}

TEST(FormatRpcErrorTest, CodeNameThenMessage) {
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::NOT_FOUND, "no onboardings/x"), "h:1",
                           absl::Seconds(30)),
            "error: NOT_FOUND: no onboardings/x");
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::INTERNAL, ""), "h:1", absl::Seconds(1)),
            "error: INTERNAL");
}

TEST(FormatRpcErrorTest, UnavailableNamesTheServer) {
  const std::string text = FormatRpcError(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses"),
      "10.0.0.7:50051", absl::Seconds(30));
  EXPECT_THAT(text, HasSubstr("error: UNAVAILABLE: "));
  EXPECT_THAT(text, HasSubstr("10.0.0.7:50051"));
  EXPECT_THAT(text, HasSubstr("failed to connect to all addresses"));
}

TEST(FormatRpcErrorTest, DeadlineNamesTheWaitUnlessInfinite) {
  const grpc::Status status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  EXPECT_EQ(FormatRpcError(status, "h:1", absl::Seconds(30)),
            "error: DEADLINE_EXCEEDED: Deadline Exceeded (no answer from h:1 within 30s; raise "
            "--timeout)");
  EXPECT_EQ(FormatRpcError(status, "h:1", absl::InfiniteDuration()),
            "error: DEADLINE_EXCEEDED: Deadline Exceeded");
}

}  // namespace
}  // namespace guestflow::cli
