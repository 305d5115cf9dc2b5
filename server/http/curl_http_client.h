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

// An HttpClient over libcurl easy handles. Handles are pooled: a request takes
// an idle handle (with its open connections, DNS and TLS session caches) and
// gives it back, so consecutive requests to one host reuse a connection.
//
// Behaviour: connect timeout and default whole-request timeout from
// HttpConfig; TLS peer and host verification always on (HttpConfig::ca_file
// replaces the system CAs when set); http and https only; redirects are not
// followed (a 3xx is returned as is); bodies larger than
// HttpConfig::max_response_bytes fail with RESOURCE_EXHAUSTED. Nothing a
// request carries (headers, body, query string) is ever logged.
//
// Thread-safe. Must outlive every Send call.
class CurlHttpClient : public HttpClient {
 public:
  // FAILED_PRECONDITION when libcurl cannot be initialised or `ca_file` is
  // set but unreadable (the message names the file).
  static absl::StatusOr<std::unique_ptr<CurlHttpClient>> Create(const HttpConfig& config);

  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  [[nodiscard]] absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  explicit CurlHttpClient(const HttpConfig& config);

  // A libcurl easy handle (CURL*), idle or new. Released with Release().
  void* Acquire();
  void Release(void* handle);

  const HttpConfig config_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow
