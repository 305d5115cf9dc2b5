// OAuth2TokenProvider against a fake token endpoint on loopback, through the
// real CurlHttpClient, with an injected clock.
#include "server/http/oauth2_token_provider.h"

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/logging.h"
#include "server/http/curl_http_client.h"
#include "tests/unit/plugin_host/loopback_server.h"

namespace guestflow {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "p@ss w+rd&=/%";

std::string FormDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseForm(absl::string_view body) {
  std::map<std::string, std::string> form;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    form[FormDecode(kv.first)] = FormDecode(kv.second);
  }
  return form;
}

// What the fake endpoint answers; guarded by mu.
struct Behaviour {
  int status = 200;
  std::string body;                 // empty: a fresh token "tok-<n>"
  std::string expires_in = "3600";  // JSON literal
  int delay_ms = 0;
  std::string retry_after = "";  // Retry-After to send; 429s send "7" without one
};

class OAuth2TokenProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().Post(R"(/([^/]+)/oauth2/v2\.0/token)", [this](const httplib::Request& req,
                                                                   httplib::Response& res) {
      Behaviour b;
      {
        std::lock_guard<std::mutex> lock(mu_);
        b = behaviour_;
        last_directory_ = req.matches[1];
        last_form_ = ParseForm(req.body);
        last_content_type_ = req.get_header_value("Content-Type");
      }
      const int n = ++requests_;
      if (b.delay_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(b.delay_ms));
      }
      res.status = b.status;
      if (!b.retry_after.empty()) {
        res.set_header("Retry-After", b.retry_after);
      } else if (b.status == 429) {
        res.set_header("Retry-After", "7");
      }
      res.set_content(b.body.empty()
                          ? absl::StrCat(R"({"token_type":"Bearer","expires_in":)", b.expires_in,
                                         R"(,"access_token":"tok-)", n, R"("})")
                          : b.body,
                      "application/json");
    });
    ASSERT_TRUE(server_.Start());
    auto http = CurlHttpClient::Create(HttpConfig{});
    ASSERT_TRUE(http.ok());
    http_ = *std::move(http);
    provider_ = std::make_unique<OAuth2TokenProvider>(http_.get(), &clock_);
  }

  void Answer(Behaviour b) {
    std::lock_guard<std::mutex> lock(mu_);
    behaviour_ = std::move(b);
  }

  TokenRequest Request(std::string scope = "https://graph.microsoft.com/.default") {
    TokenRequest r;
    r.authority_url = server_.Url("");
    r.directory = "contoso.onmicrosoft.com";
    r.client_id = "app-1";
    r.client_secret = kSecret;
    r.scope = std::move(scope);
    return r;
  }

  static std::string AadError(absl::string_view error, absl::string_view aadsts) {
    return absl::StrCat(R"({"error":")", error, R"(","error_description":")", aadsts,
                        R"(: something is wrong.\r\nTrace ID: 1234\r\nCorrelation ID: 5678",)",
                        R"("error_codes":[7000215]})");
  }
  // An error whose code is only in the description, as older answers have it.
  static std::string AadErrorWithoutCodes(absl::string_view error, absl::string_view aadsts) {
    return absl::StrCat(R"({"error":")", error, R"(","error_description":")", aadsts,
                        R"(: something is wrong.\r\nTrace ID: 1234"})");
  }

  LoopbackServer server_;
  std::mutex mu_;
  Behaviour behaviour_;
  std::string last_directory_;
  std::map<std::string, std::string> last_form_;
  std::string last_content_type_;
  std::atomic<int> requests_{0};
  FakeClock clock_;
  std::unique_ptr<CurlHttpClient> http_;
  std::unique_ptr<OAuth2TokenProvider> provider_;
};

TEST_F(OAuth2TokenProviderTest, PostsClientCredentialsAndCachesTheToken) {
  auto token = provider_->GetToken(Request());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "tok-1");
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(last_directory_, "contoso.onmicrosoft.com");
    EXPECT_EQ(last_content_type_, "application/x-www-form-urlencoded");
    EXPECT_EQ(last_form_, (std::map<std::string, std::string>{
                              {"grant_type", "client_credentials"},
                              {"client_id", "app-1"},
                              {"client_secret", kSecret},
                              {"scope", "https://graph.microsoft.com/.default"}}));
  }
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  EXPECT_EQ(requests_.load(), 1);
}

TEST_F(OAuth2TokenProviderTest, TrailingSlashOnTheAuthorityIsFine) {
  TokenRequest r = Request();
  r.authority_url += "/";
  EXPECT_EQ(provider_->GetToken(r).value(), "tok-1");
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");  // same cache key
}

TEST_F(OAuth2TokenProviderTest, RefreshesFiveMinutesBeforeExpiry) {
  ASSERT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  clock_.Advance(absl::Minutes(55) - absl::Seconds(1));
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-2");
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(OAuth2TokenProviderTest, ExpiresInAsAStringIsUnderstood) {
  Answer({200, "", R"("3600")", 0});
  ASSERT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  clock_.Advance(absl::Minutes(50));
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
}

TEST_F(OAuth2TokenProviderTest, ShortLivedTokenIsNotCached) {
  Answer({200, "", "60", 0});
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-2");
}

TEST_F(OAuth2TokenProviderTest, EachScopeAndClientHasItsOwnToken) {
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  EXPECT_EQ(provider_->GetToken(Request("https://contoso.crm.dynamics.com/.default")).value(),
            "tok-2");
  TokenRequest other = Request();
  other.client_id = "app-2";
  EXPECT_EQ(provider_->GetToken(other).value(), "tok-3");
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
}

TEST_F(OAuth2TokenProviderTest, InvalidClientIsPermissionDeniedAndNotCached) {
  Answer({401, AadError("invalid_client", "AADSTS7000215")});
  auto token = provider_->GetToken(Request());
  ASSERT_EQ(token.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(
      token.status().message(),
      AllOf(HasSubstr("app-1"), HasSubstr("contoso.onmicrosoft.com"), HasSubstr("invalid_client"),
            HasSubstr("AADSTS7000215"), Not(HasSubstr("Trace ID")), Not(HasSubstr(kSecret))));
  EXPECT_TRUE(IsPermanentTokenError(token.status()));
  EXPECT_EQ(provider_->GetToken(Request()).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(OAuth2TokenProviderTest, PermanentErrorsMapToTheirCodes) {
  const struct {
    int status;
    const char* error;
    absl::StatusCode code;
  } cases[] = {
      {400, "unauthorized_client", absl::StatusCode::kPermissionDenied},
      {400, "invalid_scope", absl::StatusCode::kFailedPrecondition},
      {400, "invalid_resource", absl::StatusCode::kFailedPrecondition},
      {400, "invalid_request", absl::StatusCode::kFailedPrecondition},
      {503, "temporarily_unavailable", absl::StatusCode::kUnavailable},
  };
  for (const auto& c : cases) {
    Answer({c.status, AadError(c.error, "AADSTS70011")});
    auto token = provider_->GetToken(Request());
    EXPECT_EQ(token.status().code(), c.code) << c.error << ": " << token.status();
    EXPECT_THAT(token.status().message(), HasSubstr(c.error));
  }
}

TEST_F(OAuth2TokenProviderTest, ServerErrorsAndThrottlingAreUnavailable) {
  Answer({500, "oops"});
  auto token = provider_->GetToken(Request());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable) << token.status();
  EXPECT_FALSE(IsPermanentTokenError(token.status()));

  Answer({429, R"({"error":"too_many_requests"})"});
  token = provider_->GetToken(Request());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(token.status().message(), HasSubstr("Retry-After 7"));

  Answer({200, R"({"token_type":"Bearer"})"});
  EXPECT_EQ(provider_->GetToken(Request()).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(OAuth2TokenProviderTest, TransportFailureIsUnavailable) {
  TokenRequest r = Request();
  server_.Stop();
  auto token = provider_->GetToken(r);
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable) << token.status();
  EXPECT_THAT(token.status().message(), Not(HasSubstr(kSecret)));
}

TEST_F(OAuth2TokenProviderTest, ConcurrentCallersShareOneRefresh) {
  Answer({200, "", "3600", 300});
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<std::string>> tokens(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { tokens[i] = provider_->GetToken(Request()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(requests_.load(), 1);
  for (const auto& token : tokens) {
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(*token, "tok-1");
  }
}

TEST_F(OAuth2TokenProviderTest, ConcurrentCallersShareOneFailure) {
  Answer({503, R"({"error":"temporarily_unavailable"})", "3600", 300});
  constexpr int kThreads = 6;
  std::vector<absl::StatusOr<std::string>> tokens(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { tokens[i] = provider_->GetToken(Request()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(requests_.load(), 1);
  for (const auto& token : tokens) {
    EXPECT_EQ(token.status().code(), absl::StatusCode::kUnavailable) << token.status();
  }
}

TEST_F(OAuth2TokenProviderTest, RetryAfterIsHonouredBeforeAskingAgain) {
  Answer({429, R"({"error":"too_many_requests"})", "3600", 0, "7"});
  auto first = provider_->GetToken(Request());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(TokenRetryAfter(first.status()), absl::Seconds(7));
  EXPECT_FALSE(IsPermanentTokenError(first.status()));

  Answer({});  // the authority would answer now, but was not asked to
  clock_.Advance(absl::Seconds(5));
  auto cooling = provider_->GetToken(Request());
  EXPECT_EQ(cooling.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(TokenRetryAfter(cooling.status()), absl::Seconds(2));
  EXPECT_EQ(requests_.load(), 1);

  // Other keys are not held back.
  EXPECT_TRUE(provider_->GetToken(Request("https://contoso.crm.dynamics.com/.default")).ok());
  EXPECT_EQ(requests_.load(), 2);

  clock_.Advance(absl::Seconds(2));
  auto token = provider_->GetToken(Request());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(requests_.load(), 3);
}

TEST_F(OAuth2TokenProviderTest, ServerErrorRetryAfterMayBeFractionalOrADate) {
  Answer({503, R"({"error":"temporarily_unavailable"})", "3600", 0, "2.5"});
  auto fractional = provider_->GetToken(Request());
  EXPECT_EQ(TokenRetryAfter(fractional.status()), absl::Milliseconds(2500));

  clock_.Advance(absl::Seconds(3));
  const std::string date = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT",
                                            clock_.Now() + absl::Seconds(30), absl::UTCTimeZone());
  Answer({503, "oops", "3600", 0, date});
  auto dated = provider_->GetToken(Request());
  EXPECT_EQ(TokenRetryAfter(dated.status()), absl::Seconds(30));
}

TEST_F(OAuth2TokenProviderTest, ServerErrorWithoutRetryAfterAsksAgainAtOnce) {
  Answer({500, "oops"});
  auto failed = provider_->GetToken(Request());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(TokenRetryAfter(failed.status()), std::nullopt);
  Answer({});
  EXPECT_TRUE(provider_->GetToken(Request()).ok());
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(OAuth2TokenProviderTest, PreviousTokenStandsInWhileARefreshFailsTransiently) {
  ASSERT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  clock_.Advance(absl::Minutes(56));  // past the refresh point, 4 minutes left
  Answer({503, R"({"error":"temporarily_unavailable"})"});
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  EXPECT_EQ(requests_.load(), 2);    // it did try
  clock_.Advance(absl::Minutes(4));  // expired now
  EXPECT_EQ(provider_->GetToken(Request()).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(OAuth2TokenProviderTest, PermanentFailureOnRefreshIsReported) {
  ASSERT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  clock_.Advance(absl::Minutes(56));
  Answer({401, AadError("invalid_client", "AADSTS7000215")});
  EXPECT_EQ(provider_->GetToken(Request()).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(OAuth2TokenProviderTest, CallersDoNotWaitForARefreshWhileThePreviousTokenIsValid) {
  ASSERT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  clock_.Advance(absl::Minutes(56));
  Answer({200, "", "3600", 800});
  absl::StatusOr<std::string> refreshed = absl::UnknownError("not run");
  std::thread refresher([&] { refreshed = provider_->GetToken(Request()); });
  while (requests_.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const absl::Time start = absl::Now();
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-1");
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));
  refresher.join();
  EXPECT_EQ(refreshed.value(), "tok-2");
  EXPECT_EQ(provider_->GetToken(Request()).value(), "tok-2");
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(OAuth2TokenProviderTest, AadstsErrorsNameTheRequestAndTheFix) {
  const struct {
    int status;
    const char* error;
    const char* aadsts;
    absl::StatusCode code;
    const char* fix;
  } cases[] = {
      {401, "invalid_client", "AADSTS7000215", absl::StatusCode::kPermissionDenied,
       "Certificates & secrets"},
      {401, "invalid_client", "AADSTS7000222", absl::StatusCode::kPermissionDenied,
       "wrong or expired"},
      {400, "unauthorized_client", "AADSTS700016", absl::StatusCode::kPermissionDenied,
       "azure.client_id"},
      {400, "invalid_resource", "AADSTS500011", absl::StatusCode::kFailedPrecondition,
       "dynamics.instance_url"},
      {400, "invalid_scope", "AADSTS70011", absl::StatusCode::kFailedPrecondition, "/.default"},
      {400, "invalid_scope", "AADSTS1002012", absl::StatusCode::kFailedPrecondition, "/.default"},
      {400, "invalid_request", "AADSTS90002", absl::StatusCode::kFailedPrecondition,
       "azure.tenant_id"},
  };
  for (const auto& c : cases) {
    Answer({c.status, AadErrorWithoutCodes(c.error, c.aadsts)});
    auto token = provider_->GetToken(Request("https://contoso.crm.dynamics.com/.default"));
    EXPECT_EQ(token.status().code(), c.code) << c.aadsts << ": " << token.status();
    EXPECT_TRUE(IsPermanentTokenError(token.status()));
    EXPECT_THAT(token.status().message(),
                AllOf(HasSubstr("app-1"), HasSubstr("contoso.onmicrosoft.com"),
                      HasSubstr("https://contoso.crm.dynamics.com/.default"), HasSubstr(c.aadsts),
                      HasSubstr("fix: "), HasSubstr(c.fix), Not(HasSubstr(kSecret))))
        << c.aadsts;
  }
}

// The secret and the tokens never reach a log line, whatever happens: the
// provider's and the HTTP client's lines are captured at debug level.
TEST_F(OAuth2TokenProviderTest, NoSecretOrTokenReachesTheLog) {
  InitLogging(LogLevel::kDebug, "text");
  ::testing::internal::CaptureStderr();
  std::vector<std::string> tokens;
  tokens.push_back(provider_->GetToken(Request()).value());
  clock_.Advance(absl::Hours(2));
  Answer({401, AadError("invalid_client", "AADSTS7000215")});
  auto refused = provider_->GetToken(Request());
  Answer({503, R"({"error":"temporarily_unavailable"})", "3600", 0, "1"});
  auto unavailable = provider_->GetToken(Request());
  Answer({});
  clock_.Advance(absl::Seconds(2));
  tokens.push_back(provider_->GetToken(Request()).value());
  const std::string log = ::testing::internal::GetCapturedStderr();
  InitLogging(LogLevel::kInfo, "text");

  EXPECT_THAT(log, AllOf(HasSubstr("token fetched"), HasSubstr("token request failed"),
                         HasSubstr("http POST http://127.0.0.1:")));
  // The form-encoded spelling too: "p%40ss+w%2Brd..." or "p%40ss%20w%2Brd...".
  for (const std::string& secret :
       {std::string(kSecret), std::string("p%40ss"), std::string("w%2Brd"), std::string("w+rd")}) {
    EXPECT_THAT(log, Not(HasSubstr(secret)));
    EXPECT_THAT(refused.status().message(), Not(HasSubstr(secret)));
    EXPECT_THAT(unavailable.status().message(), Not(HasSubstr(secret)));
  }
  for (const std::string& token : tokens) EXPECT_THAT(log, Not(HasSubstr(token)));
}

}  // namespace
}  // namespace guestflow
