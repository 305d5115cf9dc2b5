// A secret named in a plugin's settings, as the config names the app secret:
// {"env": "NAME"} (an environment variable of guestflowd) or {"file": "path"}
// (relative to the host's base_dir; its trailing newline dropped; at most
// 64 KiB). Read when
// the plugin is created, so a missing secret fails the config load. Error
// messages name the variable or file, never the value.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace guestflow::plugins {

// settings[key] read as a secret reference; "" when the key is absent. Sets
// *source (when given) to where it came from, for check():
// "environment variable NAME" or "file PATH". Throws std::invalid_argument
// "<plugin> settings: ..." when the reference is malformed, the variable is
// unset or empty, or the file unreadable, too big or empty.
std::string ReadSecretSetting(const nlohmann::json& settings, const std::string& key,
                              const std::string& plugin, std::string* source = nullptr);

}  // namespace guestflow::plugins
