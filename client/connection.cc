#include "client/connection.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_interceptor.h"
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

namespace {

// Adds the caller's token to every call's metadata. An interceptor rather
// than call credentials: gRPC sends call credentials over TLS only, and a
// development server may be plain text (loopback).
class BearerTokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;  // owned by the factory, which the channel keeps
};

class BearerTokenFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(const std::string& token) : header_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is not a PEM file"));
  }
  return buffer.str();
}

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::perms perms = std::filesystem::status(path, ec).permissions();
  if (!ec && (perms & (std::filesystem::perms::others_read |
                       std::filesystem::perms::others_write)) != std::filesystem::perms::none) {
    return absl::PermissionDeniedError(absl::StrCat(
        "--token-file: ", path, " is readable or writable by others (chmod o-rwx ", path, ")"));
  }
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::NotFoundError(absl::StrCat("--token-file: cannot read ", path));
  }
  const std::string token(absl::StripAsciiWhitespace(line));
  if (token.empty()) return absl::NotFoundError(absl::StrCat("--token-file: ", path, " is empty"));
  return token;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(RetryServiceConfigJson());
  args.SetUserAgentPrefix(absl::StrCat("guestflow-cli/", GUESTFLOW_VERSION));
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.plaintext) {
    if (!options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty()) {
      return absl::InvalidArgumentError(
          "--plaintext: no TLS, so --tls-ca, --tls-cert and --tls-key do not apply");
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    if (options.cert_file.empty() != options.key_file.empty()) {
      return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
    }
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadPem("--tls-ca", options.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadPem("--tls-cert", options.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPem("--tls-key", options.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.server_name.empty()) {
      args.SetSslTargetNameOverride(options.server_name);
    }
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!options.token.empty()) {
    interceptors.push_back(std::make_unique<BearerTokenFactory>(options.token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(options.server, credentials, args,
                                                                 std::move(interceptors));
}

}  // namespace guestflow::cli
