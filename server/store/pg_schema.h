// The PostgreSQL schema of PgStore and PgBatchStore: the same versioned
// migrations as SQLite's (server/store/sqlite_schema.h), version for version,
// in PostgreSQL's dialect, and the runner that applies them.
//
// Several replicas may start at once against one database: each migration
// runs in its own transaction under a transaction-level advisory lock, and
// the version is read again under that lock, so exactly one replica applies
// it and the others find it applied. DDL is transactional in PostgreSQL, so
// a database is always exactly at some version.
//
// Storage: times are BIGINT microseconds since the Unix epoch, enums by name,
// options and step outputs JSON text, exactly as SQLite holds them
// (store_codec.h), so that rows read the same in both and a test can compare
// them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/pg_connection.h"

namespace guestflow {

struct PgMigration {
  int version = 0;   // 1-based, consecutive
  std::string name;  // a few words, for errors and logs
  std::string sql;   // one or more statements
};

// The migrations this build knows, oldest first. Never empty.
const std::vector<PgMigration>& PgMigrations();

// The version the database (in the connection's search_path) is at; 0 when
// it has no schema_migrations table.
absl::StatusOr<int> PgSchemaVersion(PgPool& pool);

// Brings the database up to the last of `migrations`, recording `now` as each
// one's applied_at. FAILED_PRECONDITION when the database is newer than the
// last of `migrations` (naming both versions); the pool's errors otherwise.
absl::Status MigratePgSchema(PgPool& pool, const std::vector<PgMigration>& migrations,
                             absl::Time now);

}  // namespace guestflow
