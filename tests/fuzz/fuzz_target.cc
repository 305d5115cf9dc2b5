// libFuzzer's entry point, the same for every target: hands the input to the
// target's FuzzOne() (fuzz_target.h).
#include "tests/fuzz/fuzz_target.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  guestflow::fuzz::FuzzOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
