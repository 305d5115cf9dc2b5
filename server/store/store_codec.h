// How every Store implementation writes the model into database columns and
// reads it back, so that SQLite and PostgreSQL hold the same values:
// - times as int64 microseconds since the Unix epoch (the infinite times as
//   the int64 minimum and maximum, so that they survive a round trip);
// - enums by name (OnboardingStateName, StepStateName, StepName), so that a
//   row reads well in a database shell and does not depend on numbering;
// - options and step outputs as JSON objects;
// - list page tokens as web-safe base64 of "<create_time>:<id>".
//
// Readers give INTERNAL for a value this build cannot read (the message
// names it); nothing here throws.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/model/cloud_call.h"
#include "server/model/onboarding.h"
#include "server/store/store.h"

namespace guestflow {

int64_t ToMicros(absl::Time t);
absl::Time FromMicros(int64_t micros);

// `t` as a store gives it back: to the microsecond.
inline absl::Time StoredTime(absl::Time t) { return FromMicros(ToMicros(t)); }

absl::StatusOr<OnboardingState> ParseOnboardingState(absl::string_view name);
absl::StatusOr<StepState> ParseStepState(absl::string_view name);
absl::StatusOr<StepKind> ParseStepKind(absl::string_view name);

// A string that is not valid UTF-8 is written with U+FFFD in place of the bad
// bytes rather than failing the write: a stray byte in a plugin's output must
// not make the onboarding impossible to store.
std::string OptionsToJson(const OnboardingOptions& options);
absl::StatusOr<OnboardingOptions> OptionsFromJson(const std::string& text);
std::string OutputsToJson(const std::map<std::string, std::string>& outputs);
absl::StatusOr<std::map<std::string, std::string>> OutputsFromJson(const std::string& text);
// Whether `json`, written by OptionsToJson or OutputsToJson, may read back
// other than what was written: it holds a U+FFFD, which may stand for bytes
// that were not UTF-8. False: its reader gives back exactly what was written.
inline bool MayDifferFromWhatWasWritten(absl::string_view json) {
  return json.find("\xEF\xBF\xBD") != absl::string_view::npos;
}

// The key of the last onboarding of a list page; the next page starts after
// it (keyset pagination, newest first).
struct PageKey {
  int64_t create_time = 0;
  std::string id;
};
std::string EncodePageToken(const Onboarding& last);
// INVALID_ARGUMENT "invalid page_token" for anything EncodePageToken did not make.
absl::StatusOr<PageKey> DecodePageToken(const std::string& token);

// ---- rows -------------------------------------------------------------------

// The columns of an onboarding row and of a step row, in the order
// OnboardingFromRow and StepFromRow read them; both dialects select them so.
inline constexpr char kOnboardingColumns[] =
    "id, tenant, request_id, request_fingerprint, state, version, guest_email, guest_first_name, "
    "guest_last_name, guest_display_name, guest_usage_location, options, batch_id, error, "
    "instance_url, create_time, update_time, finish_time, due_time, requested_by";
inline constexpr char kStepColumns[] =
    "kind, state, plugin, attempts, last_error, next_attempt_time, start_time, finish_time, "
    "wait_since, outputs";

absl::Status CorruptOnboarding(absl::string_view id, const absl::Status& status);

// `Row` is any result row with Text(col), Int(col), Time(col) and
// OptTime(col), 0-based (SQLite's Stmt, PostgreSQL's PgRow).
template <typename Row>
absl::StatusOr<Onboarding> OnboardingFromRow(const Row& row) {
  Onboarding o;
  o.id = row.Text(0);
  o.tenant = row.Text(1);
  o.request_id = row.Text(2);
  o.request_fingerprint = row.Text(3);
  absl::StatusOr<OnboardingState> state = ParseOnboardingState(row.Text(4));
  if (!state.ok()) return CorruptOnboarding(o.id, state.status());
  o.state = *state;
  o.version = row.Int(5);
  o.guest.email = row.Text(6);
  o.guest.first_name = row.Text(7);
  o.guest.last_name = row.Text(8);
  o.guest.display_name = row.Text(9);
  o.guest.usage_location = row.Text(10);
  absl::StatusOr<OnboardingOptions> options = OptionsFromJson(row.Text(11));
  if (!options.ok()) return CorruptOnboarding(o.id, options.status());
  o.options = *std::move(options);
  o.batch_id = row.Text(12);
  o.error = row.Text(13);
  o.instance_url = row.Text(14);
  o.create_time = row.Time(15);
  o.update_time = row.Time(16);
  o.finish_time = row.OptTime(17);
  o.due_time = row.OptTime(18);
  o.requested_by = row.Text(19);
  return o;
}

template <typename Row>
absl::StatusOr<Step> StepFromRow(const Row& row, absl::string_view onboarding_id) {
  Step step;
  absl::StatusOr<StepKind> kind = ParseStepKind(row.Text(0));
  if (!kind.ok()) return CorruptOnboarding(onboarding_id, kind.status());
  step.kind = *kind;
  absl::StatusOr<StepState> state = ParseStepState(row.Text(1));
  if (!state.ok()) return CorruptOnboarding(onboarding_id, state.status());
  step.state = *state;
  step.plugin = row.Text(2);
  step.attempts = static_cast<int>(row.Int(3));
  step.last_error = row.Text(4);
  step.next_attempt_time = row.OptTime(5);
  step.start_time = row.OptTime(6);
  step.finish_time = row.OptTime(7);
  step.wait_since = row.OptTime(8);
  absl::StatusOr<std::map<std::string, std::string>> outputs = OutputsFromJson(row.Text(9));
  if (!outputs.ok()) return CorruptOnboarding(onboarding_id, outputs.status());
  step.outputs = *std::move(outputs);
  return step;
}

// The audit trail's columns, in the order CloudCallFromRow reads them.
inline constexpr char kCloudCallColumns[] =
    "sequence, onboarding_id, tenant, step, plugin, actor, time, duration_us, method, url, "
    "service, status, transport_error, request_id, caller";

template <typename Row>
CloudCall CloudCallFromRow(const Row& row) {
  CloudCall c;
  c.sequence = row.Int(0);
  c.onboarding_id = row.Text(1);
  c.tenant = row.Text(2);
  c.step = row.Text(3);
  c.plugin = row.Text(4);
  c.actor = row.Text(5);
  c.time = row.Time(6);
  c.duration = absl::Microseconds(row.Int(7));
  c.method = row.Text(8);
  c.url = row.Text(9);
  c.service = row.Text(10);
  c.status = static_cast<int>(row.Int(11));
  c.transport_error = row.Text(12);
  c.request_id = row.Text(13);
  c.caller = row.Text(14);
  return c;
}

// Checks `query` and gives the sequence its page starts after (0 for the
// first page): INVALID_ARGUMENT for no onboarding_id nor tenant, a page_size
// <= 0 or a page token that is not one.
absl::StatusOr<int64_t> CloudCallPageStart(const CloudCallQuery& query);

// "onboarding <id> not found" (NOT_FOUND).
absl::Status OnboardingNotFound(absl::string_view id);
// (CorruptOnboarding, above: `status` with "onboarding <id>: " in front of
// its message.)

}  // namespace guestflow
