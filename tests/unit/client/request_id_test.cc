#include "client/request_id.h"

#include <regex>
#include <set>

#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

const std::regex& UuidV4Pattern() {
  static const std::regex pattern(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return pattern;
}

TEST(FormatUuidV4Test, SetsVersionAndVariantBitsAndKeepsTheRest) {
  std::array<uint8_t, 16> bytes{};
  bytes.fill(0xFF);
  EXPECT_EQ(FormatUuidV4(bytes), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  bytes.fill(0x00);
  EXPECT_EQ(FormatUuidV4(bytes), "00000000-0000-4000-8000-000000000000");
  std::array<uint8_t, 16> counting{};
  for (size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<uint8_t>(i * 17);
  EXPECT_EQ(FormatUuidV4(counting), "00112233-4455-4677-8899-aabbccddeeff");
}

TEST(NewRequestIdTest, IsAFreshUuidV4EachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRequestId();
    EXPECT_TRUE(std::regex_match(id, UuidV4Pattern())) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace guestflow::cli
