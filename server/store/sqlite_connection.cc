#include "server/store/sqlite_connection.h"

#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <system_error>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/store/sqlite_schema.h"

namespace guestflow {

absl::Status DbError(sqlite3* db, int rc, absl::string_view what) {
  std::string message = absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, prepared] : cache_) sqlite3_finalize(prepared.stmt);
  sqlite3_close(db_);
}

namespace {

// One writer gate per database file in this process, by canonical path. The
// gates live as long as a connection holds them.
std::shared_ptr<absl::Mutex> WriterGateFor(const std::string& path) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* gates = new std::map<std::string, std::weak_ptr<absl::Mutex>>();
  std::error_code error;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(path, error);
  const std::string key = error ? path : canonical.string();
  absl::MutexLock lock(&mu);
  std::shared_ptr<absl::Mutex> gate = (*gates)[key].lock();
  if (gate == nullptr) {
    gate = std::make_shared<absl::Mutex>();
    (*gates)[key] = gate;
  }
  return gate;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const std::string& path, absl::Duration busy_timeout) {
  if (path.empty()) return absl::InvalidArgumentError("SQLite database path is empty");
  if (path != ":memory:") {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code error;
      std::filesystem::create_directories(parent, error);
      if (error) {
        return absl::UnavailableError(
            absl::StrCat("cannot create folder ", parent.string(), ": ", error.message()));
      }
    }
  }
  sqlite3* db = nullptr;
  // NOMUTEX: the owner serializes every use of the connection already.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  // sqlite3_open_v2 hands out a handle (to close) even when it fails.
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db));
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot open SQLite database ", path, ": ",
                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
  if (path != ":memory:") connection->writer_gate_ = WriterGateFor(path);
  GF_RETURN_IF_ERROR(connection->Setup(path, busy_timeout));
  return connection;
}

absl::Status SqliteConnection::Setup(const std::string& path, absl::Duration busy_timeout) {
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
  // journal_mode answers with the mode now in force; a file system that
  // cannot do WAL leaves it unchanged, and a :memory: database says
  // "memory".
  // Several processes opening a new file at once can get SQLITE_BUSY here
  // without the busy handler being called (SQLite does not wait where
  // waiting could deadlock): try again until busy_timeout.
  std::string mode;
  const absl::Time give_up = absl::Now() + busy_timeout;
  while (true) {
    absl::StatusOr<bool> row;
    {
      GF_ASSIGN_OR_RETURN(Stmt stmt, Prepare("PRAGMA journal_mode = WAL"));
      row = stmt.Step();
      if (row.ok() && *row) mode = stmt.Text(0);
    }
    if (row.ok()) break;
    if (row.status().code() != absl::StatusCode::kUnavailable || absl::Now() >= give_up) {
      return row.status();
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (mode != "wal" && !(path == ":memory:" && mode == "memory")) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot use WAL journal mode (got \"", mode, "\")"));
  }
  GF_RETURN_IF_ERROR(Exec("PRAGMA synchronous = FULL"));
  GF_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys = ON"));
  // A savepoint's undo record (the statement journal; every write of a
  // group commit is in one) stays in memory instead of spilling, past 64
  // KiB, to a new temporary file in /var/tmp: a file created, written and
  // deleted per busy transaction. Temporary tables and indices, which the
  // queries do not use, would stay in memory too.
  GF_RETURN_IF_ERROR(Exec("PRAGMA temp_store = MEMORY"));
  absl::Status migrated = MigrateSqliteSchema(db_, SqliteMigrations(), absl::Now());
  if (!migrated.ok()) {
    return absl::Status(migrated.code(), absl::StrCat(path, ": ", migrated.message()));
  }
  // PRAGMAs are not worth a cache slot (and would show up in PreparedSql).
  for (auto& [sql, prepared] : cache_) sqlite3_finalize(prepared.stmt);
  cache_.clear();
  return absl::OkStatus();
}

absl::StatusOr<Stmt> SqliteConnection::Prepare(const std::string& sql) {
  auto [it, inserted] = cache_.try_emplace(sql);
  Prepared& prepared = it->second;
  if (inserted) {
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                                SQLITE_PREPARE_PERSISTENT, &prepared.stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(prepared.stmt);
      cache_.erase(it);
      return DbError(db_, rc, absl::StrCat("preparing ", sql));
    }
  }
  if (prepared.in_use) return absl::InternalError(absl::StrCat("statement in use: ", sql));
  prepared.in_use = true;
  // std::unordered_map never moves its elements, so &in_use stays valid.
  return Stmt(db_, prepared.stmt, &prepared.in_use);
}

absl::Status SqliteConnection::Exec(const std::string& sql) {
  GF_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  return stmt.Run();
}

absl::Status SqliteConnection::InTransaction(TxnKind kind, absl::FunctionRef<absl::Status()> body) {
  std::optional<absl::MutexLock> gate;
  if (kind == TxnKind::kWrite && writer_gate_ != nullptr) gate.emplace(writer_gate_.get());
  GF_RETURN_IF_ERROR(Exec(kind == TxnKind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
  absl::Status status = body();
  if (status.ok()) {
    status = Exec("COMMIT");
    if (status.ok()) return status;
  }
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) have rolled back already.
  if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
  return status;
}

std::vector<std::string> SqliteConnection::PreparedSql() const {
  std::vector<std::string> sql;
  sql.reserve(cache_.size());
  for (const auto& [text, prepared] : cache_) sql.push_back(text);
  return sql;
}

}  // namespace guestflow
