#include "client/connection.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "guestflow/v1/admin_service.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace guestflow::cli {
namespace {

using ::testing::HasSubstr;

MATCHER_P2(StatusIs, code, message_matcher, "") {
  return arg.code() == code && ::testing::ExplainMatchResult(
                                   message_matcher, std::string(arg.message()), result_listener);
}

MATCHER_P(IsOkAndHolds, value, "") { return arg.ok() && *arg == value; }

// Files in a fresh temp folder, removed at the end.
class TempFiles {
 public:
  TempFiles() {
    char tmpl[] = "/tmp/gf-connection-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~TempFiles() { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) const {
    const std::string path = Path(name);
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }

 private:
  std::string dir_;
};

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
  for (bool plaintext : {true, false}) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        Connect({.server = "127.0.0.1:1", .plaintext = plaintext});
    ASSERT_TRUE(channel.ok()) << channel.status();
    EXPECT_EQ((*channel)->GetState(/*try_to_connect=*/false), GRPC_CHANNEL_IDLE);
  }
}

// Records the authorization metadata of each call.
class RecordingAdmin final : public v1::AdminService::Service {
 public:
  grpc::Status ListTenants(grpc::ServerContext* context, const v1::ListTenantsRequest*,
                           v1::ListTenantsResponse*) override {
    auto it = context->client_metadata().find("authorization");
    seen.push_back(it == context->client_metadata().end()
                       ? "<none>"
                       : std::string(it->second.data(), it->second.size()));
    return grpc::Status::OK;
  }
  std::vector<std::string> seen;
};

TEST(ConnectTest, SendsTheTokenAsABearerCredentialOnEveryCall) {
  RecordingAdmin service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  for (const std::string token : {"gft_abc", ""}) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        Connect({.server = address, .plaintext = true, .token = token});
    ASSERT_TRUE(channel.ok()) << channel.status();
    auto stub = v1::AdminService::NewStub(*channel);
    for (int i = 0; i < 2; ++i) {
      grpc::ClientContext context;
      v1::ListTenantsResponse response;
      ASSERT_TRUE(stub->ListTenants(&context, {}, &response).ok());
    }
  }
  EXPECT_THAT(service.seen,
              ::testing::ElementsAre("Bearer gft_abc", "Bearer gft_abc", "<none>", "<none>"));
  server->Shutdown();
}

TEST(ConnectTest, RefusesTlsFilesItCannotUse) {
  TempFiles files;
  const std::string not_pem = files.Write("not.pem", "hello\n", 0600);
  EXPECT_THAT(Connect({.server = "x:1", .ca_file = files.Path("missing.pem")}).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--tls-ca: cannot read")));
  EXPECT_THAT(Connect({.server = "x:1", .ca_file = not_pem}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a PEM file")));
  EXPECT_THAT(Connect({.server = "x:1", .cert_file = not_pem}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--tls-cert and --tls-key go together")));
  EXPECT_THAT(Connect({.server = "x:1", .plaintext = true, .ca_file = not_pem}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--plaintext: no TLS")));
}

TEST(ReadTokenFileTest, ReadsTheFirstLineOfAPrivateFile) {
  TempFiles files;
  EXPECT_THAT(ReadTokenFile(files.Write("token", "  gft_xyz \nignored\n", 0600)),
              IsOkAndHolds("gft_xyz"));
  EXPECT_THAT(ReadTokenFile(files.Write("group", "gft_xyz\n", 0640)), IsOkAndHolds("gft_xyz"));
  EXPECT_THAT(ReadTokenFile(files.Write("shared", "gft_xyz\n", 0644)).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("chmod o-rwx")));
  EXPECT_THAT(ReadTokenFile(files.Write("empty", "\n", 0600)).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("is empty")));
  EXPECT_THAT(ReadTokenFile(files.Path("missing")).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot read")));
}

}  // namespace
}  // namespace guestflow::cli
