#include "server/store/pg_batch_store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/store/pg_schema.h"

namespace guestflow {
namespace {

constexpr char kSelectBatch[] =
    "SELECT id, tenant, request_id, request_fingerprint, input_complete, create_time, "
    "update_time FROM batches WHERE id = $1";

constexpr char kSelectBatchByRequest[] =
    "SELECT id FROM batches WHERE tenant = $1 AND request_id = $2 AND request_id <> ''";

constexpr char kInsertBatch[] =
    "INSERT INTO batches (id, tenant, request_id, request_fingerprint, input_complete, "
    "create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT DO NOTHING RETURNING id";

// Every row of one AddItems in one statement: four arrays, one element per
// row; a line stored already is left as it is.
constexpr char kInsertItems[] =
    "INSERT INTO batch_items (batch_id, line, email, onboarding_id, error) "
    "SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) "
    "ON CONFLICT DO NOTHING";

constexpr char kCountItems[] =
    "SELECT COUNT(*), COUNT(*) FILTER (WHERE onboarding_id = '') FROM batch_items "
    "WHERE batch_id = $1";

constexpr char kCountStates[] =
    "SELECT state, COUNT(*), MAX(finish_time) FROM onboardings "
    "WHERE batch_id = $1 AND batch_id <> '' GROUP BY state";

// $3: a state to keep ('' for all); $4: refused rows only.
constexpr char kSelectItems[] =
    "SELECT i.line, i.email, i.onboarding_id, i.error, o.state, o.error, "
    "(SELECT s.kind FROM steps s WHERE s.onboarding_id = o.id AND s.state = 'FAILED' "
    " ORDER BY s.position LIMIT 1), o.tenant "
    "FROM batch_items i LEFT JOIN onboardings o ON o.id = i.onboarding_id "
    "AND i.onboarding_id <> '' "
    "WHERE i.batch_id = $1 AND i.line > $2 "
    "AND ($3 = '' OR o.state = $3) AND (NOT $4::boolean OR i.onboarding_id = '') "
    "ORDER BY i.line LIMIT $5";

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("batch ", id, " not found"));
}

// An array literal of text: every element quoted, '"' and '\' escaped.
std::string TextArray(const std::vector<BatchItemRecord>& items,
                      const std::string BatchItemRecord::*field) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i].*field) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

absl::StatusOr<BatchRecord> ReadBatch(PgSession& s, absl::string_view id) {
  GF_ASSIGN_OR_RETURN(PgResult r, s.Exec(kSelectBatch, PgParams().Text(id)));
  if (r.rows() == 0) return NotFound(id);
  BatchRecord b;
  b.id = r.Text(0, 0);
  b.tenant = r.Text(0, 1);
  b.request_id = r.Text(0, 2);
  b.request_fingerprint = r.Text(0, 3);
  b.input_complete = r.Bool(0, 4);
  b.create_time = r.Time(0, 5);
  b.update_time = r.Time(0, 6);
  return b;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgBatchStore>> PgBatchStore::Open(std::shared_ptr<PgPool> pool) {
  if (pool == nullptr) return absl::InvalidArgumentError("no PostgreSQL pool");
  GF_RETURN_IF_ERROR(MigratePgSchema(*pool, PgMigrations(), absl::Now()));
  return std::unique_ptr<PgBatchStore>(new PgBatchStore(std::move(pool)));
}

absl::StatusOr<CreateBatchResult> PgBatchStore::CreateBatch(const BatchRecord& batch) {
  if (batch.id.empty()) return absl::InvalidArgumentError("batch id is empty");
  CreateBatchResult result;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(PgResult inserted, s.Exec(kInsertBatch, PgParams()
                                                                    .Text(batch.id)
                                                                    .Text(batch.tenant)
                                                                    .Text(batch.request_id)
                                                                    .Text(batch.request_fingerprint)
                                                                    .Bool(batch.input_complete)
                                                                    .Time(batch.create_time)
                                                                    .Time(batch.update_time)));
    if (inserted.rows() == 0) {
      if (!batch.request_id.empty()) {
        GF_ASSIGN_OR_RETURN(
            PgResult found,
            s.Exec(kSelectBatchByRequest, PgParams().Text(batch.tenant).Text(batch.request_id)));
        if (found.rows() > 0) {
          GF_ASSIGN_OR_RETURN(result.batch, ReadBatch(s, found.Text(0, 0)));
          result.created = false;
          return absl::OkStatus();
        }
      }
      return absl::AlreadyExistsError(absl::StrCat("batch ", batch.id, " already exists"));
    }
    GF_ASSIGN_OR_RETURN(result.batch, ReadBatch(s, batch.id));
    result.created = true;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<BatchRecord> PgBatchStore::GetBatch(absl::string_view id) {
  BatchRecord batch;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(batch, ReadBatch(s, id));
    return absl::OkStatus();
  }));
  return batch;
}

absl::Status PgBatchStore::AddItems(absl::string_view batch_id,
                                    const std::vector<BatchItemRecord>& items) {
  GF_RETURN_IF_ERROR(CheckItemLines(items));
  std::string lines = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StrAppend(&lines, i > 0 ? "," : "", items[i].line);
  }
  lines += '}';
  PgParams params;
  params.Text(batch_id)
      .Text(lines)
      .Text(TextArray(items, &BatchItemRecord::email))
      .Text(TextArray(items, &BatchItemRecord::onboarding_id))
      .Text(TextArray(items, &BatchItemRecord::error));
  return pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_RETURN_IF_ERROR(ReadBatch(s, batch_id).status());
    if (items.empty()) return absl::OkStatus();
    return s.Exec(kInsertItems, params).status();
  });
}

absl::Status PgBatchStore::MarkInputComplete(absl::string_view batch_id, absl::Time now) {
  return pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(
        PgResult r,
        s.Exec("UPDATE batches SET input_complete = true, update_time = $2 WHERE id = $1",
               PgParams().Text(batch_id).Time(now)));
    if (r.affected() == 0) return NotFound(batch_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<BatchSummary> PgBatchStore::Summarize(absl::string_view batch_id) {
  BatchSummary summary;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    summary = BatchSummary();
    GF_RETURN_IF_ERROR(ReadBatch(s, batch_id).status());
    GF_ASSIGN_OR_RETURN(PgResult items, s.Exec(kCountItems, PgParams().Text(batch_id)));
    summary.rows_total = items.Int(0, 0);
    summary.rows_invalid = items.Int(0, 1);
    GF_ASSIGN_OR_RETURN(PgResult states, s.Exec(kCountStates, PgParams().Text(batch_id)));
    for (int i = 0; i < states.rows(); ++i) {
      GF_RETURN_IF_ERROR(AddStateCount(summary, batch_id, states.Text(i, 0), states.Int(i, 1),
                                       states.OptTime(i, 2)));
    }
    return absl::OkStatus();
  }));
  return summary;
}

absl::StatusOr<BatchItemPage> PgBatchStore::ListItems(const BatchItemQuery& query) {
  if (query.page_size <= 0) return absl::InvalidArgumentError("page_size must be positive");
  int64_t after = 0;
  if (!query.page_token.empty() && (!absl::SimpleAtoi(query.page_token, &after) || after < 0)) {
    return absl::InvalidArgumentError("invalid page_token");
  }
  BatchItemPage page;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    page = BatchItemPage();
    GF_RETURN_IF_ERROR(ReadBatch(s, query.batch_id).status());
    GF_ASSIGN_OR_RETURN(
        PgResult r,
        s.Exec(kSelectItems,
               PgParams()
                   .Text(query.batch_id)
                   .Int(after)
                   .Text(query.state.has_value() ? OnboardingStateName(*query.state) : "")
                   .Bool(query.invalid_only)
                   .Int(static_cast<int64_t>(query.page_size) + 1)));
    for (int i = 0; i < r.rows(); ++i) {
      BatchItemRecord item;
      item.line = r.Int(i, 0);
      item.email = r.Text(i, 1);
      item.onboarding_id = r.Text(i, 2);
      item.error = r.Text(i, 3);
      if (!r.IsNull(i, 4)) item.state = OnboardingStateFromName(r.Text(i, 4));
      item.onboarding_error = r.Text(i, 5);
      if (!r.IsNull(i, 7)) item.tenant = r.Text(i, 7);
      if (!r.IsNull(i, 6)) item.failed_step = StepFromName(r.Text(i, 6));
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

}  // namespace guestflow
