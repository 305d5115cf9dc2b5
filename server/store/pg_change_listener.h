// PgChangeListener: tells this replica what other replicas changed. PgStore
// announces every onboarding it creates or updates on the PostgreSQL channel
// kPgChangeChannel (pg_notify, delivered at commit, payload FormatChange);
// the listener holds one connection that LISTENs to it and hands each
// announcement (a PgChange) to a callback, which publishes it to the process's ChangeFeed
// (so that WatchOnboarding and WatchBatch follow steps another replica runs)
// and wakes the scheduler (so that work another replica queued starts now,
// not at the next idle poll).
//
// The channel belongs to the database, not to a schema: deployments that
// share one database in different schemas hear each other, which only wakes
// them for nothing (they read their own tables). A lost connection is
// reconnected every second; announcements made while
// it was down are lost (a watcher catches up at the next one it hears of,
// the scheduler at its idle poll). Thread-safe; the callback runs on the
// listener's own thread and must not block.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace guestflow {

inline constexpr char kPgChangeChannel[] = "guestflow_onboardings";

// One announcement: what changed and which process changed it.
struct PgChange {
  std::string id;
  std::string batch_id;  // empty: not part of a batch
  std::string origin;    // PgStore's origin; empty if it had none
};

// The payload of an announcement, "<id> <batch_id> <origin>" (ids and origins
// have no spaces), and back.
std::string FormatChange(absl::string_view id, absl::string_view batch_id,
                         absl::string_view origin);
PgChange ParseChange(absl::string_view payload);

class PgChangeListener {
 public:
  using OnChange = std::function<void(const PgChange& change)>;

  // Connects and LISTENs before it returns (UNAVAILABLE with libpq's reason
  // when it cannot), then listens on its thread until destroyed.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PgChangeListener>> Start(
      const std::string& dsn, OnChange on_change);
  ~PgChangeListener();
  PgChangeListener(const PgChangeListener&) = delete;
  PgChangeListener& operator=(const PgChangeListener&) = delete;

 private:
  class Impl;
  explicit PgChangeListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace guestflow
