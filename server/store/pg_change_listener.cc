#include "server/store/pg_change_listener.h"

#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "server/common/logging.h"

namespace guestflow {

std::string FormatChange(absl::string_view id, absl::string_view batch_id,
                         absl::string_view origin) {
  return absl::StrCat(id, " ", batch_id, " ", origin);
}

PgChange ParseChange(absl::string_view payload) {
  std::vector<std::string> parts = absl::StrSplit(payload, absl::MaxSplits(' ', 2));
  parts.resize(3);
  return PgChange{std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
}

class PgChangeListener::Impl {
 public:
  Impl(std::string dsn, OnChange on_change)
      : dsn_(std::move(dsn)), on_change_(std::move(on_change)) {}

  ~Impl() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (conn_ != nullptr) PQfinish(conn_);
  }

  absl::Status Connect() {
    if (conn_ != nullptr) PQfinish(conn_);
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"5", "guestflowd-listener", dsn_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat(
          "postgres: the change listener cannot connect: ",
          conn_ == nullptr ? "out of memory"
                           : absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn_))));
    }
    PGresult* r = PQexec(conn_, absl::StrCat("LISTEN ", kPgChangeChannel).c_str());
    const bool ok = r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
      return absl::UnavailableError(
          absl::StrCat("postgres: LISTEN ", kPgChangeChannel, ": ",
                       absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn_))));
    }
    return absl::OkStatus();
  }

  void Run() {
    thread_ = std::thread([this] { Loop(); });
  }

 private:
  void Loop() {
    while (!stopping_) {
      if (PQstatus(conn_) != CONNECTION_OK) {
        absl::SleepFor(absl::Seconds(1));
        if (absl::Status s = Connect(); !s.ok()) {
          LogWarn(std::string(s.message()));
          continue;
        }
        LogInfo("postgres: the change listener reconnected");
      }
      // Wake at least every 200 ms to notice stopping_.
      pollfd fd{PQsocket(conn_), POLLIN, 0};
      if (poll(&fd, 1, 200) <= 0) continue;
      if (PQconsumeInput(conn_) == 0) continue;  // broken: reconnect next turn
      while (PGnotify* n = PQnotifies(conn_)) {
        on_change_(ParseChange(n->extra));
        PQfreemem(n);
      }
    }
  }

  const std::string dsn_;
  const OnChange on_change_;
  PGconn* conn_ = nullptr;  // used by the listener thread once it runs
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

PgChangeListener::PgChangeListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgChangeListener::~PgChangeListener() = default;

absl::StatusOr<std::unique_ptr<PgChangeListener>> PgChangeListener::Start(const std::string& dsn,
                                                                          OnChange on_change) {
  auto impl = std::make_unique<Impl>(dsn, std::move(on_change));
  if (absl::Status s = impl->Connect(); !s.ok()) return s;
  impl->Run();
  return std::unique_ptr<PgChangeListener>(new PgChangeListener(std::move(impl)));
}

}  // namespace guestflow
