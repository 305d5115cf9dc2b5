// PgReplicaRegistry: which guestflowd replicas share one PostgreSQL database
// right now, from their heartbeats (table `replicas`). The server divides the
// cloud's rate limits by that count (ReplicaShare, server/http/rate_limiter.h)
// so that all replicas together stay under limits that Microsoft counts per
// app and tenant, not per process.
//
// Thread-safe (the pool is).
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/pg_connection.h"

namespace guestflow {

class PgReplicaRegistry {
 public:
  explicit PgReplicaRegistry(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  // Records that `owner` is alive at `now`, forgets every replica silent for
  // `ttl` (it died without leaving), and returns how many are alive, this one
  // included. One transaction.
  absl::StatusOr<int> Beat(absl::string_view owner, absl::Time now, absl::Duration ttl);

  // `owner` stops (SIGTERM): the others' share grows at their next beat.
  absl::Status Leave(absl::string_view owner);

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace guestflow
