#include "client/names.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

using ::testing::HasSubstr;

TEST(NormalizeOnboardingNameTest, AcceptsBareIdAndFullName) {
  EXPECT_EQ(NormalizeOnboardingName("abc").value(), "onboardings/abc");
  EXPECT_EQ(NormalizeOnboardingName("onboardings/abc").value(), "onboardings/abc");
  EXPECT_EQ(NormalizeOnboardingName("  onboardings/7f3c-2a \n").value(), "onboardings/7f3c-2a");
}

TEST(NormalizeOnboardingNameTest, RefusesOtherCollectionsAndBadIds) {
  for (const char* text : {"", "  ", "onboardings/", "batches/abc", "a/b", "onboardings/a/b",
                           "ab c", "onboardings/a b"}) {
    const absl::StatusOr<std::string> name = NormalizeOnboardingName(text);
    EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument) << "'" << text << "'";
  }
  EXPECT_THAT(NormalizeOnboardingName("batches/abc").status().message(),
              HasSubstr("onboardings/ID"));
}

TEST(NormalizeBatchNameTest, PrefixesBatches) {
  EXPECT_EQ(NormalizeBatchName("b1").value(), "batches/b1");
  EXPECT_EQ(NormalizeBatchName("batches/b1").value(), "batches/b1");
  EXPECT_FALSE(NormalizeBatchName("onboardings/b1").ok());
}

TEST(NormalizeCloudCallParentTest, OnboardingsBareIdsAndTenants) {
  EXPECT_EQ(NormalizeCloudCallParent("7f3c2a").value(), "onboardings/7f3c2a");
  EXPECT_EQ(NormalizeCloudCallParent("onboardings/7f3c2a").value(), "onboardings/7f3c2a");
  EXPECT_EQ(NormalizeCloudCallParent(" tenants/contoso\n").value(), "tenants/contoso");
}

TEST(NormalizeCloudCallParentTest, RefusesOtherCollectionsAndBadIds) {
  for (const char* text : {"", "tenants/", "onboardings/", "tenants/a b", "tenants/a/b",
                           "batches/b1", "tenant/contoso", "/x"}) {
    const absl::StatusOr<std::string> parent = NormalizeCloudCallParent(text);
    EXPECT_EQ(parent.status().code(), absl::StatusCode::kInvalidArgument) << "'" << text << "'";
  }
  EXPECT_EQ(NormalizeCloudCallParent("batches/b1").status().message(),
            "'batches/b1' is not of the form onboardings/ID, tenants/TENANT or just ID");
  EXPECT_THAT(NormalizeCloudCallParent("tenants/").status().message(),
              HasSubstr("empty tenants id"));
}

TEST(ParseOnboardingStateTest, AcceptsEveryCaseAndTheFullEnumName) {
  for (const char* text : {"failed", "FAILED", "Failed", "ONBOARDING_STATE_FAILED",
                           "onboarding_state_failed", " failed "}) {
    EXPECT_EQ(ParseOnboardingState(text).value(), v1::ONBOARDING_STATE_FAILED) << text;
  }
  EXPECT_EQ(ParseOnboardingState("queued").value(), v1::ONBOARDING_STATE_QUEUED);
  EXPECT_EQ(ParseOnboardingState("running").value(), v1::ONBOARDING_STATE_RUNNING);
  EXPECT_EQ(ParseOnboardingState("waiting").value(), v1::ONBOARDING_STATE_WAITING);
  EXPECT_EQ(ParseOnboardingState("succeeded").value(), v1::ONBOARDING_STATE_SUCCEEDED);
  EXPECT_EQ(ParseOnboardingState("cancelled").value(), v1::ONBOARDING_STATE_CANCELLED);
}

TEST(ParseOnboardingStateTest, RefusesUnknownWordsAndUnspecifiedListingTheValidOnes) {
  for (const char* text :
       {"", "done", "unspecified", "ONBOARDING_STATE_UNSPECIFIED", "5", "STEP_STATE_FAILED"}) {
    const auto state = ParseOnboardingState(text);
    ASSERT_FALSE(state.ok()) << text;
    EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(ParseOnboardingState("done").status().message(),
              HasSubstr("queued, running, waiting, succeeded, failed, cancelled"));
}

TEST(EnumTextTest, StripsPrefixes) {
  EXPECT_EQ(OnboardingStateText(v1::ONBOARDING_STATE_SUCCEEDED), "SUCCEEDED");
  EXPECT_EQ(OnboardingStateText(static_cast<v1::OnboardingState>(42)), "STATE_42");
  EXPECT_EQ(StepKindText(v1::STEP_KIND_LICENSE), "license");
  EXPECT_EQ(StepKindText(v1::STEP_KIND_UNSPECIFIED), "-");
  EXPECT_EQ(StepKindText(static_cast<v1::StepKind>(9)), "step_9");
  EXPECT_EQ(StepStateText(v1::STEP_STATE_WAITING), "WAITING");
}

TEST(IsTerminalTest, OnlyTheThreeEndStates) {
  EXPECT_TRUE(IsTerminal(v1::ONBOARDING_STATE_SUCCEEDED));
  EXPECT_TRUE(IsTerminal(v1::ONBOARDING_STATE_FAILED));
  EXPECT_TRUE(IsTerminal(v1::ONBOARDING_STATE_CANCELLED));
  EXPECT_FALSE(IsTerminal(v1::ONBOARDING_STATE_QUEUED));
  EXPECT_FALSE(IsTerminal(v1::ONBOARDING_STATE_RUNNING));
  EXPECT_FALSE(IsTerminal(v1::ONBOARDING_STATE_WAITING));
  EXPECT_FALSE(IsTerminal(v1::ONBOARDING_STATE_UNSPECIFIED));
}

}  // namespace
}  // namespace guestflow::cli
