// What a store holds after a long while in production: onboardings that
// ended, as the engine leaves them. The store benchmarks fill a store with
// these, then measure reads and memory against it.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "server/model/onboarding.h"

namespace guestflow::bench {

struct FillShape {
  int tenants = 10;                                      // tenant-0 ... tenant-9
  int batch_every = 5;                                   // every 5th onboarding came from a batch
  int batch_rows = 1000;                                 // rows per batch
  int fail_every = 50;                                   // every 50th failed at its license step
  absl::Time first = absl::FromUnixSeconds(1735689600);  // 2025-01-01
  absl::Duration spacing = absl::Seconds(30);            // between two creates
};

// The `n`th onboarding of a fill: its tenant, batch and outcome follow from
// `n` alone (so a fill can be described and repeated), its id is
// time-ordered like the engine's (12 hex digits of milliseconds, 16 random).
// Steps, outputs and events are what a real run leaves.
Onboarding FinishedOnboarding(int64_t n, const FillShape& shape);

// The tenant of the `n`th onboarding.
std::string FillTenant(int64_t n, const FillShape& shape);

// The events that close a finished onboarding (the store keeps its first
// event with the create).
OnboardingEvent CreatedEvent(const Onboarding& onboarding);

}  // namespace guestflow::bench
