#include "server/common/logging.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace guestflow {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void InitLogging(LogLevel min_level, absl::string_view format) {
  g_min_level = static_cast<int>(min_level);
  g_json = format == "json";
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_min_level.load(); }

void Log(LogLevel level, absl::string_view message, absl::string_view context) {
  if (!LogEnabled(level)) return;
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (g_json) {
    nlohmann::json j = {{"time", time}, {"level", LevelName(level)}, {"msg", message}};
    // context is "k=v k=v"; values have no spaces by convention.
    size_t pos = 0;
    while (pos < context.size()) {
      size_t end = context.find(' ', pos);
      if (end == absl::string_view::npos) end = context.size();
      absl::string_view kv = context.substr(pos, end - pos);
      size_t eq = kv.find('=');
      if (eq != absl::string_view::npos) j[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
      pos = end + 1;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = absl::StrCat(time, " ", LevelName(level), " ", message);
    if (!context.empty()) absl::StrAppend(&line, " ", context);
  }
  line.push_back('\n');
  static absl::Mutex mu(absl::kConstInit);
  absl::MutexLock lock(&mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace guestflow
