// hello_notifier (kind notifier, step `notify`): appends one line per
// onboarding to a text file:
//   <onboarding>\t<guest email>\t<tenant instance_url>
//
// Settings (JSON object):
//   file      required. The file to append to; a relative path resolves
//             against `base_dir` (the host passes the config file's folder).
//   base_dir  absolute folder relative `file`s resolve against.
//
// Idempotent: a step run again for the same onboarding (a retry, a restart)
// finds its line already in the file and adds nothing. One process-wide
// mutex serializes the check-then-append, so instances of several tenants may
// share one file.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"

namespace hello {
namespace {

namespace fs = std::filesystem;
using guestflow::sdk::StepResult;

std::string StringOr(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::mutex& FileMutex() {
  static std::mutex mutex;
  return mutex;
}

class HelloNotifier : public guestflow::sdk::Plugin {
 public:
  HelloNotifier(const guestflow::sdk::Host& /*host*/, std::string_view settings_json) {
    const nlohmann::json settings = nlohmann::json::parse(
        settings_json.empty() ? std::string_view("{}") : settings_json, nullptr, false);
    if (!settings.is_object()) {
      throw std::invalid_argument("hello_notifier: the settings are not a JSON object");
    }
    const std::string file = StringOr(settings, "file");
    if (file.empty()) {
      throw std::invalid_argument("hello_notifier: the setting `file` (a path) is required");
    }
    path_ = file;
    if (path_.is_relative()) {
      const std::string base = StringOr(settings, "base_dir");
      if (base.empty() || fs::path(base).is_relative()) {
        throw std::invalid_argument("hello_notifier: `file` \"" + file +
                                    "\" is relative and there is no absolute `base_dir`");
      }
      path_ = fs::path(base) / path_;
    }
    default_instance_url_ =
        StringOr(settings.value("tenant_settings", nlohmann::json()), "instance_url");
  }

  StepResult RunStep(guestflow::sdk::Call& call, std::string_view step,
                     std::string_view input_json) override {
    if (step != "notify") {
      return StepResult::Failed("hello_notifier: runs only the step `notify`, not `" +
                                std::string(step) + "`");
    }
    const nlohmann::json input = nlohmann::json::parse(input_json, nullptr, false);
    if (!input.is_object()) return StepResult::Failed("hello_notifier: the input is not JSON");
    const std::string onboarding = StringOr(input, "onboarding");
    const std::string email = StringOr(input.value("guest", nlohmann::json()), "email");
    std::string instance_url =
        StringOr(input.value("tenant_settings", nlohmann::json()), "instance_url");
    if (instance_url.empty()) instance_url = default_instance_url_;
    if (onboarding.empty() || email.empty() || instance_url.empty()) {
      return StepResult::Failed(
          "hello_notifier: the input lacks the onboarding, the guest email or the tenant's "
          "instance_url");
    }
    const std::string line = onboarding + "\t" + email + "\t" + instance_url;

    std::lock_guard<std::mutex> lock(FileMutex());
    // A line for this onboarding may be there from an earlier attempt.
    {
      std::ifstream in(path_);
      std::string existing;
      const std::string prefix = onboarding + "\t";
      while (std::getline(in, existing)) {
        if (existing.compare(0, prefix.size(), prefix) == 0) {
          call.Log(GF_LOG_INFO, "hello_notifier: already noted in " + path_.string());
          return StepResult::Succeeded();
        }
      }
    }
    std::ofstream out(path_, std::ios::app);
    out << line << '\n';
    out.flush();
    if (!out) {
      // A missing folder or no permission will not fix itself.
      return StepResult::Failed("hello_notifier: cannot append to " + path_.string() + ": " +
                                std::strerror(errno) + " (check the setting `file`)");
    }
    call.SetOutput("file", path_.string());
    return StepResult::Succeeded();
  }

 private:
  fs::path path_;
  std::string default_instance_url_;
};

}  // namespace
}  // namespace hello

GUESTFLOW_PLUGIN(hello::HelloNotifier, "hello_notifier", GF_PLUGIN_KIND_NOTIFIER, "1.0.0")
