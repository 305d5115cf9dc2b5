#include "web_api.h"

#include <cctype>
#include <utility>

#include "guestflow/cloud_errors.h"

namespace guestflow::dataverse_role {
namespace {

constexpr char kApiPath[] = "/api/data/v9.2/";
constexpr size_t kMaxBodyInMessage = 300;
constexpr char kNotMemberCode[] = "0x80072560";

}  // namespace

std::string StringAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

ApiResult ToApiResult(sdk::HttpResponse response) {
  ApiResult result;
  result.body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (result.body.is_discarded()) result.body = nullptr;
  result.response = std::move(response);
  return result;
}

std::string ApiResult::CloudMessage() const {
  if (body.is_object()) {
    auto error = body.find("error");
    if (error != body.end() && error->is_object()) {
      std::string message = error->value("message", "");
      const std::string code = error->value("code", "");
      if (!code.empty()) message += message.empty() ? code : " (code " + code + ")";
      if (!message.empty()) return message;
    }
  }
  std::string text = response.body.substr(0, kMaxBodyInMessage);
  if (response.body.size() > kMaxBodyInMessage) text += "...";
  return text;
}

bool ApiResult::Mentions(std::string_view text) const {
  return response.body.find(text) != std::string::npos;
}

const nlohmann::json& ApiResult::Rows() const {
  static const nlohmann::json* empty = new nlohmann::json(nlohmann::json::array());
  if (!body.is_object()) return *empty;
  auto it = body.find("value");
  return it != body.end() && it->is_array() ? *it : *empty;
}

sdk::StepResult Failure(const ApiResult& result, std::string_view what) {
  std::string message = result.CloudMessage();
  if (result.status() == 403 && result.Mentions(kNotMemberCode)) {
    message +=
        "; the app registration has no application user in this Dataverse environment; add "
        "one (Power Platform admin center > environment > Settings > Application users) with a "
        "security role that can read users and roles and assign roles";
  }
  return sdk::ClassifyFailure(result.response, what, message);
}

std::optional<sdk::StepResult> GetToken(sdk::Call& call, const std::string& scope,
                                        std::string* token) {
  std::string error;
  bool permanent = false;
  *token = call.Token(scope, &error, &permanent);
  if (!token->empty()) return std::nullopt;
  std::string why = "token for " + scope + ": " + (error.empty() ? "no token" : error);
  if (permanent) return sdk::StepResult::Failed(std::move(why));
  return sdk::StepResult::Retry(std::move(why));
}

std::string EncodeQueryValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '$' || c == ',' ||
        c == '(' || c == ')') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string ODataString(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

bool IsGuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

DataverseApi::DataverseApi(sdk::Call& call, std::string instance_url, std::string token,
                           uint32_t timeout_ms)
    : call_(call),
      instance_url_(std::move(instance_url)),
      token_(std::move(token)),
      timeout_ms_(timeout_ms) {}

std::string DataverseApi::Url(std::string_view path) const {
  return instance_url_ + kApiPath + std::string(path);
}

ApiResult DataverseApi::Get(std::string_view path) {
  // If-None-Match: null keeps Dataverse from answering from a cache
  // (reference F, recommended on every request).
  return Send("GET", path, "", {{"If-None-Match", "null"}});
}

ApiResult DataverseApi::Post(std::string_view path, const nlohmann::json& body) {
  return Send("POST", path, body.dump(), {{"Content-Type", "application/json"}});
}

ApiResult DataverseApi::PatchExisting(std::string_view path, const nlohmann::json& body) {
  return Send("PATCH", path, body.dump(),
              {{"Content-Type", "application/json"}, {"If-Match", "*"}});
}

ApiResult DataverseApi::Send(std::string method, std::string_view path, std::string body,
                             std::vector<sdk::HttpHeader> extra_headers) {
  sdk::HttpRequest request;
  request.method = std::move(method);
  request.url = Url(path);
  request.service = "dataverse";
  request.timeout_ms = timeout_ms_;
  request.body = std::move(body);
  request.headers = {{"Authorization", "Bearer " + token_},
                     {"Accept", "application/json"},
                     {"OData-MaxVersion", "4.0"},
                     {"OData-Version", "4.0"}};
  for (sdk::HttpHeader& h : extra_headers) request.headers.push_back(std::move(h));
  return ToApiResult(call_.Http(request));
}

AdminApi::AdminApi(sdk::Call& call, std::string admin_url, std::string token,
                   std::string api_version, uint32_t timeout_ms)
    : call_(call),
      admin_url_(std::move(admin_url)),
      token_(std::move(token)),
      api_version_(std::move(api_version)),
      timeout_ms_(timeout_ms) {}

std::string AdminApi::EnvironmentUrl(const std::string& environment_id) const {
  return admin_url_ + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/" +
         EncodeQueryValue(environment_id);
}

ApiResult AdminApi::AddUser(const std::string& environment_id, const std::string& object_id) {
  sdk::HttpRequest request;
  request.method = "POST";
  request.url =
      EnvironmentUrl(environment_id) + "/addUser?api-version=" + EncodeQueryValue(api_version_);
  request.service = "admin";
  request.timeout_ms = timeout_ms_;
  request.body = nlohmann::json{{"objectId", object_id}}.dump();
  request.headers = {{"Authorization", "Bearer " + token_},
                     {"Accept", "application/json"},
                     {"Content-Type", "application/json"}};
  return ToApiResult(call_.Http(request));
}

ApiResult AdminApi::GetEnvironment(const std::string& environment_id) {
  sdk::HttpRequest request;
  request.method = "GET";
  request.url = EnvironmentUrl(environment_id) + "?api-version=" + EncodeQueryValue(api_version_);
  request.service = "admin";
  request.timeout_ms = timeout_ms_;
  request.headers = {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}};
  return ToApiResult(call_.Http(request));
}

}  // namespace guestflow::dataverse_role
