// HttpClient: how guestflowd (and, through the plugin host, every plugin)
// talks HTTP to the cloud. One place for connection reuse, timeouts, TLS
// verification and size limits. The libcurl implementation is
// curl_http_client.h; tests use a mock or a loopback server.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace guestflow {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";  // an upper-case token: GET, POST, PATCH, PUT, DELETE, HEAD...
  std::string url;             // absolute http:// or https:// URL
  std::vector<HttpHeader> headers;
  std::string body;
  // Whole-request timeout; zero or negative takes the client's default.
  absl::Duration timeout = absl::ZeroDuration();
  // The cloud service the request goes to ("graph", "dataverse", "admin",
  // "login", "webhook"...), for rate limits and metrics.
  std::string service;
};

struct HttpResponse {
  int status = 0;                   // the final HTTP status code
  std::vector<HttpHeader> headers;  // in arrival order; names as sent
  std::string body;                 // decoded (Content-Encoding removed)

  // The value of the first header named `name` (case-insensitive), or "".
  std::string Header(absl::string_view name) const {
    for (const HttpHeader& h : headers) {
      if (absl::EqualsIgnoreCase(h.name, name)) return h.value;
    }
    return {};
  }
};

// Thread-safe: Send may be called from any number of threads at once.
class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Sends `request` and blocks until the whole response arrived or failed.
  // Any HTTP status, 4xx and 5xx included, is a response, not an error.
  // Errors (the message never contains header values or the body):
  //   INVALID_ARGUMENT   the request is malformed (URL, method, header) or
  //                      larger than the client allows
  //   DEADLINE_EXCEEDED  the connect or whole-request timeout passed
  //   UNAVAILABLE        no response: DNS, connect, TLS, connection reset
  //   RESOURCE_EXHAUSTED the response (body or headers) is larger than the
  //                      client allows
  [[nodiscard]] virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace guestflow
