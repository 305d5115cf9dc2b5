#include "server/plugin_host/plugin_instance.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace guestflow {

void PluginInstance::Deleter::operator()(gf_instance* instance) const {
  if (instance != nullptr) library->table().destroy(instance);
}

PluginInstance::PluginInstance(std::shared_ptr<PluginLibrary> library, gf_instance* instance)
    : library_(library), instance_(instance, Deleter{std::move(library)}) {}

std::string PluginInstance::LastError() const {
  const char* error = table().last_error(raw());
  return error != nullptr ? std::string(error) : std::string();
}

absl::StatusOr<std::unique_ptr<PluginInstance>> PluginInstance::Create(
    std::shared_ptr<PluginLibrary> library, const gf_host_api* host,
    absl::string_view settings_json) {
  const absl::string_view settings = settings_json.empty() ? "{}" : settings_json;
  const gf_plugin_table& table = library->table();
  gf_instance* instance = nullptr;
  const gf_step_outcome outcome =
      table.create(host, gf_str{settings.data(), settings.size()}, &instance);
  if (outcome == GF_STEP_SUCCEEDED && instance != nullptr) {
    return std::unique_ptr<PluginInstance>(new PluginInstance(std::move(library), instance));
  }
  // last_error(NULL) is the plugin's thread-local error of the failed create.
  const char* raw_error = table.last_error(nullptr);
  std::string error = raw_error != nullptr && raw_error[0] != '\0'
                          ? std::string(raw_error)
                          : std::string("no error message");
  if (instance != nullptr) table.destroy(instance);  // a create that failed but still allocated
  const std::string message = absl::StrCat("plugin ", library->name(), " (", library->path(),
                                           ") could not create an instance: ", error);
  if (outcome == GF_STEP_FAILED) return absl::FailedPreconditionError(message);
  if (outcome == GF_STEP_SUCCEEDED) {
    return absl::InternalError(absl::StrCat("plugin ", library->name(), " (", library->path(),
                                            ") create() succeeded without an instance"));
  }
  return absl::InternalError(message);
}

}  // namespace guestflow
