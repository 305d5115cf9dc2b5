#include "common/secret_setting.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace guestflow::plugins {

std::string ReadSecretSetting(const nlohmann::json& settings, const std::string& key,
                              const std::string& plugin) {
  auto it = settings.find(key);
  if (it == settings.end() || it->is_null()) return "";
  const std::string where = plugin + " settings: '" + key + "'";
  if (!it->is_object() || it->size() != 1 || !(it->contains("env") || it->contains("file")) ||
      !it->begin()->is_string()) {
    throw std::invalid_argument(where +
                                " must be {env: VARIABLE} or {file: PATH}; secrets are never "
                                "written in the config itself");
  }
  if (it->contains("env")) {
    const std::string name = (*it)["env"];
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') {
      throw std::invalid_argument(where + ": the environment variable " + name +
                                  " is not set or empty");
    }
    return value;
  }
  std::filesystem::path path((*it)["file"].get<std::string>());
  if (path.is_relative()) {
    auto base = settings.find("base_dir");
    if (base == settings.end() || !base->is_string()) {
      throw std::invalid_argument(where + ": the relative path " + path.string() +
                                  " needs a base_dir to resolve against");
    }
    path = std::filesystem::path(base->get<std::string>()) / path;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::invalid_argument(where + ": cannot read " + path.string() + ": " +
                                std::strerror(errno));
  }
  std::stringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw std::invalid_argument(where + ": " + path.string() + " is empty");
  return secret;
}

}  // namespace guestflow::plugins
