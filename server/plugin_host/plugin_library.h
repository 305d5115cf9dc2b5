// PluginLibrary: one loaded plugin shared library and its checked entry table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "guestflow/plugin_abi.h"

namespace guestflow {

// The size of gf_plugin_table in ABI 1.0: the smallest table the host reads.
// Fields appended later are read only when a plugin's struct_size covers them.
inline constexpr size_t kPluginTableSizeV1_0 =
    offsetof(gf_plugin_table, last_error) + sizeof(gf_plugin_table::last_error);

// "major.minor" of a packed GF_PLUGIN_ABI_VERSION value.
std::string AbiVersionString(uint32_t abi_version);

// A dlopen()ed plugin library whose entry table passed every check.
//
// Lifecycle: the library stays loaded while any shared_ptr to it lives; every
// PluginInstance holds one, so an instance never outlives its code.
// Thread-safe: immutable after Load.
class PluginLibrary {
 public:
  // Loads `file` (relative to `plugin_dir`, or absolute) and checks its table.
  // The file is resolved (symlinks and `..` included) and must lie inside
  // `plugin_dir`. Errors, each naming the file:
  //   FAILED_PRECONDITION  no plugin_dir; not a regular file; dlopen failed
  //                        (not a library, unresolved symbol: dlerror's text
  //                        is kept); no GF_PLUGIN_ENTRY_SYMBOL; an ABI version
  //                        this host does not speak (both versions named);
  //                        struct_size below the 1.0 table; a null name, kind
  //                        or function; an unknown kind
  //   NOT_FOUND            the file does not exist
  //   PERMISSION_DENIED    the file resolves to a path outside plugin_dir;
  //                        plugin_dir or the file is writable by group or
  //                        others (anyone who can write it can run code as
  //                        guestflowd); `sha256` (lowercase hex, when not
  //                        empty) is not the file's digest (both named)
  static absl::StatusOr<std::shared_ptr<PluginLibrary>> Load(const std::string& file,
                                                             const std::string& plugin_dir,
                                                             const std::string& sha256 = "");

  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  // The table the plugin exported. OWNERSHIP: the library's; valid while this
  // object lives.
  const gf_plugin_table& table() const { return *table_; }
  const std::string& path() const { return path_; }  // canonical, absolute
  const std::string& name() const { return name_; }
  const std::string& kind() const { return kind_; }
  const std::string& version() const { return version_; }
  // The ABI the plugin was built for, "major.minor".
  std::string abi() const { return AbiVersionString(table_->abi_version); }

 private:
  struct Handle;  // the boost::dll::shared_library, kept out of this header
  PluginLibrary(std::unique_ptr<Handle> handle, const gf_plugin_table* table, std::string path);

  std::unique_ptr<Handle> handle_;
  const gf_plugin_table* table_;  // OWNERSHIP: points into the loaded library
  std::string path_;
  std::string name_;
  std::string kind_;
  std::string version_;
};

}  // namespace guestflow
