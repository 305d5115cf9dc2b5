// SqliteBatchStore: the BatchStore in the same SQLite file as SqliteStore,
// on a connection of its own (server/store/sqlite_connection.h); WAL lets
// both read while one writes. Opening either migrates the whole schema.
//
// Thread safety: every method may be called from any thread; calls are
// serialized on the connection. Errors as batch_store.h, plus Open's as
// SqliteStore::Open.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/batch_store.h"
#include "server/store/sqlite_connection.h"

namespace guestflow {

class SqliteBatchStore : public BatchStore {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteBatchStore>> Open(
      const std::string& path);

  [[nodiscard]] absl::StatusOr<CreateBatchResult> CreateBatch(const BatchRecord& batch) override;
  [[nodiscard]] absl::StatusOr<BatchRecord> GetBatch(absl::string_view id) override;
  [[nodiscard]] absl::Status AddItems(absl::string_view batch_id,
                                      const std::vector<BatchItemRecord>& items) override;
  [[nodiscard]] absl::Status MarkInputComplete(absl::string_view batch_id, absl::Time now) override;
  [[nodiscard]] absl::StatusOr<BatchSummary> Summarize(absl::string_view batch_id) override;
  [[nodiscard]] absl::StatusOr<BatchItemPage> ListItems(const BatchItemQuery& query) override;

  // The SQL of every statement prepared so far (for the query-plan test).
  std::vector<std::string> PreparedSqlForTesting() const;

 private:
  explicit SqliteBatchStore(std::unique_ptr<SqliteConnection> db) : db_(std::move(db)) {}
  absl::StatusOr<BatchRecord> Get(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  const std::unique_ptr<SqliteConnection> db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace guestflow
