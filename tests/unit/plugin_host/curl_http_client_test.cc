// CurlHttpClient against a real HTTP server on loopback.
#include "server/http/curl_http_client.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/plugin_host/loopback_server.h"

namespace guestflow {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class CurlHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    httplib::Server& s = server_.server();
    auto echo = [](const httplib::Request& req, httplib::Response& res) {
      res.status = 201;
      res.set_header("X-Echo-Method", req.method);
      res.set_header("X-Echo-Header", req.get_header_value("X-Test"));
      res.set_header("X-Echo-Content-Type", req.get_header_value("Content-Type"));
      res.set_header("X-Echo-Authorization", req.get_header_value("Authorization"));
      res.set_content("got:" + req.body, "text/plain");
    };
    s.Post("/echo", echo);
    s.Patch("/echo", echo);
    s.Put("/echo", echo);
    s.Delete("/echo", echo);
    s.Get("/echo", echo);
    s.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(800));
      res.set_content("late", "text/plain");
    });
    s.Get("/bytes", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::string(std::stoul(req.get_param_value("n")), 'x'), "text/plain");
    });
    s.Get("/chunked", [](const httplib::Request& req, httplib::Response& res) {
      const size_t n = std::stoul(req.get_param_value("n"));
      res.set_chunked_content_provider("text/plain", [n](size_t offset, httplib::DataSink& sink) {
        if (offset >= n) {
          sink.done();
          return true;
        }
        const std::string chunk(std::min<size_t>(256, n - offset), 'y');
        return sink.write(chunk.data(), chunk.size());
      });
    });
    s.Get("/port", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.remote_port), "text/plain");
    });
    ASSERT_TRUE(server_.Start());
  }

  std::unique_ptr<CurlHttpClient> Client(HttpConfig config = {}) {
    auto client = CurlHttpClient::Create(config);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  LoopbackServer server_;
};

TEST_F(CurlHttpClientTest, SendsMethodHeadersBodyAndReadsTheResponse) {
  auto client = Client();
  HttpRequest request;
  request.method = "POST";
  request.url = server_.Url("/echo");
  request.headers = {{"X-Test", "abc"}, {"Content-Type", "application/json"}};
  request.body = R"({"a":1})";
  request.service = "graph";
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"(got:{"a":1})");
  EXPECT_EQ(response->Header("x-echo-method"), "POST");  // case-insensitive lookup
  EXPECT_EQ(response->Header("X-Echo-Header"), "abc");
  EXPECT_EQ(response->Header("X-Echo-Content-Type"), "application/json");
  EXPECT_EQ(response->Header("Content-Type"), "text/plain");
  EXPECT_EQ(response->Header("No-Such-Header"), "");
}

TEST_F(CurlHttpClientTest, EveryMethodKeepsItsName) {
  auto client = Client();
  for (const std::string method : {"GET", "PATCH", "PUT", "DELETE", "POST"}) {
    HttpRequest request;
    request.method = method;
    request.url = server_.Url("/echo");
    if (method != "GET" && method != "DELETE") request.body = "b";
    auto response = client->Send(request);
    ASSERT_TRUE(response.ok()) << method << ": " << response.status();
    EXPECT_EQ(response->Header("X-Echo-Method"), method);
    EXPECT_EQ(response->body, method == "GET" || method == "DELETE" ? "got:" : "got:b");
  }
}

TEST_F(CurlHttpClientTest, NoContentTypeIsInventedForABody) {
  auto client = Client();
  HttpRequest request;
  request.method = "POST";
  request.url = server_.Url("/echo");
  request.body = "raw";
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->Header("X-Echo-Content-Type"), "");
}

TEST_F(CurlHttpClientTest, ErrorStatusIsAResponse) {
  auto client = Client();
  HttpRequest request;
  request.url = server_.Url("/missing");
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
}

TEST_F(CurlHttpClientTest, RequestTimeoutIsDeadlineExceeded) {
  auto client = Client();
  HttpRequest request;
  request.url = server_.Url("/slow");
  request.timeout = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  auto response = client->Send(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(700));
  EXPECT_THAT(response.status().message(), HasSubstr("GET http://127.0.0.1"));
}

TEST_F(CurlHttpClientTest, DefaultTimeoutComesFromConfig) {
  HttpConfig config;
  config.request_timeout = absl::Milliseconds(100);
  auto client = Client(config);
  HttpRequest request;
  request.url = server_.Url("/slow");
  EXPECT_EQ(client->Send(request).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(CurlHttpClientTest, BodyLargerThanTheLimitIsResourceExhausted) {
  HttpConfig config;
  config.max_response_bytes = 1024;
  auto client = Client(config);
  HttpRequest request;
  request.url = server_.Url("/bytes?n=1024");
  auto exact = client->Send(request);
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->body.size(), 1024u);

  request.url = server_.Url("/bytes?n=4096");  // with Content-Length
  auto big = client->Send(request);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted) << big.status();
  EXPECT_THAT(big.status().message(), HasSubstr("1024 bytes"));

  request.url = server_.Url("/chunked?n=4096");  // without: caught while reading
  auto chunked = client->Send(request);
  EXPECT_EQ(chunked.status().code(), absl::StatusCode::kResourceExhausted) << chunked.status();
}

TEST_F(CurlHttpClientTest, ChunkedBodyIsRead) {
  auto client = Client();
  HttpRequest request;
  request.url = server_.Url("/chunked?n=3000");
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, std::string(3000, 'y'));
}

TEST_F(CurlHttpClientTest, ConsecutiveRequestsReuseTheConnection) {
  auto client = Client();
  HttpRequest request;
  request.url = server_.Url("/port");
  auto first = client->Send(request);
  auto second = client->Send(request);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->body, second->body) << "a new client port means a new connection";
}

TEST_F(CurlHttpClientTest, ManyThreadsAtOnce) {
  auto client = Client();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        HttpRequest request;
        request.method = "POST";
        request.url = server_.Url("/echo");
        request.body = absl::StrCat(t, "-", i);
        auto response = client->Send(request);
        if (response.ok() && response->body == absl::StrCat("got:", t, "-", i)) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
}

TEST_F(CurlHttpClientTest, ClosedPortIsUnavailable) {
  const std::string url = server_.Url("/echo");
  server_.Stop();
  auto client = Client();
  HttpRequest request;
  request.url = url;
  EXPECT_EQ(client->Send(request).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CurlHttpClientTest, TlsIsVerifiedAndFailsAgainstAPlainServer) {
  auto client = Client();
  HttpRequest request;
  request.url = absl::StrCat("https://127.0.0.1:", server_.port(), "/echo");
  request.timeout = absl::Seconds(5);
  EXPECT_EQ(client->Send(request).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CurlHttpClientTest, MalformedRequestsAreInvalidArgument) {
  auto client = Client();
  HttpRequest request;
  request.url = "ftp://127.0.0.1/file";
  EXPECT_EQ(client->Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.url = "/relative";
  EXPECT_EQ(client->Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.url = server_.Url("/echo");
  request.method = "get";
  EXPECT_EQ(client->Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.method = "GET";
  request.headers = {{"Authorization", "Bearer secret-token\r\nX-Injected: 1"}};
  auto injected = client->Send(request);
  EXPECT_EQ(injected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(injected.status().message(),
              AllOf(HasSubstr("Authorization"), Not(HasSubstr("secret-token"))));
  request.headers = {{"Bad Name", "x"}};
  EXPECT_EQ(client->Send(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CurlHttpClientTest, QueryStringsAndUserinfoStayOutOfMessages) {
  auto client = Client();
  HttpRequest request;
  request.url = "ftp://user:hunter22@example.test/x?code=secret-code";
  auto response = client->Send(request);
  EXPECT_THAT(response.status().message(),
              AllOf(Not(HasSubstr("hunter22")), Not(HasSubstr("secret-code"))));
}

TEST(CurlHttpClientCreateTest, UnreadableCaFileIsRefused) {
  HttpConfig config;
  config.ca_file = "/nonexistent/ca.pem";
  auto client = CurlHttpClient::Create(config);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(client.status().message(), HasSubstr("/nonexistent/ca.pem"));
}

}  // namespace
}  // namespace guestflow
