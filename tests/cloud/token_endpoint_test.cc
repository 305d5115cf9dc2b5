// The host's OAuth2 token provider (with the real libcurl client) against the
// emulator's real token endpoint: tokens that the emulated services accept,
// one token request for many callers, each AADSTS failure turned into a
// permanent error that names the tenant, client and scope and says what to
// fix, and the endpoint's 503 + Retry-After honoured. No secret or token in
// any log line.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/http/curl_http_client.h"
#include "server/http/oauth2_token_provider.h"
#include "tests/cloud/cloud_test_env.h"

namespace guestflow {
namespace {

using ::guestflow::cloudtest::CloudTestEnv;
using ::guestflow::cloudtest::kContosoClientId;
using ::guestflow::cloudtest::kContosoDirectory;
using ::guestflow::cloudtest::kContosoSecret;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGraphScope[] = "https://graph.microsoft.com/.default";

class TokenEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpConfig config;
    config.request_timeout = absl::Seconds(10);
    auto http = CurlHttpClient::Create(config);
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
    provider_ = std::make_unique<OAuth2TokenProvider>(http_.get(), Clock::Real());
  }

  TokenRequest Request(const std::string& scope = kGraphScope) const {
    TokenRequest r;
    r.authority_url = env_.base_url();
    r.directory = kContosoDirectory;
    r.client_id = kContosoClientId;
    r.client_secret = kContosoSecret;
    r.scope = scope;
    return r;
  }

  // The token requests in the journal so far. The emulator journals a
  // request after its answer is written, so the count is read until it holds
  // still for 50 ms.
  int TokenRequests() const {
    auto count = [this] {
      int n = 0;
      for (const auto& entry : env_.GetJson("/_emulator/journal")) {
        n += entry.value("service", "") == "token" ? 1 : 0;
      }
      return n;
    };
    int last = count();
    for (int i = 0; i < 40; ++i) {
      absl::SleepFor(absl::Milliseconds(50));
      const int now = count();
      if (now == last) return now;
      last = now;
    }
    return last;
  }

  int Get(const std::string& path, const std::string& token) const {
    httplib::Client client(env_.base_url());
    client.set_bearer_token_auth(token.c_str());
    auto res = client.Get(path.c_str());
    return res ? res->status : 0;
  }

  CloudTestEnv env_;
  std::unique_ptr<CurlHttpClient> http_;
  std::unique_ptr<OAuth2TokenProvider> provider_;
};

TEST_F(TokenEndpointTest, TokensAreAcceptedByTheirServices) {
  auto graph = provider_->GetToken(Request());
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ(Get("/v1.0/users", *graph), 200);

  auto dataverse =
      provider_->GetToken(Request(absl::StrCat(env_.base_url(), "/orgs/contoso/.default")));
  ASSERT_TRUE(dataverse.ok()) << dataverse.status();
  EXPECT_EQ(Get("/orgs/contoso/api/data/v9.2/WhoAmI", *dataverse), 200);
  EXPECT_EQ(Get("/v1.0/users", *dataverse), 401) << "a Dataverse token is not a Graph token";

  auto admin = provider_->GetToken(Request("https://service.powerapps.com/.default"));
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_NE(*admin, *graph);
  EXPECT_EQ(TokenRequests(), 3);
}

TEST_F(TokenEndpointTest, ManyCallersOneTokenRequest) {
  std::vector<std::string> tokens(8);
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto token = provider_->GetToken(Request());
        if (!token.ok()) return;
        if (tokens[t].empty()) tokens[t] = *token;
        if (tokens[t] != *token) tokens[t] = "changed";
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& token : tokens) {
    EXPECT_FALSE(token.empty());
    EXPECT_EQ(token, tokens[0]);
  }
  EXPECT_EQ(TokenRequests(), 1) << "200 calls from 8 threads, one token request";
}

TEST_F(TokenEndpointTest, WrongSecretIsAPermanentErrorSayingWhatToFix) {
  TokenRequest r = Request();
  r.client_secret = "wrong-secret-value-42";
  auto token = provider_->GetToken(r);
  ASSERT_EQ(token.status().code(), absl::StatusCode::kPermissionDenied) << token.status();
  EXPECT_TRUE(IsPermanentTokenError(token.status()));
  EXPECT_THAT(
      token.status().message(),
      AllOf(HasSubstr(kContosoClientId), HasSubstr(kContosoDirectory), HasSubstr(kGraphScope),
            HasSubstr("AADSTS7000215"), HasSubstr("fix: "), HasSubstr("Certificates & secrets"),
            Not(HasSubstr("wrong-secret-value-42")), Not(HasSubstr("Trace ID"))));
}

TEST_F(TokenEndpointTest, UnknownClientIsAPermanentErrorSayingWhatToFix) {
  TokenRequest r = Request();
  r.client_id = "11111111-2222-3333-4444-555555555555";
  auto token = provider_->GetToken(r);
  ASSERT_EQ(token.status().code(), absl::StatusCode::kPermissionDenied) << token.status();
  EXPECT_THAT(token.status().message(),
              AllOf(HasSubstr("11111111-2222-3333-4444-555555555555"), HasSubstr(kContosoDirectory),
                    HasSubstr("AADSTS700016"), HasSubstr("fix: "), HasSubstr("azure.client_id")));
}

TEST_F(TokenEndpointTest, UnknownResourceIsAPermanentErrorSayingWhatToFix) {
  const std::string scope = "https://nosuchorg.crm.dynamics.com/.default";
  auto token = provider_->GetToken(Request(scope));
  ASSERT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition) << token.status();
  EXPECT_TRUE(IsPermanentTokenError(token.status()));
  EXPECT_THAT(
      token.status().message(),
      AllOf(HasSubstr(scope), HasSubstr(kContosoClientId), HasSubstr(kContosoDirectory),
            HasSubstr("AADSTS500011"), HasSubstr("fix: "), HasSubstr("dynamics.instance_url")));
}

TEST_F(TokenEndpointTest, InvalidScopeIsAPermanentErrorSayingWhatToFix) {
  const std::string scope = "https://graph.microsoft.com/User.Read";
  auto token = provider_->GetToken(Request(scope));
  ASSERT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition) << token.status();
  EXPECT_THAT(token.status().message(),
              AllOf(HasSubstr(scope), HasSubstr("invalid_scope"), HasSubstr("AADSTS"),
                    HasSubstr("fix: "), HasSubstr("/.default")));
}

TEST_F(TokenEndpointTest, UnknownDirectoryIsAPermanentErrorSayingWhatToFix) {
  TokenRequest r = Request();
  r.directory = "nosuchtenant.onmicrosoft.com";
  auto token = provider_->GetToken(r);
  ASSERT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition) << token.status();
  EXPECT_THAT(token.status().message(),
              AllOf(HasSubstr("nosuchtenant.onmicrosoft.com"), HasSubstr("AADSTS90002"),
                    HasSubstr("fix: "), HasSubstr("azure.tenant_id")));
}

TEST_F(TokenEndpointTest, UnavailableEndpointIsRetryableAndItsRetryAfterHonoured) {
  env_.SetKnobs({{"error_rate", 1.0}});
  // Half of the emulator's 503s carry Retry-After: 1. Each attempt uses a
  // fresh provider, which has no Retry-After of its own yet.
  absl::Status with_retry_after;
  std::unique_ptr<OAuth2TokenProvider> provider;
  for (int i = 0; i < 40 && with_retry_after.ok(); ++i) {
    provider = std::make_unique<OAuth2TokenProvider>(http_.get(), Clock::Real());
    auto token = provider->GetToken(Request());
    ASSERT_EQ(token.status().code(), absl::StatusCode::kUnavailable) << token.status();
    EXPECT_FALSE(IsPermanentTokenError(token.status()));
    EXPECT_THAT(token.status().message(), HasSubstr("AADSTS90033"));
    if (TokenRetryAfter(token.status()).has_value()) with_retry_after = token.status();
  }
  ASSERT_FALSE(with_retry_after.ok()) << "no 503 with Retry-After in 40 tries";
  EXPECT_EQ(TokenRetryAfter(with_retry_after), absl::Seconds(1));

  // Within the second, the provider does not ask again.
  env_.SetKnobs({{"error_rate", 0}});
  const int before = TokenRequests();
  auto cooling = provider->GetToken(Request());
  EXPECT_EQ(cooling.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(TokenRequests(), before);
  absl::SleepFor(absl::Seconds(1));
  auto token = provider->GetToken(Request());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(TokenRequests(), before + 1);
}

TEST_F(TokenEndpointTest, NoSecretOrTokenInTheLog) {
  InitLogging(LogLevel::kDebug, "text");
  ::testing::internal::CaptureStderr();
  auto token = provider_->GetToken(Request());
  TokenRequest wrong = Request();
  wrong.client_secret = "another-wrong-secret-77";
  // A provider of its own: the cache key has no secret in it.
  OAuth2TokenProvider fresh(http_.get(), Clock::Real());
  auto refused = fresh.GetToken(wrong);
  const std::string log = ::testing::internal::GetCapturedStderr();
  InitLogging(LogLevel::kInfo, "text");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(log, AllOf(HasSubstr("token fetched"), HasSubstr("token request failed"),
                         HasSubstr("AADSTS7000215")));
  EXPECT_THAT(log, AllOf(Not(HasSubstr(kContosoSecret)), Not(HasSubstr(*token)),
                         Not(HasSubstr("another-wrong-secret-77"))));
  // The emulator's journal redacts the secret too.
  EXPECT_THAT(env_.GetJson("/_emulator/journal").dump(),
              AllOf(Not(HasSubstr(kContosoSecret)), Not(HasSubstr("another-wrong-secret-77"))));
}

}  // namespace
}  // namespace guestflow
