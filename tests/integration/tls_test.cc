// guestflowd over TLS: the certificate it serves, client certificates as
// caller identities, certificate files re-read on change without a restart,
// the CLI's TLS flags, and the configurations it refuses to start with.
// Certificates come from tests/support/make-test-certs (openssl).
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/connection.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "guestflow/v1/admin_service.grpc.pb.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"
#include "tests/integration/rpc_helpers.h"
#include "tests/integration/server_process.h"
#include "tests/support/test_callers.h"

namespace guestflow {
namespace {

using ::grpc::StatusCode;
using ::guestflow::itest::Deadline;
using ::guestflow::itest::ReadFile;
using ::guestflow::itest::RunResult;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using ::testing::HasSubstr;

// {tls} is the server.tls map; {certs} the certificates' folder.
constexpr char kConfig[] = R"(server:
  listen: 127.0.0.1:0
  tls: {tls}
  plugin_dir: {plugin_dir}
  plugins: [fake_invite.so, fake_license.so, fake_role.so, fake_notifier.so]
store:
  sqlite: {path: {dir}/guestflow.db}
tenants:
  - id: contoso
    azure: {tenant_id: contoso.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://contoso.crm.dynamics.com}
    onboarding: {default_roles: [Salesperson]}
    plugins:
      invite: {name: fake_invite}
      license: {name: fake_license}
      role: {name: fake_role}
      notifier: {name: fake_notifier}
{callers}
  - name: auditor
    role: reader
    tenants: [contoso]
    client_cert_names: [audit.example]
)";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const RunResult made = itest::Run({MAKE_TEST_CERTS, certs()});
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }

  std::string certs() const { return dir_.File("certs"); }
  std::string Cert(const std::string& name) const { return absl::StrCat(certs(), "/", name); }

  std::string Config(const std::string& tls) const {
    return absl::StrReplaceAll(kConfig, {{"{tls}", tls},
                                         {"{plugin_dir}", PLUGIN_DIR},
                                         {"{dir}", dir_.path()},
                                         {"{callers}", test_callers::kCallersYaml}});
  }

  // The server's files are its own copies, so that a test can rotate them.
  std::string ServerTls(const std::string& extra = "") {
    std::filesystem::copy_file(Cert("server1.crt"), dir_.File("server.crt"),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(Cert("server1.key"), dir_.File("server.key"),
                               std::filesystem::copy_options::overwrite_existing);
    return absl::StrCat("{cert_file: ", dir_.File("server.crt"),
                        ", key_file: ", dir_.File("server.key"), extra, "}");
  }

  bool Start(const std::string& tls) {
    WriteFile(dir_.File("guestflowd.yaml"), Config(tls));
    server_ =
        std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("guestflowd.log"));
    return server_->Start();
  }

  // A TLS channel trusting `ca`, optionally with a client certificate and a
  // token; `localhost` is the name the server's certificate carries.
  std::shared_ptr<grpc::Channel> Channel(const std::string& ca, const std::string& client = "",
                                         const std::string& token = "") const {
    cli::ConnectionOptions options;
    options.server = absl::StrCat("localhost:", server_->port());
    options.ca_file = Cert(ca);
    if (!client.empty()) {
      options.cert_file = Cert(client + ".crt");
      options.key_file = Cert(client + ".key");
    }
    options.token = token;
    return *cli::Connect(options);
  }

  static grpc::Status ListTenants(const std::shared_ptr<grpc::Channel>& channel) {
    v1::ListTenantsResponse response;
    return v1::AdminService::NewStub(channel)->ListTenants(Deadline(5).get(), {}, &response);
  }

  static grpc::Status ListOnboardings(const std::shared_ptr<grpc::Channel>& channel) {
    v1::ListOnboardingsResponse response;
    return v1::OnboardingService::NewStub(channel)->ListOnboardings(Deadline(5).get(), {},
                                                                    &response);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(TlsTest, ServesItsCertificateAndStillWantsACaller) {
  ASSERT_TRUE(Start(ServerTls())) << server_->log();
  EXPECT_THAT(server_->log(), HasSubstr("(TLS)"));
  EXPECT_THAT(server_->log(), ::testing::Not(HasSubstr("plain text")));
  EXPECT_TRUE(ListTenants(Channel("ca1.crt", "", test_callers::kAdminToken)).ok());
  // TLS is the transport, not the caller.
  EXPECT_EQ(ListTenants(Channel("ca1.crt")).error_code(), StatusCode::UNAUTHENTICATED);
  // A client that does not trust the server's CA, or speaks plain text, gets
  // nowhere.
  EXPECT_EQ(ListTenants(Channel("ca2.crt", "", test_callers::kAdminToken)).error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListTenants(server_->Channel()).error_code(), StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, AVerifiedClientCertificateIsACaller) {
  ASSERT_TRUE(Start(ServerTls(absl::StrCat(", client_ca_file: ", Cert("ca1.crt")))))
      << server_->log();
  EXPECT_THAT(server_->log(), HasSubstr("(TLS, client certificates verified)"));
  // audit.example is the reader `auditor`.
  EXPECT_TRUE(ListOnboardings(Channel("ca1.crt", "client-audit")).ok());
  const grpc::Status denied = ListTenants(Channel("ca1.crt", "client-audit"));
  EXPECT_EQ(denied.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("caller \"auditor\" (reader)"));
  // A certificate of the right CA that no caller lists.
  const grpc::Status stranger = ListOnboardings(Channel("ca1.crt", "client-stranger"));
  EXPECT_EQ(stranger.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(stranger.error_message(), HasSubstr("stranger.example"));
  // The right name from a CA the server does not trust: no handshake.
  EXPECT_EQ(ListOnboardings(Channel("ca1.crt", "client-rogue")).error_code(),
            StatusCode::UNAVAILABLE);
  // Optional: a token caller needs no certificate.
  EXPECT_TRUE(ListTenants(Channel("ca1.crt", "", test_callers::kAdminToken)).ok());
}

TEST_F(TlsTest, RequireClientCertRefusesConnectionsWithoutOne) {
  ASSERT_TRUE(Start(ServerTls(
      absl::StrCat(", client_ca_file: ", Cert("ca1.crt"), ", require_client_cert: true"))))
      << server_->log();
  EXPECT_EQ(ListTenants(Channel("ca1.crt", "", test_callers::kAdminToken)).error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_TRUE(ListOnboardings(Channel("ca1.crt", "client-audit")).ok());
}

TEST_F(TlsTest, ARenewedCertificateIsServedWithoutARestart) {
  ASSERT_TRUE(Start(ServerTls(", reload_interval: 1s"))) << server_->log();
  const pid_t pid = server_->pid();
  ASSERT_TRUE(ListTenants(Channel("ca1.crt", "", test_callers::kAdminToken)).ok());
  EXPECT_EQ(ListTenants(Channel("ca2.crt", "", test_callers::kAdminToken)).error_code(),
            StatusCode::UNAVAILABLE);

  // Rotate to a certificate of ca2: key first, then the certificate, each
  // replaced whole (rename), as a certificate manager does.
  for (const char* file : {"key", "crt"}) {
    const std::string next = dir_.File(absl::StrCat("server.", file, ".next"));
    std::filesystem::copy_file(Cert(absl::StrCat("server2.", file)), next,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(next, dir_.File(absl::StrCat("server.", file)));
  }
  bool rotated = false;
  for (int i = 0; i < 100 && !rotated; ++i) {
    rotated = ListTenants(Channel("ca2.crt", "", test_callers::kAdminToken)).ok();
    if (!rotated) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(rotated) << "the new certificate was not served within 10 s";
  EXPECT_EQ(ListTenants(Channel("ca1.crt", "", test_callers::kAdminToken)).error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->pid(), pid);
}

TEST_F(TlsTest, TheCliConnectsWithItsTlsFlagsAndATokenFile) {
  ASSERT_TRUE(Start(ServerTls(absl::StrCat(", client_ca_file: ", Cert("ca1.crt")))))
      << server_->log();
  const std::string token_file = dir_.File("token");
  WriteFile(token_file, absl::StrCat(test_callers::kAdminToken, "\n"));
  chmod(token_file.c_str(), 0600);
  const std::string server = absl::StrCat("localhost:", server_->port());
  const RunResult tenants = itest::Run({GUESTFLOW_CLI_BIN, "--server", server, "--tls-ca",
                                        Cert("ca1.crt"), "--token-file", token_file, "tenants"});
  EXPECT_EQ(tenants.exit_code, 0) << tenants.output;
  EXPECT_THAT(tenants.output, HasSubstr("contoso"));
  // The same from the environment, with a client certificate instead.
  const RunResult by_cert =
      itest::Run({GUESTFLOW_CLI_BIN, "list"}, {{"GUESTFLOW_SERVER", server},
                                               {"GUESTFLOW_TLS_CA", Cert("ca1.crt")},
                                               {"GUESTFLOW_TLS_CERT", Cert("client-audit.crt")},
                                               {"GUESTFLOW_TLS_KEY", Cert("client-audit.key")}});
  EXPECT_EQ(by_cert.exit_code, 0) << by_cert.output;
  const RunResult anonymous =
      itest::Run({GUESTFLOW_CLI_BIN, "--server", server, "--tls-ca", Cert("ca1.crt"), "tenants"});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_THAT(anonymous.output, HasSubstr("UNAUTHENTICATED"));
  chmod(token_file.c_str(), 0644);
  const RunResult shared = itest::Run({GUESTFLOW_CLI_BIN, "--server", server, "--tls-ca",
                                       Cert("ca1.crt"), "--token-file", token_file, "tenants"});
  EXPECT_EQ(shared.exit_code, 1);
  EXPECT_THAT(shared.output, HasSubstr("chmod o-rwx"));
}

TEST_F(TlsTest, RefusesToStartWithUnusableTlsFiles) {
  const auto refused = [&](const std::string& tls) -> std::string {
    if (Start(tls)) return "started";
    return server_->log();
  };
  EXPECT_THAT(refused(absl::StrCat("{cert_file: ", Cert("missing.crt"),
                                   ", key_file: ", Cert("server1.key"), "}")),
              HasSubstr("server.tls.cert_file: cannot read"));
  EXPECT_THAT(refused(absl::StrCat("{cert_file: ", Cert("server1.key"),
                                   ", key_file: ", Cert("server1.key"), "}")),
              HasSubstr("holds no PEM certificate"));
  EXPECT_THAT(refused(absl::StrCat("{cert_file: ", Cert("server1.crt"),
                                   ", key_file: ", Cert("server2.key"), "}")),
              HasSubstr("is not the key of the certificate"));
  chmod(Cert("server1.key").c_str(), 0644);
  EXPECT_THAT(refused(absl::StrCat("{cert_file: ", Cert("server1.crt"),
                                   ", key_file: ", Cert("server1.key"), "}")),
              HasSubstr("server.tls.key_file: secret file"));
  chmod(Cert("server1.key").c_str(), 0600);
  EXPECT_THAT(
      refused(absl::StrCat("{cert_file: ", Cert("server1.crt"), ", key_file: ", Cert("server1.key"),
                           ", client_ca_file: ", Cert("client-audit.key"), "}")),
      HasSubstr("server.tls.client_ca_file"));
}

TEST_F(TlsTest, RefusesPlainTextBeyondLoopbackAndAConfigWithoutCallers) {
  const std::string base = absl::StrReplaceAll(Config("{}"), {{"  tls: {}\n", ""}});
  WriteFile(
      dir_.File("guestflowd.yaml"),
      absl::StrReplaceAll(base, {{"listen: 127.0.0.1:0", "listen: 0.0.0.0:0\n  plaintext: true"}}));
  ServerProcess wide(dir_.File("guestflowd.yaml"), dir_.File("wide.log"));
  ASSERT_FALSE(wide.Start());
  EXPECT_THAT(wide.log(), HasSubstr("plain text is allowed only on a loopback address"));

  WriteFile(dir_.File("guestflowd.yaml"), base);
  ServerProcess neither(dir_.File("guestflowd.yaml"), dir_.File("neither.log"));
  ASSERT_FALSE(neither.Start());
  EXPECT_THAT(neither.log(), HasSubstr("server.tls: required"));

  const std::string no_callers = base.substr(0, base.find("\ncallers:"));
  WriteFile(dir_.File("guestflowd.yaml"),
            absl::StrReplaceAll(
                no_callers, {{"listen: 127.0.0.1:0", "listen: 127.0.0.1:0\n  plaintext: true"}}));
  ServerProcess nobody(dir_.File("guestflowd.yaml"), dir_.File("nobody.log"));
  ASSERT_FALSE(nobody.Start());
  EXPECT_THAT(nobody.log(), HasSubstr("callers: none configured"));

  // Plain text on loopback starts, and says what it is.
  WriteFile(dir_.File("guestflowd.yaml"),
            absl::StrReplaceAll(
                base, {{"listen: 127.0.0.1:0", "listen: 127.0.0.1:0\n  plaintext: true"}}));
  ServerProcess local(dir_.File("guestflowd.yaml"), dir_.File("local.log"));
  ASSERT_TRUE(local.Start()) << local.log();
  EXPECT_THAT(local.log(), HasSubstr("serving plain text (server.plaintext: true)"));
}

}  // namespace
}  // namespace guestflow
