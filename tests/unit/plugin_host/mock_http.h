// gMock doubles of the HTTP interfaces the plugin host lends to plugins.
#pragma once

#include "gmock/gmock.h"
#include "server/http/http_client.h"
#include "server/http/token_provider.h"

namespace guestflow {

class MockHttpClient : public HttpClient {
 public:
  MOCK_METHOD(absl::StatusOr<HttpResponse>, Send, (const HttpRequest& request), (override));
};

class MockTokenProvider : public TokenProvider {
 public:
  MOCK_METHOD(absl::StatusOr<std::string>, GetToken, (const TokenRequest& request), (override));
};

}  // namespace guestflow
