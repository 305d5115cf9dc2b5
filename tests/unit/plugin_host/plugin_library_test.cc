// The loader: one test per way a plugin library can be wrong, each checking
// that the message names the file.
#include "server/plugin_host/plugin_library.h"

#include <dlfcn.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/digest.h"
#include "server/plugin_host/host_api.h"
#include "server/plugin_host/plugin_instance.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A fresh temp folder with a `plugins` directory inside, removed afterwards.
class TempTree {
 public:
  TempTree() {
    std::string pattern = (fs::path(::testing::TempDir()) / "loader_test.XXXXXX").string();
    root_ = fs::path(mkdtemp(pattern.data()));
    fs::create_directories(plugins());
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root() const { return root_; }
  fs::path plugins() const { return root_ / "plugins"; }

 private:
  fs::path root_;
};

std::string Canonical(const std::string& path) { return fs::canonical(path).string(); }

TEST(PluginLibraryTest, LoadsAPluginByNameInsideThePluginDirectory) {
  auto library = PluginLibrary::Load("fake_invite.so", GF_PLUGIN_DIR);
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ((*library)->name(), "fake_invite");
  EXPECT_EQ((*library)->kind(), "invite");
  EXPECT_EQ((*library)->version(), "1.0.0-test");
  EXPECT_EQ((*library)->abi(), "1.0");
  EXPECT_EQ((*library)->path(), Canonical(FAKE_INVITE_PLUGIN));
  EXPECT_NE((*library)->table().run_step, nullptr);
}

TEST(PluginLibraryTest, LoadsAnAbsolutePathInsideThePluginDirectory) {
  auto library = PluginLibrary::Load(FAKE_ROLE_PLUGIN, GF_PLUGIN_DIR);
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ((*library)->name(), "fake_role");
  EXPECT_EQ((*library)->kind(), "role");
}

TEST(PluginLibraryTest, MissingFileIsNotFoundAndNamed) {
  auto library = PluginLibrary::Load("no_such_plugin.so", GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(library.status().message(),
              AllOf(HasSubstr("no_such_plugin.so"), HasSubstr("does not exist")));
}

TEST(PluginLibraryTest, NoPluginDirectoryIsRefused) {
  auto library = PluginLibrary::Load(FAKE_INVITE_PLUGIN, "");
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(library.status().message(), HasSubstr("fake_invite.so"));
}

TEST(PluginLibraryTest, DirectoryIsNotAPlugin) {
  TempTree tree;
  fs::create_directories(tree.plugins() / "folder.so");
  auto library = PluginLibrary::Load("folder.so", tree.plugins().string());
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(library.status().message(), HasSubstr("folder.so"));
}

TEST(PluginLibraryTest, DotDotOutOfThePluginDirectoryIsRefused) {
  TempTree tree;
  fs::copy_file(FAKE_INVITE_PLUGIN, tree.root() / "outside.so");
  fs::create_directories(tree.plugins() / "sub");
  for (const std::string file : {"../outside.so", "sub/../../outside.so", "./../outside.so"}) {
    auto library = PluginLibrary::Load(file, tree.plugins().string());
    ASSERT_EQ(library.status().code(), absl::StatusCode::kPermissionDenied) << file;
    EXPECT_THAT(library.status().message(),
                AllOf(HasSubstr("outside.so"), HasSubstr("outside the plugin directory")))
        << file;
  }
}

TEST(PluginLibraryTest, AbsolutePathOutsideThePluginDirectoryIsRefused) {
  TempTree tree;
  // The real plugin exists, but the plugin directory is another one.
  auto library = PluginLibrary::Load(FAKE_INVITE_PLUGIN, tree.plugins().string());
  ASSERT_EQ(library.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(library.status().message(), HasSubstr("fake_invite.so"));
}

TEST(PluginLibraryTest, SiblingDirectoryWithTheSamePrefixIsOutside) {
  TempTree tree;
  fs::create_directories(tree.root() / "plugins-evil");
  fs::copy_file(FAKE_INVITE_PLUGIN, tree.root() / "plugins-evil" / "evil.so");
  auto library = PluginLibrary::Load((tree.root() / "plugins-evil" / "evil.so").string(),
                                     tree.plugins().string());
  ASSERT_EQ(library.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(library.status().message(), HasSubstr("evil.so"));
}

TEST(PluginLibraryTest, SymlinkPointingOutsideIsRefused) {
  TempTree tree;
  fs::copy_file(FAKE_INVITE_PLUGIN, tree.root() / "outside.so");
  fs::create_symlink(tree.root() / "outside.so", tree.plugins() / "link.so");
  auto library = PluginLibrary::Load("link.so", tree.plugins().string());
  ASSERT_EQ(library.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(library.status().message(), AllOf(HasSubstr("link.so"), HasSubstr("outside.so"),
                                                HasSubstr("outside the plugin directory")));
}

TEST(PluginLibraryTest, SymlinkPointingInsideIsFollowed) {
  TempTree tree;
  fs::copy_file(FAKE_INVITE_PLUGIN, tree.plugins() / "fake_invite-1.0.so");
  fs::create_symlink("fake_invite-1.0.so", tree.plugins() / "fake_invite.so");
  auto library = PluginLibrary::Load("fake_invite.so", tree.plugins().string());
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ((*library)->path(), fs::canonical(tree.plugins() / "fake_invite-1.0.so").string());
}

// Whoever can write the plugin directory or a plugin file can run code as
// guestflowd: either writable by group or others is refused.
TEST(PluginLibraryTest, APluginOrDirectoryOthersMayWriteIsRefused) {
  {
    TempTree tree;
    fs::copy_file(FAKE_INVITE_PLUGIN, tree.plugins() / "fake_invite.so");
    fs::permissions(tree.plugins() / "fake_invite.so", fs::perms::group_write,
                    fs::perm_options::add);
    auto library = PluginLibrary::Load("fake_invite.so", tree.plugins().string());
    ASSERT_EQ(library.status().code(), absl::StatusCode::kPermissionDenied) << library.status();
    EXPECT_THAT(library.status().message(),
                AllOf(HasSubstr("fake_invite.so"), HasSubstr("writable by group or others"),
                      HasSubstr("chmod go-w")));
  }
  {
    TempTree tree;
    fs::copy_file(FAKE_INVITE_PLUGIN, tree.plugins() / "fake_invite.so");
    fs::permissions(tree.plugins(), fs::perms::others_write, fs::perm_options::add);
    auto library = PluginLibrary::Load("fake_invite.so", tree.plugins().string());
    ASSERT_EQ(library.status().code(), absl::StatusCode::kPermissionDenied) << library.status();
    EXPECT_THAT(library.status().message(), AllOf(HasSubstr(fs::canonical(tree.plugins()).string()),
                                                  HasSubstr("writable by group or others")));
  }
}

TEST(PluginLibraryTest, TheAllowlistedDigestLoadsAndAnyOtherIsRefusedNamingBoth) {
  TempTree tree;
  fs::copy_file(FAKE_INVITE_PLUGIN, tree.plugins() / "fake_invite.so");
  absl::StatusOr<std::string> digest =
      Sha256HexOfFile((tree.plugins() / "fake_invite.so").string());
  ASSERT_TRUE(digest.ok()) << digest.status();
  ASSERT_EQ(digest->size(), 64u);
  auto allowed = PluginLibrary::Load("fake_invite.so", tree.plugins().string(), *digest);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  const std::string other(64, 'a');
  auto refused = PluginLibrary::Load("fake_invite.so", tree.plugins().string(), other);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("fake_invite.so"), HasSubstr(*digest), HasSubstr(other)));
}

TEST(Sha256Test, IsWhatSha256sumPrints) {
  // sha256sum of "abc" and of nothing (FIPS 180-2 examples).
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(PluginLibraryTest, SymlinkedPluginDirectoryWorks) {
  TempTree tree;
  fs::copy_file(FAKE_INVITE_PLUGIN, tree.plugins() / "fake_invite.so");
  fs::create_directory_symlink(tree.plugins(), tree.root() / "current");
  auto library = PluginLibrary::Load("fake_invite.so", (tree.root() / "current").string());
  ASSERT_TRUE(library.ok()) << library.status();
}

TEST(PluginLibraryTest, TextFileIsNotALibrary) {
  auto library = PluginLibrary::Load("not_a_library.so", GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  // dlerror's own text is kept ("invalid ELF header" or "file too short").
  EXPECT_THAT(library.status().message(),
              AllOf(HasSubstr(Canonical(NOT_A_LIBRARY)), HasSubstr("cannot load plugin")));
  EXPECT_THAT(std::string(library.status().message()),
              ::testing::AnyOf(HasSubstr("ELF"), HasSubstr("too short")));
}

TEST(PluginLibraryTest, LibraryWithoutEntryPointIsRefused) {
  auto library = PluginLibrary::Load(BROKEN_NO_ENTRY_PLUGIN, GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(library.status().message(), AllOf(HasSubstr(Canonical(BROKEN_NO_ENTRY_PLUGIN)),
                                                HasSubstr(GF_PLUGIN_ENTRY_SYMBOL)));
}

TEST(PluginLibraryTest, WrongAbiMajorNamesFileAndBothVersions) {
  auto library = PluginLibrary::Load(BROKEN_ABI_MAJOR_PLUGIN, GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(library.status().message(),
            absl::StrCat("plugin ", Canonical(BROKEN_ABI_MAJOR_PLUGIN),
                         " was built for plugin ABI 99.0; this guestflowd speaks ",
                         AbiVersionString(GF_PLUGIN_ABI_VERSION)));
}

TEST(PluginLibraryTest, NewerAbiMinorIsRefused) {
  auto library = PluginLibrary::Load(BROKEN_ABI_MINOR_PLUGIN, GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      library.status().message(),
      absl::StrCat("plugin ", Canonical(BROKEN_ABI_MINOR_PLUGIN), " was built for plugin ABI ",
                   GF_PLUGIN_ABI_VERSION_MAJOR, ".", GF_PLUGIN_ABI_VERSION_MINOR + 7,
                   "; this guestflowd speaks ", AbiVersionString(GF_PLUGIN_ABI_VERSION)));
}

TEST(PluginLibraryTest, TooSmallStructSizeIsRefused) {
  auto library = PluginLibrary::Load(BROKEN_STRUCT_SIZE_PLUGIN, GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(library.status().message(),
              AllOf(HasSubstr(Canonical(BROKEN_STRUCT_SIZE_PLUGIN)), HasSubstr("8 bytes"),
                    HasSubstr(absl::StrCat(kPluginTableSizeV1_0))));
}

TEST(PluginLibraryTest, UnresolvedSymbolIsRefusedWithDlerrorText) {
  auto library = PluginLibrary::Load(BROKEN_UNRESOLVED_PLUGIN, GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(library.status().message(),
              AllOf(HasSubstr(Canonical(BROKEN_UNRESOLVED_PLUGIN)),
                    HasSubstr("guestflow_test_symbol_defined_nowhere")));
}

TEST(PluginLibraryTest, UnknownKindIsRefused) {
  auto library = PluginLibrary::Load(BROKEN_BAD_KIND_PLUGIN, GF_PLUGIN_DIR);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(library.status().message(),
              AllOf(HasSubstr(Canonical(BROKEN_BAD_KIND_PLUGIN)), HasSubstr("\"gadget\"")));
}

TEST(PluginInstanceTest, InstanceKeepsItsLibraryLoaded) {
  auto library = PluginLibrary::Load("fake_license.so", GF_PLUGIN_DIR);
  ASSERT_TRUE(library.ok()) << library.status();
  const std::string path = (*library)->path();
  auto instance = PluginInstance::Create(*library, HostApi(), "{}");
  ASSERT_TRUE(instance.ok()) << instance.status();
  library->reset();  // the instance is now the only owner

  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(handle, nullptr) << "the library was unloaded under a live instance";
  if (handle != nullptr) dlclose(handle);
  EXPECT_EQ((*instance)->library().name(), "fake_license");
  EXPECT_NE((*instance)->raw(), nullptr);
  instance->reset();  // destroy() runs from still-mapped code
}

TEST(PluginInstanceTest, FailedCreateCarriesThePluginsLastError) {
  auto library = PluginLibrary::Load("fake_license.so", GF_PLUGIN_DIR);
  ASSERT_TRUE(library.ok()) << library.status();
  auto instance = PluginInstance::Create(*library, HostApi(), R"({"fail_create": "bad sku list"})");
  ASSERT_EQ(instance.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(instance.status().message(),
              AllOf(HasSubstr("fake_license"), HasSubstr("bad sku list")));
}

TEST(PluginInstanceTest, EmptySettingsArePassedAsAnEmptyObject) {
  auto library = PluginLibrary::Load("fake_license.so", GF_PLUGIN_DIR);
  ASSERT_TRUE(library.ok()) << library.status();
  // The fake's constructor parses its settings: "" would throw.
  auto instance = PluginInstance::Create(*library, HostApi(), "");
  EXPECT_TRUE(instance.ok()) << instance.status();
}

}  // namespace
}  // namespace guestflow
