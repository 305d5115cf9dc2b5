// One fake plugin library's name, kind and behaviour, from the compile
// definitions tests/plugins/CMakeLists.txt gives it:
//   FAKE_PLUGIN_NAME  plugin name, e.g. "fake_invite"
//   FAKE_PLUGIN_KIND  "invite", "license", "role" or "notifier"
//   FAKE_BEHAVIOR     Succeed, Fail, Retry or Throw
#include "fake_plugin_spec.h"

#if !defined(FAKE_PLUGIN_NAME) || !defined(FAKE_PLUGIN_KIND) || !defined(FAKE_BEHAVIOR)
#error "define FAKE_PLUGIN_NAME, FAKE_PLUGIN_KIND and FAKE_BEHAVIOR"
#endif

#define FAKE_CONCAT(a, b) a##b
#define FAKE_BEHAVIOR_VALUE(b) FAKE_CONCAT(::guestflow::fake::Behavior::k, b)

constinit const guestflow::fake::Spec guestflow::fake::kSpec = {FAKE_PLUGIN_NAME, FAKE_PLUGIN_KIND,
                                                                FAKE_BEHAVIOR_VALUE(FAKE_BEHAVIOR)};
