// Test helpers that look at a SqliteStore's file from the side, through a raw
// SQLite connection of their own.
#pragma once

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace guestflow::testing {

// A plain connection to a database file. Not thread-safe.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    rc_ = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc_ == SQLITE_OK) sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3* get() const { return db_; }

  absl::Status Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    absl::Status status = rc == SQLITE_OK
                              ? absl::OkStatus()
                              : absl::InternalError(absl::StrCat(
                                    sql, ": ", error != nullptr ? error : sqlite3_errstr(rc)));
    sqlite3_free(error);
    return status;
  }

  // Every row of `sql`, each column as text ("NULL" for NULL).
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return absl::InternalError(absl::StrCat(sql, ": ", sqlite3_errmsg(db_)));
    }
    std::vector<std::vector<std::string>> rows;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* text = sqlite3_column_text(stmt, i);
        row.push_back(text == nullptr ? "NULL" : reinterpret_cast<const char*>(text));
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat(sql, ": ", sqlite3_errmsg(db_)));
    return rows;
  }

  // The single value of a one-row, one-column query.
  absl::StatusOr<std::string> Value(const std::string& sql) {
    absl::StatusOr<std::vector<std::vector<std::string>>> rows = Query(sql);
    if (!rows.ok()) return rows.status();
    if (rows->size() != 1 || (*rows)[0].size() != 1) {
      return absl::InternalError(absl::StrCat(sql, ": not exactly one value"));
    }
    return (*rows)[0][0];
  }

 private:
  sqlite3* db_ = nullptr;
  int rc_ = SQLITE_OK;
};

// A temporary folder, removed with everything in it at the end of the scope.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::path(::testing::TempDir()) / "sqlite_store_test.XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

}  // namespace guestflow::testing
