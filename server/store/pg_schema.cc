#include "server/store/pg_schema.h"

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"

namespace guestflow {
namespace {

// Version for version what sqlite_schema.cc creates; the comments there say
// why each index exists.
constexpr char kCoreTables[] = R"sql(
CREATE TABLE onboardings (
  id                   TEXT    NOT NULL PRIMARY KEY,
  tenant               TEXT    NOT NULL,
  request_id           TEXT    NOT NULL DEFAULT '',
  request_fingerprint  TEXT    NOT NULL DEFAULT '',
  state                TEXT    NOT NULL,
  version              BIGINT  NOT NULL,
  guest_email          TEXT    NOT NULL DEFAULT '',
  guest_first_name     TEXT    NOT NULL DEFAULT '',
  guest_last_name      TEXT    NOT NULL DEFAULT '',
  guest_display_name   TEXT    NOT NULL DEFAULT '',
  guest_usage_location TEXT    NOT NULL DEFAULT '',
  options              TEXT    NOT NULL DEFAULT '{}',
  batch_id             TEXT    NOT NULL DEFAULT '',
  error                TEXT    NOT NULL DEFAULT '',
  instance_url         TEXT    NOT NULL DEFAULT '',
  create_time          BIGINT  NOT NULL,
  update_time          BIGINT  NOT NULL,
  finish_time          BIGINT,
  due_time             BIGINT,
  lease_owner          TEXT,
  lease_expires        BIGINT,
  CHECK ((lease_owner IS NULL) = (lease_expires IS NULL))
);
CREATE UNIQUE INDEX onboardings_by_request ON onboardings (tenant, request_id)
  WHERE request_id <> '';
CREATE TABLE steps (
  onboarding_id     TEXT    NOT NULL REFERENCES onboardings (id) ON DELETE CASCADE,
  position          INTEGER NOT NULL,
  kind              TEXT    NOT NULL,
  state             TEXT    NOT NULL,
  plugin            TEXT    NOT NULL DEFAULT '',
  attempts          INTEGER NOT NULL DEFAULT 0,
  last_error        TEXT    NOT NULL DEFAULT '',
  next_attempt_time BIGINT,
  start_time        BIGINT,
  finish_time       BIGINT,
  wait_since        BIGINT,
  outputs           TEXT    NOT NULL DEFAULT '{}',
  PRIMARY KEY (onboarding_id, position)
);
CREATE TABLE events (
  onboarding_id TEXT    NOT NULL REFERENCES onboardings (id) ON DELETE CASCADE,
  sequence      BIGINT  NOT NULL,
  time          BIGINT  NOT NULL,
  type          TEXT    NOT NULL,
  step          TEXT,
  message       TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (onboarding_id, sequence)
);
)sql";

constexpr char kAccessPathIndexes[] = R"sql(
CREATE INDEX onboardings_by_create_time ON onboardings (create_time, id);
CREATE INDEX onboardings_by_tenant ON onboardings (tenant, create_time, id);
CREATE INDEX onboardings_by_state ON onboardings (state, create_time, id);
CREATE INDEX onboardings_by_batch ON onboardings (batch_id, create_time, id)
  WHERE batch_id <> '';
CREATE INDEX onboardings_by_due_time ON onboardings (due_time, id)
  WHERE due_time IS NOT NULL;
CREATE INDEX onboardings_leased ON onboardings (lease_expires)
  WHERE lease_owner IS NOT NULL;
)sql";

constexpr char kBatchTables[] = R"sql(
CREATE TABLE batches (
  id                  TEXT    NOT NULL PRIMARY KEY,
  tenant              TEXT    NOT NULL,
  request_id          TEXT    NOT NULL DEFAULT '',
  request_fingerprint TEXT    NOT NULL DEFAULT '',
  input_complete      BOOLEAN NOT NULL DEFAULT false,
  create_time         BIGINT  NOT NULL,
  update_time         BIGINT  NOT NULL
);
CREATE UNIQUE INDEX batches_by_request ON batches (tenant, request_id)
  WHERE request_id <> '';
CREATE TABLE batch_items (
  batch_id      TEXT    NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  line          BIGINT  NOT NULL,
  email         TEXT    NOT NULL DEFAULT '',
  onboarding_id TEXT    NOT NULL DEFAULT '',
  error         TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (batch_id, line)
);
CREATE INDEX onboardings_by_batch_state ON onboardings (batch_id, state, finish_time)
  WHERE batch_id <> '';
)sql";

constexpr char kLeaseByAge[] = R"sql(
CREATE INDEX onboardings_due_by_age ON onboardings (create_time, id)
  WHERE due_time IS NOT NULL;
)sql";

constexpr char kCloudCalls[] = R"sql(
CREATE TABLE cloud_calls (
  sequence        BIGSERIAL NOT NULL PRIMARY KEY,
  onboarding_id   TEXT    NOT NULL,
  tenant          TEXT    NOT NULL,
  step            TEXT    NOT NULL DEFAULT '',
  plugin          TEXT    NOT NULL DEFAULT '',
  actor           TEXT    NOT NULL DEFAULT '',
  time            BIGINT  NOT NULL,
  duration_us     BIGINT  NOT NULL DEFAULT 0,
  method          TEXT    NOT NULL,
  url             TEXT    NOT NULL,
  service         TEXT    NOT NULL DEFAULT '',
  status          INTEGER NOT NULL DEFAULT 0,
  transport_error TEXT    NOT NULL DEFAULT '',
  request_id      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX cloud_calls_by_onboarding ON cloud_calls (onboarding_id, sequence);
CREATE INDEX cloud_calls_by_tenant ON cloud_calls (tenant, sequence);
)sql";

// Who asked for an onboarding, and so for each of its cloud calls.
constexpr char kRequestedBy[] = R"sql(
ALTER TABLE onboardings ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE cloud_calls ADD COLUMN caller TEXT NOT NULL DEFAULT '';
)sql";

// The replicas alive on one database (PgReplicaRegistry), by heartbeat.
constexpr char kReplicas[] = R"sql(
CREATE TABLE replicas (
  owner      TEXT   NOT NULL PRIMARY KEY,
  start_time BIGINT NOT NULL,
  heartbeat  BIGINT NOT NULL
);
)sql";

// SQLite's migration 8 rebuilds its cloud_calls without AUTOINCREMENT; here
// the sequence is a BIGSERIAL, which writes no table per insert: nothing to
// change, and the version moves with SQLite's.
constexpr char kCloudCallsByRowid[] = "SELECT 1;";

// One key for every guestflow database: migrations of one database never run
// side by side (those of two databases on one server wait for each other, a
// few milliseconds once).
constexpr int64_t kMigrationLockKey = 0x6775657374666c6f;  // "guestflo"

absl::Status TooNew(int database_version, int known_version) {
  return absl::FailedPreconditionError(absl::StrCat(
      "database schema version ", database_version, " is newer than this build knows (",
      known_version, "); run a newer guestflowd or restore a matching backup"));
}

absl::StatusOr<int> ReadVersion(PgSession& session) {
  GF_ASSIGN_OR_RETURN(PgResult exists,
                      session.Exec("SELECT to_regclass('schema_migrations') IS NOT NULL"));
  if (exists.rows() == 0 || !exists.Bool(0, 0)) return 0;
  GF_ASSIGN_OR_RETURN(PgResult max,
                      session.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  return static_cast<int>(max.Int(0, 0));
}

}  // namespace

const std::vector<PgMigration>& PgMigrations() {
  static const auto* const kMigrations = new std::vector<PgMigration>{
      {1, "onboardings, steps and events tables", kCoreTables},
      {2, "indexes for listing and the scheduler", kAccessPathIndexes},
      {3, "batches and batch_items tables", kBatchTables},
      {4, "index of unfinished onboardings by age, for leasing", kLeaseByAge},
      {5, "cloud_calls table: the audit trail", kCloudCalls},
      {6, "who asked: onboardings.requested_by, cloud_calls.caller", kRequestedBy},
      {7, "replicas table: heartbeats of the replicas sharing a database", kReplicas},
      {8, "cloud_calls numbered by rowid, without AUTOINCREMENT (SQLite only)", kCloudCallsByRowid},
  };
  return *kMigrations;
}

absl::StatusOr<int> PgSchemaVersion(PgPool& pool) {
  int version = 0;
  GF_RETURN_IF_ERROR(pool.InTransaction([&](PgSession& session) -> absl::Status {
    GF_ASSIGN_OR_RETURN(version, ReadVersion(session));
    return absl::OkStatus();
  }));
  return version;
}

absl::Status MigratePgSchema(PgPool& pool, const std::vector<PgMigration>& migrations,
                             absl::Time now) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat("schema migration #", i + 1, " has version ",
                                              migrations[i].version, "; expected ", i + 1));
    }
  }
  const int known = static_cast<int>(migrations.size());
  for (const PgMigration& migration : migrations) {
    GF_RETURN_IF_ERROR(pool.InTransaction([&](PgSession& session) -> absl::Status {
      GF_RETURN_IF_ERROR(
          session.Exec(absl::StrCat("SELECT pg_advisory_xact_lock(", kMigrationLockKey, ")"))
              .status());
      GF_RETURN_IF_ERROR(
          session.ExecScript("CREATE TABLE IF NOT EXISTS schema_migrations ("
                             "version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
                             "creating schema_migrations"));
      GF_ASSIGN_OR_RETURN(int current, ReadVersion(session));
      if (current > known) return TooNew(current, known);
      if (current >= migration.version) return absl::OkStatus();
      GF_RETURN_IF_ERROR(session.ExecScript(
          migration.sql,
          absl::StrCat("schema migration ", migration.version, " (", migration.name, ")")));
      return session
          .Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                PgParams().Int(migration.version).Int(absl::ToUnixMicros(now)))
          .status();
    }));
  }
  return absl::OkStatus();
}

}  // namespace guestflow
