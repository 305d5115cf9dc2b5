// The host's http() callback with a RateLimiter: what a plugin sees when its
// request is held back (a synthetic 429 it handles like the cloud's), and a
// cloud 429 pausing the tenant's bucket for everyone.
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/http/rate_limiter.h"
#include "server/plugin_host/host_api.h"
#include "tests/unit/plugin_host/mock_http.h"

namespace guestflow {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::StrictMock;

constexpr char kGraphUrl[] = "https://graph.microsoft.com/v1.0/invitations";
constexpr char kDataverseUrl[] = "https://contoso.crm4.dynamics.com/api/data/v9.2/systemusers";

TenantConfig Tenant(const std::string& id, const std::string& directory) {
  TenantConfig t;
  t.id = id;
  t.directory = directory;
  t.client_id = "11111111-2222-3333-4444-555555555555";
  t.graph_url = "https://graph.microsoft.com";
  t.instance_url = "https://contoso.crm4.dynamics.com";
  return t;
}

HttpResponse Answer(int status, std::vector<HttpHeader> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  response.body = "{}";
  return response;
}

gf_str Str(const std::string& s) { return gf_str{s.data(), s.size()}; }
std::string Text(gf_str s) { return s.data == nullptr ? "" : std::string(s.data, s.len); }

// One answer as the plugin sees it, copied out of the call's arena.
struct PluginView {
  int status = 0;
  std::string body;
  std::string transport_error;
  std::vector<std::pair<std::string, std::string>> headers;
  bool throttled = false;  // gf_call::last_answer_throttled after the call

  std::string Header(absl::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "<absent>";
  }
};

class HostHttpRateLimitTest : public ::testing::Test {
 protected:
  // Sends one request through HostApi()->http as a plugin of `tenant` would.
  PluginView Send(RateLimiter& limiter, const TenantConfig& tenant, const std::string& method,
                  const std::string& url, const std::string& service) {
    gf_call call;
    call.tenant = tenant.id;
    call.plugin = "test_plugin";
    call.tenant_config = &tenant;
    call.http = &http_;
    call.clock = &clock_;
    call.limiter = &limiter;
    gf_http_request request{};
    request.struct_size = sizeof(request);
    request.method = Str(method);
    request.url = Str(url);
    request.service = Str(service);
    gf_http_response response{};
    response.struct_size = sizeof(response);
    EXPECT_EQ(HostApi()->http(&call, &request, &response), 0);
    PluginView view;
    view.status = response.status;
    view.body = Text(response.body);
    view.transport_error = Text(response.transport_error);
    for (size_t i = 0; i < response.header_count; ++i) {
      view.headers.emplace_back(Text(response.headers[i].name), Text(response.headers[i].value));
    }
    absl::MutexLock lock(&call.mu);
    view.throttled = call.last_answer_throttled;
    return view;
  }

  FakeClock clock_;
  StrictMock<MockHttpClient> http_;
  const TenantConfig contoso_ = Tenant("contoso", "contoso.onmicrosoft.com");
  const TenantConfig fabrikam_ = Tenant("fabrikam", "fabrikam.onmicrosoft.com");
};

TEST_F(HostHttpRateLimitTest, RequestBeyondMaxWaitGetsALocal429WithoutBeingSent) {
  LimitsConfig limits;
  limits.graph_writes = {1, absl::Milliseconds(1500), 0};
  limits.max_wait = absl::Seconds(1);
  RateLimiter limiter(limits, {&clock_, absl::Milliseconds(1), absl::ZeroDuration()});

  EXPECT_CALL(http_, Send(AllOf(Field(&HttpRequest::method, "POST"),
                                Field(&HttpRequest::service, "graph"))))
      .WillOnce(Return(Answer(201)));
  const PluginView sent = Send(limiter, contoso_, "POST", kGraphUrl, "graph");
  EXPECT_EQ(sent.status, 201);
  EXPECT_FALSE(sent.throttled);

  // StrictMock: a second Send would fail the test.
  const PluginView held = Send(limiter, contoso_, "POST", kGraphUrl, "graph");
  EXPECT_EQ(held.status, 429);
  EXPECT_TRUE(held.throttled);  // a retry now is not an attempt
  EXPECT_EQ(held.transport_error, "");
  EXPECT_EQ(held.Header("Retry-After"), "2");  // 1.5 s, rounded up
  EXPECT_EQ(held.Header("X-Guestflow-Throttled"), "local");
  const nlohmann::json body = nlohmann::json::parse(held.body);
  EXPECT_EQ(body["error"]["code"], "TooManyRequests");
  EXPECT_THAT(body["error"]["message"].get<std::string>(), HasSubstr("graph limit"));

  const std::vector<RateKeyStats> stats = limiter.Snapshot();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].sent, 1);
  EXPECT_EQ(stats[0].throttled, 1);
}

TEST_F(HostHttpRateLimitTest, CloudThrottlePausesTheTenantsGraphCallsOnly) {
  RateLimiter limiter(LimitsConfig{}, {&clock_, absl::Milliseconds(1), absl::ZeroDuration()});
  EXPECT_CALL(http_, Send(Field(&HttpRequest::url, kGraphUrl)))
      .WillOnce(Return(Answer(429, {{"Retry-After", "120"}})))
      .WillOnce(Return(Answer(200)))
      .WillOnce(Return(Answer(200)));
  EXPECT_CALL(http_, Send(Field(&HttpRequest::url, kDataverseUrl))).WillOnce(Return(Answer(200)));

  // The cloud's own 429 reaches the plugin as it was.
  const PluginView cloud = Send(limiter, contoso_, "GET", kGraphUrl, "graph");
  EXPECT_EQ(cloud.status, 429);
  EXPECT_TRUE(cloud.throttled);
  EXPECT_EQ(cloud.Header("Retry-After"), "120");
  EXPECT_EQ(cloud.Header("X-Guestflow-Throttled"), "<absent>");

  // Every graph call of the same app and directory is held for 120 s, reads
  // too; 120 s is past max_wait, so the answer comes at once.
  for (const char* method : {"GET", "POST", "PATCH"}) {
    const PluginView held = Send(limiter, contoso_, method, kGraphUrl, "graph");
    EXPECT_EQ(held.status, 429) << method;
    EXPECT_EQ(held.Header("Retry-After"), "120") << method;
    EXPECT_EQ(held.Header("X-Guestflow-Throttled"), "local") << method;
  }
  // Another service of the tenant, and another directory, go on.
  EXPECT_EQ(Send(limiter, contoso_, "GET", kDataverseUrl, "dataverse").status, 200);
  EXPECT_EQ(Send(limiter, fabrikam_, "GET", kGraphUrl, "graph").status, 200);

  clock_.Advance(absl::Seconds(120));
  EXPECT_EQ(Send(limiter, contoso_, "POST", kGraphUrl, "graph").status, 200);
}

TEST_F(HostHttpRateLimitTest, TransportErrorFreesTheConcurrencySlot) {
  LimitsConfig limits;
  limits.dataverse = {0, absl::Seconds(300), 1};
  limits.max_wait = absl::Seconds(1);
  RateLimiter limiter(limits, {&clock_, absl::Milliseconds(1), absl::ZeroDuration()});
  EXPECT_CALL(http_, Send(_))
      .WillOnce(Return(absl::UnavailableError("connect failed")))
      .WillOnce(Return(Answer(204)));
  EXPECT_EQ(Send(limiter, contoso_, "PATCH", kDataverseUrl, "dataverse").transport_error,
            "connect failed");
  EXPECT_EQ(Send(limiter, contoso_, "PATCH", kDataverseUrl, "dataverse").status, 204);
  EXPECT_EQ(limiter.Snapshot()[0].in_flight, 0);
}

TEST_F(HostHttpRateLimitTest, WithoutALimiterRequestsGoStraightOut) {
  gf_call call;
  call.tenant = "contoso";
  call.tenant_config = &contoso_;
  call.http = &http_;
  EXPECT_CALL(http_, Send(_)).WillOnce(Return(Answer(200)));
  const std::string method = "POST";
  const std::string url = kGraphUrl;
  const std::string service = "graph";
  gf_http_request request{};
  request.struct_size = sizeof(request);
  request.method = Str(method);
  request.url = Str(url);
  request.service = Str(service);
  gf_http_response response{};
  response.struct_size = sizeof(response);
  EXPECT_EQ(HostApi()->http(&call, &request, &response), 0);
  EXPECT_EQ(response.status, 200);
}

}  // namespace
}  // namespace guestflow
