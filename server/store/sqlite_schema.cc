#include "server/store/sqlite_schema.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"

namespace guestflow {
namespace {

// STRICT tables: a value of the wrong type is an error instead of being
// silently stored as whatever it happens to be. Enums are stored by name
// (OnboardingStateName, StepName, ...) so that the file reads well in the
// sqlite3 shell and does not depend on enum numbering.
constexpr char kCoreTables[] = R"sql(
CREATE TABLE onboardings (
  id                   TEXT    NOT NULL PRIMARY KEY,
  tenant               TEXT    NOT NULL,
  request_id           TEXT    NOT NULL DEFAULT '',
  request_fingerprint  TEXT    NOT NULL DEFAULT '',
  state                TEXT    NOT NULL,
  version              INTEGER NOT NULL,
  guest_email          TEXT    NOT NULL DEFAULT '',
  guest_first_name     TEXT    NOT NULL DEFAULT '',
  guest_last_name      TEXT    NOT NULL DEFAULT '',
  guest_display_name   TEXT    NOT NULL DEFAULT '',
  guest_usage_location TEXT    NOT NULL DEFAULT '',
  options              TEXT    NOT NULL DEFAULT '{}',
  batch_id             TEXT    NOT NULL DEFAULT '',
  error                TEXT    NOT NULL DEFAULT '',
  instance_url         TEXT    NOT NULL DEFAULT '',
  create_time          INTEGER NOT NULL,
  update_time          INTEGER NOT NULL,
  finish_time          INTEGER,
  due_time             INTEGER,
  lease_owner          TEXT,
  lease_expires        INTEGER,
  CHECK ((lease_owner IS NULL) = (lease_expires IS NULL))
) STRICT;

-- The idempotency key. Partial: an empty request_id never collides.
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
  next_attempt_time INTEGER,
  start_time        INTEGER,
  finish_time       INTEGER,
  wait_since        INTEGER,
  outputs           TEXT    NOT NULL DEFAULT '{}',
  PRIMARY KEY (onboarding_id, position)
) WITHOUT ROWID, STRICT;

CREATE TABLE events (
  onboarding_id TEXT    NOT NULL REFERENCES onboardings (id) ON DELETE CASCADE,
  sequence      INTEGER NOT NULL,
  time          INTEGER NOT NULL,
  type          TEXT    NOT NULL,
  step          TEXT,
  message       TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (onboarding_id, sequence)
) WITHOUT ROWID, STRICT;
)sql";

// The access paths of the hot queries; SqliteStoreTest.HotQueriesUseIndexes
// runs EXPLAIN QUERY PLAN over every statement the store prepares.
// - Listing, newest first: each filter column leads an index that ends in
//   (create_time, id), so a filtered page is a SEARCH that walks the index
//   backwards from the page-token key and stops after page_size + 1 rows,
//   with no sort. The batch index is partial (most onboardings have no
//   batch); the query repeats `batch_id <> ''` so SQLite may use it.
// - Scheduler: the partial index on due_time holds only onboardings that are
//   due some day (not the terminal ones), in LeaseDue's order; the partial
//   index of leased rows keeps NextDueTime's look at leases to the few
//   onboardings in flight.
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

// Bulk onboardings. An item is one input row; its onboarding (if the row was
// valid) is found through onboarding_id, and a batch's onboardings through
// onboardings.batch_id (indexed since migration 2).
constexpr char kBatchTables[] = R"sql(
CREATE TABLE batches (
  id                  TEXT    NOT NULL PRIMARY KEY,
  tenant              TEXT    NOT NULL,
  request_id          TEXT    NOT NULL DEFAULT '',
  request_fingerprint TEXT    NOT NULL DEFAULT '',
  input_complete      INTEGER NOT NULL DEFAULT 0,
  create_time         INTEGER NOT NULL,
  update_time         INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX batches_by_request ON batches (tenant, request_id)
  WHERE request_id <> '';

CREATE TABLE batch_items (
  batch_id      TEXT    NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  line          INTEGER NOT NULL,
  email         TEXT    NOT NULL DEFAULT '',
  onboarding_id TEXT    NOT NULL DEFAULT '',
  error         TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (batch_id, line)
) WITHOUT ROWID, STRICT;

-- A batch's counts by state (GetBatch, WatchBatch) read this index alone:
-- grouped in index order, no sort, however many rows the batch has.
CREATE INDEX onboardings_by_batch_state ON onboardings (batch_id, state, finish_time)
  WHERE batch_id <> '';
)sql";

// The scheduler leases due onboardings oldest first (see Store::LeaseDue):
// this index holds only the unfinished ones, in that order, so a lease reads
// a few rows however long the history and however many are due.
constexpr char kLeaseByAge[] = R"sql(
CREATE INDEX onboardings_due_by_age ON onboardings (create_time, id)
  WHERE due_time IS NOT NULL;
)sql";

// The audit trail: every call with a side effect in the cloud, in the order
// stored; read by onboarding or by tenant, oldest first.
constexpr char kCloudCalls[] = R"sql(
CREATE TABLE cloud_calls (
  sequence        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  onboarding_id   TEXT    NOT NULL,
  tenant          TEXT    NOT NULL,
  step            TEXT    NOT NULL DEFAULT '',
  plugin          TEXT    NOT NULL DEFAULT '',
  actor           TEXT    NOT NULL DEFAULT '',
  time            INTEGER NOT NULL,
  duration_us     INTEGER NOT NULL DEFAULT 0,
  method          TEXT    NOT NULL,
  url             TEXT    NOT NULL,
  service         TEXT    NOT NULL DEFAULT '',
  status          INTEGER NOT NULL DEFAULT 0,
  transport_error TEXT    NOT NULL DEFAULT '',
  request_id      TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX cloud_calls_by_onboarding ON cloud_calls (onboarding_id, sequence);
CREATE INDEX cloud_calls_by_tenant ON cloud_calls (tenant, sequence);
)sql";

// Who asked for an onboarding, and so for each of its cloud calls.
constexpr char kRequestedBy[] = R"sql(
ALTER TABLE onboardings ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE cloud_calls ADD COLUMN caller TEXT NOT NULL DEFAULT '';
)sql";

// The replicas alive on one PostgreSQL database (PgReplicaRegistry). SQLite
// serves one process and leaves it empty; it is here so that both engines
// have the same tables at the same version.
constexpr char kReplicas[] = R"sql(
CREATE TABLE replicas (
  owner      TEXT    NOT NULL PRIMARY KEY,
  start_time INTEGER NOT NULL,
  heartbeat  INTEGER NOT NULL
) STRICT;
)sql";

// The audit trail numbered by its rowid alone. AUTOINCREMENT kept the
// largest sequence ever given in sqlite_sequence, a second b-tree written by
// every insert (a page of every commit that stores a step's calls), so that
// a deleted newest call's number is never given again; guestflowd never
// deletes a call, so the rowid (the largest + 1) gives the same numbers.
// SQLite cannot drop AUTOINCREMENT from a table: it is rebuilt, sequences
// kept (dropping the old table drops its sqlite_sequence row).
constexpr char kCloudCallsByRowid[] = R"sql(
CREATE TABLE cloud_calls_by_rowid (
  sequence        INTEGER NOT NULL PRIMARY KEY,
  onboarding_id   TEXT    NOT NULL,
  tenant          TEXT    NOT NULL,
  step            TEXT    NOT NULL DEFAULT '',
  plugin          TEXT    NOT NULL DEFAULT '',
  actor           TEXT    NOT NULL DEFAULT '',
  time            INTEGER NOT NULL,
  duration_us     INTEGER NOT NULL DEFAULT 0,
  method          TEXT    NOT NULL,
  url             TEXT    NOT NULL,
  service         TEXT    NOT NULL DEFAULT '',
  status          INTEGER NOT NULL DEFAULT 0,
  transport_error TEXT    NOT NULL DEFAULT '',
  request_id      TEXT    NOT NULL DEFAULT '',
  caller          TEXT    NOT NULL DEFAULT ''
) STRICT;
INSERT INTO cloud_calls_by_rowid (sequence, onboarding_id, tenant, step, plugin, actor, time,
                                  duration_us, method, url, service, status, transport_error,
                                  request_id, caller)
  SELECT sequence, onboarding_id, tenant, step, plugin, actor, time, duration_us, method, url,
         service, status, transport_error, request_id, caller
  FROM cloud_calls;
DROP TABLE cloud_calls;
ALTER TABLE cloud_calls_by_rowid RENAME TO cloud_calls;
CREATE INDEX cloud_calls_by_onboarding ON cloud_calls (onboarding_id, sequence);
CREATE INDEX cloud_calls_by_tenant ON cloud_calls (tenant, sequence);
)sql";

absl::Status ExecError(sqlite3* db, int rc, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", sqlite3_errmsg(db));
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

absl::Status Exec(sqlite3* db, const std::string& sql, absl::string_view what) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", error != nullptr ? error : sqlite3_errstr(rc));
  sqlite3_free(error);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

// Callers hold a transaction or accept a racy answer.
absl::StatusOr<int> ReadVersion(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  const char kSql[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
  int rc = sqlite3_prepare_v2(db, kSql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return ExecError(db, rc, "reading the schema version");
  }
  rc = sqlite3_step(stmt);
  int64_t version = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return ExecError(db, rc, "reading the schema version");
  return static_cast<int>(version);
}

absl::Status TooNew(int database_version, int known_version) {
  return absl::FailedPreconditionError(absl::StrCat(
      "database schema version ", database_version, " is newer than this build knows (",
      known_version, "); run a newer guestflowd or restore a matching backup"));
}

}  // namespace

const std::vector<SqliteMigration>& SqliteMigrations() {
  static const auto* const kMigrations = new std::vector<SqliteMigration>{
      {1, "onboardings, steps and events tables", kCoreTables},
      {2, "indexes for listing and the scheduler", kAccessPathIndexes},
      {3, "batches and batch_items tables", kBatchTables},
      {4, "index of unfinished onboardings by age, for leasing", kLeaseByAge},
      {5, "cloud_calls table: the audit trail", kCloudCalls},
      {6, "who asked: onboardings.requested_by, cloud_calls.caller", kRequestedBy},
      {7, "replicas table: heartbeats of the replicas sharing a database", kReplicas},
      {8, "cloud_calls numbered by rowid, without AUTOINCREMENT", kCloudCallsByRowid},
  };
  return *kMigrations;
}

int LatestSqliteSchemaVersion() { return SqliteMigrations().back().version; }

absl::StatusOr<int> SqliteSchemaVersion(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  const char kSql[] =
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
  int rc = sqlite3_prepare_v2(db, kSql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return ExecError(db, rc, "reading the schema version");
  }
  rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return ExecError(db, rc, "reading the schema version");
  return ReadVersion(db);
}

absl::Status MigrateSqliteSchema(sqlite3* db, const std::vector<SqliteMigration>& migrations,
                                 absl::Time now) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat("schema migration #", i + 1, " has version ",
                                              migrations[i].version, "; expected ", i + 1));
    }
  }
  const int known = static_cast<int>(migrations.size());
  GF_RETURN_IF_ERROR(
      Exec(db,
           "CREATE TABLE IF NOT EXISTS schema_migrations ("
           "version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT",
           "creating schema_migrations"));
  GF_ASSIGN_OR_RETURN(int current, ReadVersion(db));
  if (current > known) return TooNew(current, known);
  for (const SqliteMigration& migration : migrations) {
    if (migration.version <= current) continue;
    GF_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "starting a schema migration"));
    // Read again inside the write transaction: another connection may have
    // migrated the file since we looked.
    absl::StatusOr<int> version = ReadVersion(db);
    if (version.ok() && *version > known) version = TooNew(*version, known);
    if (!version.ok() || *version >= migration.version) {
      (void)Exec(db, "ROLLBACK", "rollback");
      if (!version.ok()) return version.status();
      continue;
    }
    absl::Status status =
        Exec(db, migration.sql,
             absl::StrCat("schema migration ", migration.version, " (", migration.name, ")"));
    if (status.ok()) {
      status = Exec(db,
                    absl::StrCat("INSERT INTO schema_migrations (version, applied_at) VALUES (",
                                 migration.version, ", ", absl::ToUnixMicros(now), ")"),
                    "recording a schema migration");
    }
    if (status.ok()) status = Exec(db, "COMMIT", "committing a schema migration");
    if (!status.ok()) {
      (void)Exec(db, "ROLLBACK", "rollback");
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace guestflow
