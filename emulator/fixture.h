// Loads the emulated cloud from a fixture file (YAML): tenants, apps and their
// secrets (test values: this is the fake cloud), SKUs and seats, groups,
// environments with business units and roles, pre-existing users, and knobs.
// See emulator/fixtures/demo.yaml for every key.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "emulator/cloud_state.h"

namespace guestflow::emulator {

struct Fixture {
  std::vector<Tenant> tenants;
  Knobs knobs;
};

// INVALID_ARGUMENT naming the file and key for a malformed fixture.
absl::StatusOr<Fixture> LoadFixtureFile(const std::string& path);
absl::StatusOr<Fixture> ParseFixture(const std::string& yaml_text, const std::string& source);

// Applies a JSON object of knobs (same keys as the fixture's `knobs`) over
// `knobs`; INVALID_ARGUMENT for an unknown key or a bad value.
absl::Status ApplyKnobs(const std::string& json_text, Knobs& knobs);

}  // namespace guestflow::emulator
