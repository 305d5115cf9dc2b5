// PgBatchStore: the BatchStore in the same PostgreSQL database as PgStore,
// on the same pool. Any replica may serve any batch: the batch, its rows and
// its onboardings are all in the database.
//
// Thread safety: every method may be called from any thread. Errors as
// batch_store.h, plus the pool's (server/store/pg_connection.h).
#pragma once

#include <memory>
#include <vector>

#include "server/store/batch_store.h"
#include "server/store/pg_connection.h"

namespace guestflow {

class PgBatchStore : public BatchStore {
 public:
  // Migrates the schema, as PgStore::Open does (either may come first).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PgBatchStore>> Open(
      std::shared_ptr<PgPool> pool);

  [[nodiscard]] absl::StatusOr<CreateBatchResult> CreateBatch(const BatchRecord& batch) override;
  [[nodiscard]] absl::StatusOr<BatchRecord> GetBatch(absl::string_view id) override;
  [[nodiscard]] absl::Status AddItems(absl::string_view batch_id,
                                      const std::vector<BatchItemRecord>& items) override;
  [[nodiscard]] absl::Status MarkInputComplete(absl::string_view batch_id, absl::Time now) override;
  [[nodiscard]] absl::StatusOr<BatchSummary> Summarize(absl::string_view batch_id) override;
  [[nodiscard]] absl::StatusOr<BatchItemPage> ListItems(const BatchItemQuery& query) override;

 private:
  explicit PgBatchStore(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  std::shared_ptr<PgPool> pool_;
};

}  // namespace guestflow
