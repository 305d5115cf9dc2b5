#include "server/store/sqlite_store.h"

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/store/group_commit.h"
#include "server/store/sqlite_connection.h"
#include "server/store/store_codec.h"

namespace guestflow {
namespace {

// ---- SQL --------------------------------------------------------------------

constexpr char kSelectOnboardingById[] =
    "SELECT id, tenant, request_id, request_fingerprint, state, version, guest_email, "
    "guest_first_name, guest_last_name, guest_display_name, guest_usage_location, options, "
    "batch_id, error, instance_url, create_time, update_time, finish_time, due_time, "
    "requested_by FROM onboardings WHERE id = ?1";

// Repeats the partial index's condition so that SQLite may use it.
constexpr char kSelectOnboardingByRequest[] =
    "SELECT id FROM onboardings WHERE tenant = ?1 AND request_id = ?2 AND request_id <> ''";

// The step columns as StepFromRow reads them, then the position (column 10):
// what a read gives, and what an update compares each row with to rewrite
// only those that differ.
constexpr int kStepPositionColumn = 10;
const std::string& SelectStepsSql() {
  static const auto* const kSql = new std::string(absl::StrCat(
      "SELECT ", kStepColumns, ", position FROM steps WHERE onboarding_id = ?1 ORDER BY position"));
  return *kSql;
}

constexpr char kInsertOnboarding[] =
    "INSERT INTO onboardings (id, tenant, request_id, request_fingerprint, state, version, "
    "guest_email, guest_first_name, guest_last_name, guest_display_name, guest_usage_location, "
    "options, batch_id, error, instance_url, create_time, update_time, finish_time, due_time, "
    "requested_by) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19)";

// What an update reads of the stored row first: the version to check, the
// values of the indexed columns it may change (to leave each out of the SET
// when it stays), the lease holder, and the columns kept as created (what
// the update gives back has them).
constexpr char kSelectForUpdate[] =
    "SELECT version, state, batch_id, finish_time, due_time, lease_owner, tenant, request_id, "
    "request_fingerprint, create_time, requested_by FROM onboardings WHERE id = ?1";

// The columns of an update that an index holds, and the lease release. SQLite
// rewrites the entries of every index over a SET column (and of a partial
// index whose WHERE reads one) even when the value stays, so each is SET only
// when it changes: a step's outcome then rewrites the row and the indexes of
// what changed, not all eight. The other columns are in no index and always
// SET (the row is rewritten anyway).
enum UpdatedColumns : unsigned {
  kSetState = 1 << 0,
  kSetBatchId = 1 << 1,
  kSetFinishTime = 1 << 2,
  kSetDueTime = 1 << 3,
  kReleaseLease = 1 << 4,
  kAllUpdatedColumns = (1 << 5) - 1,
};

// The UPDATE for `columns`; the parameters keep their numbers in every
// variant (?2 state, ?9 batch_id, ?13 finish_time, ?14 due_time), and only
// those in the SQL may be bound. At most 32 texts, each prepared once.
const std::string& UpdateOnboardingSql(unsigned columns) {
  static const auto* const kSql = [] {
    auto* sql = new std::vector<std::string>(kAllUpdatedColumns + 1);
    for (unsigned c = 0; c <= kAllUpdatedColumns; ++c) {
      std::string& text = (*sql)[c];
      text =
          "UPDATE onboardings SET version = version + 1, guest_email = ?3, guest_first_name = ?4, "
          "guest_last_name = ?5, guest_display_name = ?6, guest_usage_location = ?7, "
          "options = ?8, error = ?10, instance_url = ?11, update_time = ?12";
      if (c & kSetState) text += ", state = ?2";
      if (c & kSetBatchId) text += ", batch_id = ?9";
      if (c & kSetFinishTime) text += ", finish_time = ?13";
      if (c & kSetDueTime) text += ", due_time = ?14";
      if (c & kReleaseLease) text += ", lease_owner = NULL, lease_expires = NULL";
      text += " WHERE id = ?1";
    }
    return sql;
  }();
  return (*kSql)[columns];
}

constexpr char kUpdateStep[] =
    "UPDATE steps SET kind = ?3, state = ?4, plugin = ?5, attempts = ?6, last_error = ?7, "
    "next_attempt_time = ?8, start_time = ?9, finish_time = ?10, wait_since = ?11, outputs = ?12 "
    "WHERE onboarding_id = ?1 AND position = ?2";

constexpr char kInsertStep[] =
    "INSERT INTO steps (onboarding_id, position, kind, state, plugin, attempts, last_error, "
    "next_attempt_time, start_time, finish_time, wait_since, outputs) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

constexpr char kInsertEvent[] =
    "INSERT INTO events (onboarding_id, sequence, time, type, step, message) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

// Walks the due_time index from the earliest; rows leased and not expired are
// skipped, and there are only as many of those as onboardings in flight.
// Oldest first, through onboardings_due_by_age (migration 4): named, since
// the planner, not knowing how many rows are due, would rather read the
// due_time index and sort every due row.
constexpr char kSelectDue[] =
    "SELECT id FROM onboardings INDEXED BY onboardings_due_by_age "
    "WHERE due_time IS NOT NULL AND due_time <= ?1 "
    "AND (lease_owner IS NULL OR lease_expires <= ?1) ORDER BY create_time, id LIMIT ?2";

constexpr char kSelectNextUnleasedDue[] =
    "SELECT due_time FROM onboardings WHERE due_time IS NOT NULL AND lease_owner IS NULL "
    "ORDER BY due_time, id LIMIT 1";

// A leased onboarding is due again when it is due and its lease is over.
// MAX() of a NULL due_time is NULL, which MIN() skips.
constexpr char kSelectNextLeasedDue[] =
    "SELECT MIN(MAX(due_time, lease_expires)) FROM onboardings WHERE lease_owner IS NOT NULL";

}  // namespace

// ---- Impl -------------------------------------------------------------------

class SqliteStore::Impl {
 public:
  explicit Impl(std::unique_ptr<SqliteConnection> connection) : db_(std::move(connection)) {}

  // Serializes every use of the connection.
  absl::Mutex mu;

  // In a transaction of its own.
  absl::StatusOr<CreateResult> Create(const Onboarding& onboarding,
                                      const OnboardingEvent& first_event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    CreateResult result;
    GF_RETURN_IF_ERROR(InTransaction(TxnKind::kWrite, [&]() -> absl::Status {
      GF_ASSIGN_OR_RETURN(result, CreateInWriteTransaction(onboarding, first_event));
      return absl::OkStatus();
    }));
    return result;
  }

  // Runs `group` in one write transaction, each body in a savepoint of its
  // own: a body that fails is rolled back alone. When the transaction fails
  // (BEGIN, a savepoint, COMMIT: the disk), every body that had succeeded
  // gets that error, since none of them is stored.
  void CommitGroup(const std::vector<GroupCommit::Member*>& group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const absl::Status committed = InTransaction(TxnKind::kWrite, [&]() -> absl::Status {
      for (GroupCommit::Member* member : group) {
        GF_RETURN_IF_ERROR(Exec("SAVEPOINT group_member"));
        member->status = member->body();
        if (!member->status.ok()) GF_RETURN_IF_ERROR(Exec("ROLLBACK TO group_member"));
        GF_RETURN_IF_ERROR(Exec("RELEASE group_member"));
      }
      return absl::OkStatus();
    });
    if (committed.ok()) return;
    for (GroupCommit::Member* member : group) {
      if (member->status.ok()) member->status = committed;
    }
  }

  // Runs `body` in a write transaction of its own.
  absl::Status InWriteTransaction(absl::FunctionRef<absl::Status()> body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return InTransaction(TxnKind::kWrite, body);
  }

  // Must run inside a write transaction.
  absl::StatusOr<CreateResult> CreateInWriteTransaction(const Onboarding& onboarding,
                                                        const OnboardingEvent& first_event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (onboarding.id.empty()) return absl::InvalidArgumentError("onboarding id is empty");
    CreateResult result;
    // The write lock is taken before the request_id look-up, so two creates
    // with the same (tenant, request_id) on any connections run one after
    // the other and the second finds the first (in a shared group, the
    // earlier body's insert). The unique index stays as the last line of
    // defence.
    GF_RETURN_IF_ERROR([&]() -> absl::Status {
      if (!onboarding.request_id.empty()) {
        GF_ASSIGN_OR_RETURN(Stmt find, Prepare(kSelectOnboardingByRequest));
        find.BindText(1, onboarding.tenant).BindText(2, onboarding.request_id);
        GF_ASSIGN_OR_RETURN(bool found, find.Step());
        if (found) {
          std::string existing_id = find.Text(0);
          GF_ASSIGN_OR_RETURN(result.onboarding, Get(existing_id));
          result.created = false;
          return absl::OkStatus();
        }
      }
      GF_ASSIGN_OR_RETURN(bool taken, Exists(onboarding.id));
      if (taken) {
        return absl::AlreadyExistsError(
            absl::StrCat("onboarding ", onboarding.id, " already exists"));
      }
      const std::string options = OptionsToJson(onboarding.options);
      const std::vector<std::string> outputs = StepOutputsJson(onboarding.steps);
      {
        const Onboarding& o = onboarding;
        GF_ASSIGN_OR_RETURN(Stmt insert, Prepare(kInsertOnboarding));
        insert.BindText(1, o.id)
            .BindText(2, o.tenant)
            .BindText(3, o.request_id)
            .BindText(4, o.request_fingerprint)
            .BindText(5, OnboardingStateName(o.state))
            .BindText(6, o.guest.email)
            .BindText(7, o.guest.first_name)
            .BindText(8, o.guest.last_name)
            .BindText(9, o.guest.display_name)
            .BindText(10, o.guest.usage_location)
            .BindText(11, options)
            .BindText(12, o.batch_id)
            .BindText(13, o.error)
            .BindText(14, o.instance_url)
            .BindTime(15, o.create_time)
            .BindTime(16, o.update_time)
            .BindOptTime(17, o.finish_time)
            .BindOptTime(18, o.due_time)
            .BindText(19, o.requested_by);
        GF_RETURN_IF_ERROR(insert.Run());
      }
      for (size_t i = 0; i < onboarding.steps.size(); ++i) {
        GF_ASSIGN_OR_RETURN(Stmt insert, Prepare(kInsertStep));
        GF_RETURN_IF_ERROR(
            BindStep(insert, onboarding.id, i, onboarding.steps[i], outputs[i]).Run());
      }
      GF_RETURN_IF_ERROR(InsertEvents(onboarding.id, {first_event}, 1));
      result.onboarding = onboarding;
      result.onboarding.version = 1;
      result.onboarding.create_time = StoredTime(onboarding.create_time);
      GF_RETURN_IF_ERROR(AsRead(result.onboarding, options, outputs));
      result.created = true;
      return absl::OkStatus();
    }());
    return result;
  }

  absl::StatusOr<Onboarding> GetInTransaction(absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Onboarding result;
    GF_RETURN_IF_ERROR(InTransaction(TxnKind::kRead, [&]() -> absl::Status {
      GF_ASSIGN_OR_RETURN(result, Get(id));
      return absl::OkStatus();
    }));
    return result;
  }

  static constexpr size_t kFirstTenantInParam = 7;

  absl::StatusOr<OnboardingPage> List(const ListOnboardingsQuery& query)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (query.page_size <= 0) return absl::InvalidArgumentError("page_size must be positive");
    std::optional<PageKey> after;
    if (!query.page_token.empty()) {
      GF_ASSIGN_OR_RETURN(after, DecodePageToken(query.page_token));
    }
    // One SQL text per combination of filters (and length of tenant_in),
    // each cached.
    // Keyset pagination: the row-value comparison lets SQLite start the
    // index walk at the key, so a deep page costs what the first one does.
    if (query.tenant_in.has_value() && query.tenant_in->empty()) return OnboardingPage{};
    std::vector<std::string> where;
    if (!query.tenant.empty()) where.push_back("tenant = ?1");
    if (query.tenant_in.has_value()) {
      std::vector<std::string> params;
      for (size_t i = 0; i < query.tenant_in->size(); ++i) {
        params.push_back(absl::StrCat("?", kFirstTenantInParam + i));
      }
      where.push_back(absl::StrCat("tenant IN (", absl::StrJoin(params, ", "), ")"));
    }
    if (query.state.has_value()) where.push_back("state = ?2");
    if (!query.batch_id.empty()) where.push_back("batch_id = ?3 AND batch_id <> ''");
    if (after.has_value()) where.push_back("(create_time, id) < (?4, ?5)");
    std::string sql = absl::StrCat("SELECT ", kOnboardingColumns, " FROM onboardings",
                                   where.empty() ? "" : " WHERE ", absl::StrJoin(where, " AND "),
                                   " ORDER BY create_time DESC, id DESC LIMIT ?6");
    OnboardingPage page;
    GF_RETURN_IF_ERROR(InTransaction(TxnKind::kRead, [&]() -> absl::Status {
      {
        GF_ASSIGN_OR_RETURN(Stmt select, Prepare(sql));
        if (!query.tenant.empty()) select.BindText(1, query.tenant);
        if (query.tenant_in.has_value()) {
          for (size_t i = 0; i < query.tenant_in->size(); ++i) {
            select.BindText(static_cast<int>(kFirstTenantInParam + i), (*query.tenant_in)[i]);
          }
        }
        if (query.state.has_value()) select.BindText(2, OnboardingStateName(*query.state));
        if (!query.batch_id.empty()) select.BindText(3, query.batch_id);
        if (after.has_value()) select.BindInt(4, after->create_time).BindText(5, after->id);
        // One more than asked tells whether there is a next page.
        select.BindInt(6, static_cast<int64_t>(query.page_size) + 1);
        while (true) {
          GF_ASSIGN_OR_RETURN(bool row, select.Step());
          if (!row) break;
          GF_ASSIGN_OR_RETURN(Onboarding onboarding, OnboardingFromRow(select));
          page.onboardings.push_back(std::move(onboarding));
        }
      }
      if (page.onboardings.size() > static_cast<size_t>(query.page_size)) {
        page.onboardings.pop_back();
        page.next_page_token = EncodePageToken(page.onboardings.back());
      }
      for (Onboarding& onboarding : page.onboardings) {
        GF_RETURN_IF_ERROR(LoadSteps(onboarding));
      }
      return absl::OkStatus();
    }));
    return page;
  }

  // Must run inside a write transaction, as every *InWriteTransaction.
  // Writes only what changed (the indexed columns that did, the step rows
  // that did) and gives back `o` as stored without reading it again.
  absl::StatusOr<Onboarding> UpdateInWriteTransaction(const Onboarding& o,
                                                      const std::vector<OnboardingEvent>& events,
                                                      absl::string_view release_lease_of)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Onboarding stored = o;
    const std::string options = OptionsToJson(o.options);
    unsigned columns = 0;
    {
      GF_ASSIGN_OR_RETURN(Stmt current, Prepare(kSelectForUpdate));
      current.BindText(1, o.id);
      GF_ASSIGN_OR_RETURN(bool found, current.Step());
      if (!found) return OnboardingNotFound(o.id);
      const int64_t version = current.Int(0);
      if (version != o.version) {
        return absl::AbortedError(absl::StrCat("onboarding ", o.id,
                                               " was changed concurrently (version ", version,
                                               ", expected ", o.version, ")"));
      }
      if (current.View(1) != OnboardingStateName(o.state)) columns |= kSetState;
      if (current.View(2) != o.batch_id) columns |= kSetBatchId;
      if (!current.HoldsOptTime(3, o.finish_time)) columns |= kSetFinishTime;
      if (!current.HoldsOptTime(4, o.due_time)) columns |= kSetDueTime;
      if (!release_lease_of.empty() && !current.IsNull(5) && current.View(5) == release_lease_of) {
        columns |= kReleaseLease;
      }
      // Kept as created, whatever `o` says.
      stored.version = version + 1;
      stored.tenant = current.Text(6);
      stored.request_id = current.Text(7);
      stored.request_fingerprint = current.Text(8);
      stored.create_time = current.Time(9);
      stored.requested_by = current.Text(10);
    }
    {
      GF_ASSIGN_OR_RETURN(Stmt update, Prepare(UpdateOnboardingSql(columns)));
      update.BindText(1, o.id)
          .BindText(3, o.guest.email)
          .BindText(4, o.guest.first_name)
          .BindText(5, o.guest.last_name)
          .BindText(6, o.guest.display_name)
          .BindText(7, o.guest.usage_location)
          .BindText(8, options)
          .BindText(10, o.error)
          .BindText(11, o.instance_url)
          .BindTime(12, o.update_time);
      if (columns & kSetState) update.BindText(2, OnboardingStateName(o.state));
      if (columns & kSetBatchId) update.BindText(9, o.batch_id);
      if (columns & kSetFinishTime) update.BindOptTime(13, o.finish_time);
      if (columns & kSetDueTime) update.BindOptTime(14, o.due_time);
      GF_RETURN_IF_ERROR(update.Run());
    }
    const std::vector<std::string> outputs = StepOutputsJson(o.steps);
    GF_RETURN_IF_ERROR(ReplaceChangedSteps(o.id, o.steps, outputs));
    if (!events.empty()) {
      int64_t last_sequence = 0;
      {
        GF_ASSIGN_OR_RETURN(
            Stmt max,
            Prepare("SELECT COALESCE(MAX(sequence), 0) FROM events WHERE onboarding_id = ?1"));
        max.BindText(1, o.id);
        GF_ASSIGN_OR_RETURN(bool row, max.Step());
        if (row) last_sequence = max.Int(0);
      }
      GF_RETURN_IF_ERROR(InsertEvents(o.id, events, last_sequence + 1));
    }
    GF_RETURN_IF_ERROR(AsRead(stored, options, outputs));
    return stored;
  }

  // `owner` not empty, `lease` and `limit` positive.
  absl::StatusOr<std::vector<Onboarding>> LeaseDueInWriteTransaction(
      absl::string_view owner, absl::Time now, absl::Duration lease, int limit,
      const LeaseChange& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<Onboarding> leased;
    GF_RETURN_IF_ERROR([&]() -> absl::Status {
      std::vector<std::string> ids;
      {
        GF_ASSIGN_OR_RETURN(Stmt select, Prepare(kSelectDue));
        select.BindTime(1, now).BindInt(2, limit);
        while (true) {
          GF_ASSIGN_OR_RETURN(bool row, select.Step());
          if (!row) break;
          ids.push_back(select.Text(0));
        }
      }
      for (const std::string& id : ids) {
        {
          // Leasing is not a change of the onboarding: version stays.
          GF_ASSIGN_OR_RETURN(
              Stmt update,
              Prepare("UPDATE onboardings SET lease_owner = ?2, lease_expires = ?3 WHERE id = ?1"));
          update.BindText(1, id).BindText(2, owner).BindTime(3, now + lease);
          GF_RETURN_IF_ERROR(update.Run());
        }
        GF_ASSIGN_OR_RETURN(Onboarding onboarding, Get(id));
        if (change) {
          Onboarding changed = onboarding;
          if (absl::StatusOr<std::vector<OnboardingEvent>> events = change(changed); events.ok()) {
            // The lease is kept: release_lease_of is empty.
            GF_ASSIGN_OR_RETURN(onboarding, UpdateInWriteTransaction(changed, *events, ""));
          }
        }
        leased.push_back(std::move(onboarding));
      }
      return absl::OkStatus();
    }());
    return leased;
  }

  absl::StatusOr<bool> RenewLeaseInWriteTransaction(absl::string_view id, absl::string_view owner,
                                                    absl::Time until)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    GF_ASSIGN_OR_RETURN(Stmt update, Prepare("UPDATE onboardings SET lease_expires = ?3 "
                                             "WHERE id = ?1 AND lease_owner = ?2 RETURNING id"));
    update.BindText(1, id).BindText(2, owner).BindTime(3, until);
    GF_ASSIGN_OR_RETURN(bool held, update.Step());
    if (held) GF_RETURN_IF_ERROR(update.Run());  // to its end
    return held;
  }

  absl::Status ReleaseLeaseInWriteTransaction(absl::string_view id, absl::string_view owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    GF_ASSIGN_OR_RETURN(Stmt update,
                        Prepare("UPDATE onboardings SET lease_owner = NULL, lease_expires = NULL "
                                "WHERE id = ?1 AND lease_owner = ?2"));
    update.BindText(1, id).BindText(2, owner);
    return update.Run();
  }

  absl::Status ReleaseAllLeases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return Exec(
        "UPDATE onboardings SET lease_owner = NULL, lease_expires = NULL "
        "WHERE lease_owner IS NOT NULL");
  }

  absl::StatusOr<std::optional<Onboarding>> FindByRequestId(absl::string_view tenant,
                                                            absl::string_view request_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::optional<Onboarding> found;
    if (request_id.empty()) return found;
    GF_RETURN_IF_ERROR(InTransaction(TxnKind::kRead, [&]() -> absl::Status {
      std::string id;
      {
        GF_ASSIGN_OR_RETURN(Stmt find, Prepare(kSelectOnboardingByRequest));
        find.BindText(1, tenant).BindText(2, request_id);
        GF_ASSIGN_OR_RETURN(bool row, find.Step());
        if (!row) return absl::OkStatus();
        id = find.Text(0);
      }
      GF_ASSIGN_OR_RETURN(found, Get(id));
      return absl::OkStatus();
    }));
    return found;
  }

  absl::StatusOr<int64_t> CountUnfinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    // The unfinished ones are exactly those with a due_time: the partial
    // index holds them alone.
    GF_ASSIGN_OR_RETURN(
        Stmt count, Prepare("SELECT COUNT(*) FROM onboardings INDEXED BY onboardings_due_by_age "
                            "WHERE due_time IS NOT NULL"));
    GF_ASSIGN_OR_RETURN(bool row, count.Step());
    return row ? count.Int(0) : 0;
  }

  absl::StatusOr<OnboardingStats> Stats(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    OnboardingStats stats;
    GF_RETURN_IF_ERROR(InTransaction(TxnKind::kRead, [&]() -> absl::Status {
      stats = OnboardingStats();
      GF_ASSIGN_OR_RETURN(
          Stmt by_state,
          Prepare("SELECT tenant, state, COUNT(*) FROM onboardings GROUP BY tenant, state"));
      while (true) {
        GF_ASSIGN_OR_RETURN(bool row, by_state.Step());
        if (!row) break;
        if (std::optional<OnboardingState> state = OnboardingStateFromName(by_state.Text(1))) {
          stats.by_tenant_and_state[{by_state.Text(0), *state}] = by_state.Int(2);
        }
      }
      GF_ASSIGN_OR_RETURN(
          Stmt queue,
          Prepare("SELECT COALESCE(SUM(due_time <= ?1 AND (lease_owner IS NULL OR "
                  "lease_expires <= ?1)), 0), COALESCE(SUM(lease_owner IS NOT NULL AND "
                  "lease_expires > ?1), 0) FROM onboardings WHERE due_time IS NOT NULL OR "
                  "lease_owner IS NOT NULL"));
      queue.BindTime(1, now);
      GF_ASSIGN_OR_RETURN(bool row, queue.Step());
      if (row) {
        stats.due = queue.Int(0);
        stats.leased = queue.Int(1);
      }
      return absl::OkStatus();
    }));
    return stats;
  }

  absl::StatusOr<std::optional<absl::Time>> NextDueTime() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::optional<absl::Time> next;
    auto consider = [&next](const Stmt& stmt) {
      if (stmt.IsNull(0)) return;
      absl::Time t = stmt.Time(0);
      if (!next.has_value() || t < *next) next = t;
    };
    GF_RETURN_IF_ERROR(InTransaction(TxnKind::kRead, [&]() -> absl::Status {
      for (const char* sql : {kSelectNextUnleasedDue, kSelectNextLeasedDue}) {
        GF_ASSIGN_OR_RETURN(Stmt select, Prepare(sql));
        GF_ASSIGN_OR_RETURN(bool row, select.Step());
        if (row) consider(select);
      }
      return absl::OkStatus();
    }));
    return next;
  }

  absl::StatusOr<std::vector<OnboardingEvent>> ListEvents(absl::string_view id,
                                                          int64_t after_sequence, int limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
    std::vector<OnboardingEvent> events;
    GF_RETURN_IF_ERROR(InTransaction(TxnKind::kRead, [&]() -> absl::Status {
      GF_ASSIGN_OR_RETURN(bool exists, Exists(id));
      if (!exists) return OnboardingNotFound(id);
      GF_ASSIGN_OR_RETURN(Stmt select,
                          Prepare("SELECT sequence, time, type, step, message FROM events "
                                  "WHERE onboarding_id = ?1 AND sequence > ?2 "
                                  "ORDER BY sequence LIMIT ?3"));
      select.BindText(1, id).BindInt(2, after_sequence).BindInt(3, limit);
      while (true) {
        GF_ASSIGN_OR_RETURN(bool row, select.Step());
        if (!row) break;
        OnboardingEvent event;
        event.sequence = select.Int(0);
        event.time = select.Time(1);
        event.type = select.Text(2);
        if (!select.IsNull(3)) {
          GF_ASSIGN_OR_RETURN(event.step, ParseStepKind(select.Text(3)));
        }
        event.message = select.Text(4);
        events.push_back(std::move(event));
      }
      return absl::OkStatus();
    }));
    return events;
  }

  absl::Status AppendCloudCallsInWriteTransaction(const std::vector<CloudCall>& calls)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (const CloudCall& c : calls) {
      GF_ASSIGN_OR_RETURN(
          Stmt insert,
          Prepare("INSERT INTO cloud_calls (onboarding_id, tenant, step, plugin, actor, time, "
                  "duration_us, method, url, service, status, transport_error, request_id, caller) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"));
      insert.BindText(1, c.onboarding_id)
          .BindText(2, c.tenant)
          .BindText(3, c.step)
          .BindText(4, c.plugin)
          .BindText(5, c.actor)
          .BindTime(6, c.time)
          .BindInt(7, absl::ToInt64Microseconds(c.duration))
          .BindText(8, c.method)
          .BindText(9, c.url)
          .BindText(10, c.service)
          .BindInt(11, c.status)
          .BindText(12, c.transport_error)
          .BindText(13, c.request_id)
          .BindText(14, c.caller);
      GF_RETURN_IF_ERROR(insert.Run());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<CloudCallPage> ListCloudCalls(const CloudCallQuery& query)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    GF_ASSIGN_OR_RETURN(int64_t after, CloudCallPageStart(query));
    const bool by_onboarding = !query.onboarding_id.empty();
    GF_ASSIGN_OR_RETURN(
        Stmt select, Prepare(absl::StrCat("SELECT ", kCloudCallColumns, " FROM cloud_calls WHERE ",
                                          by_onboarding ? "onboarding_id" : "tenant",
                                          " = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3")));
    select.BindText(1, by_onboarding ? query.onboarding_id : query.tenant)
        .BindInt(2, after)
        .BindInt(3, static_cast<int64_t>(query.page_size) + 1);
    CloudCallPage page;
    while (true) {
      GF_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      page.calls.push_back(CloudCallFromRow(select));
    }
    if (page.calls.size() > static_cast<size_t>(query.page_size)) {
      page.calls.pop_back();
      page.next_page_token = absl::StrCat(page.calls.back().sequence);
    }
    return page;
  }

  std::vector<std::string> PreparedSql() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return db_->PreparedSql();
  }

 private:
  absl::StatusOr<Stmt> Prepare(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return db_->Prepare(sql);
  }
  absl::Status InTransaction(TxnKind kind, absl::FunctionRef<absl::Status()> body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return db_->InTransaction(kind, body);
  }
  absl::Status Exec(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return db_->Exec(sql);
  }

  absl::StatusOr<bool> Exists(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    GF_ASSIGN_OR_RETURN(Stmt select, Prepare("SELECT 1 FROM onboardings WHERE id = ?1"));
    select.BindText(1, id);
    return select.Step();
  }

  // Must run inside a transaction (it reads two tables).
  absl::StatusOr<Onboarding> Get(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Onboarding onboarding;
    {
      GF_ASSIGN_OR_RETURN(Stmt select, Prepare(kSelectOnboardingById));
      select.BindText(1, id);
      GF_ASSIGN_OR_RETURN(bool found, select.Step());
      if (!found) return OnboardingNotFound(id);
      GF_ASSIGN_OR_RETURN(onboarding, OnboardingFromRow(select));
    }
    GF_RETURN_IF_ERROR(LoadSteps(onboarding));
    return onboarding;
  }

  absl::Status LoadSteps(Onboarding& onboarding) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    onboarding.steps.clear();
    GF_ASSIGN_OR_RETURN(Stmt select, Prepare(SelectStepsSql()));
    select.BindText(1, onboarding.id);
    while (true) {
      GF_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      GF_ASSIGN_OR_RETURN(Step step, StepFromRow(select, onboarding.id));
      onboarding.steps.push_back(std::move(step));
    }
    return absl::OkStatus();
  }

  // Makes the stored steps of `id` be `steps` (`outputs`: their outputs'
  // JSON), writing only the rows that differ: a step's outcome changes one
  // or two of five.
  absl::Status ReplaceChangedSteps(absl::string_view id, const std::vector<Step>& steps,
                                   const std::vector<std::string>& outputs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<bool> present(steps.size(), false);
    std::vector<bool> same(steps.size(), false);
    size_t stored_rows = 0;
    {
      GF_ASSIGN_OR_RETURN(Stmt select, Prepare(SelectStepsSql()));
      select.BindText(1, id);
      while (true) {
        GF_ASSIGN_OR_RETURN(bool row, select.Step());
        if (!row) break;
        ++stored_rows;
        const int64_t position = select.Int(kStepPositionColumn);
        if (position < 0 || static_cast<size_t>(position) >= steps.size()) continue;
        const Step& step = steps[position];
        present[position] = true;
        same[position] =
            select.View(0) == StepName(step.kind) && select.View(1) == StepStateName(step.state) &&
            select.View(2) == step.plugin && select.Int(3) == step.attempts &&
            select.View(4) == step.last_error && select.HoldsOptTime(5, step.next_attempt_time) &&
            select.HoldsOptTime(6, step.start_time) && select.HoldsOptTime(7, step.finish_time) &&
            select.HoldsOptTime(8, step.wait_since) && select.View(9) == outputs[position];
      }
    }
    if (stored_rows > steps.size()) {
      GF_ASSIGN_OR_RETURN(Stmt trim,
                          Prepare("DELETE FROM steps WHERE onboarding_id = ?1 AND position >= ?2"));
      GF_RETURN_IF_ERROR(trim.BindText(1, id).BindInt(2, static_cast<int64_t>(steps.size())).Run());
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      if (!same[i]) {
        // INSERT for a position not stored yet; UPDATE one that is.
        GF_ASSIGN_OR_RETURN(Stmt write, Prepare(present[i] ? kUpdateStep : kInsertStep));
        GF_RETURN_IF_ERROR(BindStep(write, id, i, steps[i], outputs[i]).Run());
      }
    }
    return absl::OkStatus();
  }

  static std::vector<std::string> StepOutputsJson(const std::vector<Step>& steps) {
    std::vector<std::string> outputs;
    outputs.reserve(steps.size());
    for (const Step& step : steps) outputs.push_back(OutputsToJson(step.outputs));
    return outputs;
  }

  // Makes `o`, just written with `options` and `outputs` (the JSON of its
  // options and of its steps' outputs), what a read would give back, so that
  // a write need not read it again: times to the microsecond, and JSON that
  // had to replace bytes that were not UTF-8 as it reads back. create_time
  // is the caller's (an update keeps the stored one).
  static absl::Status AsRead(Onboarding& o, const std::string& options,
                             const std::vector<std::string>& outputs) {
    o.update_time = StoredTime(o.update_time);
    if (o.finish_time.has_value()) o.finish_time = StoredTime(*o.finish_time);
    if (o.due_time.has_value()) o.due_time = StoredTime(*o.due_time);
    if (MayDifferFromWhatWasWritten(options)) {
      GF_ASSIGN_OR_RETURN(o.options, OptionsFromJson(options));
    }
    for (size_t i = 0; i < o.steps.size(); ++i) {
      Step& s = o.steps[i];
      if (s.next_attempt_time.has_value()) s.next_attempt_time = StoredTime(*s.next_attempt_time);
      if (s.start_time.has_value()) s.start_time = StoredTime(*s.start_time);
      if (s.finish_time.has_value()) s.finish_time = StoredTime(*s.finish_time);
      if (s.wait_since.has_value()) s.wait_since = StoredTime(*s.wait_since);
      if (MayDifferFromWhatWasWritten(outputs[i])) {
        GF_ASSIGN_OR_RETURN(s.outputs, OutputsFromJson(outputs[i]));
      }
    }
    return absl::OkStatus();
  }

  // Binds a step row to kInsertStep or kUpdateStep (the same parameters).
  static Stmt& BindStep(Stmt& stmt, absl::string_view id, size_t position, const Step& step,
                        const std::string& outputs) {
    return stmt.BindText(1, id)
        .BindInt(2, static_cast<int64_t>(position))
        .BindText(3, StepName(step.kind))
        .BindText(4, StepStateName(step.state))
        .BindText(5, step.plugin)
        .BindInt(6, step.attempts)
        .BindText(7, step.last_error)
        .BindOptTime(8, step.next_attempt_time)
        .BindOptTime(9, step.start_time)
        .BindOptTime(10, step.finish_time)
        .BindOptTime(11, step.wait_since)
        .BindText(12, outputs);
  }

  absl::Status InsertEvents(absl::string_view id, const std::vector<OnboardingEvent>& events,
                            int64_t first_sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    int64_t sequence = first_sequence;
    for (const OnboardingEvent& event : events) {
      GF_ASSIGN_OR_RETURN(Stmt insert, Prepare(kInsertEvent));
      std::optional<absl::string_view> step;
      if (event.step.has_value()) step = StepName(*event.step);
      insert.BindText(1, id)
          .BindInt(2, sequence++)
          .BindTime(3, event.time)
          .BindText(4, event.type)
          .BindOptText(5, step)
          .BindText(6, event.message);
      GF_RETURN_IF_ERROR(insert.Run());
    }
    return absl::OkStatus();
  }

  const std::unique_ptr<SqliteConnection> db_ ABSL_PT_GUARDED_BY(mu);
};

// ---- SqliteStore ------------------------------------------------------------

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl, std::unique_ptr<GroupCommit> group_commit)
    : impl_(std::move(impl)), group_commit_(std::move(group_commit)) {}

SqliteStore::~SqliteStore() = default;

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               const Options& options) {
  GF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> connection,
                      SqliteConnection::Open(path, kBusyTimeout));
  auto impl = std::make_unique<Impl>(std::move(connection));
  std::unique_ptr<GroupCommit> group_commit;
  if (options.group_commit) {
    group_commit = std::make_unique<GroupCommit>(
        [impl = impl.get()](const std::vector<GroupCommit::Member*>& group) {
          absl::MutexLock lock(&impl->mu);
          impl->CommitGroup(group);
        },
        kMaxGroup);
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl), std::move(group_commit)));
}

absl::StatusOr<CreateResult> SqliteStore::CreateOnboarding(const Onboarding& onboarding,
                                                           const OnboardingEvent& first_event) {
  if (group_commit_ == nullptr) {
    absl::MutexLock lock(&impl_->mu);
    return impl_->Create(onboarding, first_event);
  }
  CreateResult result;
  // The body runs on the group's leader, inside CommitGroup, which holds
  // impl_->mu; the analysis cannot follow it there.
  GF_RETURN_IF_ERROR(group_commit_->Run([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    GF_ASSIGN_OR_RETURN(result, impl_->CreateInWriteTransaction(onboarding, first_event));
    return absl::OkStatus();
  }));
  return result;
}

GroupCommit::Counts SqliteStore::GroupCommitCounts() const {
  return group_commit_ == nullptr ? GroupCommit::Counts() : group_commit_->counts();
}

absl::StatusOr<Onboarding> SqliteStore::GetOnboarding(absl::string_view id) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->GetInTransaction(id);
}

absl::StatusOr<OnboardingPage> SqliteStore::ListOnboardings(const ListOnboardingsQuery& query) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->List(query);
}

absl::Status SqliteStore::Write(absl::FunctionRef<absl::Status()> body) {
  if (group_commit_ == nullptr) {
    absl::MutexLock lock(&impl_->mu);
    return impl_->InWriteTransaction(body);
  }
  return group_commit_->Run(body);
}

// The bodies below run inside Write: on this thread with impl_->mu held, or
// on a group's leader inside CommitGroup, which holds it; the analysis cannot
// follow them there.

// NOLINTNEXTLINE(google-default-arguments): the default is in the header.
absl::StatusOr<Onboarding> SqliteStore::DoUpdateOnboarding(
    const Onboarding& onboarding, const std::vector<OnboardingEvent>& events,
    absl::string_view release_lease_of, const std::vector<CloudCall>& cloud_calls) {
  Onboarding stored;
  GF_RETURN_IF_ERROR(Write([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    GF_ASSIGN_OR_RETURN(stored,
                        impl_->UpdateInWriteTransaction(onboarding, events, release_lease_of));
    return impl_->AppendCloudCallsInWriteTransaction(cloud_calls);
  }));
  return stored;
}

absl::StatusOr<std::vector<Onboarding>> SqliteStore::DoLeaseDue(absl::string_view owner,
                                                                absl::Time now,
                                                                absl::Duration lease, int limit,
                                                                const LeaseChange& change) {
  if (owner.empty()) return absl::InvalidArgumentError("lease owner is empty");
  if (lease <= absl::ZeroDuration()) return absl::InvalidArgumentError("lease must be positive");
  std::vector<Onboarding> leased;
  if (limit <= 0) return leased;
  GF_RETURN_IF_ERROR(Write([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    GF_ASSIGN_OR_RETURN(leased,
                        impl_->LeaseDueInWriteTransaction(owner, now, lease, limit, change));
    return absl::OkStatus();
  }));
  return leased;
}

absl::Status SqliteStore::ReleaseLease(absl::string_view id, absl::string_view owner) {
  return Write([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return impl_->ReleaseLeaseInWriteTransaction(id, owner);
  });
}

absl::Status SqliteStore::ReleaseAllLeases() {
  absl::MutexLock lock(&impl_->mu);
  return impl_->ReleaseAllLeases();
}

absl::StatusOr<std::optional<Onboarding>> SqliteStore::FindByRequestId(
    absl::string_view tenant, absl::string_view request_id) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->FindByRequestId(tenant, request_id);
}

absl::StatusOr<bool> SqliteStore::RenewLease(absl::string_view id, absl::string_view owner,
                                             absl::Time until) {
  bool held = false;
  GF_RETURN_IF_ERROR(Write([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::Status {
    GF_ASSIGN_OR_RETURN(held, impl_->RenewLeaseInWriteTransaction(id, owner, until));
    return absl::OkStatus();
  }));
  return held;
}

absl::StatusOr<int64_t> SqliteStore::CountUnfinished() {
  absl::MutexLock lock(&impl_->mu);
  return impl_->CountUnfinished();
}

absl::StatusOr<OnboardingStats> SqliteStore::Stats(absl::Time now) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->Stats(now);
}

absl::StatusOr<std::optional<absl::Time>> SqliteStore::NextDueTime() {
  absl::MutexLock lock(&impl_->mu);
  return impl_->NextDueTime();
}

absl::StatusOr<std::vector<OnboardingEvent>> SqliteStore::ListEvents(absl::string_view id,
                                                                     int64_t after_sequence,
                                                                     int limit) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->ListEvents(id, after_sequence, limit);
}

absl::Status SqliteStore::AppendCloudCalls(const std::vector<CloudCall>& calls) {
  if (calls.empty()) return absl::OkStatus();
  return Write([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return impl_->AppendCloudCallsInWriteTransaction(calls);
  });
}

absl::StatusOr<CloudCallPage> SqliteStore::ListCloudCalls(const CloudCallQuery& query) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->ListCloudCalls(query);
}

std::vector<std::string> SqliteStore::PreparedSqlForTesting() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->PreparedSql();
}

}  // namespace guestflow
