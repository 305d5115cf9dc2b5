#include "server/api/proto_convert.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"

namespace guestflow {
namespace {

using google::protobuf::Timestamp;

void SetTime(absl::Time t, Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
}

void SetTime(const std::optional<absl::Time>& t, Timestamp* out) {
  if (t.has_value()) SetTime(*t, out);
}

v1::StepState ToProto(StepState s) {
  switch (s) {
    case StepState::kPending:
      return v1::STEP_STATE_PENDING;
    case StepState::kRunning:
      return v1::STEP_STATE_RUNNING;
    case StepState::kWaiting:
      return v1::STEP_STATE_WAITING;
    case StepState::kSucceeded:
      return v1::STEP_STATE_SUCCEEDED;
    case StepState::kFailed:
      return v1::STEP_STATE_FAILED;
    case StepState::kCancelled:
      return v1::STEP_STATE_CANCELLED;
  }
  return v1::STEP_STATE_UNSPECIFIED;
}

// Allocates only the id: GetOnboarding parses a name on every call.
absl::StatusOr<std::string> ParseName(const std::string& name, absl::string_view collection,
                                      const char* field) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, collection) || !absl::ConsumePrefix(&id, "/") || id.empty() ||
      absl::StrContains(id, '/')) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": expected \"", collection,
                                                   "/{id}\", got \"", name.substr(0, 200), "\""));
  }
  return std::string(id);
}

}  // namespace

v1::OnboardingState ToProto(OnboardingState s) {
  switch (s) {
    case OnboardingState::kQueued:
      return v1::ONBOARDING_STATE_QUEUED;
    case OnboardingState::kRunning:
      return v1::ONBOARDING_STATE_RUNNING;
    case OnboardingState::kWaiting:
      return v1::ONBOARDING_STATE_WAITING;
    case OnboardingState::kSucceeded:
      return v1::ONBOARDING_STATE_SUCCEEDED;
    case OnboardingState::kFailed:
      return v1::ONBOARDING_STATE_FAILED;
    case OnboardingState::kCancelled:
      return v1::ONBOARDING_STATE_CANCELLED;
  }
  return v1::ONBOARDING_STATE_UNSPECIFIED;
}

std::optional<OnboardingState> FromProto(v1::OnboardingState s) {
  switch (s) {
    case v1::ONBOARDING_STATE_QUEUED:
      return OnboardingState::kQueued;
    case v1::ONBOARDING_STATE_RUNNING:
      return OnboardingState::kRunning;
    case v1::ONBOARDING_STATE_WAITING:
      return OnboardingState::kWaiting;
    case v1::ONBOARDING_STATE_SUCCEEDED:
      return OnboardingState::kSucceeded;
    case v1::ONBOARDING_STATE_FAILED:
      return OnboardingState::kFailed;
    case v1::ONBOARDING_STATE_CANCELLED:
      return OnboardingState::kCancelled;
    default:
      return std::nullopt;
  }
}

v1::StepKind ToProto(StepKind k) {
  switch (k) {
    case StepKind::kInvite:
      return v1::STEP_KIND_INVITE;
    case StepKind::kProfile:
      return v1::STEP_KIND_PROFILE;
    case StepKind::kLicense:
      return v1::STEP_KIND_LICENSE;
    case StepKind::kRole:
      return v1::STEP_KIND_ROLE;
    case StepKind::kNotify:
      return v1::STEP_KIND_NOTIFY;
  }
  return v1::STEP_KIND_UNSPECIFIED;
}

std::string OnboardingName(const std::string& id) {
  return id.empty() ? std::string() : absl::StrCat("onboardings/", id);
}

absl::StatusOr<std::string> ParseOnboardingName(const std::string& name, const char* field) {
  return ParseName(name, "onboardings", field);
}

absl::StatusOr<std::string> ParseBatchName(const std::string& name, const char* field) {
  if (name.empty()) return std::string();
  return ParseName(name, "batches", field);
}

void ToProto(const Onboarding& in, v1::Onboarding* out) {
  out->set_name(OnboardingName(in.id));
  out->set_tenant(in.tenant);
  v1::Guest* g = out->mutable_guest();
  g->set_email(in.guest.email);
  g->set_first_name(in.guest.first_name);
  g->set_last_name(in.guest.last_name);
  g->set_display_name(in.guest.display_name);
  g->set_usage_location(in.guest.usage_location);
  v1::OnboardingOptions* opt = out->mutable_options();
  for (const std::string& r : in.options.roles) opt->add_roles(r);
  if (in.options.send_invitation_message.has_value()) {
    opt->set_send_invitation_message(*in.options.send_invitation_message);
  }
  opt->set_invitation_message(in.options.invitation_message);
  if (in.options.update_dynamics_email.has_value()) {
    opt->set_update_dynamics_email(*in.options.update_dynamics_email);
  }
  out->set_state(ToProto(in.state));
  for (const Step& s : in.steps) {
    v1::Step* ps = out->add_steps();
    ps->set_kind(ToProto(s.kind));
    ps->set_state(ToProto(s.state));
    ps->set_plugin(s.plugin);
    ps->set_attempts(s.attempts);
    ps->set_last_error(s.last_error);
    SetTime(s.next_attempt_time, ps->mutable_next_attempt_time());
    SetTime(s.start_time, ps->mutable_start_time());
    SetTime(s.finish_time, ps->mutable_finish_time());
    for (const auto& [k, v] : s.outputs) (*ps->mutable_outputs())[k] = v;
    if (!s.next_attempt_time.has_value()) ps->clear_next_attempt_time();
    if (!s.start_time.has_value()) ps->clear_start_time();
    if (!s.finish_time.has_value()) ps->clear_finish_time();
  }
  out->set_request_id(in.request_id);
  out->set_batch(in.batch_id.empty() ? std::string() : absl::StrCat("batches/", in.batch_id));
  out->set_error(in.error);
  if (in.create_time != absl::InfinitePast()) SetTime(in.create_time, out->mutable_create_time());
  if (in.update_time != absl::InfinitePast()) SetTime(in.update_time, out->mutable_update_time());
  if (in.finish_time.has_value()) SetTime(*in.finish_time, out->mutable_finish_time());
  out->set_instance_url(in.instance_url);
  out->set_requested_by(in.requested_by);
  out->set_version(in.version);
}

void ToProto(const OnboardingEvent& in, v1::OnboardingEvent* out) {
  out->set_sequence(in.sequence);
  SetTime(in.time, out->mutable_time());
  out->set_type(in.type);
  if (in.step.has_value()) out->set_step(ToProto(*in.step));
  out->set_message(in.message);
}

void ToProto(const CloudCall& in, v1::CloudCall* out) {
  out->set_onboarding(absl::StrCat("onboardings/", in.onboarding_id));
  out->set_tenant(in.tenant);
  if (std::optional<StepKind> step = StepFromName(in.step); step.has_value()) {
    out->set_step(ToProto(*step));
  }
  out->set_plugin(in.plugin);
  out->set_actor(in.actor);
  SetTime(in.time, out->mutable_time());
  const int64_t micros = absl::ToInt64Microseconds(in.duration);
  out->mutable_duration()->set_seconds(micros / 1'000'000);
  out->mutable_duration()->set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
  out->set_method(in.method);
  out->set_url(in.url);
  out->set_service(in.service);
  out->set_http_status(in.status);
  out->set_transport_error(in.transport_error);
  out->set_request_id(in.request_id);
  out->set_caller(in.caller);
}

Guest FromProto(const v1::Guest& in) {
  Guest g;
  g.email = in.email();
  g.first_name = in.first_name();
  g.last_name = in.last_name();
  g.display_name = in.display_name();
  g.usage_location = in.usage_location();
  return g;
}

OnboardingOptions FromProto(const v1::OnboardingOptions& in) {
  OnboardingOptions o;
  o.roles.assign(in.roles().begin(), in.roles().end());
  if (in.has_send_invitation_message()) o.send_invitation_message = in.send_invitation_message();
  o.invitation_message = in.invitation_message();
  if (in.has_update_dynamics_email()) o.update_dynamics_email = in.update_dynamics_email();
  return o;
}

}  // namespace guestflow
