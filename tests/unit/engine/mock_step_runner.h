// A gMock StepRunner, for tests that drive the engine and the scheduler with
// scripted step outcomes.
#pragma once

#include <string>

#include "gmock/gmock.h"
#include "server/engine/step_runner.h"

namespace guestflow::testing {

class MockStepRunner : public StepRunner {
 public:
  MOCK_METHOD(StepOutcome, Run, (const Onboarding&, StepKind), (override));
  MOCK_METHOD(absl::StatusOr<std::string>, PluginFor, (absl::string_view, StepKind), (override));
};

}  // namespace guestflow::testing
