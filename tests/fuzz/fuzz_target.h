// What the fuzz targets share. Each target defines FuzzOne(); fuzz_target.cc
// turns it into libFuzzer's LLVMFuzzerTestOneInput, which both libFuzzer and
// replay_main.cc call. An invariant is checked with GF_FUZZ_CHECK, which stays
// on in release builds (assert() is compiled out by NDEBUG), so that a broken
// invariant is a crash libFuzzer reports and the corpus replay fails on.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// Aborts with `what` and `detail` (a message, an input excerpt: any text
// std::string can be made from) when `cond` is false.
#define GF_FUZZ_CHECK(cond, detail) \
  ((cond) ? static_cast<void>(0)    \
          : ::guestflow::fuzz::CheckFailed(#cond, __FILE__, __LINE__, std::string(detail)))

namespace guestflow::fuzz {

// One input of the target (defined by <name>_fuzzer.cc). Reports a finding
// by crashing: a failed GF_FUZZ_CHECK, a sanitizer report, an exception.
void FuzzOne(std::string_view input);

[[noreturn]] inline void CheckFailed(const char* what, const char* file, int line,
                                     const std::string& detail) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n  detail: %s\n", file, line, what,
               detail.c_str());
  std::abort();
}

// Whether `s` is well-formed UTF-8: no overlong forms, surrogates or code
// points above U+10FFFF. Written out here, apart from the code under test, as
// the oracle its results are checked against.
inline bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t len = b < 0x80             ? 1
                       : (b & 0xE0) == 0xC0 ? 2
                       : (b & 0xF0) == 0xE0 ? 3
                       : (b & 0xF8) == 0xF0 ? 4
                                            : 0;
    if (len == 0 || i + len > s.size()) return false;
    char32_t cp = len == 1 ? b : b & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const char32_t min = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace guestflow::fuzz
