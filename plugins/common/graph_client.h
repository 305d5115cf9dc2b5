// Microsoft Graph v1.0 over the host's HTTP client and token provider, for the
// plugins that speak Graph (azure_ad_invite, graph_license): the bearer token,
// the URLs, OData literals, the Graph error envelope, and what a failed answer
// means for the step.
//
// Header-only; standard library, nlohmann/json and the plugin SDK only (the
// plugin boundary forbids anything from server/).
//
// Thread safety: the free functions are thread-safe. A GraphClient belongs to
// one sdk::Call (one step or check on one thread) and lives no longer.
#pragma once

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "guestflow/cloud_errors.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"

namespace guestflow::plugins {

// The client-credentials scope of Microsoft Graph (microsoft-apis.md A).
inline constexpr char kGraphScope[] = "https://graph.microsoft.com/.default";
inline constexpr char kDefaultGraphUrl[] = "https://graph.microsoft.com";

// Percent-encodes everything but RFC 3986 unreserved characters: for a query
// value or a path segment.
inline std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// An OData string literal: 'text' with every ' doubled.
inline std::string ODataString(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  out.push_back('\'');
  return out;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

inline bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// `8-4-4-4-12` hex digits, any case.
inline bool IsGuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// `text` parsed as a JSON object, or nullopt. Never throws.
inline std::optional<nlohmann::json> ParseObject(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// j[key] if it is a string, else `fallback`. Never throws.
inline std::string StringAt(const nlohmann::json& j, std::string_view key,
                            std::string fallback = {}) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// j[key] if it is an object, else an empty object. Never throws.
inline nlohmann::json ObjectAt(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return nlohmann::json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : nlohmann::json::object();
}

// The `{"error":{"code","message"}}` envelope of a Graph answer; both empty
// when the body is not one.
struct GraphError {
  std::string code;
  std::string message;
};

inline GraphError ParseGraphError(std::string_view body) {
  const std::optional<nlohmann::json> j = ParseObject(body);
  if (!j.has_value()) return {};
  const nlohmann::json error = ObjectAt(*j, "error");
  return {StringAt(error, "code"), StringAt(error, "message")};
}

// Graph's error.message, or a short piece of a body that is not an envelope.
inline std::string CloudMessage(const sdk::HttpResponse& response) {
  GraphError error = ParseGraphError(response.body);
  if (!error.message.empty()) return error.message;
  if (!error.code.empty()) return error.code;
  constexpr size_t kMaxBody = 200;
  return response.body.size() <= kMaxBody ? response.body : response.body.substr(0, kMaxBody);
}

// The shared retry classification (guestflow/cloud_errors.h) with Graph's
// error.message: 429/5xx/transport → Retry (Retry-After honoured), other
// 4xx → Failed.
inline sdk::StepResult GraphFailure(const sdk::HttpResponse& response, std::string_view what) {
  return sdk::ClassifyFailure(response, what, CloudMessage(response));
}

// One step's (or check's) conversation with Graph. Usage:
//   GraphClient graph(call, graph_url);
//   if (auto failed = graph.Authenticate()) return *failed;
//   sdk::HttpResponse r = graph.Get("/users/" + UrlEncode(id));
class GraphClient {
 public:
  // `graph_url` is the tenant's `graph_url` (https://graph.microsoft.com, or
  // an emulator); trailing slashes are ignored. `call` must outlive this.
  GraphClient(sdk::Call& call, std::string_view graph_url, std::string scope = kGraphScope)
      : call_(call), scope_(std::move(scope)) {
    std::string base(graph_url.empty() ? std::string_view(kDefaultGraphUrl) : graph_url);
    while (!base.empty() && base.back() == '/') base.pop_back();
    graph_url_ = base;
    base_ = base + "/v1.0";
  }

  // Gets the bearer token. nullopt on success; otherwise the step's result:
  // Failed for a permanent token error (bad secret, unknown app or tenant),
  // Retry for a transient one.
  std::optional<sdk::StepResult> Authenticate() {
    std::string error;
    bool permanent = false;
    token_ = call_.Token(scope_, &error, &permanent);
    if (!token_.empty()) return std::nullopt;
    std::string why = "cannot get a Microsoft Graph token (" + scope_ + "): " + error;
    return permanent ? sdk::StepResult::Failed(std::move(why))
                     : sdk::StepResult::Retry(std::move(why));
  }

  // {graph_url}: e.g. for @odata.id references.
  const std::string& graph_url() const { return graph_url_; }

  // `path` starts with '/' and is relative to {graph_url}/v1.0; it carries
  // its own (already encoded) query string.
  sdk::HttpResponse Get(std::string_view path) { return Send("GET", path, nullptr); }

  // A request with a JSON body (`body` null: none).
  sdk::HttpResponse Send(std::string_view method, std::string_view path,
                         const nlohmann::json& body) {
    sdk::HttpRequest request;
    request.method = std::string(method);
    request.url = base_ + std::string(path);
    request.service = "graph";
    request.headers.push_back({"Authorization", "Bearer " + token_});
    request.headers.push_back({"Accept", "application/json"});
    if (!body.is_null()) {
      request.headers.push_back({"Content-Type", "application/json"});
      request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return call_.Http(request);
  }

 private:
  sdk::Call& call_;
  std::string scope_;
  std::string graph_url_;
  std::string base_;
  std::string token_;
};

}  // namespace guestflow::plugins
