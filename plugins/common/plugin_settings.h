// Reading a plugin's settings object (the tenant's JSON for the plugin, given
// to create()) strictly: unknown keys and wrong types are refused with a
// message naming the key, so a typo in the config fails at load time instead
// of being silently ignored.
//
// Header-only. Every method throws std::invalid_argument (create() turns it
// into a failed create with that message); thread-compatible.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/graph_client.h"
#include "nlohmann/json.hpp"

namespace guestflow::plugins {

class SettingsReader {
 public:
  // `plugin` prefixes every message ("azure_ad_invite settings: ...").
  SettingsReader(std::string_view json_text, std::string plugin) : plugin_(std::move(plugin)) {
    std::optional<nlohmann::json> j =
        json_text.empty() ? nlohmann::json::object() : ParseObject(json_text);
    if (!j.has_value()) Fail("not a JSON object");
    settings_ = *std::move(j);
  }

  // Refuses any key outside `known`, except those the host adds to every
  // plugin's settings (plugin_abi.h, create): base_dir, tenant_settings,
  // default_roles.
  void RejectUnknown(std::initializer_list<std::string_view> known) const {
    for (auto it = settings_.begin(); it != settings_.end(); ++it) {
      if (it.key() == "base_dir" || it.key() == "tenant_settings" || it.key() == "default_roles") {
        continue;
      }
      bool ok = false;
      for (std::string_view k : known) ok = ok || it.key() == k;
      if (ok) continue;
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      Fail("unknown key '" + it.key() + "' (known: " + list + ")");
    }
  }

  std::string String(std::string_view key, std::string fallback = {}) const {
    auto it = settings_.find(key);
    if (it == settings_.end() || it->is_null()) return fallback;
    if (!it->is_string()) Fail("'" + std::string(key) + "' must be a string");
    return it->get<std::string>();
  }

  int64_t Int(std::string_view key, int64_t fallback, int64_t min, int64_t max) const {
    auto it = settings_.find(key);
    if (it == settings_.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) Fail("'" + std::string(key) + "' must be an integer");
    const int64_t v = it->get<int64_t>();
    if (v < min || v > max) {
      Fail("'" + std::string(key) + "' must be between " + std::to_string(min) + " and " +
           std::to_string(max));
    }
    return v;
  }

  // A GUID (e.g. an object id), or "" when absent.
  std::string Guid(std::string_view key) const {
    std::string v = String(key);
    if (!v.empty() && !IsGuid(v)) {
      Fail("'" + std::string(key) + "' must be a GUID, got '" + v + "'");
    }
    return v;
  }

  // settings.tenant_settings.<key> (the host adds the tenant's endpoints:
  // what check(), which gets no step input, talks to), or "".
  std::string TenantSetting(std::string_view key) const {
    return StringAt(ObjectAt(settings_, "tenant_settings"), key);
  }

  [[noreturn]] void Fail(const std::string& why) const {
    throw std::invalid_argument(plugin_ + " settings: " + why);
  }

 private:
  std::string plugin_;
  nlohmann::json settings_;
};

}  // namespace guestflow::plugins
