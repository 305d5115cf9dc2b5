#include "server/http/curl_http_client.h"

#include <curl/curl.h>

#include <fstream>
#include <mutex>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/logging.h"
#include "server/common/status_macros.h"

namespace guestflow {
namespace {

// More idle handles than this are closed rather than pooled: a burst of
// parallel requests should not pin its connections forever. As many as
// engine.workers may be (256), so that a handle given back by one of many
// workers is kept with its connection rather than closed.
constexpr size_t kMaxIdleHandles = 256;

CURLcode GlobalInit() {
  // curl_global_init is not thread-safe on every libcurl build; run it once.
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

// The URL without userinfo, query or fragment: what may appear in a message
// or a log line (query strings and userinfo can carry secrets).
std::string UrlForLog(absl::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return std::string(url);
  const size_t authority_start = scheme_end + 3;
  const size_t path_start = url.find('/', authority_start);
  const size_t at = url.substr(0, path_start).rfind('@');
  if (at == absl::string_view::npos || at < authority_start) return std::string(url);
  return absl::StrCat(url.substr(0, authority_start), url.substr(at + 1));
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

absl::Status Validate(const HttpRequest& request) {
  if (request.method.empty()) return absl::InvalidArgumentError("empty HTTP method");
  for (char c : request.method) {
    if (c < 'A' || c > 'Z') {
      return absl::InvalidArgumentError("HTTP method must be an upper-case token");
    }
  }
  if (!absl::StartsWithIgnoreCase(request.url, "http://") &&
      !absl::StartsWithIgnoreCase(request.url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL ", UrlForLog(request.url), " is not an absolute http(s) URL"));
  }
  for (char c : request.url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("URL ", UrlForLog(request.url), " contains a space or control character"));
    }
  }
  for (const HttpHeader& h : request.headers) {
    if (h.name.empty()) return absl::InvalidArgumentError("empty HTTP header name");
    for (char c : h.name) {
      if (!IsTokenChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid character in HTTP header name ", absl::CEscape(h.name)));
      }
    }
    // The value is never echoed: it may be a bearer token.
    if (h.value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("HTTP header ", h.name, " has a line break or NUL in its value"));
    }
  }
  return absl::OkStatus();
}

struct Collector {
  HttpResponse response;
  size_t limit = 0;
  bool too_large = false;
  size_t header_bytes = 0;
  size_t header_limit = 0;
  bool headers_too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* c = static_cast<Collector*>(user);
  const size_t len = size * count;
  if (c->response.body.size() + len > c->limit) {
    c->too_large = true;
    return 0;  // anything but `len` makes libcurl stop with CURLE_WRITE_ERROR
  }
  c->response.body.append(data, len);
  return len;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* c = static_cast<Collector*>(user);
  const size_t len = size * count;
  c->header_bytes += len;
  if (c->header_bytes > c->header_limit) {
    c->headers_too_large = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  absl::string_view line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  // A status line starts a new response (after a 100 Continue, for one):
  // only the final response's headers are kept.
  if (absl::StartsWith(line, "HTTP/")) {
    c->response.headers.clear();
    return len;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0) return len;
  c->response.headers.push_back({std::string(line.substr(0, colon)),
                                 std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)))});
  return len;
}

bool HasHeader(const HttpRequest& request, absl::string_view name) {
  for (const HttpHeader& h : request.headers) {
    if (absl::EqualsIgnoreCase(h.name, name)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CurlHttpClient>> CurlHttpClient::Create(const HttpConfig& config,
                                                                       HttpLimits limits) {
  const CURLcode init = GlobalInit();
  if (init != CURLE_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("libcurl initialisation failed: ", curl_easy_strerror(init)));
  }
  if (!config.ca_file.empty() && !std::ifstream(config.ca_file).good()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the CA file ", config.ca_file, " (http.ca_file)"));
  }
  return std::unique_ptr<CurlHttpClient>(new CurlHttpClient(config, limits));
}

CurlHttpClient::CurlHttpClient(const HttpConfig& config, HttpLimits limits)
    : config_(config), limits_(limits) {}

CurlHttpClient::~CurlHttpClient() {
  absl::MutexLock lock(&mu_);
  for (void* handle : idle_) curl_easy_cleanup(handle);
}

void* CurlHttpClient::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void CurlHttpClient::Release(void* handle) {
  // reset() drops the request's options (and pointers into it) but keeps the
  // handle's live connections and DNS/TLS session caches: that is the reuse.
  curl_easy_reset(handle);
  {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(handle);
}

absl::StatusOr<HttpResponse> CurlHttpClient::Send(const HttpRequest& request) {
  GF_RETURN_IF_ERROR(Validate(request));
  size_t request_bytes = request.body.size();
  for (const HttpHeader& h : request.headers) request_bytes += h.name.size() + h.value.size() + 4;
  if (request_bytes > limits_.max_request_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        request.method, " ", UrlForLog(request.url), ": the request is ", request_bytes,
        " bytes, over the limit of ", limits_.max_request_bytes, " bytes"));
  }
  CURL* curl = Acquire();
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  absl::Cleanup release = [this, curl] { Release(curl); };

  curl_slist* headers = nullptr;
  absl::Cleanup free_headers = [&headers] { curl_slist_free_all(headers); };
  for (const HttpHeader& h : request.headers) {
    // "Name;" is libcurl's spelling of a header with an empty value; "Name:"
    // would remove the header instead.
    headers =
        curl_slist_append(headers, h.value.empty() ? absl::StrCat(h.name, ";").c_str()
                                                   : absl::StrCat(h.name, ": ", h.value).c_str());
  }
  // libcurl would otherwise wait for "100 Continue" on large bodies and invent
  // a form Content-Type for every body.
  headers = curl_slist_append(headers, "Expect:");
  if (!HasHeader(request, "Content-Type")) headers = curl_slist_append(headers, "Content-Type:");

  Collector collector;
  collector.limit = config_.max_response_bytes;
  collector.header_limit = limits_.max_response_header_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  const absl::Duration timeout =
      request.timeout > absl::ZeroDuration() ? request.timeout : config_.request_timeout;

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a threaded server
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(config_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  // Pooled connections can sit idle for minutes; keepalive probes notice a
  // peer (or a NAT) that dropped them.
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!config_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  // Accept-Encoding: identity. The answers are a few KiB of JSON, and
  // compressing them costs both ends more CPU than the bytes saved (asked for
  // "", libcurl offers brotli, which cpp-httplib, the emulator, compresses at
  // quality 11, for every answer).
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "identity");
  // Request bodies are small too: a 16 KiB upload buffer (the least libcurl
  // takes) instead of 64 KiB keeps each transfer's buffer below glibc's
  // 64 KiB free that consolidates the heap.
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "guestflowd");
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(config_.max_response_bytes));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &collector);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &collector);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);

  const bool sends_body = !request.body.empty() || request.method == "POST" ||
                          request.method == "PUT" || request.method == "PATCH";
  if (sends_body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const absl::Time start = absl::Now();
  const CURLcode code = curl_easy_perform(curl);
  const bool log_debug = LogEnabled(LogLevel::kDebug);
  const auto context = [&] {
    return absl::StrCat("service=", request.service.empty() ? "other" : request.service,
                        " duration_ms=", absl::ToInt64Milliseconds(absl::Now() - start));
  };

  if (code != CURLE_OK) {
    const std::string target = absl::StrCat(request.method, " ", UrlForLog(request.url));
    std::string why = curl_easy_strerror(code);
    if (error_buffer[0] != '\0') absl::StrAppend(&why, ": ", error_buffer);
    if (log_debug) LogDebug(absl::StrCat("http ", target, " failed: ", why), context());
    if (code == CURLE_WRITE_ERROR && collector.headers_too_large) {
      return absl::ResourceExhaustedError(
          absl::StrCat(target, ": response headers exceed the limit of ",
                       limits_.max_response_header_bytes, " bytes"));
    }
    if (code == CURLE_FILESIZE_EXCEEDED || (code == CURLE_WRITE_ERROR && collector.too_large)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          target, ": response body exceeds the limit of ", config_.max_response_bytes, " bytes"));
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(absl::StrCat(target, ": ", why));
    }
    if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
      return absl::InvalidArgumentError(absl::StrCat(target, ": ", why));
    }
    return absl::UnavailableError(absl::StrCat(target, ": ", why));
  }
  long status = 0;  // NOLINT(google-runtime-int): the type libcurl writes
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  collector.response.status = static_cast<int>(status);
  if (log_debug) {
    LogDebug(absl::StrCat("http ", request.method, " ", UrlForLog(request.url), " -> ", status),
             context());
  }
  return std::move(collector.response);
}

}  // namespace guestflow
