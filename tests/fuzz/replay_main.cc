// The main() of the <name>_fuzz_replay binaries: runs a fuzz target's
// LLVMFuzzerTestOneInput once over each file given, or over every regular
// file of each folder given (sorted by name), as libFuzzer would replay a
// corpus. Needs no clang: the normal build makes these binaries, and ctest
// replays the checked-in corpora with them.
//
// Exit status: 0 when every input ran (a target reports a broken invariant
// by aborting); 2 for a path that cannot be read, or when nothing at all was
// given to run (an empty corpus folder is a mistake, not a pass).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

// fuzz_target.cc
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool RunFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  // Named before running, so that a crash shows which input it was.
  std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), bytes.size());
  std::fflush(stderr);
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
      if (!RunFile(arg)) return 2;
      ++ran;
      continue;
    }
    std::vector<fs::path> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(arg, ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    if (ec) {
      std::fprintf(stderr, "cannot list %s: %s\n", arg.c_str(), ec.message().c_str());
      return 2;
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      if (!RunFile(file)) return 2;
      ++ran;
    }
  }
  if (ran == 0) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...: no input to replay\n", argv[0]);
    return 2;
  }
  std::fprintf(stderr, "replayed %zu inputs: no crash, every invariant held\n", ran);
  return 0;
}
