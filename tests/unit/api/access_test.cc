// Access::Admit over a configuration that changes: a bearer token that
// matched is remembered by its digest, and forgotten when the callers
// change (a reload), so that a removed caller's token is refused at once.
#include "server/api/access.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/caller_token.h"

namespace guestflow {
namespace {

using ::testing::HasSubstr;

constexpr char kReaderToken[] = "gft_access-test-reader-1";
constexpr char kOperatorToken[] = "gft_access-test-operator-2";

CallerConfig WithToken(std::string name, CallerRole role, std::vector<std::string> tenants,
                       absl::string_view token) {
  CallerConfig c;
  c.name = std::move(name);
  c.role = role;
  c.tenants = std::move(tenants);
  absl::StatusOr<std::string> hash = HashCallerToken(token);
  EXPECT_TRUE(hash.ok()) << hash.status();
  // "sha256:<salt>:<digest>", as the config loader splits it.
  std::vector<std::string> parts = absl::StrSplit(hash.value_or("sha256::"), ':');
  c.token_salt_hex = parts[1];
  c.token_digest_hex = parts[2];
  return c;
}

PresentedCredentials Bearer(absl::string_view token) {
  PresentedCredentials p;
  p.authorization = absl::StrCat("Bearer ", token);
  return p;
}

class AccessTest : public ::testing::Test {
 protected:
  AccessTest() {
    SetCallers({WithToken("dashboard", CallerRole::kReader, {"contoso"}, kReaderToken),
                WithToken("hr-portal", CallerRole::kOperator, {"contoso"}, kOperatorToken)});
  }

  // What a reload does: a new Config.
  void SetCallers(std::vector<CallerConfig> callers) {
    auto config = std::make_shared<Config>();
    config->callers = std::move(callers);
    absl::MutexLock lock(&mu_);
    config_ = std::move(config);
  }

  absl::Mutex mu_;
  std::shared_ptr<const Config> config_ ABSL_GUARDED_BY(mu_);
  Access access_{[this] {
    absl::MutexLock lock(&mu_);
    return config_;
  }};
};

TEST_F(AccessTest, AKnownTokenIsAdmittedAgainWithTheSameCallerAndRole) {
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Caller> caller = access_.Admit(Bearer(kReaderToken), CallerRole::kReader, "Get");
    ASSERT_TRUE(caller.ok()) << caller.status();
    EXPECT_EQ(caller->name, "dashboard");
    EXPECT_EQ(caller->tenants, std::vector<std::string>{"contoso"});
    // The role is checked at every call, remembered token or not.
    absl::StatusOr<Caller> start =
        access_.Admit(Bearer(kReaderToken), CallerRole::kOperator, "StartOnboarding");
    EXPECT_EQ(start.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(start.status().message(), HasSubstr("dashboard"));
  }
  absl::StatusOr<Caller> op = access_.Admit(Bearer(kOperatorToken), CallerRole::kOperator, "Start");
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->name, "hr-portal");
}

TEST_F(AccessTest, UnknownAndMalformedCredentialsAreRefusedAsBefore) {
  ASSERT_TRUE(access_.Admit(Bearer(kReaderToken), CallerRole::kReader, "Get").ok());
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Caller> wrong = access_.Admit(Bearer("gft_wrong"), CallerRole::kReader, "Get");
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(wrong.status().message(), HasSubstr("matches no caller"));
  }
  PresentedCredentials basic;
  basic.authorization = "Basic dXNlcjpwYXNz";
  EXPECT_EQ(access_.Admit(basic, CallerRole::kReader, "Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(access_.Admit(PresentedCredentials{}, CallerRole::kReader, "Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  // A token with a different case or blanks around it is the same token as
  // Authenticate reads it.
  PresentedCredentials spaced;
  spaced.authorization = absl::StrCat("  bearer   ", kReaderToken, " ");
  EXPECT_TRUE(access_.Admit(spaced, CallerRole::kReader, "Get").ok());
}

TEST_F(AccessTest, AReloadThatRemovesACallerRefusesItsRememberedToken) {
  ASSERT_TRUE(access_.Admit(Bearer(kReaderToken), CallerRole::kReader, "Get").ok());
  ASSERT_TRUE(access_.Admit(Bearer(kReaderToken), CallerRole::kReader, "Get").ok());
  SetCallers({WithToken("hr-portal", CallerRole::kOperator, {"contoso"}, kOperatorToken)});
  absl::StatusOr<Caller> removed = access_.Admit(Bearer(kReaderToken), CallerRole::kReader, "Get");
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kUnauthenticated) << removed.status();
  EXPECT_TRUE(access_.Admit(Bearer(kOperatorToken), CallerRole::kReader, "Get").ok());
}

TEST_F(AccessTest, AReloadThatChangesACallersGrantsTakesEffectAtOnce) {
  absl::StatusOr<Caller> before = access_.Admit(Bearer(kReaderToken), CallerRole::kReader, "Get");
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->MayUse("fabrikam"));
  // The same token, now another caller's, with other tenants and role.
  SetCallers({WithToken("dashboard-2", CallerRole::kOperator, {"fabrikam"}, kReaderToken)});
  absl::StatusOr<Caller> after =
      access_.Admit(Bearer(kReaderToken), CallerRole::kOperator, "Start");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->name, "dashboard-2");
  EXPECT_TRUE(after->MayUse("fabrikam"));
  EXPECT_FALSE(after->MayUse("contoso"));
}

}  // namespace
}  // namespace guestflow
