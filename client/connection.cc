#include "client/connection.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "nlohmann/json.hpp"

#ifndef GUESTFLOW_VERSION
#define GUESTFLOW_VERSION "0.0.0"
#endif

namespace guestflow::cli {

std::string RetryServiceConfigJson() {
  nlohmann::json names = nlohmann::json::array();
  const auto add = [&names](const char* service, const char* method) {
    names.push_back({{"service", absl::StrCat("guestflow.v1.", service)}, {"method", method}});
  };
  for (const char* method : {"StartOnboarding", "GetOnboarding", "ListOnboardings",
                             "WatchOnboarding", "ListCloudCalls"}) {
    add("OnboardingService", method);
  }
  for (const char* method : {"GetBatch", "WatchBatch", "ListBatchItems"}) {
    add("BatchService", method);
  }
  for (const char* method : {"ListTenants", "ListPlugins", "CheckTenant"}) {
    add("AdminService", method);
  }
  nlohmann::json method_config = {
      {"name", names},
      {"retryPolicy",
       {{"maxAttempts", 4},
        {"initialBackoff", "0.2s"},
        {"maxBackoff", "2s"},
        {"backoffMultiplier", 2},
        {"retryableStatusCodes", nlohmann::json::array({"UNAVAILABLE"})}}}};
  nlohmann::json config = nlohmann::json::object();
  config["methodConfig"] = nlohmann::json::array({method_config});
  return config.dump();
}

std::shared_ptr<grpc::Channel> Connect(const std::string& server) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(RetryServiceConfigJson());
  args.SetUserAgentPrefix(absl::StrCat("guestflow-cli/", GUESTFLOW_VERSION));
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

}  // namespace guestflow::cli
