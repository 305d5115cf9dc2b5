// A private PostgreSQL schema per test, on the throwaway server of the ctest
// fixture `postgres` (tests/support/pg_test_dsn.h): the Store contract
// factories map a test's scratch folder to one schema, so every test starts
// empty and a second factory call on the same folder reaches the same data.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/store/pg_connection.h"
#include "tests/support/pg_test_dsn.h"

namespace guestflow::testing {

// A DSN whose search_path is the schema of `scratch_dir`, created if needed.
inline absl::StatusOr<std::string> ScratchSchemaDsn(const std::string& scratch_dir) {
  GF_ASSIGN_OR_RETURN(std::string dsn, TestPostgresDsn());
  const std::string schema = absl::StrFormat("t%016x", std::hash<std::string>{}(scratch_dir));
  PgPoolOptions options;
  options.size = 1;
  GF_ASSIGN_OR_RETURN(std::unique_ptr<PgPool> admin, PgPool::Open(dsn, options));
  // CREATE SCHEMA IF NOT EXISTS is not safe against itself: two at once may
  // both try, and one fails on the catalog's unique index.
  GF_RETURN_IF_ERROR(admin->InTransaction([&](PgSession& s) {
    return s.ExecScript(
        absl::StrCat("SELECT pg_advisory_xact_lock(7); CREATE SCHEMA IF NOT EXISTS ", schema),
        "creating a schema");
  }));
  return absl::StrCat(dsn, " options='-c search_path=", schema, "'");
}

// A pool on the schema of `scratch_dir`.
inline absl::StatusOr<std::shared_ptr<PgPool>> ScratchPool(const std::string& scratch_dir,
                                                           int size = 4) {
  GF_ASSIGN_OR_RETURN(std::string dsn, ScratchSchemaDsn(scratch_dir));
  PgPoolOptions options;
  options.size = size;
  GF_ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool, PgPool::Open(dsn, options));
  return std::shared_ptr<PgPool>(std::move(pool));
}

}  // namespace guestflow::testing
