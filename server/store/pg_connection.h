// PgPool: a few libpq connections to one PostgreSQL database, lent out one
// transaction at a time, with the statements each connection has prepared
// kept for its life. PgStore and PgBatchStore share one.
//
// Why libpq and not libpqxx: the store speaks absl::Status throughout, and
// libpq's C API reports errors as values (with their SQLSTATE), which this
// file maps once; libpqxx would need a try/catch around every call to turn
// its exceptions back into statuses.
//
// Thread safety: every method of PgPool may be called from any thread. A
// PgSession is used by the one thread running the transaction body.
//
// Errors, by SQLSTATE: connection failures (class 08, 57P01..57P03) and
// too many connections (53300) give UNAVAILABLE, a serialization failure or
// deadlock (40001, 40P01) ABORTED (InTransaction retries those first), a
// statement or lock timeout (57014, 55P03) DEADLINE_EXCEEDED, a unique
// violation (23505) ALREADY_EXISTS, anything else INTERNAL; each message
// starts with "postgres: " and says what was being done.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct pg_conn;
struct pg_result;

namespace guestflow {

// The parameters $1, $2, ... of one statement, sent as text (the server
// infers their types from the statement).
class PgParams {
 public:
  PgParams& Text(absl::string_view value);
  PgParams& OptText(std::optional<absl::string_view> value);
  PgParams& Int(int64_t value);
  PgParams& Bool(bool value);
  // Microseconds since the Unix epoch (store_codec.h).
  PgParams& Time(absl::Time value);
  PgParams& OptTime(std::optional<absl::Time> value);
  // `other`'s parameters, after these.
  PgParams& Append(const PgParams& other);

  size_t size() const { return values_.size(); }
  // nullptr for NULL; valid while this object lives unchanged.
  std::vector<const char*> Pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

class PgResult;

// One row of a PgResult, read by column (0-based), as store_codec.h's
// OnboardingFromRow wants it. Valid while its result lives.
class PgRow {
 public:
  PgRow(const PgResult& result, int row) : result_(&result), row_(row) {}
  bool IsNull(int col) const;
  std::string Text(int col) const;
  int64_t Int(int col) const;
  absl::Time Time(int col) const;
  std::optional<absl::Time> OptTime(int col) const;

 private:
  const PgResult* result_;
  int row_;
};

// The rows of one statement. Column accessors take a row and a column, both
// 0-based; reading a NULL gives "" / 0.
class PgResult {
 public:
  explicit PgResult(pg_result* result);
  PgResult(PgResult&&) noexcept;
  PgResult& operator=(PgResult&&) noexcept;
  ~PgResult();

  int rows() const;
  PgRow Row(int row) const { return PgRow(*this, row); }
  // Rows an INSERT/UPDATE/DELETE touched.
  int64_t affected() const;
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  bool Bool(int row, int col) const;
  absl::Time Time(int row, int col) const;
  std::optional<absl::Time> OptTime(int row, int col) const;

 private:
  pg_result* result_;
};

inline bool PgRow::IsNull(int col) const { return result_->IsNull(row_, col); }
inline std::string PgRow::Text(int col) const { return result_->Text(row_, col); }
inline int64_t PgRow::Int(int col) const { return result_->Int(row_, col); }
inline absl::Time PgRow::Time(int col) const { return result_->Time(row_, col); }
inline std::optional<absl::Time> PgRow::OptTime(int col) const {
  return result_->OptTime(row_, col);
}

// One pooled connection, inside a transaction.
class PgSession {
 public:
  // Runs `sql` (prepared on this connection the first time it is seen) with
  // `params`.
  absl::StatusOr<PgResult> Exec(const std::string& sql, const PgParams& params = {});
  // Runs one or more statements without parameters (DDL), unprepared.
  absl::Status ExecScript(const std::string& sql, absl::string_view what);

 private:
  friend class PgPool;
  struct Connection;
  explicit PgSession(Connection* connection) : connection_(connection) {}
  Connection* connection_;
};

struct PgPoolOptions {
  int size = 8;
  absl::Duration statement_timeout = absl::Seconds(10);
  // How long InTransaction waits for a free connection.
  absl::Duration checkout_timeout = absl::Seconds(10);
};

class PgPool {
 public:
  // Connects once (so that a wrong DSN fails here, with libpq's message,
  // instead of at the first request) and keeps that connection.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PgPool>> Open(const std::string& dsn,
                                                                    const PgPoolOptions& options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs `body` inside BEGIN ... COMMIT (READ COMMITTED) on a free
  // connection, and rolls back when it returns an error. A serialization
  // failure or a deadlock runs the whole body again, up to 3 times; a broken
  // connection is reconnected at its next use.
  absl::Status InTransaction(absl::FunctionRef<absl::Status(PgSession&)> body);

  // The SQL text of every statement prepared so far on any connection.
  std::vector<std::string> PreparedSql() const;

 private:
  class Impl;
  explicit PgPool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace guestflow
