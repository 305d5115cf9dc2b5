#include "client/onboarding_text.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Onboarding Parse(const std::string& text) {
  v1::Onboarding onboarding;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &onboarding));
  return onboarding;
}

// 2026-11-28T10:04:05Z and 65 seconds later.
const char kFailedOnboarding[] = R"pb(
  name: "onboardings/a1"
  tenant: "contoso"
  guest { email: "ada@example.com" first_name: "Ada" last_name: "Lovelace" usage_location: "GB" }
  options { roles: "Salesperson" roles: "Sales Manager" }
  state: ONBOARDING_STATE_FAILED
  error: "license: no free seats\nfor DYN365"
  request_id: "r-1"
  instance_url: "https://contoso.crm.dynamics.com"
  create_time { seconds: 1795860245 }
  update_time { seconds: 1795860310 }
  finish_time { seconds: 1795860310 }
  steps {
    kind: STEP_KIND_INVITE
    state: STEP_STATE_SUCCEEDED
    plugin: "graph_invite"
    attempts: 1
    outputs { key: "invited_user_id" value: "u-1" }
    outputs { key: "invite_redeem_url" value: "https://redeem" }
  }
  steps {
    kind: STEP_KIND_LICENSE
    state: STEP_STATE_FAILED
    plugin: "graph_license"
    attempts: 3
    last_error: "no free seats for DYN365_ENTERPRISE_PLAN1 in contoso; buy more or free one"
  }
  steps { kind: STEP_KIND_ROLE state: STEP_STATE_PENDING plugin: "dataverse_role" }
)pb";

TEST(RenderOnboardingSummaryTest, NameStateAndError) {
  EXPECT_EQ(
      RenderOnboardingSummary(Parse(R"pb(name: "onboardings/a" state: ONBOARDING_STATE_QUEUED)pb")),
      "onboardings/a QUEUED");
  EXPECT_EQ(RenderOnboardingSummary(Parse(kFailedOnboarding)),
            "onboardings/a1 FAILED: license: no free seats for DYN365");
}

TEST(RenderOnboardingDetailTest, BlockThenStepsThenSortedOutputs) {
  EXPECT_EQ(
      RenderOnboardingDetail(Parse(kFailedOnboarding), /*terminal=*/false),
      "name:       onboardings/a1\n"
      "tenant:     contoso\n"
      "guest:      Ada Lovelace <ada@example.com>, usage location GB\n"
      "state:      FAILED\n"
      "error:      license: no free seats for DYN365\n"
      "request id: r-1\n"
      "instance:   https://contoso.crm.dynamics.com\n"
      "roles:      Salesperson, Sales Manager\n"
      "created:    2026-11-28T10:04:05Z\n"
      "updated:    2026-11-28T10:05:10Z\n"
      "finished:   2026-11-28T10:05:10Z (took 1m05s)\n"
      "\n"
      "STEP     STATE      ATTEMPTS  PLUGIN          LAST-ERROR\n"
      "invite   SUCCEEDED  1         graph_invite    -\n"
      "license  FAILED     3         graph_license   no free seats for DYN365_ENTERPRISE_PLAN1 "
      "in contoso; buy more or free one\n"
      "role     PENDING    0         dataverse_role  -\n"
      "\n"
      "outputs:\n"
      "  invite.invite_redeem_url = https://redeem\n"
      "  invite.invited_user_id   = u-1\n");
}

TEST(RenderOnboardingDetailTest, TerminalCutsLongStepErrors) {
  const std::string text = RenderOnboardingDetail(Parse(kFailedOnboarding), /*terminal=*/true);
  EXPECT_THAT(text, HasSubstr("no free seats for DYN365_ENTERPRISE_PLAN1 in contoso; buy m…"));
  EXPECT_THAT(text, Not(HasSubstr("more or free one")));
}

TEST(RenderOnboardingDetailTest, WaitingStepsSayWhenTheyRunAgainAndEmptyFieldsAreDashes) {
  const std::string text = RenderOnboardingDetail(Parse(R"pb(
                                                    name: "onboardings/w"
                                                    guest { email: "x@example.com" }
                                                    state: ONBOARDING_STATE_WAITING
                                                    steps {
                                                      kind: STEP_KIND_ROLE
                                                      state: STEP_STATE_WAITING
                                                      attempts: 2
                                                      last_error: "userNotLicensed"
                                                      next_attempt_time { seconds: 1795860245 }
                                                    }
                                                  )pb"),
                                                  false);
  EXPECT_THAT(text, HasSubstr("guest:      <x@example.com>\n"));
  EXPECT_THAT(text, HasSubstr("error:      -\n"));
  EXPECT_THAT(text, HasSubstr("finished:   -\n"));
  EXPECT_THAT(text, HasSubstr("role runs again at 2026-11-28T10:04:05Z\n"));
  EXPECT_THAT(text, HasSubstr("outputs:    -\n"));
  EXPECT_THAT(text, Not(HasSubstr("batch:")));
}

TEST(RenderOnboardingTableTest, OneRowPerOnboarding) {
  v1::ListOnboardingsResponse response;
  *response.add_onboardings() = Parse(kFailedOnboarding);
  *response.add_onboardings() = Parse(R"pb(
    name: "onboardings/b2"
    tenant: "fabrikam"
    guest { email: "bo@example.org" }
    state: ONBOARDING_STATE_RUNNING
  )pb");
  EXPECT_EQ(RenderOnboardingTable(response.onboardings()),
            "NAME            TENANT    EMAIL            STATE    UPDATED\n"
            "onboardings/a1  contoso   ada@example.com  FAILED   2026-11-28T10:05:10Z\n"
            "onboardings/b2  fabrikam  bo@example.org   RUNNING  -\n");
}

TEST(RenderEventLineTest, TimeStepTypeMessageAligned) {
  v1::OnboardingEvent event;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
                                                              sequence: 3
                                                              time { seconds: 1795860245 }
                                                              type: "step_started"
                                                              step: STEP_KIND_INVITE
                                                              message: "inviting ada@example.com"
                                                            )pb",
                                                            &event));
  EXPECT_EQ(RenderEventLine(event),
            "2026-11-28T10:04:05Z  invite   step_started    inviting ada@example.com");
  event.set_step(v1::STEP_KIND_UNSPECIFIED);
  event.set_type("created");
  event.set_message("line one\nline two");
  EXPECT_EQ(RenderEventLine(event),
            "2026-11-28T10:04:05Z  -        created         line one line two");
}

// An answered call and one that timed out, 2026-11-28T10:04:05Z and 5 s later.
const char kCloudCalls[] = R"pb(
  cloud_calls {
    onboarding: "onboardings/a1"
    tenant: "contoso"
    step: STEP_KIND_INVITE
    plugin: "azure_ad_invite"
    actor: "gf-1/4242/ab12"
    time { seconds: 1795860245 }
    duration { nanos: 850000000 }
    method: "POST"
    url: "https://graph.microsoft.com/v1.0/invitations"
    service: "graph"
    http_status: 201
    request_id: "r-1"
  }
  cloud_calls {
    onboarding: "onboardings/a1"
    tenant: "contoso"
    step: STEP_KIND_ROLE
    plugin: "dataverse_role"
    actor: "gf-2/77/cd34"
    time { seconds: 1795860250 }
    duration { seconds: 30 }
    method: "POST"
    url: "https://contoso.crm.dynamics.com/api/data/v9.2/systemusers(u-1)/systemuserroles_association/$ref"
    service: "dataverse"
    transport_error: "timeout after 30s:\nno answer from the server"
  }
)pb";

v1::ListCloudCallsResponse ParseCloudCalls() {
  v1::ListCloudCallsResponse response;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kCloudCalls, &response));
  return response;
}

TEST(RenderCloudCallTableTest, OneRowPerCallWithTheTransportErrorAsStatus) {
  EXPECT_EQ(RenderCloudCallTable(ParseCloudCalls().cloud_calls(), /*with_onboarding=*/false,
                                 /*terminal=*/false),
            "TIME                  STEP    METHOD  STATUS                                        "
            "DURATION  REQUEST-ID  ACTOR           URL\n"
            "2026-11-28T10:04:05Z  invite  POST    201                                           "
            "850ms     r-1         gf-1/4242/ab12  https://graph.microsoft.com/v1.0/invitations\n"
            "2026-11-28T10:04:10Z  role    POST    timeout after 30s: no answer from the server  "
            "30s       -           gf-2/77/cd34    "
            "https://contoso.crm.dynamics.com/api/data/v9.2/systemusers(u-1)/"
            "systemuserroles_association/$ref\n");
}

TEST(RenderCloudCallTableTest, ATenantsCallsNameTheirOnboardingAndTerminalsCutTheError) {
  const std::string text = RenderCloudCallTable(ParseCloudCalls().cloud_calls(),
                                                /*with_onboarding=*/true, /*terminal=*/true);
  EXPECT_THAT(text, ::testing::StartsWith("TIME                  ONBOARDING      STEP    METHOD  "
                                          "STATUS                            DURATION  "));
  EXPECT_THAT(text, HasSubstr("2026-11-28T10:04:05Z  onboardings/a1  invite  POST    201     "));
  EXPECT_THAT(text, HasSubstr("  timeout after 30s: no answer fr…  30s  "));
  EXPECT_THAT(text, HasSubstr("/systemuserroles_association/$ref\n"));  // URLs are never cut
}

TEST(RenderCloudCallTableTest, NoCallsIsTheHeaderAlone) {
  EXPECT_EQ(RenderCloudCallTable({}, /*with_onboarding=*/false, /*terminal=*/true),
            "TIME  STEP  METHOD  STATUS  DURATION  REQUEST-ID  ACTOR  URL\n");
}

}  // namespace
}  // namespace guestflow::cli
