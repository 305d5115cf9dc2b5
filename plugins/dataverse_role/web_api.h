// The two Microsoft APIs the role step speaks, as thin helpers over the
// host's HTTP client (reference/microsoft-apis.md sections F and G):
//   DataverseApi  {instance_url}/api/data/v9.2/... with the OData headers
//   AdminApi      {admin_url}/providers/Microsoft.BusinessAppPlatform/...
// Neither retries nor sleeps: an answer that is not the wanted one goes back
// to the caller, which turns it into a step result (Failure()).
//
// Lifecycle: valid only during the sdk::Call they borrow. Not thread-safe
// (one per step run).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"

namespace guestflow::dataverse_role {

// An HTTP answer and its body parsed as JSON (null when it is not JSON).
// NOLINTNEXTLINE(bugprone-exception-escape): the implicit moves of json do not throw.
struct ApiResult {
  sdk::HttpResponse response;
  nlohmann::json body;

  int32_t status() const { return response.status; }
  // A 2xx answer.
  bool Succeeded() const { return status() >= 200 && status() < 300; }
  // The cloud's own words: `error.message` (with `error.code` when it has
  // one), or the raw body, shortened.
  std::string CloudMessage() const;
  // Whether the raw body mentions `text` (error codes such as
  // userNotLicensed may sit in `code` or in `message`).
  bool Mentions(std::string_view text) const;
  // `value` of an OData collection (an empty array if there is none).
  const nlohmann::json& Rows() const;
};

// object[key] when `object` is a JSON object whose `key` is a string, else "".
// Never throws, whatever the cloud answered.
std::string StringAt(const nlohmann::json& object, const char* key);

// `response` with its body parsed (ApiResult::body null when the body is not
// JSON). Never throws.
ApiResult ToApiResult(sdk::HttpResponse response);

// The step result for a failed call (sdk::ClassifyFailure with the cloud's
// message; 429/5xx retry with Retry-After), with a hint for the failures a
// person can fix.
sdk::StepResult Failure(const ApiResult& result, std::string_view what);

// An access token for `scope`, or the step result that says why there is
// none (Failed when retrying cannot help, Retry otherwise).
std::optional<sdk::StepResult> GetToken(sdk::Call& call, const std::string& scope,
                                        std::string* token);

// Percent-encodes a query option value (RFC 3986 unreserved characters and
// `$,()` stay as they are).
std::string EncodeQueryValue(std::string_view value);
// An OData string literal: 'O''Brien'.
std::string ODataString(std::string_view value);
// Whether `text` is a GUID (8-4-4-4-12 hex digits); only GUIDs are put into
// $filter and key segments unquoted.
bool IsGuid(std::string_view text);

class DataverseApi {
 public:
  // `instance_url` without a trailing '/'.
  DataverseApi(sdk::Call& call, std::string instance_url, std::string token, uint32_t timeout_ms);

  // `path` is relative to /api/data/v9.2/ and may carry a query string
  // (already encoded).
  ApiResult Get(std::string_view path);
  ApiResult Post(std::string_view path, const nlohmann::json& body);
  // PATCH with `If-Match: *`: update only, never an upsert.
  ApiResult PatchExisting(std::string_view path, const nlohmann::json& body);

  // The absolute URL of `path`, for @odata.id references.
  std::string Url(std::string_view path) const;

 private:
  ApiResult Send(std::string method, std::string_view path, std::string body,
                 std::vector<sdk::HttpHeader> extra_headers);

  sdk::Call& call_;
  const std::string instance_url_;
  const std::string token_;
  const uint32_t timeout_ms_;
};

class AdminApi {
 public:
  // `admin_url` without a trailing '/'.
  AdminApi(sdk::Call& call, std::string admin_url, std::string token, std::string api_version,
           uint32_t timeout_ms);

  // POST .../environments/{environment_id}/addUser {"objectId": ...}.
  ApiResult AddUser(const std::string& environment_id, const std::string& object_id);
  // GET .../environments/{environment_id}.
  ApiResult GetEnvironment(const std::string& environment_id);

 private:
  std::string EnvironmentUrl(const std::string& environment_id) const;

  sdk::Call& call_;
  const std::string admin_url_;
  const std::string token_;
  const std::string api_version_;
  const uint32_t timeout_ms_;
};

}  // namespace guestflow::dataverse_role
