// Libraries that are wrong in exactly one way, for the loader tests. One of
// BROKEN_ABI_MAJOR, BROKEN_ABI_MINOR, BROKEN_STRUCT_SIZE, BROKEN_NO_ENTRY,
// BROKEN_UNRESOLVED, BROKEN_BAD_KIND is defined per target.
#include <cstdint>

#include "guestflow/plugin_abi.h"

#define BROKEN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

gf_step_outcome Create(const gf_host_api*, gf_str, gf_instance** out) {
  static int instance;
  *out = reinterpret_cast<gf_instance*>(&instance);
  return GF_STEP_SUCCEEDED;
}
gf_step_outcome RunStep(gf_instance*, gf_call*, gf_str, gf_str) { return GF_STEP_SUCCEEDED; }
void Destroy(gf_instance*) {}
const char* LastError(gf_instance*) { return ""; }

#if defined(BROKEN_ABI_MAJOR)
constexpr uint32_t kAbi = (99u << 16) | 0u;
#elif defined(BROKEN_ABI_MINOR)
constexpr uint32_t kAbi = (GF_PLUGIN_ABI_VERSION_MAJOR << 16) | (GF_PLUGIN_ABI_VERSION_MINOR + 7);
#else
constexpr uint32_t kAbi = GF_PLUGIN_ABI_VERSION;
#endif

#if defined(BROKEN_STRUCT_SIZE)
constexpr uint32_t kSize = 2 * sizeof(uint32_t);  // just the header fields
#else
constexpr uint32_t kSize = sizeof(gf_plugin_table);
#endif

#if defined(BROKEN_BAD_KIND)
constexpr const char* kKind = "gadget";
#else
constexpr const char* kKind = GF_PLUGIN_KIND_INVITE;
#endif

const gf_plugin_table kTable = {kAbi,    kSize,    BROKEN_NAME, kKind,    "0.0.1",
                                &Create, &RunStep, nullptr,     &Destroy, &LastError};

}  // namespace

#if defined(BROKEN_UNRESOLVED)
// Defined nowhere: dlopen(RTLD_NOW) must fail with "undefined symbol".
extern "C" int guestflow_test_symbol_defined_nowhere(void);
#endif

#if defined(BROKEN_NO_ENTRY)
// Looks like a plugin, but under another name than GF_PLUGIN_ENTRY_SYMBOL.
BROKEN_EXPORT const gf_plugin_table* guestflow_plugin_entry_v0(void) { return &kTable; }
#else
BROKEN_EXPORT const gf_plugin_table* guestflow_plugin_entry(void) {
#if defined(BROKEN_UNRESOLVED)
  if (guestflow_test_symbol_defined_nowhere() != 0) return nullptr;
#endif
  return &kTable;
}
#endif
