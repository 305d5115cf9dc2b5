#include "common/secret_setting.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace guestflow::plugins {
namespace {

constexpr size_t kMaxSecretBytes = size_t{64} * 1024;

[[noreturn]] void Fail(const std::string& plugin, const std::string& why) {
  throw std::invalid_argument(plugin + " settings: " + why);
}

std::string ReadSecretFile(const nlohmann::json& settings, const std::string& key,
                           const std::string& name, const std::string& plugin) {
  namespace fs = std::filesystem;
  const std::string what = key + ".file";
  fs::path path(name);
  if (path.is_relative()) {
    auto base = settings.find("base_dir");
    if (base == settings.end() || !base->is_string() || base->get<std::string>().empty()) {
      Fail(plugin, what + " is the relative path \"" + name +
                       "\" and there is no base_dir to resolve it against");
    }
    path = fs::path(base->get<std::string>()) / path;
  }
  std::error_code ec;
  const fs::perms perms = fs::status(path, ec).permissions();
  if (!ec && (perms & (fs::perms::others_read | fs::perms::others_write)) != fs::perms::none) {
    Fail(plugin, what + " " + path.string() +
                     " is readable or writable by others; a secret file must not be "
                     "(chmod o-rwx " +
                     path.string() + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(plugin, "cannot read " + what + " " + path.string() + ": " + std::strerror(errno));
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxSecretBytes) Fail(plugin, what + " " + path.string() + " is too big");
  }
  if (in.bad()) Fail(plugin, "cannot read " + what + " " + path.string());
  // An editor's (or `echo`'s) final newline is not part of the secret.
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) Fail(plugin, what + " " + path.string() + " is empty");
  return text;
}

}  // namespace

std::string ReadSecretSetting(const nlohmann::json& settings, const std::string& key,
                              const std::string& plugin, std::string* source) {
  auto it = settings.find(key);
  if (it == settings.end() || it->is_null()) return "";
  if (!it->is_object() || it->size() != 1 || !(it->contains("env") || it->contains("file"))) {
    Fail(plugin, "'" + key + R"(' must be {"env": "VARIABLE"} or {"file": "path"}; )" +
                     "a secret is never written in the config itself");
  }
  const bool from_env = it->contains("env");
  const nlohmann::json& name_json = from_env ? (*it)["env"] : (*it)["file"];
  const std::string what = key + (from_env ? ".env" : ".file");
  if (!name_json.is_string() || name_json.get<std::string>().empty()) {
    Fail(plugin, "'" + what + "' must be a non-empty string");
  }
  const std::string name = name_json.get<std::string>();
  if (!from_env) {
    if (source != nullptr) *source = "file " + name;
    return ReadSecretFile(settings, key, name, plugin);
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) Fail(plugin, what + ": environment variable " + name + " is not set");
  if (*value == '\0') Fail(plugin, what + ": environment variable " + name + " is empty");
  if (source != nullptr) *source = "environment variable " + name;
  return value;
}

}  // namespace guestflow::plugins
