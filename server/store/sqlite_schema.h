// The SQLite schema of SqliteStore as an ordered list of versioned
// migrations, and the runner that applies them.
//
// The version a database is at is the highest `version` in its
// `schema_migrations(version, applied_at)` table (0 when the table is missing
// or empty). Migrations are numbered 1, 2, ... without gaps; each is applied in
// its own transaction together with its `schema_migrations` row, so a database
// is always exactly at some version, never between two.
//
// Rules for whoever adds a migration: append, never edit a released one; keep
// it one transaction's worth of DDL/DML (no VACUUM, no PRAGMA journal_mode).
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace guestflow {

struct SqliteMigration {
  int version = 0;   // 1-based, consecutive
  std::string name;  // a few words, for errors and logs
  std::string sql;   // one or more statements, run with sqlite3_exec
};

// The migrations this build knows, oldest first. Never empty.
const std::vector<SqliteMigration>& SqliteMigrations();

// The version of the last entry of SqliteMigrations().
int LatestSqliteSchemaVersion();

// The version `db` is at: the highest version in schema_migrations, or 0 when
// there is no such table or it is empty. INTERNAL on a database error.
absl::StatusOr<int> SqliteSchemaVersion(sqlite3* db);

// Brings `db` up to the last of `migrations` (normally SqliteMigrations();
// tests pass a prefix or an extended list), each missing one in its own
// BEGIN IMMEDIATE transaction, recording `now` as its applied_at. Safe when
// several connections migrate the same file at once: the version is read
// again inside each transaction.
//
// Errors: FAILED_PRECONDITION when the database is at a version newer than
// the last of `migrations` (the message names both versions); INTERNAL when a
// migration fails (that migration is rolled back, earlier ones stay) or when
// `migrations` is not numbered 1, 2, ...; UNAVAILABLE when the database stays
// locked past the connection's busy timeout. The caller must not be inside a
// transaction on `db`.
absl::Status MigrateSqliteSchema(sqlite3* db, const std::vector<SqliteMigration>& migrations,
                                 absl::Time now);

}  // namespace guestflow
