// Freezes plugins/sdk/include/guestflow/plugin_abi.h: every published ABI
// version has the hash of its header here. Changing the header without
// changing GF_PLUGIN_ABI_VERSION fails this test, so a plugin built against
// one header is never loaded by a host built against a different one that
// claims the same version.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "guestflow/plugin_abi.h"

namespace guestflow {
namespace {

struct FrozenAbi {
  uint32_t abi_version;  // GF_PLUGIN_ABI_VERSION
  uint64_t header_hash;  // HeaderHash() of plugin_abi.h at that version
};

// Append a row for every new ABI version; never edit a row.
constexpr FrozenAbi kFrozenAbis[] = {
    {0x00010000u, 0x6bc69f9c5549077cull},  // 1.0
};

// The header's C tokens: comments dropped and every run of white space
// folded to one space, so that rewording a comment or reformatting does not
// count as an ABI change, while any change to a declaration does.
std::string Tokens(const std::string& text) {
  std::string out;
  bool pending_space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "/*") == 0) {
      const size_t end = text.find("*/", i + 2);
      i = end == std::string::npos ? text.size() : end + 1;
      pending_space = true;
      continue;
    }
    if (text.compare(i, 2, "//") == 0) {
      const size_t end = text.find('\n', i);
      i = end == std::string::npos ? text.size() : end;
      pending_space = true;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

// FNV-1a (64 bit) of the header's tokens.
uint64_t HeaderHash(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : Tokens(text)) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Version(uint32_t v) {
  return absl::StrCat(GF_PLUGIN_ABI_MAJOR(v), ".", GF_PLUGIN_ABI_MINOR(v));
}

TEST(PluginAbiFreezeTest, HeaderMatchesTheHashFrozenForItsVersion) {
  const std::string text = ReadFile(GF_PLUGIN_ABI_HEADER);
  ASSERT_FALSE(text.empty()) << "cannot read " << GF_PLUGIN_ABI_HEADER;
  const uint64_t hash = HeaderHash(text);
  const std::string row = absl::StrFormat("{0x%08xu, 0x%016xull},  // %s", GF_PLUGIN_ABI_VERSION,
                                          hash, Version(GF_PLUGIN_ABI_VERSION));

  const FrozenAbi* frozen = nullptr;
  for (const FrozenAbi& f : kFrozenAbis) {
    if (f.abi_version == GF_PLUGIN_ABI_VERSION) frozen = &f;
  }
  ASSERT_NE(frozen, nullptr)
      << "plugin ABI " << Version(GF_PLUGIN_ABI_VERSION)
      << " has no frozen hash. If you bumped the version on purpose, append this row to "
         "kFrozenAbis in "
      << __FILE__ << ":\n    " << row;
  EXPECT_EQ(frozen->header_hash, hash)
      << GF_PLUGIN_ABI_HEADER << " changed, but GF_PLUGIN_ABI_VERSION is still "
      << Version(GF_PLUGIN_ABI_VERSION)
      << ". Plugins built against the old header would be loaded as compatible. Bump "
         "GF_PLUGIN_ABI_VERSION_MINOR for an append-only change (a field added at the end of a "
         "table, a new enum value, a new kind) or GF_PLUGIN_ABI_VERSION_MAJOR for anything else, "
         "then append the new version's row to kFrozenAbis in "
      << __FILE__ << " (the old rows stay). If the change is only a comment, bump the minor "
      << "version anyway: the hash cannot tell. The row for the header as it is now:\n    " << row;
}

TEST(PluginAbiFreezeTest, CommentsAndLayoutDoNotCountButDeclarationsDo) {
  const std::string base = "typedef struct a {\n  int x; /* the x */\n} a;\n";
  EXPECT_EQ(HeaderHash(base), HeaderHash("typedef struct a { int x; // x, reworded\n} a;"));
  EXPECT_EQ(HeaderHash(base), HeaderHash("typedef   struct a {\r\n\tint x;\r\n} a;"));
  EXPECT_NE(HeaderHash(base), HeaderHash("typedef struct a { long x; } a;"));
  EXPECT_NE(HeaderHash(base), HeaderHash("typedef struct a { int x; int y; } a;"));
}

TEST(PluginAbiFreezeTest, VersionsOnlyGrow) {
  for (size_t i = 1; i < sizeof(kFrozenAbis) / sizeof(kFrozenAbis[0]); ++i) {
    EXPECT_LT(kFrozenAbis[i - 1].abi_version, kFrozenAbis[i].abi_version);
  }
  const FrozenAbi& last = kFrozenAbis[sizeof(kFrozenAbis) / sizeof(kFrozenAbis[0]) - 1];
  EXPECT_EQ(last.abi_version, GF_PLUGIN_ABI_VERSION)
      << "the newest frozen ABI is not the one the header declares";
}

}  // namespace
}  // namespace guestflow
