// Helpers for Store tests: status assertions, onboarding builders and a
// field-by-field comparison. Shared by the contract suite
// (store_contract_test.h) and implementation-specific tests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/model/onboarding.h"
#include "server/store/store.h"

#define GF_STORE_TEST_CONCAT_INNER_(a, b) a##b
#define GF_STORE_TEST_CONCAT_(a, b) GF_STORE_TEST_CONCAT_INNER_(a, b)

// `GF_ASSERT_OK_AND_ASSIGN(auto x, F());` fails the test (and returns) when
// F() is not OK, otherwise assigns its value.
#ifndef GF_ASSERT_OK_AND_ASSIGN
#define GF_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  GF_ASSERT_OK_AND_ASSIGN_IMPL_(GF_STORE_TEST_CONCAT_(gf_statusor_, __LINE__), lhs, expr)
#define GF_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  ASSERT_TRUE(tmp.ok()) << tmp.status();              \
  lhs = std::move(tmp).value()
#endif
#ifndef GF_ASSERT_OK
#define GF_ASSERT_OK(expr)                      \
  do {                                          \
    const ::absl::Status gf_status_ = (expr);   \
    ASSERT_TRUE(gf_status_.ok()) << gf_status_; \
  } while (false)
#endif

namespace guestflow::testing {

// A moment with no sub-microsecond part (the store keeps microseconds).
inline const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

// A plausible new onboarding: five PENDING steps, due at `create_time`.
inline Onboarding NewOnboarding(absl::string_view id, absl::string_view tenant = "contoso",
                                absl::Time create_time = kT0) {
  Onboarding o;
  o.id = std::string(id);
  o.tenant = std::string(tenant);
  o.guest = {"ada@example.com", "Ada", "Lovelace", "Ada Lovelace", "GB"};
  o.state = OnboardingState::kQueued;
  for (StepKind kind : kAllSteps) {
    Step step;
    step.kind = kind;
    step.state = StepState::kPending;
    step.plugin = std::string(PluginKindOf(kind));
    o.steps.push_back(step);
  }
  o.create_time = create_time;
  o.update_time = create_time;
  o.due_time = create_time;
  return o;
}

inline OnboardingEvent NewEvent(absl::string_view type, absl::Time time = kT0,
                                std::optional<StepKind> step = std::nullopt,
                                absl::string_view message = "") {
  OnboardingEvent event;
  event.time = time;
  event.type = std::string(type);
  event.step = step;
  event.message = std::string(message);
  return event;
}

// Every field of the record set to something that is not its default, with
// text that JSON and SQL must escape.
inline Onboarding FullyPopulatedOnboarding(absl::string_view id) {
  Onboarding o = NewOnboarding(id, "fabrikam", kT0 + absl::Microseconds(123456));
  o.guest = {"zoë.o'neil@example.com", "Zoë", "O'Neil", "Zoë \"Z\" O'Neil", "IE"};
  o.options.roles = {"Salesperson", "Customer Service Representative", "r\u00f4le;--"};
  o.options.send_invitation_message = true;
  o.options.invitation_message = "Welcome!\nLine two \"quoted\" \\ backslash";
  o.options.update_dynamics_email = false;
  o.state = OnboardingState::kWaiting;
  o.request_id = "req-42";
  o.request_fingerprint = "sha256:abcdef";
  o.batch_id = "batch-7";
  o.error = "license: no seats left";
  o.instance_url = "https://fabrikam.crm4.dynamics.com";
  o.requested_by = "ipv4:10.1.2.3:50311";
  o.update_time = kT0 + absl::Seconds(90);
  o.finish_time = kT0 + absl::Hours(2);
  o.due_time = kT0 + absl::Minutes(5);
  Step& invite = o.steps[0];
  invite.state = StepState::kSucceeded;
  invite.plugin = "graph_invite";
  invite.attempts = 1;
  invite.start_time = kT0 + absl::Seconds(1);
  invite.finish_time = kT0 + absl::Seconds(2);
  invite.outputs = {
      {"user_id", "8f1c-44"}, {"redeem_url", "https://x/?a=1&b=\"2\""}, {"note", "multi\nline ü"}};
  Step& profile = o.steps[1];
  profile.state = StepState::kWaiting;
  profile.attempts = 3;
  profile.last_error = "user not replicated yet";
  profile.next_attempt_time = kT0 + absl::Minutes(5);
  profile.start_time = kT0 + absl::Seconds(3);
  profile.wait_since = kT0 + absl::Seconds(4);
  o.steps[2].state = StepState::kFailed;
  o.steps[3].state = StepState::kCancelled;
  o.steps[4].state = StepState::kRunning;
  return o;
}

inline void ExpectSameStep(const Step& want, const Step& got) {
  SCOPED_TRACE(absl::StrCat("step ", StepName(want.kind)));
  EXPECT_EQ(StepName(got.kind), StepName(want.kind));
  EXPECT_EQ(StepStateName(got.state), StepStateName(want.state));
  EXPECT_EQ(got.plugin, want.plugin);
  EXPECT_EQ(got.attempts, want.attempts);
  EXPECT_EQ(got.last_error, want.last_error);
  EXPECT_EQ(got.next_attempt_time, want.next_attempt_time);
  EXPECT_EQ(got.start_time, want.start_time);
  EXPECT_EQ(got.finish_time, want.finish_time);
  EXPECT_EQ(got.wait_since, want.wait_since);
  EXPECT_EQ(got.outputs, want.outputs);
}

// Compares every field but `version`, which the caller checks.
inline void ExpectSameOnboarding(const Onboarding& want, const Onboarding& got) {
  SCOPED_TRACE(absl::StrCat("onboarding ", want.id));
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.tenant, want.tenant);
  EXPECT_EQ(got.guest.email, want.guest.email);
  EXPECT_EQ(got.guest.first_name, want.guest.first_name);
  EXPECT_EQ(got.guest.last_name, want.guest.last_name);
  EXPECT_EQ(got.guest.display_name, want.guest.display_name);
  EXPECT_EQ(got.guest.usage_location, want.guest.usage_location);
  EXPECT_EQ(got.options.roles, want.options.roles);
  EXPECT_EQ(got.options.send_invitation_message, want.options.send_invitation_message);
  EXPECT_EQ(got.options.invitation_message, want.options.invitation_message);
  EXPECT_EQ(got.options.update_dynamics_email, want.options.update_dynamics_email);
  EXPECT_EQ(OnboardingStateName(got.state), OnboardingStateName(want.state));
  EXPECT_EQ(got.request_id, want.request_id);
  EXPECT_EQ(got.request_fingerprint, want.request_fingerprint);
  EXPECT_EQ(got.batch_id, want.batch_id);
  EXPECT_EQ(got.error, want.error);
  EXPECT_EQ(got.instance_url, want.instance_url);
  EXPECT_EQ(got.requested_by, want.requested_by);
  EXPECT_EQ(got.create_time, want.create_time);
  EXPECT_EQ(got.update_time, want.update_time);
  EXPECT_EQ(got.finish_time, want.finish_time);
  EXPECT_EQ(got.due_time, want.due_time);
  ASSERT_EQ(got.steps.size(), want.steps.size());
  for (size_t i = 0; i < want.steps.size(); ++i) ExpectSameStep(want.steps[i], got.steps[i]);
}

// Builds a ListOnboardingsQuery: Query().Tenant("contoso").PageSize(4).
class Query {
 public:
  Query& Tenant(absl::string_view tenant) {
    query_.tenant = std::string(tenant);
    return *this;
  }
  Query& TenantIn(std::vector<std::string> tenants) {
    query_.tenant_in = std::move(tenants);
    return *this;
  }
  Query& State(OnboardingState state) {
    query_.state = state;
    return *this;
  }
  Query& Batch(absl::string_view batch_id) {
    query_.batch_id = std::string(batch_id);
    return *this;
  }
  Query& PageSize(int page_size) {
    query_.page_size = page_size;
    return *this;
  }
  Query& PageToken(absl::string_view token) {
    query_.page_token = std::string(token);
    return *this;
  }
  operator ListOnboardingsQuery() const { return query_; }  // NOLINT: a builder

 private:
  ListOnboardingsQuery query_;
};

// The value of `result`, or T() after a failed expectation.
template <typename T>
T OkValue(absl::StatusOr<T> result) {
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : T();
}

inline std::vector<std::string> Ids(const std::vector<Onboarding>& onboardings) {
  std::vector<std::string> ids;
  for (const Onboarding& o : onboardings) ids.push_back(o.id);
  return ids;
}

}  // namespace guestflow::testing
