// The callers of every test configuration and their tokens. The admin's is
// the well-known local development token of deploy/guestflowd.demo.yaml, so
// that tests running the demo configuration use the same one. The others
// serve the authorization tests (tests/integration/authorization_test.cc).
#pragma once

namespace guestflow::test_callers {

inline constexpr char kAdminToken[] = "gft_local-development-admin-0f3b6e2a";
inline constexpr char kOperatorToken[] = "gft_test-operator-7c1d";
inline constexpr char kReaderToken[] = "gft_test-reader-4e9a";

// A `callers:` section: admin, operator and reader of every tenant. Appended
// to a test's configuration (it refers to no tenant by name).
inline constexpr char kCallersYaml[] = R"(
callers:
  - name: test-admin
    role: admin
    tenants: ["*"]
    token_hash: sha256:5eed0f3b6e2a11d49c07a1b2c3d4e5f6:88fbfbd478529bc284cc024ba201447d4305e745b23803065c86045056a13000
  - name: test-operator
    role: operator
    tenants: ["*"]
    token_hash: sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f9:cfe21e0f2f40af5232debd777ec3dea3957d336afe70a07bb1c484fa208487c1
  - name: test-reader
    role: reader
    tenants: ["*"]
    token_hash: sha256:f0e1d2c3b4a5968778695a4b3c2d1e0f:b60ac414306ab070fc87b0e55481c205cd3886070a99614909eeaefd70a06b66
)";

}  // namespace guestflow::test_callers
