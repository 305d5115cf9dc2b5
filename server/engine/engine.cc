#include "server/engine/engine.h"

#include <map>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/engine/state_machine.h"
#include "server/model/guest_validation.h"

namespace guestflow {
namespace {

constexpr size_t kMaxRequestIdLength = 128;

absl::Status ValidateRequestId(absl::string_view id) {
  if (id.size() > kMaxRequestIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: at most ", kMaxRequestIdLength, " characters, got ", id.size()));
  }
  for (char c : id) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          "request_id: only printable ASCII without spaces is allowed (a UUID is a good choice)");
    }
  }
  return absl::OkStatus();
}

// FNV-1a, 64 bits: stable across processes and versions, which std::hash and
// absl::Hash do not promise. Not a security boundary.
uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

std::string NewOnboardingId() {
  thread_local absl::BitGen gen;
  const uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  return absl::StrFormat("%012x%016x", millis & 0xFFFFFFFFFFFFULL, absl::Uniform<uint64_t>(gen));
}

std::string RequestFingerprint(const StartRequest& r) {
  nlohmann::json j = {
      {"tenant", r.tenant},
      {"email", absl::AsciiStrToLower(r.guest.email)},
      {"first_name", r.guest.first_name},
      {"last_name", r.guest.last_name},
      {"display_name", r.guest.display_name},
      {"usage_location", r.guest.usage_location},
      {"roles", r.options.roles},
      {"send", r.options.send_invitation_message.has_value()
                   ? nlohmann::json(*r.options.send_invitation_message)
                   : nlohmann::json()},
      {"message", r.options.invitation_message},
      {"update_email", r.options.update_dynamics_email.has_value()
                           ? nlohmann::json(*r.options.update_dynamics_email)
                           : nlohmann::json()},
      {"batch", r.batch_id},
  };
  return absl::StrFormat("%016x", Fnv1a(j.dump()));
}

Engine::Engine(Store* store, StepRunner* runner, const TenantCatalog* tenants, Clock* clock,
               ChangeFeed* feed, Scheduler* scheduler)
    : store_(store),
      runner_(runner),
      tenants_(tenants),
      clock_(clock),
      feed_(feed),
      scheduler_(scheduler) {}

void Engine::SetMaxUnfinished(int64_t max) {
  absl::MutexLock lock(&capacity_mu_);
  max_unfinished_ = std::max<int64_t>(0, max);
}

absl::Status Engine::ReserveCapacity() {
  // How often the store is asked, and how long a refused caller is told to
  // wait: onboardings take seconds to minutes to end.
  constexpr absl::Duration kRecount = absl::Seconds(1);
  constexpr int64_t kRetryAfterSeconds = 30;
  absl::MutexLock lock(&capacity_mu_);
  if (max_unfinished_ <= 0) return absl::OkStatus();
  const absl::Time now = clock_->Now();
  if (now - counted_at_ >= kRecount) {
    GF_ASSIGN_OR_RETURN(unfinished_, store_->CountUnfinished());
    counted_at_ = now;
  }
  if (unfinished_ >= max_unfinished_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "guestflowd holds ", unfinished_,
        " onboardings that have not ended, its limit "
        "(engine.max_unfinished ",
        max_unfinished_, "); retry in ", kRetryAfterSeconds,
        " s (a batch: re-send the file with the same request_id), or raise the limit"));
  }
  ++unfinished_;
  return absl::OkStatus();
}

void Engine::ReleaseCapacity() {
  absl::MutexLock lock(&capacity_mu_);
  if (unfinished_ > 0) --unfinished_;
}

absl::StatusOr<CreateResult> Engine::Start(const StartRequest& request) {
  // Everything is checked before anything is stored.
  if (request.tenant.empty()) return absl::InvalidArgumentError("tenant: required");
  GF_RETURN_IF_ERROR(ValidateGuest(request.guest));
  GF_RETURN_IF_ERROR(ValidateOptions(request.options));
  GF_RETURN_IF_ERROR(ValidateRequestId(request.request_id));
  if (request.approve_mailbox) {
    return absl::FailedPreconditionError(
        "options.approve_mailbox: Dynamics 365 does not support mailbox approval for guest users "
        "invited with Azure AD B2B; leave it false");
  }
  if (request.enable_server_side_sync) {
    return absl::FailedPreconditionError(
        "options.enable_server_side_sync: Dynamics 365 does not support server-side "
        "synchronization of a guest user's email; leave it false");
  }
  GF_ASSIGN_OR_RETURN(TenantInfo tenant, tenants_->FindTenant(request.tenant));
  std::map<StepKind, std::string> plugins;
  for (StepKind kind : kAllSteps) {
    GF_ASSIGN_OR_RETURN(plugins[kind], runner_->PluginFor(request.tenant, kind));
  }

  Guest guest = request.guest;
  guest.email = std::string(absl::StripAsciiWhitespace(guest.email));
  if (guest.display_name.empty()) {
    guest.display_name = absl::StrCat(guest.first_name, " ", guest.last_name);
  }

  OnboardingEvent created;
  Onboarding o = NewOnboarding(request.validate_only ? "" : NewOnboardingId(), request.tenant,
                               std::move(guest), request.options, plugins, clock_->Now(), &created);
  o.request_id = request.request_id;
  o.request_fingerprint = RequestFingerprint(request);
  o.batch_id = request.batch_id;
  o.requested_by = request.requested_by;
  o.instance_url = tenant.instance_url;
  if (request.validate_only) return CreateResult{std::move(o), false};

  const absl::Status room = ReserveCapacity();
  if (!room.ok()) {
    // Full or not, a re-sent request finds what it started.
    if (room.code() != absl::StatusCode::kResourceExhausted || o.request_id.empty()) return room;
    GF_ASSIGN_OR_RETURN(std::optional<Onboarding> existing,
                        store_->FindByRequestId(o.tenant, o.request_id));
    if (!existing.has_value()) return room;
  }
  GF_ASSIGN_OR_RETURN(CreateResult result, store_->CreateOnboarding(o, created));
  if (room.ok() && !result.created) ReleaseCapacity();
  if (!result.created && result.onboarding.request_fingerprint != o.request_fingerprint) {
    return absl::AlreadyExistsError(
        absl::StrCat("request_id ", request.request_id, " was already used for onboardings/",
                     result.onboarding.id,
                     " with different parameters; use a new request_id for a new request"));
  }
  if (result.created && scheduler_ != nullptr) scheduler_->Wake();
  return result;
}

absl::StatusOr<Onboarding> Engine::Get(absl::string_view id) { return store_->GetOnboarding(id); }

absl::StatusOr<OnboardingPage> Engine::List(const ListOnboardingsQuery& query) {
  return store_->ListOnboardings(query);
}

absl::StatusOr<CloudCallPage> Engine::ListCloudCalls(const CloudCallQuery& query) {
  if (!query.onboarding_id.empty()) {
    GF_RETURN_IF_ERROR(store_->GetOnboarding(query.onboarding_id).status());
  }
  return store_->ListCloudCalls(query);
}

template <typename Command>
absl::StatusOr<Onboarding> Engine::Apply(absl::string_view id, Command command) {
  // A running step may store its outcome between our read and our write;
  // then read again and decide again.
  for (int i = 0; i < 5; ++i) {
    GF_ASSIGN_OR_RETURN(Onboarding o, store_->GetOnboarding(id));
    GF_ASSIGN_OR_RETURN(std::vector<OnboardingEvent> events, command(o, clock_->Now()));
    absl::StatusOr<Onboarding> stored = store_->UpdateOnboarding(o, events);
    if (stored.ok()) {
      feed_->Publish(stored->id);
      if (!stored->batch_id.empty()) feed_->Publish(BatchFeedKey(stored->batch_id));
      if (scheduler_ != nullptr) scheduler_->Wake();
      return stored;
    }
    if (!absl::IsAborted(stored.status())) return stored.status();
  }
  return absl::AbortedError(absl::StrCat("onboarding ", id, " is changing too fast; try again"));
}

absl::StatusOr<Onboarding> Engine::Cancel(absl::string_view id) {
  return Apply(id, [](Onboarding& o, absl::Time now) { return guestflow::Cancel(o, now); });
}

absl::StatusOr<Onboarding> Engine::Retry(absl::string_view id) {
  return Apply(id, [](Onboarding& o, absl::Time now) { return guestflow::Retry(o, now); });
}

absl::StatusOr<std::vector<OnboardingEvent>> Engine::Events(absl::string_view id,
                                                            int64_t after_sequence, int limit) {
  return store_->ListEvents(id, after_sequence, limit);
}

}  // namespace guestflow
