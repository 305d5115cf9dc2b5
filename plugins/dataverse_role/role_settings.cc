#include "role_settings.h"

#include <set>
#include <stdexcept>

#include "nlohmann/json.hpp"

namespace guestflow::dataverse_role {
namespace {

using nlohmann::json;

[[noreturn]] void Invalid(const std::string& key, const std::string& what) {
  throw std::invalid_argument("dataverse_role settings: " + key + ": " + what);
}

std::string String(const json& settings, const char* key, std::string fallback) {
  auto it = settings.find(key);
  if (it == settings.end() || it->is_null()) return fallback;
  if (!it->is_string() || it->get<std::string>().empty()) {
    Invalid(key, "must be a non-empty string");
  }
  return it->get<std::string>();
}

int64_t Milliseconds(const json& settings, const char* key, int64_t fallback) {
  auto it = settings.find(key);
  if (it == settings.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 86400000) {
    Invalid(key, "must be a whole number of milliseconds between 0 and 86400000");
  }
  return it->get<int64_t>();
}

}  // namespace

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

RoleSettings ParseRoleSettings(std::string_view json_text) {
  const json settings = json_text.empty()
                            ? json::object()
                            : json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!settings.is_object()) {
    throw std::invalid_argument("dataverse_role settings: must be a JSON object");
  }
  static const std::set<std::string> kKeys = {
      "admin_scope", "admin_api_version", "license_poll_ms", "sync_poll_ms",  "disabled_poll_ms",
      "timeout_ms",  "role_cache_ms",     "tenant_settings", "default_roles", "base_dir"};
  for (const auto& [key, value] : settings.items()) {
    if (kKeys.count(key) == 0) {
      std::string expected;
      for (const std::string& k : kKeys) expected += (expected.empty() ? "" : ", ") + k;
      Invalid(key, "unknown key; expected one of " + expected);
    }
  }

  RoleSettings s;
  s.admin_scope = String(settings, "admin_scope", s.admin_scope);
  s.admin_api_version = String(settings, "admin_api_version", s.admin_api_version);
  s.license_poll_ms = Milliseconds(settings, "license_poll_ms", s.license_poll_ms);
  s.sync_poll_ms = Milliseconds(settings, "sync_poll_ms", s.sync_poll_ms);
  s.disabled_poll_ms = Milliseconds(settings, "disabled_poll_ms", s.disabled_poll_ms);
  s.timeout_ms = static_cast<uint32_t>(Milliseconds(settings, "timeout_ms", 0));
  s.role_cache_ms = Milliseconds(settings, "role_cache_ms", s.role_cache_ms);

  if (auto it = settings.find("tenant_settings"); it != settings.end() && !it->is_null()) {
    if (!it->is_object()) Invalid("tenant_settings", "must be an object");
    s.check_endpoints.instance_url = TrimSlash(String(*it, "instance_url", ""));
    s.check_endpoints.admin_url =
        TrimSlash(String(*it, "admin_url", "https://api.bap.microsoft.com"));
    s.check_endpoints.environment_id = String(*it, "environment_id", "");
    s.check_endpoints_known = !s.check_endpoints.instance_url.empty();
  }
  // default_roles may sit beside tenant_settings or inside it.
  const json* roles = nullptr;
  if (auto it = settings.find("default_roles"); it != settings.end() && !it->is_null()) {
    roles = &*it;
  } else if (auto t = settings.find("tenant_settings"); t != settings.end() && t->is_object()) {
    if (auto r = t->find("default_roles"); r != t->end() && !r->is_null()) roles = &*r;
  }
  if (roles != nullptr) {
    if (!roles->is_array()) Invalid("default_roles", "must be an array of role names");
    for (const json& role : *roles) {
      if (!role.is_string() || role.get<std::string>().empty()) {
        Invalid("default_roles", "must be an array of non-empty role names");
      }
      s.default_roles.push_back(role.get<std::string>());
    }
  }
  return s;
}

}  // namespace guestflow::dataverse_role
