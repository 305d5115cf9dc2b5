// TestPostgresDsn: the libpq conninfo of the throwaway PostgreSQL server the
// ctest fixture `postgres` runs for the tests (scripts/pg-test-cluster writes
// it to the file GUESTFLOW_TEST_PG_DSN_FILE names, build/pg/dsn). A test
// binary gets the macro from `guestflow_add_test(... POSTGRES)` in
// tests/CMakeLists.txt, which also makes its tests require the fixture.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#ifndef GUESTFLOW_TEST_PG_DSN_FILE
#error "GUESTFLOW_TEST_PG_DSN_FILE is undefined: add POSTGRES to the guestflow_add_test() call"
#endif

namespace guestflow::testing {

// The conninfo, e.g. "host=127.0.0.1 port=5433 user=gf dbname=guestflow_test",
// or FAILED_PRECONDITION when the file is missing or empty (the test ran
// without the fixture, or the server did not start).
inline absl::StatusOr<std::string> TestPostgresDsn() {
  const std::string file = GUESTFLOW_TEST_PG_DSN_FILE;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no PostgreSQL for tests: ", file,
                     " is missing; the ctest fixture postgres_cluster_start creates it"));
  }
  std::ifstream in(file);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("no PostgreSQL for tests: cannot read ", file));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string dsn(absl::StripAsciiWhitespace(text.str()));
  if (dsn.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no PostgreSQL for tests: ", file,
                     " is empty; the ctest fixture postgres_cluster_start writes it"));
  }
  return dsn;
}

}  // namespace guestflow::testing
