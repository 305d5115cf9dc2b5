#include "finished_onboarding.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace guestflow::bench {

std::string FillTenant(int64_t n, const FillShape& shape) {
  return absl::StrCat("tenant-", n % shape.tenants);
}

Onboarding FinishedOnboarding(int64_t n, const FillShape& shape) {
  thread_local absl::BitGen gen;
  Onboarding o;
  const absl::Time created = shape.first + shape.spacing * n;
  // The format of the engine's NewOnboardingId(), at `created` rather than
  // now, so that ids sort as the creates do.
  o.id = absl::StrFormat("%012x%016x",
                         static_cast<uint64_t>(absl::ToUnixMillis(created)) & 0xFFFFFFFFFFFFULL,
                         absl::Uniform<uint64_t>(gen));
  o.tenant = FillTenant(n, shape);
  o.guest.email = absl::StrCat("guest", n, "@partner", n % 97, ".example.com");
  o.guest.first_name = absl::StrCat("First", n);
  o.guest.last_name = absl::StrCat("Last", n);
  o.guest.display_name = absl::StrCat(o.guest.first_name, " ", o.guest.last_name);
  o.guest.usage_location = n % 3 == 0 ? "GB" : "US";
  o.options.roles = {"Salesperson"};
  o.request_id = absl::StrCat("fill-", n);
  o.request_fingerprint = absl::StrFormat("%064x", absl::Uniform<uint64_t>(gen));
  if (shape.batch_every > 0 && n % shape.batch_every == 0) {
    o.batch_id = absl::StrCat("fill-batch-", n / (int64_t{shape.batch_every} * shape.batch_rows));
  }
  o.requested_by = "bench-fill";
  o.instance_url = absl::StrCat("https://", o.tenant, ".crm.dynamics.com");
  o.create_time = created;
  const bool fails = shape.fail_every > 0 && n % shape.fail_every == 0;
  absl::Time t = created + absl::Milliseconds(50);
  for (StepKind kind : kAllSteps) {
    Step step;
    step.kind = kind;
    step.plugin = std::string(PluginKindOf(kind));
    const bool reached = !fails || kind <= StepKind::kLicense;
    if (!reached) {
      step.state = StepState::kCancelled;
      o.steps.push_back(std::move(step));
      continue;
    }
    step.attempts = 1;
    step.start_time = t;
    t += absl::Milliseconds(300);
    step.finish_time = t;
    if (fails && kind == StepKind::kLicense) {
      step.state = StepState::kFailed;
      step.last_error = "license: no seats of DYN365_ENTERPRISE_PLAN1 left (HTTP 400)";
    } else {
      step.state = StepState::kSucceeded;
      if (kind == StepKind::kInvite) {
        step.outputs["user_id"] =
            absl::StrFormat("%016x-0000-4000-8000-%012x", absl::Uniform<uint64_t>(gen), n);
        step.outputs["invite_redeem_url"] =
            "https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com";
      }
    }
    o.steps.push_back(std::move(step));
  }
  o.state = fails ? OnboardingState::kFailed : OnboardingState::kSucceeded;
  if (fails) o.error = "license: no seats of DYN365_ENTERPRISE_PLAN1 left (HTTP 400)";
  o.update_time = t;
  o.finish_time = t;
  o.due_time = std::nullopt;  // ended: never due again
  return o;
}

OnboardingEvent CreatedEvent(const Onboarding& onboarding) {
  OnboardingEvent event;
  event.time = onboarding.create_time;
  event.type = "created";
  event.message = "created by bench-fill";
  return event;
}

}  // namespace guestflow::bench
