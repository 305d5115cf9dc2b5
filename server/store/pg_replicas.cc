#include "server/store/pg_replicas.h"

#include "server/common/status_macros.h"

namespace guestflow {

absl::StatusOr<int> PgReplicaRegistry::Beat(absl::string_view owner, absl::Time now,
                                            absl::Duration ttl) {
  int alive = 0;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_RETURN_IF_ERROR(s.Exec("INSERT INTO replicas (owner, start_time, heartbeat) "
                              "VALUES ($1, $2, $2) "
                              "ON CONFLICT (owner) DO UPDATE SET heartbeat = $2",
                              PgParams().Text(owner).Time(now))
                           .status());
    GF_RETURN_IF_ERROR(
        s.Exec("DELETE FROM replicas WHERE heartbeat < $1", PgParams().Time(now - ttl)).status());
    GF_ASSIGN_OR_RETURN(PgResult count, s.Exec("SELECT COUNT(*) FROM replicas"));
    alive = static_cast<int>(count.Int(0, 0));
    return absl::OkStatus();
  }));
  return alive;
}

absl::Status PgReplicaRegistry::Leave(absl::string_view owner) {
  return pool_->InTransaction([&](PgSession& s) {
    return s.Exec("DELETE FROM replicas WHERE owner = $1", PgParams().Text(owner)).status();
  });
}

}  // namespace guestflow
