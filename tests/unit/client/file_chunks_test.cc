#include "client/file_chunks.h"

#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

std::vector<std::string> Chunks(const std::string& input, size_t size) {
  std::istringstream in(input);
  std::vector<std::string> chunks;
  EXPECT_TRUE(ForEachChunk(in, size, [&](absl::string_view chunk) {
                chunks.emplace_back(chunk);
                return true;
              }).ok());
  return chunks;
}

TEST(ForEachChunkTest, FixedSizeChunksAndAShortLastOne) {
  EXPECT_EQ(Chunks("abcdefg", 3), (std::vector<std::string>{"abc", "def", "g"}));
  EXPECT_EQ(Chunks("abcdef", 3), (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(Chunks("", 3), std::vector<std::string>{});
}

TEST(ForEachChunkTest, UploadSizeReassemblesExactly) {
  std::string input;
  for (int i = 0; input.size() < 3 * kUploadChunkBytes + 17; ++i) {
    input += "Ada" + std::to_string(i) + ",ada" + std::to_string(i) + "@example.com,GB\n";
  }
  const std::vector<std::string> chunks = Chunks(input, kUploadChunkBytes);
  ASSERT_EQ(chunks.size(), 4u);
  std::string joined;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i + 1 < chunks.size()) {
      EXPECT_EQ(chunks[i].size(), kUploadChunkBytes);
    }
    joined += chunks[i];
  }
  EXPECT_EQ(joined, input);
}

TEST(ForEachChunkTest, StopsWhenTheSinkSaysSo) {
  std::istringstream in("abcdefghi");
  int calls = 0;
  EXPECT_TRUE(ForEachChunk(in, 2, [&](absl::string_view) { return ++calls < 2; }).ok());
  EXPECT_EQ(calls, 2);
}

TEST(ForEachChunkTest, ReadFailureIsDataLoss) {
  std::istringstream in("abc");
  in.setstate(std::ios::badbit);
  const absl::Status status = ForEachChunk(in, 2, [](absl::string_view) { return true; });
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace guestflow::cli
