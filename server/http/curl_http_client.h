// The libcurl HttpClient.
#pragma once

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/config/config.h"
#include "server/http/http_client.h"

namespace guestflow {

// Limits of CurlHttpClient that HttpConfig does not carry.
struct HttpLimits {
  // Request headers plus body; a larger request fails with INVALID_ARGUMENT
  // before anything is sent.
  size_t max_request_bytes = 16 << 20;
  // All the response's header lines together; more fails with
  // RESOURCE_EXHAUSTED.
  size_t max_response_header_bytes = 256 << 10;
};

// An HttpClient over libcurl easy handles. Handles are pooled: a request takes
// an idle handle (with its open connections, DNS and TLS session caches) and
// gives it back, so consecutive requests to one host reuse a connection.
//
// Behaviour: connect timeout and default whole-request timeout from
// HttpConfig; TLS 1.2 or later with peer and host verification always on
// (HttpConfig::ca_file replaces the system CAs when set); http and https
// only; redirects are not followed (a 3xx is returned as is); response bodies
// larger than HttpConfig::max_response_bytes fail with RESOURCE_EXHAUSTED, as
// do response headers beyond HttpLimits::max_response_header_bytes; requests
// larger than HttpLimits::max_request_bytes fail with INVALID_ARGUMENT.
// Logging: one debug line per request with the method, the URL without its
// query string or userinfo, the status and the duration. Nothing else a
// request or response carries (headers, body, query string) is ever logged
// or put in an error message.
//
// Thread-safe. Must outlive every Send call.
class CurlHttpClient : public HttpClient {
 public:
  // FAILED_PRECONDITION when libcurl cannot be initialised or `ca_file` is
  // set but unreadable (the message names the file).
  static absl::StatusOr<std::unique_ptr<CurlHttpClient>> Create(const HttpConfig& config,
                                                                HttpLimits limits = HttpLimits());

  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  [[nodiscard]] absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  CurlHttpClient(const HttpConfig& config, HttpLimits limits);

  // A libcurl easy handle (CURL*), idle or new. Released with Release().
  void* Acquire();
  void Release(void* handle);

  const HttpConfig config_;
  const HttpLimits limits_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow
