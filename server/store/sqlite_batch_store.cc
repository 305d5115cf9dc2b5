#include "server/store/sqlite_batch_store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/store/sqlite_store.h"

namespace guestflow {
namespace {

constexpr char kSelectBatch[] =
    "SELECT id, tenant, request_id, request_fingerprint, input_complete, create_time, "
    "update_time FROM batches WHERE id = ?1";

// Repeats the partial index's condition so that SQLite may use it.
constexpr char kSelectBatchByRequest[] =
    "SELECT id FROM batches WHERE tenant = ?1 AND request_id = ?2 AND request_id <> ''";

constexpr char kInsertBatch[] =
    "INSERT INTO batches (id, tenant, request_id, request_fingerprint, input_complete, "
    "create_time, update_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

constexpr char kInsertItem[] =
    "INSERT OR IGNORE INTO batch_items (batch_id, line, email, onboarding_id, error) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";

constexpr char kCountItems[] =
    "SELECT COUNT(*), COALESCE(SUM(onboarding_id = ''), 0) FROM batch_items WHERE batch_id = ?1";

// The partial batch index of onboardings, condition repeated.
constexpr char kCountStates[] =
    "SELECT state, COUNT(*), MAX(finish_time) FROM onboardings "
    "WHERE batch_id = ?1 AND batch_id <> '' GROUP BY state";

// One page of items after line ?2, with their onboarding's state, error and
// failed step. ?3: a state to keep ('' for all); ?4: 1 for refused rows only.
constexpr char kSelectItems[] =
    "SELECT i.line, i.email, i.onboarding_id, i.error, o.state, o.error, "
    "(SELECT s.kind FROM steps s WHERE s.onboarding_id = o.id AND s.state = 'FAILED' "
    " ORDER BY s.position LIMIT 1), o.tenant "
    "FROM batch_items i LEFT JOIN onboardings o ON o.id = i.onboarding_id AND i.onboarding_id <> "
    "'' "
    "WHERE i.batch_id = ?1 AND i.line > ?2 "
    "AND (?3 = '' OR o.state = ?3) AND (?4 = 0 OR i.onboarding_id = '') "
    "ORDER BY i.line LIMIT ?5";

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("batch ", id, " not found"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteBatchStore>> SqliteBatchStore::Open(const std::string& path) {
  GF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> db,
                      SqliteConnection::Open(path, SqliteStore::kBusyTimeout));
  return std::unique_ptr<SqliteBatchStore>(new SqliteBatchStore(std::move(db)));
}

absl::StatusOr<BatchRecord> SqliteBatchStore::Get(absl::string_view id) {
  GF_ASSIGN_OR_RETURN(Stmt select, db_->Prepare(kSelectBatch));
  select.BindText(1, id);
  GF_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return NotFound(id);
  BatchRecord b;
  b.id = select.Text(0);
  b.tenant = select.Text(1);
  b.request_id = select.Text(2);
  b.request_fingerprint = select.Text(3);
  b.input_complete = select.Int(4) != 0;
  b.create_time = select.Time(5);
  b.update_time = select.Time(6);
  return b;
}

absl::StatusOr<CreateBatchResult> SqliteBatchStore::CreateBatch(const BatchRecord& batch) {
  if (batch.id.empty()) return absl::InvalidArgumentError("batch id is empty");
  absl::MutexLock lock(&mu_);
  CreateBatchResult result;
  GF_RETURN_IF_ERROR(db_->InTransaction(TxnKind::kWrite, [&]() -> absl::Status {
    if (!batch.request_id.empty()) {
      GF_ASSIGN_OR_RETURN(Stmt find, db_->Prepare(kSelectBatchByRequest));
      find.BindText(1, batch.tenant).BindText(2, batch.request_id);
      GF_ASSIGN_OR_RETURN(bool found, find.Step());
      if (found) {
        const std::string existing = find.Text(0);
        GF_ASSIGN_OR_RETURN(result.batch, Get(existing));
        return absl::OkStatus();
      }
    }
    {
      GF_ASSIGN_OR_RETURN(Stmt taken, db_->Prepare("SELECT 1 FROM batches WHERE id = ?1"));
      taken.BindText(1, batch.id);
      GF_ASSIGN_OR_RETURN(bool found, taken.Step());
      if (found)
        return absl::AlreadyExistsError(absl::StrCat("batch ", batch.id, " already exists"));
    }
    {
      GF_ASSIGN_OR_RETURN(Stmt insert, db_->Prepare(kInsertBatch));
      insert.BindText(1, batch.id)
          .BindText(2, batch.tenant)
          .BindText(3, batch.request_id)
          .BindText(4, batch.request_fingerprint)
          .BindInt(5, batch.input_complete ? 1 : 0)
          .BindTime(6, batch.create_time)
          .BindTime(7, batch.update_time);
      GF_RETURN_IF_ERROR(insert.Run());
    }
    GF_ASSIGN_OR_RETURN(result.batch, Get(batch.id));
    result.created = true;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<BatchRecord> SqliteBatchStore::GetBatch(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  BatchRecord batch;
  GF_RETURN_IF_ERROR(db_->InTransaction(TxnKind::kRead, [&]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(batch, Get(id));
    return absl::OkStatus();
  }));
  return batch;
}

absl::Status SqliteBatchStore::AddItems(absl::string_view batch_id,
                                        const std::vector<BatchItemRecord>& items) {
  GF_RETURN_IF_ERROR(CheckItemLines(items));
  absl::MutexLock lock(&mu_);
  return db_->InTransaction(TxnKind::kWrite, [&]() -> absl::Status {
    GF_RETURN_IF_ERROR(Get(batch_id).status());
    for (const BatchItemRecord& item : items) {
      GF_ASSIGN_OR_RETURN(Stmt insert, db_->Prepare(kInsertItem));
      insert.BindText(1, batch_id)
          .BindInt(2, item.line)
          .BindText(3, item.email)
          .BindText(4, item.onboarding_id)
          .BindText(5, item.error);
      GF_RETURN_IF_ERROR(insert.Run());
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteBatchStore::MarkInputComplete(absl::string_view batch_id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return db_->InTransaction(TxnKind::kWrite, [&]() -> absl::Status {
    GF_RETURN_IF_ERROR(Get(batch_id).status());
    GF_ASSIGN_OR_RETURN(
        Stmt update,
        db_->Prepare("UPDATE batches SET input_complete = 1, update_time = ?2 WHERE id = ?1"));
    update.BindText(1, batch_id).BindTime(2, now);
    return update.Run();
  });
}

absl::StatusOr<BatchSummary> SqliteBatchStore::Summarize(absl::string_view batch_id) {
  absl::MutexLock lock(&mu_);
  BatchSummary summary;
  GF_RETURN_IF_ERROR(db_->InTransaction(TxnKind::kRead, [&]() -> absl::Status {
    GF_RETURN_IF_ERROR(Get(batch_id).status());
    {
      GF_ASSIGN_OR_RETURN(Stmt count, db_->Prepare(kCountItems));
      count.BindText(1, batch_id);
      GF_ASSIGN_OR_RETURN(bool row, count.Step());
      if (row) {
        summary.rows_total = count.Int(0);
        summary.rows_invalid = count.Int(1);
      }
    }
    GF_ASSIGN_OR_RETURN(Stmt states, db_->Prepare(kCountStates));
    states.BindText(1, batch_id);
    while (true) {
      GF_ASSIGN_OR_RETURN(bool row, states.Step());
      if (!row) break;
      GF_RETURN_IF_ERROR(
          AddStateCount(summary, batch_id, states.Text(0), states.Int(1), states.OptTime(2)));
    }
    return absl::OkStatus();
  }));
  return summary;
}

absl::StatusOr<BatchItemPage> SqliteBatchStore::ListItems(const BatchItemQuery& query) {
  if (query.page_size <= 0) return absl::InvalidArgumentError("page_size must be positive");
  int64_t after = 0;
  if (!query.page_token.empty() && (!absl::SimpleAtoi(query.page_token, &after) || after < 0)) {
    return absl::InvalidArgumentError("invalid page_token");
  }
  absl::MutexLock lock(&mu_);
  BatchItemPage page;
  GF_RETURN_IF_ERROR(db_->InTransaction(TxnKind::kRead, [&]() -> absl::Status {
    GF_RETURN_IF_ERROR(Get(query.batch_id).status());
    GF_ASSIGN_OR_RETURN(Stmt select, db_->Prepare(kSelectItems));
    select.BindText(1, query.batch_id)
        .BindInt(2, after)
        .BindText(3, query.state.has_value() ? OnboardingStateName(*query.state) : "")
        .BindInt(4, query.invalid_only ? 1 : 0)
        .BindInt(5, static_cast<int64_t>(query.page_size) + 1);
    while (true) {
      GF_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      BatchItemRecord item;
      item.line = select.Int(0);
      item.email = select.Text(1);
      item.onboarding_id = select.Text(2);
      item.error = select.Text(3);
      if (!select.IsNull(4)) item.state = OnboardingStateFromName(select.Text(4));
      item.onboarding_error = select.Text(5);
      if (!select.IsNull(7)) item.tenant = select.Text(7);
      if (!select.IsNull(6)) item.failed_step = StepFromName(select.Text(6));
      page.items.push_back(std::move(item));
    }
    return absl::OkStatus();
  }));
  if (page.items.size() > static_cast<size_t>(query.page_size)) {
    page.items.pop_back();
    page.next_page_token = absl::StrCat(page.items.back().line);
  }
  return page;
}

std::vector<std::string> SqliteBatchStore::PreparedSqlForTesting() const {
  absl::MutexLock lock(&mu_);
  return db_->PreparedSql();
}

}  // namespace guestflow
