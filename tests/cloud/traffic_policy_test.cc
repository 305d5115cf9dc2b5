// The emulator's traffic policy: the throttling primitives with a driven
// clock, then the real emulator over HTTP — Graph resource units and write
// quota, Dataverse's request window and concurrency, the admin API's window,
// each with its documented 429 shape and a Retry-After that is the real time
// until there is room; and the faults: 503s, connection resets the client sees
// as transport errors, slow answers. /_emulator is never touched.
#include "emulator/traffic_policy.h"

#include <atomic>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "emulator/throttle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/http/curl_http_client.h"
#include "tests/cloud/cloud_test_env.h"

namespace guestflow::emulator {
namespace {

using ::guestflow::cloudtest::CloudTestEnv;
using ::guestflow::cloudtest::kContosoClientId;
using ::guestflow::cloudtest::kContosoDirectory;
using ::guestflow::cloudtest::kContosoEnvironment;
using ::guestflow::cloudtest::kContosoGroup;
using ::guestflow::cloudtest::kContosoSecret;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

// ---------------------------------------------------------------------------
// The primitives, on a driven clock.

TEST(TokenBucketTest, StartsFullAndRefillsContinuously) {
  TokenBucket bucket(10, absl::Seconds(10), kT0);  // 1 token per second
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bucket.TryTake(1, kT0), absl::ZeroDuration()) << i;
  EXPECT_EQ(bucket.TryTake(1, kT0), absl::Seconds(1));
  EXPECT_EQ(bucket.TryTake(3, kT0 + absl::Milliseconds(500)), absl::Milliseconds(2500));
  EXPECT_EQ(bucket.TryTake(1, kT0 + absl::Seconds(1)), absl::ZeroDuration());
  EXPECT_NEAR(bucket.Available(kT0 + absl::Seconds(100)), 10, 1e-9);  // capped at capacity
}

TEST(TokenBucketTest, RefusedRequestsCostNothingAndWaitingTheAnswerIsEnough) {
  TokenBucket bucket(7, absl::Seconds(10), kT0);
  EXPECT_EQ(bucket.TryTake(7, kT0), absl::ZeroDuration());
  const absl::Duration wait = bucket.TryTake(2, kT0);
  EXPECT_GT(wait, absl::ZeroDuration());
  EXPECT_GT(bucket.TryTake(2, kT0 + wait / 2), absl::ZeroDuration());  // not yet
  EXPECT_EQ(bucket.TryTake(2, kT0 + wait), absl::ZeroDuration());      // exactly then
}

TEST(TokenBucketTest, CostAboveCapacityPassesWhenFull) {
  TokenBucket bucket(2, absl::Seconds(10), kT0);
  EXPECT_EQ(bucket.TryTake(5, kT0), absl::ZeroDuration());
  EXPECT_EQ(bucket.TryTake(5, kT0), absl::Seconds(10));
}

TEST(SlidingWindowCounterTest, WaitIsUntilTheOldestEventLeaves) {
  SlidingWindowCounter window(3, absl::Seconds(300));
  EXPECT_EQ(window.TryAdd(kT0), absl::ZeroDuration());
  EXPECT_EQ(window.TryAdd(kT0 + absl::Seconds(10)), absl::ZeroDuration());
  EXPECT_EQ(window.TryAdd(kT0 + absl::Seconds(20)), absl::ZeroDuration());
  EXPECT_EQ(window.TryAdd(kT0 + absl::Seconds(30)), absl::Seconds(270));
  EXPECT_EQ(window.Count(kT0 + absl::Seconds(30)), 3);  // the refused one is not counted
  EXPECT_EQ(window.TryAdd(kT0 + absl::Seconds(300)), absl::ZeroDuration());
  EXPECT_EQ(window.TryAdd(kT0 + absl::Seconds(301)), absl::Seconds(9));
}

TEST(ConcurrencyLimiterTest, CountsPerKey) {
  ConcurrencyLimiter limiter;
  EXPECT_TRUE(limiter.TryAcquire("a", 2));
  EXPECT_TRUE(limiter.TryAcquire("a", 2));
  EXPECT_FALSE(limiter.TryAcquire("a", 2));
  EXPECT_TRUE(limiter.TryAcquire("b", 2));
  limiter.Release("a");
  EXPECT_EQ(limiter.InFlight("a"), 1);
  EXPECT_TRUE(limiter.TryAcquire("a", 2));
}

TEST(GraphCostTest, DocumentedResourceUnits) {
  const httplib::Params none;
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/users", none), 2);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/users/abc", none), 2);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/subscribedSkus", none), 3);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/groups/g/members", none), 3);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/groups/g", none), 1);
  EXPECT_EQ(GraphRequestCost("POST", "/v1.0/invitations", none), 1);
  EXPECT_EQ(GraphRequestCost("PATCH", "/v1.0/users/abc", none), 1);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/users", {{"$select", "id"}}), 1);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/users", {{"$select", "id"}, {"$top", "5"}}), 1);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/subscribedSkus", {{"$top", "5"}}), 2);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/users", {{"$expand", "manager"}}), 3);
  EXPECT_EQ(GraphRequestCost("GET", "/v1.0/users", {{"$top", "100"}}), 2);
  EXPECT_TRUE(IsGraphWrite("DELETE"));
  EXPECT_FALSE(IsGraphWrite("GET"));
}

TEST(GraphCostTest, TenantSizeTiers) {
  EXPECT_EQ(GraphResourceUnitLimit(1), 3500);
  EXPECT_EQ(GraphResourceUnitLimit(49), 3500);
  EXPECT_EQ(GraphResourceUnitLimit(50), 5000);
  EXPECT_EQ(GraphResourceUnitLimit(500), 5000);
  EXPECT_EQ(GraphResourceUnitLimit(501), 8000);
}

TEST(RetryAfterTest, Formats) {
  EXPECT_EQ(FractionalRetryAfter(absl::Milliseconds(2128)), "2.128");
  EXPECT_EQ(FractionalRetryAfter(absl::Microseconds(2127001)), "2.128");  // rounded up
  EXPECT_EQ(FractionalRetryAfter(absl::Milliseconds(1500)), "1.5");
  EXPECT_EQ(FractionalRetryAfter(absl::Seconds(3)), "3");
  EXPECT_EQ(FractionalRetryAfter(absl::Microseconds(1)), "0.001");
  EXPECT_EQ(IntegerRetryAfter(absl::Milliseconds(1)), "1");
  EXPECT_EQ(IntegerRetryAfter(absl::Milliseconds(299001)), "300");
  EXPECT_EQ(IntegerRetryAfter(absl::Seconds(60)), "60");
}

// ---------------------------------------------------------------------------
// The emulator over HTTP.

class TrafficPolicyTest : public ::testing::Test {
 protected:
  std::string Token(const std::string& scope) {
    httplib::Client client(env_.base_url());
    const httplib::Params form = {{"grant_type", "client_credentials"},
                                  {"client_id", kContosoClientId},
                                  {"client_secret", kContosoSecret},
                                  {"scope", scope}};
    auto res =
        client.Post(absl::StrCat("/", kContosoDirectory, "/oauth2/v2.0/token").c_str(), form);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    if (!res || res->status != 200) return "";
    return nlohmann::json::parse(res->body)["access_token"].get<std::string>();
  }
  std::string GraphToken() { return Token("https://graph.microsoft.com/.default"); }
  std::string DataverseToken() {
    return Token(absl::StrCat(env_.base_url(), "/orgs/contoso/.default"));
  }
  std::string AdminToken() { return Token("https://service.powerapps.com/.default"); }

  // A client that keeps its connection, so that consecutive requests are
  // served one after the other by one emulator thread.
  std::unique_ptr<httplib::Client> Client(const std::string& token) {
    auto client = std::make_unique<httplib::Client>(env_.base_url());
    client->set_keep_alive(true);
    client->set_read_timeout(30, 0);
    if (!token.empty()) client->set_bearer_token_auth(token.c_str());
    return client;
  }

  static double RetryAfterSeconds(const httplib::Response& res) {
    double seconds = -1;
    EXPECT_TRUE(absl::SimpleAtod(res.get_header_value("Retry-After"), &seconds))
        << "Retry-After: " << res.get_header_value("Retry-After");
    return seconds;
  }

  std::string DataversePath() const { return "/orgs/contoso/api/data/v9.2/WhoAmI"; }
  std::string AdminPath() const {
    return absl::StrCat("/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/",
                        kContosoEnvironment, "?api-version=2023-06-01");
  }

  CloudTestEnv env_;
};

TEST_F(TrafficPolicyTest, GraphAnswersCarryTheirResourceUnits) {
  auto graph = Client(GraphToken());
  auto users = graph->Get("/v1.0/users");
  ASSERT_TRUE(users);
  EXPECT_EQ(users->status, 200) << users->body;
  EXPECT_EQ(users->get_header_value("x-ms-resource-unit"), "2");
  auto skus = graph->Get("/v1.0/subscribedSkus");
  ASSERT_TRUE(skus);
  EXPECT_EQ(skus->get_header_value("x-ms-resource-unit"), "3");
  auto selected = graph->Get("/v1.0/users?$select=id");
  ASSERT_TRUE(selected);
  EXPECT_EQ(selected->get_header_value("x-ms-resource-unit"), "1");
  auto group = graph->Get(absl::StrCat("/v1.0/groups/", kContosoGroup).c_str());
  ASSERT_TRUE(group);
  EXPECT_EQ(group->get_header_value("x-ms-resource-unit"), "1");
}

TEST_F(TrafficPolicyTest, GraphResourceUnitsRunOutWithTheDocumented429) {
  const std::string token = GraphToken();
  // A 3,500 RU tenant at this scale has 7 RU per 10 s: 0.7 RU a second.
  env_.SetKnobs({{"throttle_scale", 0.002}});
  auto graph = Client(token);
  int passed = 0;
  std::string last_percentage;
  std::optional<httplib::Response> throttled;
  for (int i = 0; i < 20; ++i) {
    auto res = graph->Get(absl::StrCat("/v1.0/groups/", kContosoGroup).c_str());
    ASSERT_TRUE(res);
    if (res->status == 429) {
      throttled = *res;
      break;
    }
    ++passed;
    if (passed <= 5) {
      EXPECT_FALSE(res->has_header("x-ms-throttle-limit-percentage")) << passed;
    }
    last_percentage = res->get_header_value("x-ms-throttle-limit-percentage");
  }
  // Above 80 % of the limit, answers say how close they are.
  double percentage = 0;
  EXPECT_TRUE(absl::SimpleAtod(last_percentage, &percentage)) << last_percentage;
  EXPECT_GT(percentage, 0.8);
  EXPECT_LE(percentage, 1.0);
  ASSERT_TRUE(throttled.has_value()) << "never throttled";
  EXPECT_GE(passed, 7);
  EXPECT_LE(passed, 9);
  EXPECT_EQ(throttled->get_header_value("x-ms-throttle-information"), "ResourceUnitLimitExceeded");
  EXPECT_EQ(
      throttled->get_header_value("x-ms-throttle-scope"),
      absl::StrCat("Tenant_Application/ReadWrite/", kContosoClientId, "/", kContosoDirectory));
  EXPECT_EQ(throttled->get_header_value("x-ms-resource-unit"), "1");
  const nlohmann::json body = nlohmann::json::parse(throttled->body);
  EXPECT_EQ(body["error"]["code"], "TooManyRequests");
  EXPECT_EQ(body["error"]["message"], "Please retry again later.");
  EXPECT_EQ(body["error"]["innerError"]["code"], "429");
  EXPECT_EQ(body["error"]["innerError"]["message"], "Please retry after");
  EXPECT_EQ(body["error"]["innerError"]["status"], "429");
  EXPECT_FALSE(body["error"]["innerError"]["request-id"].get<std::string>().empty());
  EXPECT_FALSE(body["error"]["innerError"]["date"].get<std::string>().empty());

  // Retry-After is the time until one RU is back: at most 1/0.7 s.
  double wait = RetryAfterSeconds(*throttled);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 1.0 / 0.7 + 0.001);
  absl::SleepFor(absl::Seconds(wait / 2));
  auto early = graph->Get(absl::StrCat("/v1.0/groups/", kContosoGroup).c_str());
  ASSERT_TRUE(early);
  ASSERT_EQ(early->status, 429) << "half the wait is not enough";
  absl::SleepFor(absl::Seconds(RetryAfterSeconds(*early)));
  auto after = graph->Get(absl::StrCat("/v1.0/groups/", kContosoGroup).c_str());
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << "waiting Retry-After is enough";
}

TEST_F(TrafficPolicyTest, GraphWriteQuotaIsSeparateFromResourceUnits) {
  const std::string token = GraphToken();
  // 3.5 RU per 10 s and 3 writes per 150 s (0.02 writes a second).
  env_.SetKnobs({{"throttle_scale", 0.001}});
  auto graph = Client(token);
  const std::string missing = "/v1.0/users/00000000-0000-0000-0000-000000000000";
  for (int i = 0; i < 3; ++i) {
    auto res = graph->Patch(missing.c_str(), R"({"givenName":"x"})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_NE(res->status, 429) << i;
  }
  auto write = graph->Patch(missing.c_str(), R"({"givenName":"x"})", "application/json");
  ASSERT_TRUE(write);
  ASSERT_EQ(write->status, 429);
  EXPECT_EQ(write->get_header_value("x-ms-throttle-information"), "WriteLimitExceeded");
  EXPECT_EQ(write->get_header_value("x-ms-throttle-scope"),
            absl::StrCat("Tenant_Application/Write/", kContosoClientId, "/", kContosoDirectory));
  const double write_wait = RetryAfterSeconds(*write);
  EXPECT_GT(write_wait, 45);
  EXPECT_LE(write_wait, 50.001);

  // A read is limited by resource units only: about half an RU is left.
  auto read = graph->Get(absl::StrCat("/v1.0/groups/", kContosoGroup).c_str());
  ASSERT_TRUE(read);
  if (read->status == 429) {
    EXPECT_EQ(read->get_header_value("x-ms-throttle-information"), "ResourceUnitLimitExceeded");
    EXPECT_LT(RetryAfterSeconds(*read), 3);
  }
}

TEST_F(TrafficPolicyTest, DataverseRequestWindow) {
  const std::string token = DataverseToken();
  // 3 requests per 300 s (and 1 concurrent).
  env_.SetKnobs({{"throttle_scale", 0.0005}});
  auto dataverse = Client(token);
  for (int i = 0; i < 3; ++i) {
    auto res = dataverse->Get(DataversePath().c_str());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << i << ": " << res->body;
    EXPECT_EQ(res->get_header_value("x-ms-ratelimit-burst-remaining-xrm-requests"),
              std::to_string(2 - i));
  }
  auto throttled = dataverse->Get(DataversePath().c_str());
  ASSERT_TRUE(throttled);
  ASSERT_EQ(throttled->status, 429);
  const nlohmann::json body = nlohmann::json::parse(throttled->body);
  EXPECT_EQ(body["error"]["code"], "0x80072322");
  EXPECT_EQ(body["error"]["message"],
            "Number of requests exceeded the limit of 3 over time window of 300 seconds.");
  const std::string retry_after = throttled->get_header_value("Retry-After");
  int seconds = 0;
  ASSERT_TRUE(absl::SimpleAtoi(retry_after, &seconds)) << "an integer: " << retry_after;
  EXPECT_GE(seconds, 299);
  EXPECT_LE(seconds, 300);

  // Another app or another environment has its own window; Graph is unaffected.
  auto graph = Client(GraphToken())->Get("/v1.0/users");
  ASSERT_TRUE(graph);
  EXPECT_EQ(graph->status, 200);
}

TEST_F(TrafficPolicyTest, DataverseConcurrentRequests) {
  const std::string token = DataverseToken();
  // 1 concurrent request; each takes 1.5 s (the second starts well within
  // the first even on a loaded machine).
  env_.SetKnobs({{"throttle_scale", 1.0 / 52}, {"latency_ms", {{"dataverse", 1500}}}});
  absl::Barrier* start = new absl::Barrier(2);
  std::vector<int> statuses(2, 0);
  std::vector<std::string> bodies(2), retry_after(2);
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      auto client = Client(token);
      if (start->Block()) delete start;
      auto res = client->Get(DataversePath().c_str());
      if (!res) return;
      statuses[i] = res->status;
      bodies[i] = res->body;
      retry_after[i] = res->get_header_value("Retry-After");
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_THAT(statuses, ::testing::UnorderedElementsAre(200, 429));
  const int throttled = statuses[0] == 429 ? 0 : 1;
  const nlohmann::json body = nlohmann::json::parse(bodies[throttled]);
  EXPECT_EQ(body["error"]["code"], "0x80072326");
  EXPECT_EQ(body["error"]["message"], "Number of concurrent requests exceeded the limit of 1.");
  EXPECT_EQ(retry_after[throttled], "1");

  // The slot is given back once the answer is written. A client can read an
  // answer a moment before the emulator's worker lets go of the slot (longer
  // on a loaded machine), so the first request may wait for that; then one
  // connection keeps the requests on one worker, one after the other.
  env_.SetKnobs({{"latency_ms", {{"dataverse", 0}}}});
  auto serial = Client(token);
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (true) {
    auto res = serial->Get(DataversePath().c_str());
    ASSERT_TRUE(res);
    if (res->status == 200) break;
    ASSERT_EQ(res->status, 429) << res->body;
    ASSERT_LT(absl::Now(), give_up) << "the slot was never given back";
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (int i = 0; i < 3; ++i) {
    auto res = serial->Get(DataversePath().c_str());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
}

TEST_F(TrafficPolicyTest, AdminApiWindow) {
  const std::string token = AdminToken();
  env_.SetKnobs({{"throttle_scale", 0.02}});  // 2 requests per 60 s
  auto admin = Client(token);
  for (int i = 0; i < 2; ++i) {
    auto res = admin->Get(AdminPath().c_str());
    ASSERT_TRUE(res);
    EXPECT_NE(res->status, 429) << res->body;
  }
  auto throttled = admin->Get(AdminPath().c_str());
  ASSERT_TRUE(throttled);
  ASSERT_EQ(throttled->status, 429);
  EXPECT_EQ(nlohmann::json::parse(throttled->body)["error"]["code"], "TooManyRequests");
  int seconds = 0;
  ASSERT_TRUE(absl::SimpleAtoi(throttled->get_header_value("Retry-After"), &seconds));
  EXPECT_GE(seconds, 59);
  EXPECT_LE(seconds, 60);
}

TEST_F(TrafficPolicyTest, ThrottleLimitsSetOneLimitExactlyAndLeaveTheOthersScaled) {
  const std::string graph_token = GraphToken();
  const std::string admin_token = AdminToken();
  // Graph writes: 2 per 4 s (a bucket refilling 0.5 a second), not 3,000 x
  // 1000 per 150 s; the admin API stays at its scaled 100 x 0.02 = 2 per 60 s.
  env_.SetKnobs({{"throttle_scale", 0.02},
                 {"throttle_limits", {{"graph_writes", {{"requests", 2}, {"per_s", 4}}}}}});
  auto graph = Client(graph_token);
  const std::string missing = "/v1.0/users/00000000-0000-0000-0000-000000000000";
  for (int i = 0; i < 2; ++i) {
    auto res = graph->Patch(missing.c_str(), R"({"givenName":"x"})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_NE(res->status, 429) << i;
  }
  auto write = graph->Patch(missing.c_str(), R"({"givenName":"x"})", "application/json");
  ASSERT_TRUE(write);
  ASSERT_EQ(write->status, 429);
  EXPECT_EQ(write->get_header_value("x-ms-throttle-information"), "WriteLimitExceeded");
  const double wait = RetryAfterSeconds(*write);
  EXPECT_GT(wait, 1.5);  // one token refills in 2 s
  EXPECT_LE(wait, 2.001);

  auto admin = Client(admin_token);
  for (int i = 0; i < 2; ++i) {
    auto res = admin->Get(AdminPath().c_str());
    ASSERT_TRUE(res);
    EXPECT_NE(res->status, 429) << i;
  }
  auto throttled = admin->Get(AdminPath().c_str());
  ASSERT_TRUE(throttled);
  EXPECT_EQ(throttled->status, 429);

  // The knobs show the override; an unknown limit name is refused.
  httplib::Client control(env_.base_url());
  auto shown = control.Get("/_emulator/knobs");
  ASSERT_TRUE(shown);
  auto knobs = nlohmann::json::parse(shown->body);
  EXPECT_EQ(knobs["throttle_limits"]["graph_writes"]["requests"], 2);
  EXPECT_EQ(knobs["throttle_limits"]["graph_writes"]["per_s"], 4);
  auto bad =
      control.Post("/_emulator/knobs", R"({"throttle_limits":{"graph_reads":{"requests":1}}})",
                   "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("knobs.throttle_limits.graph_reads"), std::string::npos) << bad->body;
}

TEST_F(TrafficPolicyTest, ScaleZeroTurnsThrottlingOff) {
  const std::string token = DataverseToken();
  env_.SetKnobs({{"throttle_scale", 0}});
  auto dataverse = Client(token);
  for (int i = 0; i < 30; ++i) {
    auto res = dataverse->Get(DataversePath().c_str());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << i;
  }
}

TEST_F(TrafficPolicyTest, RequestsWithoutAValidTokenAreLeftToTheRoute) {
  env_.SetKnobs({{"throttle_scale", 0.0005}});
  auto anonymous = Client("not-a-token");
  for (int i = 0; i < 10; ++i) {
    auto res = anonymous->Get(DataversePath().c_str());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
  }
}

TEST_F(TrafficPolicyTest, ErrorRateAnswers503InEachServicesShape) {
  const std::string graph_token = GraphToken();
  const std::string dataverse_token = DataverseToken();
  env_.SetKnobs({{"error_rate", 1.0}});

  int with_retry_after = 0;
  for (int i = 0; i < 40; ++i) {
    auto res = Client(graph_token)->Get("/v1.0/users");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 503);
    const nlohmann::json body = nlohmann::json::parse(res->body);
    EXPECT_EQ(body["error"]["code"], "serviceNotAvailable");
    EXPECT_TRUE(body["error"].contains("innerError"));
    with_retry_after += res->has_header("Retry-After") ? 1 : 0;
  }
  EXPECT_GT(with_retry_after, 0);
  EXPECT_LT(with_retry_after, 40);

  auto dataverse = Client(dataverse_token)->Get(DataversePath().c_str());
  ASSERT_TRUE(dataverse);
  EXPECT_EQ(dataverse->status, 503);
  const nlohmann::json body = nlohmann::json::parse(dataverse->body);
  EXPECT_THAT(body["error"]["code"].get<std::string>(), ::testing::StartsWith("0x"));
  EXPECT_FALSE(body["error"].contains("innerError"));

  httplib::Client plain(env_.base_url());
  auto token = plain.Post(absl::StrCat("/", kContosoDirectory, "/oauth2/v2.0/token").c_str(),
                          httplib::Params{{"grant_type", "client_credentials"}});
  ASSERT_TRUE(token);
  EXPECT_EQ(token->status, 503);
  EXPECT_EQ(nlohmann::json::parse(token->body)["error"], "temporarily_unavailable");

  // The control API is never touched.
  auto health = plain.Get("/_emulator/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(TrafficPolicyTest, ThrottleRateAnswers429WithRetryAfterInEachServicesShape) {
  const std::string graph_token = GraphToken();
  const std::string dataverse_token = DataverseToken();
  const std::string admin_token = AdminToken();
  env_.SetKnobs({{"throttle_rate", 1.0}});

  auto graph = Client(graph_token)->Get("/v1.0/users");
  ASSERT_TRUE(graph);
  ASSERT_EQ(graph->status, 429);
  EXPECT_EQ(nlohmann::json::parse(graph->body)["error"]["code"], "TooManyRequests");
  EXPECT_DOUBLE_EQ(RetryAfterSeconds(*graph), 0.2);

  auto dataverse = Client(dataverse_token)->Get(DataversePath().c_str());
  ASSERT_TRUE(dataverse);
  ASSERT_EQ(dataverse->status, 429);
  EXPECT_EQ(nlohmann::json::parse(dataverse->body)["error"]["code"], "0x80072322");
  EXPECT_EQ(dataverse->get_header_value("Retry-After"), "1");

  auto admin = Client(admin_token)->Get(AdminPath().c_str());
  ASSERT_TRUE(admin);
  ASSERT_EQ(admin->status, 429);
  EXPECT_EQ(admin->get_header_value("Retry-After"), "1");

  // Tokens are spared: a client can always authenticate.
  EXPECT_FALSE(GraphToken().empty());

  // About the share asked for.
  env_.SetKnobs({{"throttle_rate", 0.25}});
  int throttled = 0;
  auto client = Client(graph_token);
  for (int i = 0; i < 400; ++i) {
    auto res = client->Get("/v1.0/users");
    ASSERT_TRUE(res);
    throttled += res->status == 429 ? 1 : 0;
  }
  EXPECT_GT(throttled, 60);
  EXPECT_LT(throttled, 140);
}

TEST_F(TrafficPolicyTest, ResetRateResetsTheConnection) {
  const std::string token = GraphToken();
  env_.SetKnobs({{"reset_rate", 1.0}});
  HttpConfig config;
  config.request_timeout = absl::Seconds(5);
  auto http = CurlHttpClient::Create(config);
  ASSERT_TRUE(http.ok());
  for (const char* method : {"GET", "POST"}) {
    HttpRequest request;
    request.method = method;
    request.url = absl::StrCat(env_.base_url(), "/v1.0/users");
    request.headers = {{"Authorization", absl::StrCat("Bearer ", token)},
                       {"Content-Type", "application/json"}};
    if (std::string(method) == "POST") request.body = R"({"x":1})";
    auto response = (*http)->Send(request);
    EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
    EXPECT_THAT(response.status().message(), HasSubstr("reset")) << method;
  }
  // The control API still answers, and counts the resets as "no answer"
  // (once their worker has given up writing, a moment after the reset).
  nlohmann::json counters;
  for (int i = 0; i < 100; ++i) {
    counters = env_.GetJson("/_emulator/counters");
    if (counters["status_codes"].value("0", 0) >= 2) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(counters["status_codes"].value("0", 0), 2) << counters.dump();

  // Half of them: both outcomes show up, and the server stays healthy.
  env_.SetKnobs({{"reset_rate", 0.5}});
  int reset = 0, answered = 0;
  for (int i = 0; i < 40; ++i) {
    HttpRequest request;
    request.url = absl::StrCat(env_.base_url(), "/v1.0/users");
    request.headers = {{"Authorization", absl::StrCat("Bearer ", token)}};
    auto response = (*http)->Send(request);
    if (response.ok()) {
      EXPECT_EQ(response->status, 200);
      ++answered;
    } else {
      EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
      ++reset;
    }
  }
  EXPECT_GT(reset, 0);
  EXPECT_GT(answered, 0);
}

TEST_F(TrafficPolicyTest, SlowRateDelaysTheAnswer) {
  const std::string token = GraphToken();
  env_.SetKnobs({{"slow_rate", 1.0}, {"slow_ms", 400}});
  auto graph = Client(token);
  const absl::Time start = absl::Now();
  auto res = graph->Get("/v1.0/users");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(400));
  // The control API is not slowed.
  const absl::Time control_start = absl::Now();
  env_.GetJson("/_emulator/knobs");
  EXPECT_LT(absl::Now() - control_start, absl::Milliseconds(400));
}

}  // namespace
}  // namespace guestflow::emulator
