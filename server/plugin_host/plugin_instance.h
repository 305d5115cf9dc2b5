// PluginInstance: one plugin instance (one tenant's binding), owned RAII-style.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "guestflow/plugin_abi.h"
#include "server/plugin_host/plugin_library.h"

namespace guestflow {

// Lifecycle: Create() calls the plugin's create(); destruction calls its
// destroy() and only then lets go of the library, so the plugin's code is
// still mapped while its instance is freed.
// Thread-safety: raw() may be used from several threads at once (the ABI
// requires instances to be thread-safe); construction and destruction are not
// concurrent with any use.
class PluginInstance {
 public:
  // Creates an instance with `settings_json` ("" is passed as "{}").
  // `host` must stay valid until this object is destroyed. Errors name the
  // plugin and carry its last_error(): FAILED_PRECONDITION when create()
  // reported a failure, INTERNAL when it broke (GF_STEP_PLUGIN_ERROR, an
  // unknown outcome or a null instance).
  static absl::StatusOr<std::unique_ptr<PluginInstance>> Create(
      std::shared_ptr<PluginLibrary> library, const gf_host_api* host,
      absl::string_view settings_json);

  const PluginLibrary& library() const { return *library_; }
  const gf_plugin_table& table() const { return library_->table(); }
  // OWNERSHIP: the plugin's object, owned by this PluginInstance.
  gf_instance* raw() const { return instance_.get(); }

  // The plugin's last error on this thread (right after a call into it), or "".
  std::string LastError() const;

 private:
  // Frees the instance through the plugin that made it; holding the library
  // keeps that code loaded until the instance is gone.
  struct Deleter {
    std::shared_ptr<PluginLibrary> library;
    void operator()(gf_instance* instance) const;
  };

  PluginInstance(std::shared_ptr<PluginLibrary> library, gf_instance* instance);

  std::shared_ptr<PluginLibrary> library_;
  std::unique_ptr<gf_instance, Deleter> instance_;
};

}  // namespace guestflow
