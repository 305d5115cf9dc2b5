#include "server/plugin_host/plugin_library.h"

#include <exception>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/dll/shared_library.hpp"
#include "server/common/digest.h"
#include "server/common/status_macros.h"

namespace guestflow {

static_assert(kPluginTableSizeV1_0 <= sizeof(gf_plugin_table),
              "the 1.0 table is a prefix of the current one");

namespace fs = std::filesystem;

std::string AbiVersionString(uint32_t abi_version) {
  return absl::StrCat(GF_PLUGIN_ABI_MAJOR(abi_version), ".", GF_PLUGIN_ABI_MINOR(abi_version));
}

struct PluginLibrary::Handle {
  boost::dll::shared_library library;
};

namespace {

bool IsKnownKind(absl::string_view kind) {
  return kind == GF_PLUGIN_KIND_INVITE || kind == GF_PLUGIN_KIND_LICENSE ||
         kind == GF_PLUGIN_KIND_ROLE || kind == GF_PLUGIN_KIND_NOTIFIER;
}

// True when `path` (canonical) is `dir` (canonical) or below it.
bool IsInside(const fs::path& path, const fs::path& dir) {
  const fs::path relative = path.lexically_relative(dir);
  return !relative.empty() && *relative.begin() != ".." && relative != ".";
}

// Boost wraps dlerror() as "...load() failed (dlerror system message: TEXT):
// <errno text>"; TEXT is what a person needs, the errno is noise.
std::string DlerrorText(absl::string_view what) {
  constexpr absl::string_view kMarker = "(dlerror system message: ";
  const size_t start = what.find(kMarker);
  if (start == absl::string_view::npos) return std::string(what);
  absl::string_view text = what.substr(start + kMarker.size());
  const size_t end = text.rfind(')');
  return std::string(end == absl::string_view::npos ? text : text.substr(0, end));
}

}  // namespace

PluginLibrary::PluginLibrary(std::unique_ptr<Handle> handle, const gf_plugin_table* table,
                             std::string path)
    : handle_(std::move(handle)),
      table_(table),
      path_(std::move(path)),
      name_(table->name),
      kind_(table->kind),
      version_(table->version != nullptr ? table->version : "") {}

PluginLibrary::~PluginLibrary() = default;

absl::StatusOr<std::shared_ptr<PluginLibrary>> PluginLibrary::Load(const std::string& file,
                                                                   const std::string& plugin_dir,
                                                                   const std::string& sha256) {
  if (plugin_dir.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load plugin ", file, ": no plugin directory is configured"));
  }
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(plugin_dir, ec), ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot load plugin ", file, ": bad plugin directory ", plugin_dir, ": ", ec.message()));
  }
  const fs::path given = fs::path(file).is_absolute() ? fs::path(file) : dir / file;
  // Symlinks and ".." are resolved before the containment check, so neither
  // can lead out of the plugin directory.
  const fs::path resolved = fs::weakly_canonical(given, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot resolve plugin path ", given.string(), ": ", ec.message()));
  }
  // The file as configured, and where it really is when that differs.
  const std::string shown =
      file == resolved.string() ? file : absl::StrCat(file, " (", resolved.string(), ")");
  if (!IsInside(resolved, dir)) {
    return absl::PermissionDeniedError(absl::StrCat("plugin ", shown,
                                                    " is outside the plugin directory ",
                                                    dir.string(), "; refusing to load it"));
  }
  if (!fs::exists(resolved, ec)) {
    return absl::NotFoundError(absl::StrCat("plugin ", shown, " does not exist"));
  }
  if (!fs::is_regular_file(resolved, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", shown, " is not a regular file"));
  }
  const std::string path = resolved.string();
  for (const fs::path& p : {dir, resolved}) {
    const fs::perms perms = fs::status(p, ec).permissions();
    if (!ec && (perms & (fs::perms::group_write | fs::perms::others_write)) != fs::perms::none) {
      return absl::PermissionDeniedError(
          absl::StrCat("plugin ", shown, ": ", p.string(),
                       " is writable by group or others; refusing to load code anyone could "
                       "replace (chmod go-w ",
                       p.string(), ")"));
    }
  }
  if (!sha256.empty()) {
    GF_ASSIGN_OR_RETURN(std::string actual, Sha256HexOfFile(path));
    if (actual != sha256) {
      return absl::PermissionDeniedError(absl::StrCat("plugin ", shown, " has SHA-256 ", actual,
                                                      ", not the one server.plugin_sha256 allows (",
                                                      sha256, "); refusing to load it"));
    }
  }

  // Boost.DLL reports failures by exception; they stop here. The throwing
  // overloads are used on purpose: their message carries dlerror()'s text
  // (which symbol is unresolved, "invalid ELF header"...).
  auto handle = std::make_unique<Handle>();
  const gf_plugin_table* (*entry)() = nullptr;
  try {
    handle->library.load(resolved,
                         boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    if (!handle->library.has(GF_PLUGIN_ENTRY_SYMBOL)) {
      return absl::FailedPreconditionError(absl::StrCat("plugin ", path, " exports no ",
                                                        GF_PLUGIN_ENTRY_SYMBOL,
                                                        " entry point; is it a guestflow plugin?"));
    }
    entry = &handle->library.get<const gf_plugin_table*()>(GF_PLUGIN_ENTRY_SYMBOL);
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load plugin ", path, ": ", DlerrorText(e.what())));
  }

  const gf_plugin_table* table = nullptr;
  try {
    table = entry();  // a C function; the catch is for a plugin that lies about it
  } catch (...) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": ", GF_PLUGIN_ENTRY_SYMBOL, " threw an exception"));
  }
  if (table == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": ", GF_PLUGIN_ENTRY_SYMBOL, " returned no table"));
  }
  // abi_version and struct_size first: nothing else in the table may be read
  // before we know its layout.
  const uint32_t abi = table->abi_version;
  if (GF_PLUGIN_ABI_MAJOR(abi) != GF_PLUGIN_ABI_VERSION_MAJOR ||
      GF_PLUGIN_ABI_MINOR(abi) > GF_PLUGIN_ABI_VERSION_MINOR) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, " was built for plugin ABI ", AbiVersionString(abi),
                     "; this guestflowd speaks ", AbiVersionString(GF_PLUGIN_ABI_VERSION)));
  }
  if (table->struct_size < kPluginTableSizeV1_0) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, " has a plugin table of ", table->struct_size, " bytes; ABI ",
                     AbiVersionString(abi), " needs at least ", kPluginTableSizeV1_0));
  }
  if (table->name == nullptr || table->name[0] == '\0') {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", path, " has no name"));
  }
  if (table->kind == nullptr || !IsKnownKind(table->kind)) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, " has kind \"", table->kind == nullptr ? "" : table->kind,
                     "\"; expected one of invite, license, role, notifier"));
  }
  if (table->create == nullptr || table->run_step == nullptr || table->destroy == nullptr ||
      table->last_error == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, " leaves create, run_step, destroy or last_error null"));
  }
  return std::shared_ptr<PluginLibrary>(new PluginLibrary(std::move(handle), table, path));
}

}  // namespace guestflow
