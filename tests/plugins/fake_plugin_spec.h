// What tells one fake plugin library from another. fake_plugins.cc, compiled
// once, is the plugin; each library adds fake_plugin_spec.cc, compiled with
// its own FAKE_PLUGIN_NAME, FAKE_PLUGIN_KIND and FAKE_BEHAVIOR.
#pragma once

namespace guestflow::fake {

// What every RunStep of the library ends with.
enum class Behavior {
  kSucceed,  // SUCCEEDED, with the step's usual outputs
  kFail,     // FAILED: "no free seats (test plugin)"
  kRetry,    // RETRY (or WAIT), then SUCCEEDED: see fake_plugins.cc
  kThrow,    // throws, which the SDK turns into a plugin error
};

struct Spec {
  const char* name;  // the plugin's name, e.g. "fake_invite"
  const char* kind;  // a GF_PLUGIN_KIND_* value
  Behavior behavior;
};

// Defined by the library's fake_plugin_spec.cc; constant-initialized, so
// valid before any code of the library runs.
extern const Spec kSpec;

}  // namespace guestflow::fake
