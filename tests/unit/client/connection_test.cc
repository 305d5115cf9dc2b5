#include "client/connection.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace guestflow::cli {
namespace {

std::set<std::string> RetriedMethods() {
  const nlohmann::json config = nlohmann::json::parse(RetryServiceConfigJson());
  std::set<std::string> methods;
  for (const auto& method_config : config.at("methodConfig")) {
    for (const auto& name : method_config.at("name")) {
      methods.insert(name.at("service").get<std::string>() + "/" +
                     name.at("method").get<std::string>());
    }
  }
  return methods;
}

TEST(RetryServiceConfigTest, RetriesOnlyUnavailableWithABoundedPolicy) {
  const nlohmann::json config = nlohmann::json::parse(RetryServiceConfigJson());
  ASSERT_TRUE(config.at("methodConfig").is_array());
  for (const auto& method_config : config.at("methodConfig")) {
    const auto& policy = method_config.at("retryPolicy");
    EXPECT_EQ(policy.at("retryableStatusCodes"), nlohmann::json::array({"UNAVAILABLE"}));
    EXPECT_LE(policy.at("maxAttempts").get<int>(), 5);  // gRPC caps it at 5 anyway
    EXPECT_GE(policy.at("maxAttempts").get<int>(), 2);
  }
}

TEST(RetryServiceConfigTest, RetriesIdempotentCallsOnly) {
  const std::set<std::string> methods = RetriedMethods();
  EXPECT_TRUE(methods.count("guestflow.v1.OnboardingService/StartOnboarding"));
  EXPECT_TRUE(methods.count("guestflow.v1.OnboardingService/GetOnboarding"));
  EXPECT_TRUE(methods.count("guestflow.v1.OnboardingService/ListCloudCalls"));
  EXPECT_TRUE(methods.count("guestflow.v1.AdminService/CheckTenant"));
  // A second Cancel or Retry would answer FAILED_PRECONDITION for the first
  // one's success; an upload is not buffered for replay.
  EXPECT_FALSE(methods.count("guestflow.v1.OnboardingService/CancelOnboarding"));
  EXPECT_FALSE(methods.count("guestflow.v1.OnboardingService/RetryOnboarding"));
  EXPECT_FALSE(methods.count("guestflow.v1.BatchService/CreateBatch"));
  EXPECT_FALSE(methods.count("guestflow.v1.AdminService/ReloadConfig"));
}

TEST(ConnectTest, ChannelAcceptsTheServiceConfig) {
  // An invalid service config puts the channel in TRANSIENT_FAILURE for good;
  // a valid one leaves it IDLE until the first call.
  auto channel = Connect("127.0.0.1:1");
  EXPECT_EQ(channel->GetState(/*try_to_connect=*/false), GRPC_CHANNEL_IDLE);
}

}  // namespace
}  // namespace guestflow::cli
