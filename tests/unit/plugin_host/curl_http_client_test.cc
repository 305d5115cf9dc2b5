// CurlHttpClient against a real HTTP server on loopback.
#include "server/http/curl_http_client.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/logging.h"
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
    s.Get("/many-headers", [](const httplib::Request& req, httplib::Response& res) {
      const int n = std::stoi(req.get_param_value("n"));
      for (int i = 0; i < n; ++i) {
        res.set_header(absl::StrCat("X-Filler-", i), std::string(1000, 'h'));
      }
      res.set_content("ok", "text/plain");
    });
    s.Post("/count", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts_;
      res.set_content("counted", "text/plain");
    });
    // cpp-httplib compresses a JSON answer with whatever the request accepts.
    s.Get("/json", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Echo-Accept-Encoding", req.get_header_value("Accept-Encoding"));
      std::string body = "[";
      for (int i = 0; i < 200; ++i) absl::StrAppend(&body, i == 0 ? "" : ",", R"({"id":)", i, "}");
      res.set_content(body + "]", "application/json");
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
  std::atomic<int> posts_{0};
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

TEST_F(CurlHttpClientTest, AsksForAnswersUncompressed) {
  auto client = Client();
  HttpRequest request;
  request.method = "GET";
  request.url = server_.Url("/json");
  auto response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->Header("X-Echo-Accept-Encoding"), "identity");
  EXPECT_EQ(response->Header("Content-Encoding"), "");
  EXPECT_THAT(response->body, AllOf(HasSubstr(R"([{"id":0},)"), HasSubstr(R"({"id":199}])")));
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

TEST_F(CurlHttpClientTest, RequestOverTheLimitIsRefusedBeforeSending) {
  HttpLimits limits;
  limits.max_request_bytes = 1024;
  auto created = CurlHttpClient::Create(HttpConfig{}, limits);
  ASSERT_TRUE(created.ok());
  HttpRequest request;
  request.method = "POST";
  request.url = server_.Url("/count");
  request.body = std::string(900, 'b');
  auto fits = (*created)->Send(request);
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(posts_.load(), 1);

  request.body = std::string(1025, 'b');
  auto big = (*created)->Send(request);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument) << big.status();
  EXPECT_THAT(big.status().message(), HasSubstr("1024 bytes"));
  // Headers count too.
  request.body = std::string(900, 'b');
  request.headers = {{"X-Big", std::string(200, 'h')}};
  EXPECT_EQ((*created)->Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(posts_.load(), 1) << "nothing over the limit may reach the server";
}

TEST_F(CurlHttpClientTest, ResponseHeadersOverTheLimitAreResourceExhausted) {
  HttpLimits limits;
  limits.max_response_header_bytes = size_t{8} * 1024;
  auto created = CurlHttpClient::Create(HttpConfig{}, limits);
  ASSERT_TRUE(created.ok());
  HttpRequest request;
  request.url = server_.Url("/many-headers?n=2");
  auto few = (*created)->Send(request);
  ASSERT_TRUE(few.ok()) << few.status();
  EXPECT_EQ(few->body, "ok");
  request.url = server_.Url("/many-headers?n=20");
  auto many = (*created)->Send(request);
  EXPECT_EQ(many.status().code(), absl::StatusCode::kResourceExhausted) << many.status();
  EXPECT_THAT(many.status().message(), HasSubstr("headers"));
}

// Nothing secret a request carries reaches a log line or an error message:
// not the bearer token, not a form-encoded client secret, not a query string
// or userinfo. Every log line is captured at debug level and grepped.
TEST_F(CurlHttpClientTest, NoSecretReachesTheLog) {
  constexpr char kToken[] = "eyJ0eXAiOiJKV1Qi.bearer-token-value.sig";
  constexpr char kSecret[] = "form-secret-Zq8~value";
  constexpr char kQuerySecret[] = "query-code-4711";
  constexpr char kPassword[] = "userinfo-pass-0815";
  InitLogging(LogLevel::kDebug, "text");
  ::testing::internal::CaptureStderr();
  auto client = Client();
  std::vector<std::string> messages;
  HttpRequest request;
  request.method = "POST";
  request.url = server_.Url(absl::StrCat("/echo?code=", kQuerySecret));
  request.headers = {{"Authorization", absl::StrCat("Bearer ", kToken)},
                     {"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = absl::StrCat("grant_type=client_credentials&client_secret=", kSecret);
  request.service = "login";
  auto ok = client->Send(request);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->Header("X-Echo-Authorization"), absl::StrCat("Bearer ", kToken));  // it was sent

  request.url = absl::StrCat("http://user:", kPassword, "@127.0.0.1:", server_.port(),
                             "/slow?code=", kQuerySecret);
  request.method = "GET";
  request.timeout = absl::Milliseconds(50);
  messages.push_back(std::string(client->Send(request).status().message()));
  request.headers.push_back({"X-Bad", absl::StrCat(kToken, "\r\nX: y")});
  messages.push_back(std::string(client->Send(request).status().message()));
  const std::string closed_url = server_.Url(absl::StrCat("/echo?code=", kQuerySecret));
  server_.Stop();
  request.url = closed_url;
  request.timeout = absl::Seconds(2);
  messages.push_back(std::string(client->Send(request).status().message()));

  const std::string log = ::testing::internal::GetCapturedStderr();
  InitLogging(LogLevel::kInfo, "text");
  EXPECT_THAT(log, HasSubstr("http POST http://127.0.0.1:")) << "the log was not captured";
  for (const std::string& text : messages) EXPECT_FALSE(text.empty());
  messages.push_back(log);
  for (const std::string& text : messages) {
    for (const char* secret : {kToken, kSecret, kQuerySecret, kPassword}) {
      EXPECT_THAT(text, Not(HasSubstr(secret))) << text;
    }
  }
}

// A TLS server with a certificate no system CA signed: refused by default,
// trusted with HttpConfig::ca_file pointing at it, and only for the host
// names it carries.
class CurlHttpClientTlsTest : public ::testing::Test {
 protected:
  // Self-signed, for IP 127.0.0.1 and localhost, valid 2000-2100.
  static constexpr char kCert[] = R"(-----BEGIN CERTIFICATE-----
MIIBkjCCATmgAwIBAgIBATAKBggqhkjOPQQDAjAiMSAwHgYDVQQDDBdndWVzdGZs
b3cgdGVzdCBsb29wYmFjazAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAw
MFowIjEgMB4GA1UEAwwXZ3Vlc3RmbG93IHRlc3QgbG9vcGJhY2swWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAARQdlrOi7ROkLvo6rC4TSlRVhon4wfMpFIALD/Fq/4I
hlc/dmo8MrIDWYQcoAgQasX2d9Yw7mcVRA6ER0MhWvx6o14wXDAaBgNVHREEEzAR
hwR/AAABgglsb2NhbGhvc3QwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC
AoQwHQYDVR0OBBYEFLY76awDHJifJIVFy1B80nzNmxGyMAoGCCqGSM49BAMCA0cA
MEQCIFtQoEc62J6FhdCPfsvYxuW1dOC6Pql9uD4PU2X+pNvBAiAHxYfqu8HABofP
iWdhWeasEM7NYFgSCJTJDhsJRM2QmQ==
-----END CERTIFICATE-----
)";
  // The certificate's key; a test value that protects nothing.
  static constexpr char kKey[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgv4xI2nmiXib5gAct
TnJfRAtqE5ktDED9ZE6tOlSJUg+hRANCAARQdlrOi7ROkLvo6rC4TSlRVhon4wfM
pFIALD/Fq/4Ihlc/dmo8MrIDWYQcoAgQasX2d9Yw7mcVRA6ER0MhWvx6
-----END PRIVATE KEY-----
)";

  struct TlsServer {
    std::unique_ptr<httplib::SSLServer> server;
    std::thread thread;
    int port = 0;
  };

  void SetUp() override {
    char pattern[] = "/tmp/curl_tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    cert_file_ = dir_ + "/cert.pem";
    key_file_ = dir_ + "/key.pem";
    std::ofstream(cert_file_) << kCert;
    std::ofstream(key_file_) << kKey;
  }

  void TearDown() override {
    for (TlsServer& s : servers_) {
      s.server->stop();
      if (s.thread.joinable()) s.thread.join();
    }
    std::remove(cert_file_.c_str());
    std::remove(key_file_.c_str());
    rmdir(dir_.c_str());
  }

  // Serves GET /hello on `host` (a loopback address); returns the port.
  int Serve(const std::string& host) {
    TlsServer& s = servers_.emplace_back();
    s.server = std::make_unique<httplib::SSLServer>(cert_file_.c_str(), key_file_.c_str());
    EXPECT_TRUE(s.server->is_valid());
    s.server->Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello over tls", "text/plain");
    });
    s.port = s.server->bind_to_any_port(host.c_str());
    EXPECT_GT(s.port, 0) << host;
    httplib::SSLServer* server = s.server.get();
    s.thread = std::thread([server] { server->listen_after_bind(); });
    for (int i = 0; i < 2000 && !server->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return s.port;
  }

  std::string dir_;
  std::string cert_file_;
  std::string key_file_;
  std::deque<TlsServer> servers_;
};

TEST_F(CurlHttpClientTlsTest, UnknownIssuerIsRefusedAndTheCaFileTrustsIt) {
  HttpRequest request;
  request.url = absl::StrCat("https://127.0.0.1:", Serve("127.0.0.1"), "/hello");
  request.timeout = absl::Seconds(5);

  auto system_cas = CurlHttpClient::Create(HttpConfig{});
  ASSERT_TRUE(system_cas.ok());
  auto refused = (*system_cas)->Send(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("certificate"));

  HttpConfig config;
  config.ca_file = cert_file_;
  auto pinned = CurlHttpClient::Create(config);
  ASSERT_TRUE(pinned.ok());
  auto trusted = (*pinned)->Send(request);
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_EQ(trusted->status, 200);
  EXPECT_EQ(trusted->body, "hello over tls");
}

TEST_F(CurlHttpClientTlsTest, HostNameIsVerified) {
  // The same trusted certificate, served on an address it does not name.
  HttpConfig config;
  config.ca_file = cert_file_;
  auto client = CurlHttpClient::Create(config);
  ASSERT_TRUE(client.ok());
  HttpRequest request;
  request.url = absl::StrCat("https://127.0.0.2:", Serve("127.0.0.2"), "/hello");
  request.timeout = absl::Seconds(5);
  auto response = (*client)->Send(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("127.0.0.2"));
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
