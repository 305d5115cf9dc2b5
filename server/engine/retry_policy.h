// RetryPolicy: how long a step waits before its next attempt.
#pragma once

#include <optional>

#include "absl/random/bit_gen_ref.h"
#include "absl/random/random.h"
#include "absl/time/time.h"

namespace guestflow {

struct RetryPolicy {
  int max_attempts = 8;
  absl::Duration initial = absl::Seconds(1);
  absl::Duration max = absl::Minutes(5);
  double multiplier = 2.0;
  // Longest total time a step may spend WAITING on the cloud.
  absl::Duration max_step_wait = absl::Hours(1);
  // Delay between polls when a WAITING plugin names none.
  absl::Duration default_poll = absl::Seconds(5);

  // The delay before attempt `attempts + 1`, after `attempts` failed ones
  // (>= 1). A Retry-After the cloud sent wins when given; otherwise
  // exponential back-off with "full jitter" in [base/2, base] so that many
  // guests failing together do not retry together. Thread-compatible: the
  // caller owns `rng`.
  absl::Duration DelayAfter(int attempts, std::optional<absl::Duration> retry_after,
                            absl::BitGenRef rng) const;

  bool Exhausted(int attempts) const { return attempts >= max_attempts; }
};

}  // namespace guestflow
