// Server logging: one process-wide logger writing one line per event to
// stderr, as text or JSON (nlohmann/json encodes it). Callers pass
// context as key/value fields so a guest's whole story can be found by grep.
#pragma once

#include "absl/strings/string_view.h"

namespace guestflow {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Sets the minimum level and output format ("text" or "json"). Not
// thread-safe: call once at start.
void InitLogging(LogLevel min_level, absl::string_view format);

// Thread-safe. `context` is appended as "key=value ..." (text) or as fields
// (json); pass e.g. "onboarding=abc tenant=contoso step=invite".
void Log(LogLevel level, absl::string_view message, absl::string_view context = {});

// Whether a line of `level` would be written: lets a hot path skip building a
// message nobody reads (a debug line per HTTP request, say).
bool LogEnabled(LogLevel level);

inline void LogInfo(absl::string_view m, absl::string_view c = {}) { Log(LogLevel::kInfo, m, c); }
inline void LogWarn(absl::string_view m, absl::string_view c = {}) { Log(LogLevel::kWarn, m, c); }
inline void LogError(absl::string_view m, absl::string_view c = {}) { Log(LogLevel::kError, m, c); }
inline void LogDebug(absl::string_view m, absl::string_view c = {}) { Log(LogLevel::kDebug, m, c); }

}  // namespace guestflow
