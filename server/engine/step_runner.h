// StepRunner: how the engine runs one step of one onboarding. The plugin host
// implements it with the tenant's plugins (server/plugin_host/plugin_host.h);
// engine tests implement it with mocks.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/model/cloud_call.h"
#include "server/model/onboarding.h"

namespace guestflow {

struct StepOutcome {
  enum class Kind {
    kSucceeded,  // done
    kRetry,      // transient failure: counts as an attempt
    kWait,       // still waiting on the cloud: not an attempt, bounded in time
    kThrottled,  // a retry right after a 429: not an attempt, bounded in
                 // time like kWait
    kFailed,     // permanent failure
  };
  Kind kind = Kind::kSucceeded;
  std::string error;                           // why, for all but kSucceeded
  std::optional<absl::Duration> retry_after;   // asked for by the plugin
  std::map<std::string, std::string> outputs;  // set during the call
  std::string plugin;                          // the plugin that ran it
  std::vector<CloudCall> cloud_calls;          // side effects sent, for the audit trail
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;

  // Runs `step` of `onboarding` (a snapshot; the step's outputs from earlier
  // attempts and the outputs of earlier steps are in it). Blocking;
  // thread-safe. Every failure is an outcome, never a crash: an unknown
  // tenant or plugin, or a plugin that throws, is kFailed with the reason.
  virtual StepOutcome Run(const Onboarding& onboarding, StepKind step) = 0;

  // The name of the plugin that runs `step` for `tenant`; NOT_FOUND for an
  // unknown tenant.
  virtual absl::StatusOr<std::string> PluginFor(absl::string_view tenant, StepKind step) = 0;
};

}  // namespace guestflow
