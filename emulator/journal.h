// Journal: every request the emulator answered, for tests and people
// (GET /_emulator/journal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace guestflow::emulator {

struct JournalEntry {
  int64_t sequence = 0;
  absl::Time time;
  std::string service;  // token, graph, admin, dataverse, control
  std::string method;
  std::string path;  // with the query string
  std::string body;  // request body, cut at 4 KiB; token requests have the secret redacted
  int status = 0;
  std::string tenant;      // directory tenant id, when known
  std::string request_id;  // the request-id the emulator answered with
  int64_t latency_ms = 0;
};

// Thread-safe. Keeps the last `capacity` entries.
class Journal {
 public:
  explicit Journal(size_t capacity = 100000) : capacity_(capacity) {}
  void Add(JournalEntry entry);
  // Entries with sequence > after, oldest first.
  std::vector<JournalEntry> Since(int64_t after) const;
  void Clear();
  static nlohmann::json ToJson(const JournalEntry& e);

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  int64_t next_ = 1;
  std::vector<JournalEntry> entries_;
};

}  // namespace guestflow::emulator
