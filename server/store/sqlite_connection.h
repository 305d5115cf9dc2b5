// SqliteConnection: one SQLite connection set up the way every guestflow
// store wants it (WAL, synchronous=FULL, foreign keys, temporary storage in
// memory, busy timeout, the schema migrated), with a cache of prepared
// statements lent out as Stmt and transactions that commit or roll back as a
// whole. SqliteStore and SqliteBatchStore each own one.
//
// Thread-compatible: the owner serializes every call (its own mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/store_codec.h"

namespace guestflow {

// `what` failed with SQLite result code `rc`: UNAVAILABLE for a busy or
// locked file, I/O errors and a full disk; INTERNAL otherwise.
absl::Status DbError(sqlite3* db, int rc, absl::string_view what);

// A cached prepared statement lent to one caller. Giving it back (the
// destructor) resets it and clears its bindings, so the next caller starts
// clean and no read stays open on the connection.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt, bool* in_use) : db_(db), stmt_(stmt), in_use_(in_use) {}
  Stmt(Stmt&& other) noexcept
      : db_(other.db_),
        stmt_(std::exchange(other.stmt_, nullptr)),
        in_use_(std::exchange(other.in_use_, nullptr)),
        bind_status_(std::move(other.bind_status_)) {}
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  }

  // Parameters are numbered from 1, as ?1, ?2, ... in the SQL.
  Stmt& BindText(int i, absl::string_view text) {
    // An empty string_view may have a null data(), which SQLite would bind
    // as NULL.
    const char* data = text.data() != nullptr ? text.data() : "";
    return Check(
        sqlite3_bind_text(stmt_, i, data, static_cast<int>(text.size()), SQLITE_TRANSIENT));
  }
  Stmt& BindInt(int i, int64_t value) { return Check(sqlite3_bind_int64(stmt_, i, value)); }
  Stmt& BindTime(int i, absl::Time t) { return BindInt(i, ToMicros(t)); }
  Stmt& BindOptTime(int i, const std::optional<absl::Time>& t) {
    return t.has_value() ? BindTime(i, *t) : Check(sqlite3_bind_null(stmt_, i));
  }
  Stmt& BindOptText(int i, std::optional<absl::string_view> text) {
    return text.has_value() ? BindText(i, *text) : Check(sqlite3_bind_null(stmt_, i));
  }

  // True when a row is ready to read, false when the statement is done.
  absl::StatusOr<bool> Step() {
    if (!bind_status_.ok()) return bind_status_;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return DbError(db_, rc, sqlite3_sql(stmt_));
  }

  // Runs a statement whose rows (if any) nobody wants.
  absl::Status Run() { return Step().status(); }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    if (text == nullptr) return std::string();
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  // The text of `col` without a copy; valid until the next Step() or the
  // statement is given back.
  absl::string_view View(int col) const {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    if (text == nullptr) return absl::string_view();
    return absl::string_view(reinterpret_cast<const char*>(text),
                             static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  // Whether `col` holds `t` as BindOptTime would have written it.
  bool HoldsOptTime(int col, const std::optional<absl::Time>& t) const {
    if (!t.has_value()) return IsNull(col);
    return !IsNull(col) && Int(col) == ToMicros(*t);
  }
  absl::Time Time(int col) const { return FromMicros(Int(col)); }
  std::optional<absl::Time> OptTime(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Time(col);
  }

 private:
  Stmt& Check(int rc) {
    if (rc != SQLITE_OK && bind_status_.ok()) {
      bind_status_ = DbError(db_, rc, absl::StrCat("binding a parameter of ", sqlite3_sql(stmt_)));
    }
    return *this;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;
  absl::Status bind_status_;
};

enum class TxnKind { kRead, kWrite };

class SqliteConnection {
 public:
  // Opens (creating it and its folders if needed) and sets up `path`;
  // ":memory:" is a private in-memory database. Errors: FAILED_PRECONDITION
  // for a file that cannot do WAL or whose schema is newer than this build,
  // UNAVAILABLE/INTERNAL otherwise.
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path,
                                                                absl::Duration busy_timeout);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // A cached statement for `sql`, prepared on first use. INTERNAL when it is
  // lent out already (a statement used again inside its own row loop).
  absl::StatusOr<Stmt> Prepare(const std::string& sql);
  // Runs a statement whose rows nobody wants.
  absl::Status Exec(const std::string& sql);
  // Runs `body` in a transaction and commits if it returns OK. Reads take a
  // deferred transaction too: a snapshot, so that an onboarding and its steps
  // come from the same commit of another connection. Writes take the write
  // lock up front (IMMEDIATE), so no transaction has to upgrade from read to
  // write and fail with SQLITE_BUSY halfway.
  // Connections of one process to one file first take that file's writer
  // gate (an absl::Mutex shared by them): they queue in the process instead
  // of polling SQLite's lock, where a busy writer can starve another past
  // busy_timeout. busy_timeout is left for other processes. A write
  // transaction must not start one on another connection to the same file
  // (it would wait for itself).
  absl::Status InTransaction(TxnKind kind, absl::FunctionRef<absl::Status()> body);
  // The SQL of every statement in the cache.
  std::vector<std::string> PreparedSql() const;

 private:
  struct Prepared {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };

  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  absl::Status Setup(const std::string& path, absl::Duration busy_timeout);

  sqlite3* const db_;
  // The file's writer gate; null for ":memory:" (private to the connection).
  std::shared_ptr<absl::Mutex> writer_gate_;
  std::unordered_map<std::string, Prepared> cache_;
};

}  // namespace guestflow
