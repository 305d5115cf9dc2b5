#include "server/store/pg_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "server/common/status_macros.h"
#include "server/store/pg_change_listener.h"
#include "server/store/pg_schema.h"
#include "server/store/store_codec.h"

namespace guestflow {
namespace {

// Repeats the partial index's condition so that the planner may use it.
constexpr char kSelectIdByRequest[] =
    "SELECT id FROM onboardings WHERE tenant = $1 AND request_id = $2 AND request_id <> ''";

// Any conflict (the id, or the tenant's request_id) inserts nothing; the
// caller then tells which one it was.
constexpr char kInsertOnboarding[] =
    "INSERT INTO onboardings (id, tenant, request_id, request_fingerprint, state, version, "
    "guest_email, guest_first_name, guest_last_name, guest_display_name, guest_usage_location, "
    "options, batch_id, error, instance_url, create_time, update_time, finish_time, due_time, "
    "requested_by) "
    "VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
    "$19) "
    "ON CONFLICT DO NOTHING RETURNING id";

// $15: the owner whose lease to release, '' for none; $16: the version the
// caller read. No row back: unknown id or a newer version.
constexpr char kUpdateOnboarding[] =
    "UPDATE onboardings SET state = $2, version = version + 1, guest_email = $3, "
    "guest_first_name = $4, guest_last_name = $5, guest_display_name = $6, "
    "guest_usage_location = $7, options = $8, batch_id = $9, error = $10, instance_url = $11, "
    "update_time = $12, finish_time = $13, due_time = $14, "
    "lease_expires = CASE WHEN $15 <> '' AND lease_owner = $15 THEN NULL ELSE lease_expires END, "
    "lease_owner = CASE WHEN $15 <> '' AND lease_owner = $15 THEN NULL ELSE lease_owner END "
    "WHERE id = $1 AND version = $16 RETURNING version";

constexpr char kInsertStep[] =
    "INSERT INTO steps (onboarding_id, position, kind, state, plugin, attempts, last_error, "
    "next_attempt_time, start_time, finish_time, wait_since, outputs) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

constexpr char kInsertEvent[] =
    "INSERT INTO events (onboarding_id, sequence, time, type, step, message) "
    "VALUES ($1, $2, $3, $4, $5, $6)";

// The oldest due, free (or expired) rows, locked so that another replica's
// LeaseDue skips them rather than waiting, and leased in the same statement.
constexpr char kLeaseDue[] =
    "WITH due AS (SELECT id FROM onboardings "
    "WHERE due_time IS NOT NULL AND due_time <= $1 "
    "AND (lease_owner IS NULL OR lease_expires <= $1) ORDER BY create_time, id LIMIT $2 "
    "FOR UPDATE SKIP LOCKED) "
    "UPDATE onboardings o SET lease_owner = $3, lease_expires = $4 FROM due WHERE o.id = due.id "
    "RETURNING o.id";

constexpr char kSelectNextUnleasedDue[] =
    "SELECT due_time FROM onboardings WHERE due_time IS NOT NULL AND lease_owner IS NULL "
    "ORDER BY due_time, id LIMIT 1";

// A leased onboarding is due again when it is due and its lease is over.
constexpr char kSelectNextLeasedDue[] =
    "SELECT MIN(GREATEST(due_time, lease_expires)) FROM onboardings "
    "WHERE lease_owner IS NOT NULL AND due_time IS NOT NULL";

// The ten fields an update may change, from state to instance_url, in the
// order both kInsertOnboarding and kUpdateOnboarding list them.
PgParams MutableFields(const Onboarding& o) {
  PgParams p;
  p.Text(OnboardingStateName(o.state))
      .Text(o.guest.email)
      .Text(o.guest.first_name)
      .Text(o.guest.last_name)
      .Text(o.guest.display_name)
      .Text(o.guest.usage_location)
      .Text(OptionsToJson(o.options))
      .Text(o.batch_id)
      .Text(o.error)
      .Text(o.instance_url);
  return p;
}

absl::Status LoadSteps(PgSession& s, Onboarding& onboarding) {
  onboarding.steps.clear();
  GF_ASSIGN_OR_RETURN(PgResult r,
                      s.Exec(absl::StrCat("SELECT ", kStepColumns,
                                          " FROM steps WHERE onboarding_id = $1 ORDER BY position"),
                             PgParams().Text(onboarding.id)));
  for (int i = 0; i < r.rows(); ++i) {
    GF_ASSIGN_OR_RETURN(Step step, StepFromRow(r.Row(i), onboarding.id));
    onboarding.steps.push_back(std::move(step));
  }
  return absl::OkStatus();
}

absl::StatusOr<Onboarding> ReadOnboarding(PgSession& s, absl::string_view id) {
  GF_ASSIGN_OR_RETURN(PgResult r, s.Exec(absl::StrCat("SELECT ", kOnboardingColumns,
                                                      " FROM onboardings WHERE id = $1"),
                                         PgParams().Text(id)));
  if (r.rows() == 0) return OnboardingNotFound(id);
  GF_ASSIGN_OR_RETURN(Onboarding onboarding, OnboardingFromRow(r.Row(0)));
  GF_RETURN_IF_ERROR(LoadSteps(s, onboarding));
  return onboarding;
}

absl::Status InsertSteps(PgSession& s, absl::string_view id, const std::vector<Step>& steps) {
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    GF_RETURN_IF_ERROR(s.Exec(kInsertStep, PgParams()
                                               .Text(id)
                                               .Int(static_cast<int64_t>(i))
                                               .Text(StepName(step.kind))
                                               .Text(StepStateName(step.state))
                                               .Text(step.plugin)
                                               .Int(step.attempts)
                                               .Text(step.last_error)
                                               .OptTime(step.next_attempt_time)
                                               .OptTime(step.start_time)
                                               .OptTime(step.finish_time)
                                               .OptTime(step.wait_since)
                                               .Text(OutputsToJson(step.outputs)))
                           .status());
  }
  return absl::OkStatus();
}

absl::Status InsertEvents(PgSession& s, absl::string_view id,
                          const std::vector<OnboardingEvent>& events, int64_t first_sequence) {
  int64_t sequence = first_sequence;
  for (const OnboardingEvent& event : events) {
    std::optional<absl::string_view> step;
    if (event.step.has_value()) step = StepName(*event.step);
    GF_RETURN_IF_ERROR(s.Exec(kInsertEvent, PgParams()
                                                .Text(id)
                                                .Int(sequence++)
                                                .Time(event.time)
                                                .Text(event.type)
                                                .OptText(step)
                                                .Text(event.message))
                           .status());
  }
  return absl::OkStatus();
}

// The audit trail's new calls, each with the next sequence number.
absl::Status InsertCloudCalls(PgSession& s, const std::vector<CloudCall>& calls) {
  for (const CloudCall& c : calls) {
    GF_RETURN_IF_ERROR(
        s.Exec("INSERT INTO cloud_calls (onboarding_id, tenant, step, plugin, actor, time, "
               "duration_us, method, url, service, status, transport_error, request_id, caller) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
               PgParams()
                   .Text(c.onboarding_id)
                   .Text(c.tenant)
                   .Text(c.step)
                   .Text(c.plugin)
                   .Text(c.actor)
                   .Time(c.time)
                   .Int(absl::ToInt64Microseconds(c.duration))
                   .Text(c.method)
                   .Text(c.url)
                   .Text(c.service)
                   .Int(c.status)
                   .Text(c.transport_error)
                   .Text(c.request_id)
                   .Text(c.caller))
            .status());
  }
  return absl::OkStatus();
}

// Tells the other replicas (their PgChangeListener) that `o` changed; sent
// when the transaction commits, not at all when it rolls back.
absl::Status Announce(PgSession& s, const Onboarding& o, absl::string_view origin) {
  return s
      .Exec("SELECT pg_notify($1, $2)",
            PgParams().Text(kPgChangeChannel).Text(FormatChange(o.id, o.batch_id, origin)))
      .status();
}

// UpdateOnboarding's write, inside the caller's transaction; gives back the
// onboarding as stored.
absl::StatusOr<Onboarding> UpdateInTransaction(PgSession& s, const Onboarding& o,
                                               const std::vector<OnboardingEvent>& events,
                                               absl::string_view release_lease_of,
                                               const std::vector<CloudCall>& cloud_calls,
                                               absl::string_view origin) {
  GF_ASSIGN_OR_RETURN(PgResult updated, s.Exec(kUpdateOnboarding, PgParams()
                                                                      .Text(o.id)
                                                                      .Append(MutableFields(o))
                                                                      .Time(o.update_time)
                                                                      .OptTime(o.finish_time)
                                                                      .OptTime(o.due_time)
                                                                      .Text(release_lease_of)
                                                                      .Int(o.version)));
  if (updated.rows() == 0) {
    GF_ASSIGN_OR_RETURN(PgResult current, s.Exec("SELECT version FROM onboardings WHERE id = $1",
                                                 PgParams().Text(o.id)));
    if (current.rows() == 0) return OnboardingNotFound(o.id);
    return absl::AbortedError(absl::StrCat("onboarding ", o.id,
                                           " was changed concurrently (version ", current.Int(0, 0),
                                           ", expected ", o.version, ")"));
  }
  GF_RETURN_IF_ERROR(
      s.Exec("DELETE FROM steps WHERE onboarding_id = $1", PgParams().Text(o.id)).status());
  GF_RETURN_IF_ERROR(InsertSteps(s, o.id, o.steps));
  if (!events.empty()) {
    // The UPDATE holds the onboarding's row lock: no other writer numbers
    // events of this onboarding until commit.
    GF_ASSIGN_OR_RETURN(
        PgResult max,
        s.Exec("SELECT COALESCE(MAX(sequence), 0) FROM events WHERE onboarding_id = $1",
               PgParams().Text(o.id)));
    GF_RETURN_IF_ERROR(InsertEvents(s, o.id, events, max.Int(0, 0) + 1));
  }
  GF_RETURN_IF_ERROR(InsertCloudCalls(s, cloud_calls));
  GF_RETURN_IF_ERROR(Announce(s, o, origin));
  return ReadOnboarding(s, o.id);
}

bool OldestFirst(const Onboarding& a, const Onboarding& b) {
  return std::tie(a.create_time, a.id) < std::tie(b.create_time, b.id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgStore>> PgStore::Open(std::shared_ptr<PgPool> pool,
                                                       std::string origin) {
  if (pool == nullptr) return absl::InvalidArgumentError("no PostgreSQL pool");
  GF_RETURN_IF_ERROR(MigratePgSchema(*pool, PgMigrations(), absl::Now()));
  return std::unique_ptr<PgStore>(new PgStore(std::move(pool), std::move(origin)));
}

absl::StatusOr<CreateResult> PgStore::CreateOnboarding(const Onboarding& o,
                                                       const OnboardingEvent& first_event) {
  if (o.id.empty()) return absl::InvalidArgumentError("onboarding id is empty");
  CreateResult result;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(PgResult inserted,
                        s.Exec(kInsertOnboarding, PgParams()
                                                      .Text(o.id)
                                                      .Text(o.tenant)
                                                      .Text(o.request_id)
                                                      .Text(o.request_fingerprint)
                                                      .Append(MutableFields(o))
                                                      .Time(o.create_time)
                                                      .Time(o.update_time)
                                                      .OptTime(o.finish_time)
                                                      .OptTime(o.due_time)
                                                      .Text(o.requested_by)));
    if (inserted.rows() == 0) {
      // A conflict: the request_id (then this is a retry) or the id.
      if (!o.request_id.empty()) {
        GF_ASSIGN_OR_RETURN(PgResult found, s.Exec(kSelectIdByRequest,
                                                   PgParams().Text(o.tenant).Text(o.request_id)));
        if (found.rows() > 0) {
          GF_ASSIGN_OR_RETURN(result.onboarding, ReadOnboarding(s, found.Text(0, 0)));
          result.created = false;
          return absl::OkStatus();
        }
      }
      return absl::AlreadyExistsError(absl::StrCat("onboarding ", o.id, " already exists"));
    }
    GF_RETURN_IF_ERROR(InsertSteps(s, o.id, o.steps));
    GF_RETURN_IF_ERROR(InsertEvents(s, o.id, {first_event}, 1));
    GF_RETURN_IF_ERROR(Announce(s, o, origin_));
    GF_ASSIGN_OR_RETURN(result.onboarding, ReadOnboarding(s, o.id));
    result.created = true;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Onboarding> PgStore::GetOnboarding(absl::string_view id) {
  Onboarding result;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(result, ReadOnboarding(s, id));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<OnboardingPage> PgStore::ListOnboardings(const ListOnboardingsQuery& query) {
  if (query.page_size <= 0) return absl::InvalidArgumentError("page_size must be positive");
  std::optional<PageKey> after;
  if (!query.page_token.empty()) {
    GF_ASSIGN_OR_RETURN(after, DecodePageToken(query.page_token));
  }
  // Parameters are numbered as they are used: PostgreSQL cannot type one the
  // statement never mentions.
  std::vector<std::string> where;
  PgParams params;
  auto next = [&params] { return absl::StrCat("$", params.size() + 1); };
  if (!query.tenant.empty()) {
    where.push_back(absl::StrCat("tenant = ", next()));
    params.Text(query.tenant);
  }
  if (query.tenant_in.has_value()) {
    if (query.tenant_in->empty()) return OnboardingPage{};
    std::vector<std::string> in;
    for (const std::string& t : *query.tenant_in) {
      in.push_back(next());
      params.Text(t);
    }
    where.push_back(absl::StrCat("tenant IN (", absl::StrJoin(in, ", "), ")"));
  }
  if (query.state.has_value()) {
    where.push_back(absl::StrCat("state = ", next()));
    params.Text(OnboardingStateName(*query.state));
  }
  if (!query.batch_id.empty()) {
    where.push_back(absl::StrCat("batch_id = ", next(), " AND batch_id <> ''"));
    params.Text(query.batch_id);
  }
  if (after.has_value()) {
    const std::string t = next();
    params.Int(after->create_time);
    where.push_back(absl::StrCat("(create_time, id) < (", t, ", ", next(), ")"));
    params.Text(after->id);
  }
  const std::string limit = next();
  params.Int(static_cast<int64_t>(query.page_size) + 1);  // one more: is there a next page?
  const std::string sql = absl::StrCat(
      "SELECT ", kOnboardingColumns, " FROM onboardings", where.empty() ? "" : " WHERE ",
      absl::StrJoin(where, " AND "), " ORDER BY create_time DESC, id DESC LIMIT ", limit);
  OnboardingPage page;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    page.onboardings.clear();
    GF_ASSIGN_OR_RETURN(PgResult r, s.Exec(sql, params));
    for (int i = 0; i < r.rows(); ++i) {
      GF_ASSIGN_OR_RETURN(Onboarding onboarding, OnboardingFromRow(r.Row(i)));
      page.onboardings.push_back(std::move(onboarding));
    }
    if (page.onboardings.size() > static_cast<size_t>(query.page_size)) {
      page.onboardings.pop_back();
      page.next_page_token = EncodePageToken(page.onboardings.back());
    }
    for (Onboarding& onboarding : page.onboardings) {
      GF_RETURN_IF_ERROR(LoadSteps(s, onboarding));
    }
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<Onboarding> PgStore::DoUpdateOnboarding(const Onboarding& o,
                                                       const std::vector<OnboardingEvent>& events,
                                                       absl::string_view release_lease_of,
                                                       const std::vector<CloudCall>& cloud_calls) {
  Onboarding stored;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(stored,
                        UpdateInTransaction(s, o, events, release_lease_of, cloud_calls, origin_));
    return absl::OkStatus();
  }));
  return stored;
}

absl::StatusOr<std::vector<Onboarding>> PgStore::DoLeaseDue(absl::string_view owner, absl::Time now,
                                                            absl::Duration lease, int limit,
                                                            const LeaseChange& change) {
  if (owner.empty()) return absl::InvalidArgumentError("lease owner is empty");
  if (lease <= absl::ZeroDuration()) return absl::InvalidArgumentError("lease must be positive");
  std::vector<Onboarding> leased;
  if (limit <= 0) return leased;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    leased.clear();
    GF_ASSIGN_OR_RETURN(
        PgResult ids,
        s.Exec(kLeaseDue, PgParams().Time(now).Int(limit).Text(owner).Time(now + lease)));
    for (int i = 0; i < ids.rows(); ++i) {
      GF_ASSIGN_OR_RETURN(Onboarding onboarding, ReadOnboarding(s, ids.Text(i, 0)));
      if (change) {
        Onboarding changed = onboarding;
        if (absl::StatusOr<std::vector<OnboardingEvent>> events = change(changed); events.ok()) {
          // The lease is kept: release_lease_of is empty.
          GF_ASSIGN_OR_RETURN(onboarding,
                              UpdateInTransaction(s, changed, *events, "", {}, origin_));
        }
      }
      leased.push_back(std::move(onboarding));
    }
    return absl::OkStatus();
  }));
  // RETURNING keeps no order.
  std::sort(leased.begin(), leased.end(), OldestFirst);
  return leased;
}

absl::StatusOr<bool> PgStore::RenewLease(absl::string_view id, absl::string_view owner,
                                         absl::Time until) {
  bool held = false;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(PgResult r, s.Exec("UPDATE onboardings SET lease_expires = $3 "
                                           "WHERE id = $1 AND lease_owner = $2",
                                           PgParams().Text(id).Text(owner).Time(until)));
    held = r.affected() > 0;
    return absl::OkStatus();
  }));
  return held;
}

absl::Status PgStore::ReleaseLease(absl::string_view id, absl::string_view owner) {
  return pool_->InTransaction([&](PgSession& s) -> absl::Status {
    return s
        .Exec(
            "UPDATE onboardings SET lease_owner = NULL, lease_expires = NULL "
            "WHERE id = $1 AND lease_owner = $2",
            PgParams().Text(id).Text(owner))
        .status();
  });
}

absl::Status PgStore::ReleaseAllLeases() {
  return pool_->InTransaction([&](PgSession& s) -> absl::Status {
    return s
        .Exec(
            "UPDATE onboardings SET lease_owner = NULL, lease_expires = NULL "
            "WHERE lease_owner IS NOT NULL")
        .status();
  });
}

absl::StatusOr<std::optional<Onboarding>> PgStore::FindByRequestId(absl::string_view tenant,
                                                                   absl::string_view request_id) {
  std::optional<Onboarding> found;
  if (request_id.empty()) return found;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(PgResult r,
                        s.Exec(kSelectIdByRequest, PgParams().Text(tenant).Text(request_id)));
    if (r.rows() == 0) return absl::OkStatus();
    GF_ASSIGN_OR_RETURN(found, ReadOnboarding(s, r.Text(0, 0)));
    return absl::OkStatus();
  }));
  return found;
}

absl::StatusOr<int64_t> PgStore::CountUnfinished() {
  int64_t count = 0;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    GF_ASSIGN_OR_RETURN(PgResult r,
                        s.Exec("SELECT COUNT(*) FROM onboardings WHERE due_time IS NOT NULL"));
    count = r.Int(0, 0);
    return absl::OkStatus();
  }));
  return count;
}

absl::StatusOr<OnboardingStats> PgStore::Stats(absl::Time now) {
  OnboardingStats stats;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    stats = OnboardingStats();
    GF_ASSIGN_OR_RETURN(
        PgResult by_state,
        s.Exec("SELECT tenant, state, COUNT(*) FROM onboardings GROUP BY tenant, state"));
    for (int i = 0; i < by_state.rows(); ++i) {
      if (std::optional<OnboardingState> state = OnboardingStateFromName(by_state.Text(i, 1))) {
        stats.by_tenant_and_state[{by_state.Text(i, 0), *state}] = by_state.Int(i, 2);
      }
    }
    PgParams params;
    params.Time(now);
    GF_ASSIGN_OR_RETURN(
        PgResult queue,
        s.Exec("SELECT COUNT(*) FILTER (WHERE due_time <= $1 AND (lease_owner IS NULL OR "
               "lease_expires <= $1)), COUNT(*) FILTER (WHERE lease_owner IS NOT NULL AND "
               "lease_expires > $1) FROM onboardings WHERE due_time IS NOT NULL OR "
               "lease_owner IS NOT NULL",
               params));
    stats.due = queue.Int(0, 0);
    stats.leased = queue.Int(0, 1);
    return absl::OkStatus();
  }));
  return stats;
}

absl::StatusOr<std::optional<absl::Time>> PgStore::NextDueTime() {
  std::optional<absl::Time> next;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    next.reset();
    for (const char* sql : {kSelectNextUnleasedDue, kSelectNextLeasedDue}) {
      GF_ASSIGN_OR_RETURN(PgResult r, s.Exec(sql));
      if (r.rows() == 0 || r.IsNull(0, 0)) continue;
      const absl::Time t = r.Time(0, 0);
      if (!next.has_value() || t < *next) next = t;
    }
    return absl::OkStatus();
  }));
  return next;
}

absl::Status PgStore::AppendCloudCalls(const std::vector<CloudCall>& calls) {
  if (calls.empty()) return absl::OkStatus();
  return pool_->InTransaction([&](PgSession& s) { return InsertCloudCalls(s, calls); });
}

absl::StatusOr<CloudCallPage> PgStore::ListCloudCalls(const CloudCallQuery& query) {
  GF_ASSIGN_OR_RETURN(int64_t after, CloudCallPageStart(query));
  const bool by_onboarding = !query.onboarding_id.empty();
  CloudCallPage page;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    page = CloudCallPage();
    GF_ASSIGN_OR_RETURN(
        PgResult r, s.Exec(absl::StrCat("SELECT ", kCloudCallColumns, " FROM cloud_calls WHERE ",
                                        by_onboarding ? "onboarding_id" : "tenant",
                                        " = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"),
                           PgParams()
                               .Text(by_onboarding ? query.onboarding_id : query.tenant)
                               .Int(after)
                               .Int(static_cast<int64_t>(query.page_size) + 1)));
    for (int i = 0; i < r.rows(); ++i) page.calls.push_back(CloudCallFromRow(r.Row(i)));
    return absl::OkStatus();
  }));
  if (page.calls.size() > static_cast<size_t>(query.page_size)) {
    page.calls.pop_back();
    page.next_page_token = absl::StrCat(page.calls.back().sequence);
  }
  return page;
}

absl::StatusOr<std::vector<OnboardingEvent>> PgStore::ListEvents(absl::string_view id,
                                                                 int64_t after_sequence,
                                                                 int limit) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  std::vector<OnboardingEvent> events;
  GF_RETURN_IF_ERROR(pool_->InTransaction([&](PgSession& s) -> absl::Status {
    events.clear();
    GF_ASSIGN_OR_RETURN(PgResult exists,
                        s.Exec("SELECT 1 FROM onboardings WHERE id = $1", PgParams().Text(id)));
    if (exists.rows() == 0) return OnboardingNotFound(id);
    GF_ASSIGN_OR_RETURN(PgResult r, s.Exec("SELECT sequence, time, type, step, message FROM events "
                                           "WHERE onboarding_id = $1 AND sequence > $2 "
                                           "ORDER BY sequence LIMIT $3",
                                           PgParams().Text(id).Int(after_sequence).Int(limit)));
    for (int i = 0; i < r.rows(); ++i) {
      OnboardingEvent event;
      event.sequence = r.Int(i, 0);
      event.time = r.Time(i, 1);
      event.type = r.Text(i, 2);
      if (!r.IsNull(i, 3)) {
        GF_ASSIGN_OR_RETURN(event.step, ParseStepKind(r.Text(i, 3)));
      }
      event.message = r.Text(i, 4);
      events.push_back(std::move(event));
    }
    return absl::OkStatus();
  }));
  return events;
}

}  // namespace guestflow
