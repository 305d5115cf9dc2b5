// What the notifier tests share: an invited guest's onboarding, ready for its
// notify step, and running that step as the engine does (outputs kept for the
// next attempt, the attempt counted). Header-only.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/engine/state_machine.h"
#include "server/engine/step_runner.h"
#include "server/model/onboarding.h"

namespace guestflow::testing {

// Onboarding `id` of `email` in tenant contoso, whose invite step produced
// `redeem_url` (none when empty).
inline Onboarding InvitedGuest(const std::string& id, const std::string& email,
                               const std::string& first, const std::string& last,
                               const std::string& redeem_url) {
  Guest guest{email, first, last, absl::StrCat(first, " ", last), "GB"};
  Onboarding o = NewOnboarding(id, "contoso", guest, {}, {}, absl::Now(), nullptr);
  if (!redeem_url.empty()) o.FindStep(StepKind::kInvite)->outputs["invite_redeem_url"] = redeem_url;
  o.FindStep(StepKind::kInvite)->outputs["invited_user_id"] = "1234";
  return o;
}

// Runs notify through `runner` as the engine would.
inline StepOutcome RunNotify(StepRunner& runner, Onboarding& o) {
  StepOutcome outcome = runner.Run(o, StepKind::kNotify);
  Step* step = o.FindStep(StepKind::kNotify);
  for (const auto& [k, v] : outcome.outputs) step->outputs[k] = v;
  ++step->attempts;
  if (outcome.kind == StepOutcome::Kind::kSucceeded) step->state = StepState::kSucceeded;
  return outcome;
}

}  // namespace guestflow::testing
