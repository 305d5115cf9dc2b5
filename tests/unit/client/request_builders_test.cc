#include "client/request_builders.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

using ::testing::ElementsAre;

TEST(BuildStartOnboardingRequestTest, CopiesEveryField) {
  OnboardArgs args;
  args.tenant = "contoso";
  args.email = "ada@example.com";
  args.first_name = "Ada";
  args.last_name = "Lovelace";
  args.display_name = "Ada L.";
  args.usage_location = "GB";
  args.options.roles = {"Salesperson", "Sales Manager"};
  args.options.send_invitation_message = false;
  args.options.invitation_message = "Welcome";
  args.options.update_dynamics_email = true;
  args.request_id = "r-1";
  args.validate_only = true;

  const v1::StartOnboardingRequest request = BuildStartOnboardingRequest(args);
  EXPECT_EQ(request.tenant(), "contoso");
  EXPECT_EQ(request.guest().email(), "ada@example.com");
  EXPECT_EQ(request.guest().first_name(), "Ada");
  EXPECT_EQ(request.guest().last_name(), "Lovelace");
  EXPECT_EQ(request.guest().display_name(), "Ada L.");
  EXPECT_EQ(request.guest().usage_location(), "GB");
  EXPECT_THAT(request.options().roles(), ElementsAre("Salesperson", "Sales Manager"));
  ASSERT_TRUE(request.options().has_send_invitation_message());
  EXPECT_FALSE(request.options().send_invitation_message());
  EXPECT_EQ(request.options().invitation_message(), "Welcome");
  ASSERT_TRUE(request.options().has_update_dynamics_email());
  EXPECT_TRUE(request.options().update_dynamics_email());
  EXPECT_FALSE(request.options().approve_mailbox());
  EXPECT_FALSE(request.options().enable_server_side_sync());
  EXPECT_EQ(request.request_id(), "r-1");
  EXPECT_TRUE(request.validate_only());
}

TEST(BuildOnboardingOptionsTest, UnsetFlagsStayUnsetForTheTenantToDecide) {
  const v1::OnboardingOptions options = BuildOnboardingOptions(GuestOptionFlags());
  EXPECT_FALSE(options.has_send_invitation_message());
  EXPECT_FALSE(options.has_update_dynamics_email());
  EXPECT_EQ(options.roles_size(), 0);
}

TEST(BuildBatchHeaderRequestTest, HeaderCarriesTenantIdAndOptions) {
  ImportArgs args;
  args.tenant = "contoso";
  args.request_id = "b-1";
  args.validate_only = true;
  args.options.roles = {"Salesperson"};
  args.usage_location = "GB";
  const v1::CreateBatchRequest request = BuildBatchHeaderRequest(args);
  ASSERT_TRUE(request.has_header());
  EXPECT_EQ(request.header().tenant(), "contoso");
  EXPECT_EQ(request.header().request_id(), "b-1");
  EXPECT_TRUE(request.header().validate_only());
  EXPECT_THAT(request.header().options().roles(), ElementsAre("Salesperson"));
  EXPECT_EQ(request.header().usage_location(), "GB");
}

}  // namespace
}  // namespace guestflow::cli
