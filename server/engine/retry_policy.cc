#include "server/engine/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace guestflow {

absl::Duration RetryPolicy::DelayAfter(int attempts, std::optional<absl::Duration> retry_after,
                                       absl::BitGenRef rng) const {
  if (retry_after.has_value() && *retry_after >= absl::ZeroDuration()) {
    // The cloud knows its own recovery time better than any formula.
    return *retry_after;
  }
  const int exponent = std::max(0, attempts - 1);
  const double factor = std::pow(multiplier, std::min(exponent, 62));
  absl::Duration base = initial * factor;
  if (base > max || base < absl::ZeroDuration()) base = max;
  // Half fixed, half random: bounded below so that a retry never comes
  // immediately, spread above so that retries do not synchronise.
  const double jitter = absl::Uniform(rng, 0.5, 1.0);
  return base * jitter;
}

}  // namespace guestflow
