#include "server/store/pg_connection.h"

#include <libpq-fe.h>

#include <map>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "server/common/status_macros.h"
#include "server/store/store_codec.h"

namespace guestflow {

// ---- PgParams ---------------------------------------------------------------

PgParams& PgParams::Text(absl::string_view value) {
  values_.emplace_back(std::string(value));
  return *this;
}

PgParams& PgParams::OptText(std::optional<absl::string_view> value) {
  if (!value.has_value()) {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  return Text(*value);
}

PgParams& PgParams::Int(int64_t value) {
  values_.emplace_back(absl::StrCat(value));
  return *this;
}

PgParams& PgParams::Bool(bool value) {
  values_.emplace_back(value ? "true" : "false");
  return *this;
}

PgParams& PgParams::Time(absl::Time value) { return Int(ToMicros(value)); }

PgParams& PgParams::OptTime(std::optional<absl::Time> value) {
  if (!value.has_value()) {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  return Time(*value);
}

PgParams& PgParams::Append(const PgParams& other) {
  values_.insert(values_.end(), other.values_.begin(), other.values_.end());
  return *this;
}

std::vector<const char*> PgParams::Pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const std::optional<std::string>& v : values_) {
    out.push_back(v.has_value() ? v->c_str() : nullptr);
  }
  return out;
}

// ---- PgResult ---------------------------------------------------------------

PgResult::PgResult(pg_result* result) : result_(result) {}
PgResult::PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

int PgResult::rows() const { return PQntuples(result_); }

int64_t PgResult::affected() const {
  int64_t n = 0;
  return absl::SimpleAtoi(PQcmdTuples(result_), &n) ? n : 0;
}

bool PgResult::IsNull(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(result_, row, col),
                     static_cast<size_t>(PQgetlength(result_, row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  int64_t n = 0;
  return absl::SimpleAtoi(PQgetvalue(result_, row, col), &n) ? n : 0;
}

bool PgResult::Bool(int row, int col) const {
  const char* v = PQgetvalue(result_, row, col);
  return v[0] == 't';
}

absl::Time PgResult::Time(int row, int col) const { return FromMicros(Int(row, col)); }

std::optional<absl::Time> PgResult::OptTime(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Time(row, col);
}

// ---- errors -----------------------------------------------------------------

namespace {

absl::StatusCode CodeOf(absl::string_view sqlstate) {
  if (absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03" || sqlstate == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::StatusCode::kAborted;
  if (sqlstate == "57014" || sqlstate == "55P03") return absl::StatusCode::kDeadlineExceeded;
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  return absl::StatusCode::kInternal;
}

std::string ConnectionMessage(PGconn* conn) {
  return std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
}

// A failed statement: the result's SQLSTATE decides the code; no result (or
// none with a SQLSTATE) means the connection itself failed.
absl::Status ResultError(PGconn* conn, PGresult* result, absl::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr || PQstatus(conn) == CONNECTION_BAD) {
    return absl::UnavailableError(absl::StrCat("postgres: ", what, ": ", ConnectionMessage(conn)));
  }
  const char* message = PQresultErrorMessage(result);
  return absl::Status(CodeOf(state), absl::StrCat("postgres: ", what, ": ",
                                                  absl::StripTrailingAsciiWhitespace(message),
                                                  " (SQLSTATE ", state, ")"));
}

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

}  // namespace

// ---- PgSession --------------------------------------------------------------

struct PgSession::Connection {
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (conn != nullptr) PQfinish(conn);
  }
  PGconn* conn = nullptr;
  std::map<std::string, std::string> prepared;  // SQL text -> statement name
  bool retryable_failure = false;               // a statement failed with 40001/40P01
};

namespace {

// Runs `sql` through the simple query protocol: no parameters, but several
// statements at once (BEGIN, COMMIT, a migration's DDL).
absl::Status Simple(PGconn* conn, const std::string& sql, absl::string_view what) {
  PGresult* raw = PQexec(conn, sql.c_str());
  PgResult result(raw);
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return absl::OkStatus();
  return ResultError(conn, raw, what);
}

bool Succeeded(PGresult* raw) {
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

absl::StatusOr<PgResult> PgSession::Exec(const std::string& sql, const PgParams& params) {
  PGconn* conn = connection_->conn;
  auto it = connection_->prepared.find(sql);
  if (it == connection_->prepared.end()) {
    std::string name = absl::StrCat("gf", connection_->prepared.size() + 1);
    PGresult* raw = PQprepare(conn, name.c_str(), sql.c_str(), 0, nullptr);
    PgResult prepared(raw);
    if (!Succeeded(raw)) {
      absl::Status error = ResultError(conn, raw, absl::StrCat("preparing ", sql));
      if (error.code() == absl::StatusCode::kAborted) connection_->retryable_failure = true;
      return error;
    }
    it = connection_->prepared.emplace(sql, std::move(name)).first;
  }
  const std::vector<const char*> values = params.Pointers();
  PGresult* raw = PQexecPrepared(conn, it->second.c_str(), static_cast<int>(values.size()),
                                 values.data(), nullptr, nullptr, 0);
  PgResult result(raw);
  if (Succeeded(raw)) return result;
  absl::Status error = ResultError(conn, raw, sql);
  if (error.code() == absl::StatusCode::kAborted) connection_->retryable_failure = true;
  return error;
}

absl::Status PgSession::ExecScript(const std::string& sql, absl::string_view what) {
  return Simple(connection_->conn, sql, what);
}

// ---- PgPool -----------------------------------------------------------------

class PgPool::Impl {
 public:
  using Connection = PgSession::Connection;

  Impl(std::string dsn, PgPoolOptions options) : dsn_(std::move(dsn)), options_(options) {}

  absl::StatusOr<std::unique_ptr<Connection>> Connect() const {
    auto c = std::make_unique<Connection>();
    // Keywords before dbname are defaults that the DSN may override.
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"5", "guestflowd", dsn_.c_str(), nullptr};
    c->conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (c->conn == nullptr) return absl::ResourceExhaustedError("postgres: out of memory");
    if (PQstatus(c->conn) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat("postgres: cannot connect: ", ConnectionMessage(c->conn)));
    }
    PQsetNoticeProcessor(c->conn, &IgnoreNotice, nullptr);
    const int64_t ms = absl::ToInt64Milliseconds(options_.statement_timeout);
    absl::Status set =
        Simple(c->conn,
               absl::StrCat("SET statement_timeout = ", ms, "; SET lock_timeout = ", ms,
                            "; SET idle_in_transaction_session_timeout = ", 6 * ms),
               "setting the session's timeouts");
    if (!set.ok()) return set;
    return c;
  }

  // A free connection, opening one while fewer than options_.size are open.
  absl::StatusOr<std::unique_ptr<Connection>> Checkout() {
    {
      absl::MutexLock lock(&mu_);
      auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !idle_.empty() || open_ < options_.size;
      };
      if (!mu_.AwaitWithTimeout(absl::Condition(&available), options_.checkout_timeout)) {
        return absl::UnavailableError(
            absl::StrCat("postgres: all ", options_.size, " connections stayed busy for ",
                         absl::FormatDuration(options_.checkout_timeout),
                         "; raise store.postgres.pool_size or lower engine.workers"));
      }
      if (!idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      ++open_;
    }
    absl::StatusOr<std::unique_ptr<Connection>> c = Connect();
    if (!c.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
    }
    return c;
  }

  // A broken connection is dropped: the next checkout opens a fresh one.
  void Checkin(std::unique_ptr<Connection> c) {
    absl::MutexLock lock(&mu_);
    if (PQstatus(c->conn) != CONNECTION_OK || PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
      --open_;
      return;  // closed on leaving scope
    }
    idle_.push_back(std::move(c));
  }

  absl::Status RunOnce(absl::FunctionRef<absl::Status(PgSession&)> body, bool* retry) {
    GF_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Checkout());
    c->retryable_failure = false;
    absl::Status status = Simple(c->conn, "BEGIN", "beginning a transaction");
    if (status.ok()) {
      PgSession session(c.get());
      status = body(session);
      if (status.ok()) {
        status = Simple(c->conn, "COMMIT", "committing");
      } else {
        (void)Simple(c->conn, "ROLLBACK", "rolling back");
      }
    }
    *retry = c->retryable_failure;
    RememberPrepared(*c);
    Checkin(std::move(c));
    return status;
  }

  void AdoptFirst(std::unique_ptr<Connection> c) {
    absl::MutexLock lock(&mu_);
    ++open_;
    idle_.push_back(std::move(c));
  }

  void RememberPrepared(const Connection& c) {
    absl::MutexLock lock(&mu_);
    for (const auto& [sql, name] : c.prepared) prepared_sql_.insert(sql);
  }

  std::vector<std::string> PreparedSql() const {
    absl::MutexLock lock(&mu_);
    return std::vector<std::string>(prepared_sql_.begin(), prepared_sql_.end());
  }

  const std::string dsn_;
  const PgPoolOptions options_;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> prepared_sql_ ABSL_GUARDED_BY(mu_);
};

PgPool::PgPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgPool::~PgPool() = default;

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Open(const std::string& dsn,
                                                     const PgPoolOptions& options) {
  if (options.size <= 0) return absl::InvalidArgumentError("pool size must be positive");
  auto impl = std::make_unique<Impl>(dsn, options);
  GF_ASSIGN_OR_RETURN(std::unique_ptr<PgSession::Connection> first, impl->Connect());
  impl->AdoptFirst(std::move(first));
  return std::unique_ptr<PgPool>(new PgPool(std::move(impl)));
}

absl::Status PgPool::InTransaction(absl::FunctionRef<absl::Status(PgSession&)> body) {
  constexpr int kAttempts = 3;
  absl::Status status;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    bool retry = false;
    status = impl_->RunOnce(body, &retry);
    if (status.ok() || !retry) return status;
  }
  return status;
}

std::vector<std::string> PgPool::PreparedSql() const { return impl_->PreparedSql(); }

}  // namespace guestflow
