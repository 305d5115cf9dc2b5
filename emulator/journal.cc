#include "emulator/journal.h"

#include <utility>

namespace guestflow::emulator {

void Journal::Add(JournalEntry entry) {
  absl::MutexLock lock(&mu_);
  entry.sequence = next_++;
  if (entries_.size() >= capacity_) entries_.erase(entries_.begin());
  entries_.push_back(std::move(entry));
}

std::vector<JournalEntry> Journal::Since(int64_t after) const {
  absl::MutexLock lock(&mu_);
  std::vector<JournalEntry> out;
  for (const JournalEntry& e : entries_) {
    if (e.sequence > after) out.push_back(e);
  }
  return out;
}

void Journal::Clear() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
}

nlohmann::json Journal::ToJson(const JournalEntry& e) {
  return nlohmann::json{
      {"sequence", e.sequence},
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.time, absl::UTCTimeZone())},
      {"service", e.service},
      {"method", e.method},
      {"path", e.path},
      {"body", e.body},
      {"status", e.status},
      {"tenant", e.tenant},
      {"request_id", e.request_id},
      {"latency_ms", e.latency_ms},
  };
}

}  // namespace guestflow::emulator
