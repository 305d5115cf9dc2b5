// Log lines: JSON objects with the context as fields (what a log collector
// indexes), or text for people; below the level, nothing.
#include "server/common/logging.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace guestflow {
namespace {

// What Log writes to stderr while `body` runs, line by line.
template <typename Body>
std::vector<std::string> CaptureStderr(Body body) {
  char path[] = "/tmp/gf-log-XXXXXX";
  const int fd = mkstemp(path);
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  body();
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::remove(path);
  return lines;
}

TEST(LoggingTest, JsonLinesCarryTheContextAsFields) {
  InitLogging(LogLevel::kInfo, "json");
  const std::vector<std::string> lines = CaptureStderr([] {
    LogInfo("cloud call POST https://graph.microsoft.com/v1.0/invitations -> 201",
            "onboarding=01a2 tenant=contoso step=invite plugin=azure_ad_invite service=graph "
            "request_id=0faacb56-3508-4165-9250-d0a5eba83a2b ms=34");
    LogWarn("a \"quoted\"\nmessage");
    LogDebug("below the level");
  });
  ASSERT_EQ(lines.size(), 2u);
  const nlohmann::json j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "cloud call POST https://graph.microsoft.com/v1.0/invitations -> 201");
  EXPECT_EQ(j["onboarding"], "01a2");
  EXPECT_EQ(j["tenant"], "contoso");
  EXPECT_EQ(j["step"], "invite");
  EXPECT_EQ(j["plugin"], "azure_ad_invite");
  EXPECT_EQ(j["request_id"], "0faacb56-3508-4165-9250-d0a5eba83a2b");
  EXPECT_THAT(j["time"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"));
  // One line each, whatever the message holds.
  EXPECT_EQ(nlohmann::json::parse(lines[1])["msg"], "a \"quoted\"\nmessage");
}

TEST(LoggingTest, TextLinesAreForPeople) {
  InitLogging(LogLevel::kDebug, "text");
  const std::vector<std::string> lines =
      CaptureStderr([] { LogDebug("step started", "onboarding=01a2 tenant=contoso step=invite"); });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], ::testing::EndsWith(" debug step started onboarding=01a2 tenant=contoso "
                                            "step=invite"));
}

}  // namespace
}  // namespace guestflow
