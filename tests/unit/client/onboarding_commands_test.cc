#include "client/onboarding_commands.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "client/exit_codes.h"
#include "client/names.h"
#include "fake_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace guestflow::cli {
namespace {

using ::guestflow::cli::testing::FakeServer;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::Onboarding MakeOnboarding(const std::string& name, v1::OnboardingState state,
                              const std::string& error = "") {
  v1::Onboarding onboarding;
  onboarding.set_name(name);
  onboarding.set_tenant("contoso");
  onboarding.mutable_guest()->set_email("ada@example.com");
  onboarding.set_state(state);
  onboarding.set_error(error);
  return onboarding;
}

v1::WatchOnboardingResponse MakeEvent(int64_t sequence, const std::string& type, v1::StepKind step,
                                      v1::OnboardingState state) {
  v1::WatchOnboardingResponse response;
  response.mutable_event()->set_sequence(sequence);
  response.mutable_event()->mutable_time()->set_seconds(1795860245 + sequence);
  response.mutable_event()->set_type(type);
  response.mutable_event()->set_step(step);
  response.mutable_event()->set_message(type + " message");
  *response.mutable_onboarding() = MakeOnboarding("onboardings/w", state);
  return response;
}

// Every line of `text`, empty ones included.
std::vector<std::string> AllLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

OnboardArgs AdaArgs() {
  OnboardArgs args;
  args.tenant = "contoso";
  args.email = "ada@example.com";
  args.first_name = "Ada";
  args.last_name = "Lovelace";
  args.usage_location = "GB";
  return args;
}

// Streams `events` and ends OK.
auto StreamOf(const std::vector<v1::WatchOnboardingResponse>& events) {
  return [events](grpc::ServerContext*, const v1::WatchOnboardingRequest&,
                  grpc::ServerWriter<v1::WatchOnboardingResponse>* writer) {
    for (const auto& event : events) writer->Write(event);
    return grpc::Status::OK;
  };
}

TEST(RunOnboardTest, SendsAFreshUuidRequestIdAndPrintsNameStateAndId) {
  FakeServer server;
  server.onboarding.on_start = [](const v1::StartOnboardingRequest&, v1::Onboarding* out) {
    *out = MakeOnboarding("onboardings/n1", v1::ONBOARDING_STATE_QUEUED);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  ASSERT_EQ(RunOnboard(server.ctx, AdaArgs()), kExitOk) << server.err.str();
  ASSERT_EQ(server.onboarding.starts.size(), 1u);
  // A copy: the second run below appends to `starts`, which may move it.
  const v1::StartOnboardingRequest sent = server.onboarding.starts[0];
  EXPECT_EQ(sent.tenant(), "contoso");
  EXPECT_EQ(sent.guest().email(), "ada@example.com");
  EXPECT_TRUE(std::regex_match(
      sent.request_id(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << sent.request_id();
  EXPECT_EQ(server.out.str(), "onboardings/n1 QUEUED\nrequest id: " + sent.request_id() + "\n");
  EXPECT_THAT(server.err.str(), IsEmpty());

  // A second run is a new request, with a new id.
  ASSERT_EQ(RunOnboard(server.ctx, AdaArgs()), kExitOk);
  EXPECT_NE(server.onboarding.starts[1].request_id(), sent.request_id());
}

TEST(RunOnboardTest, RetriesUnavailableWithTheSameRequestId) {
  FakeServer server;
  std::atomic<int> calls{0};
  server.onboarding.on_start = [&calls](const v1::StartOnboardingRequest&, v1::Onboarding* out) {
    if (calls++ == 0) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining");
    *out = MakeOnboarding("onboardings/n1", v1::ONBOARDING_STATE_QUEUED);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  ASSERT_EQ(RunOnboard(server.ctx, AdaArgs()), kExitOk) << server.err.str();
  ASSERT_EQ(server.onboarding.starts.size(), 2u);
  EXPECT_FALSE(server.onboarding.starts[0].request_id().empty());
  EXPECT_EQ(server.onboarding.starts[0].request_id(), server.onboarding.starts[1].request_id());
}

TEST(RunOnboardTest, JsonCarriesTheRequestIdEvenIfTheServerDoesNotEchoIt) {
  FakeServer server;
  server.onboarding.on_start = [](const v1::StartOnboardingRequest&, v1::Onboarding* out) {
    *out = MakeOnboarding("", v1::ONBOARDING_STATE_UNSPECIFIED);  // validate_only: no name
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.json = true;
  OnboardArgs args = AdaArgs();
  args.request_id = "my-key";
  args.validate_only = true;

  ASSERT_EQ(RunOnboard(server.ctx, args), kExitOk) << server.err.str();
  EXPECT_TRUE(server.onboarding.starts[0].validate_only());
  EXPECT_EQ(server.onboarding.starts[0].request_id(), "my-key");
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 1u);
  const nlohmann::json json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json.at("requestId"), "my-key");
  EXPECT_EQ(json.at("tenant"), "contoso");
}

TEST(RunOnboardTest, ValidateOnlySaysNothingWasStored) {
  FakeServer server;
  server.onboarding.on_start = [](const v1::StartOnboardingRequest&, v1::Onboarding* out) {
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  OnboardArgs args = AdaArgs();
  args.validate_only = true;
  ASSERT_EQ(RunOnboard(server.ctx, args), kExitOk);
  EXPECT_EQ(server.out.str(),
            "valid: ada@example.com can be onboarded into contoso (nothing was stored)\n");
}

TEST(RunOnboardTest, ServerRefusalIsCodeAndMessageOnStderr) {
  FakeServer server;
  server.onboarding.on_start = [](const v1::StartOnboardingRequest&, v1::Onboarding*) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "usage location 'UK': use 'GB'");
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_EQ(RunOnboard(server.ctx, AdaArgs()), kExitError);
  EXPECT_EQ(server.err.str(), "error: INVALID_ARGUMENT: usage location 'UK': use 'GB'\n");
  EXPECT_THAT(server.out.str(), IsEmpty());
}

TEST(RunOnboardTest, WaitFollowsTheOnboardingAndExitsByItsEnd) {
  FakeServer server;
  server.onboarding.on_start = [](const v1::StartOnboardingRequest&, v1::Onboarding* out) {
    *out = MakeOnboarding("onboardings/w", v1::ONBOARDING_STATE_QUEUED);
    return grpc::Status::OK;
  };
  server.onboarding.on_watch =
      StreamOf({MakeEvent(1, "created", v1::STEP_KIND_UNSPECIFIED, v1::ONBOARDING_STATE_QUEUED),
                MakeEvent(2, "step_failed", v1::STEP_KIND_LICENSE, v1::ONBOARDING_STATE_FAILED)});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  OnboardArgs args = AdaArgs();
  args.wait = true;

  EXPECT_EQ(RunOnboard(server.ctx, args), kExitNotSucceeded);
  ASSERT_EQ(server.onboarding.watches.size(), 1u);
  EXPECT_EQ(server.onboarding.watches[0].name(), "onboardings/w");
  EXPECT_EQ(server.onboarding.watches[0].after_sequence(), 0);
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 5u) << server.out.str();
  EXPECT_EQ(lines[0], "onboardings/w QUEUED");
  EXPECT_THAT(lines[2], HasSubstr("created"));
  EXPECT_THAT(lines[3], HasSubstr("license  step_failed"));
  EXPECT_EQ(lines[4], "onboardings/w FAILED");
}

TEST(RunGetTest, PrintsTheBlockOrOneJsonLine) {
  FakeServer server;
  server.onboarding.on_get = [](const v1::GetOnboardingRequest& request, v1::Onboarding* out) {
    *out = MakeOnboarding(request.name(), v1::ONBOARDING_STATE_SUCCEEDED);
    v1::Step* step = out->add_steps();
    step->set_kind(v1::STEP_KIND_INVITE);
    step->set_state(v1::STEP_STATE_SUCCEEDED);
    (*step->mutable_outputs())["invited_user_id"] = "u-1";
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  ASSERT_EQ(RunGet(server.ctx, "onboardings/g1"), kExitOk) << server.err.str();
  EXPECT_EQ(server.onboarding.gets[0].name(), "onboardings/g1");
  EXPECT_THAT(server.out.str(),
              AllOf(HasSubstr("name:       onboardings/g1\n"), HasSubstr("state:      SUCCEEDED\n"),
                    HasSubstr("STEP    STATE      ATTEMPTS  PLUGIN  LAST-ERROR\n"),
                    HasSubstr("invite.invited_user_id = u-1\n")));

  server.out.str("");
  server.ctx.json = true;
  ASSERT_EQ(RunGet(server.ctx, "onboardings/g1"), kExitOk);
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 1u);
  const nlohmann::json json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json.at("name"), "onboardings/g1");
  EXPECT_EQ(json.at("state"), "ONBOARDING_STATE_SUCCEEDED");
  EXPECT_EQ(json.at("steps").at(0).at("outputs").at("invited_user_id"), "u-1");
  EXPECT_EQ(json.at("steps").at(0).at("attempts"), 0);  // defaults are printed too
}

TEST(RunGetTest, NotFoundExitsOne) {
  FakeServer server;
  server.onboarding.on_get = [](const v1::GetOnboardingRequest& request, v1::Onboarding*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, request.name() + " does not exist");
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_EQ(RunGet(server.ctx, "onboardings/nope"), kExitError);
  EXPECT_EQ(server.err.str(), "error: NOT_FOUND: onboardings/nope does not exist\n");
}

// Three pages: tokens "" -> "p2" -> "p3" -> end.
void ServeThreePages(FakeServer& server) {
  server.onboarding.on_list = [](const v1::ListOnboardingsRequest& request,
                                 v1::ListOnboardingsResponse* out) {
    const std::string& token = request.page_token();
    const std::string id = token.empty() ? "1" : token == "p2" ? "2" : "3";
    *out->add_onboardings() = MakeOnboarding("onboardings/o" + id, v1::ONBOARDING_STATE_FAILED);
    out->set_next_page_token(token.empty() ? "p2" : token == "p2" ? "p3" : "");
    return grpc::Status::OK;
  };
}

TEST(RunListTest, OnePageWithFiltersAndAHintForTheNext) {
  FakeServer server;
  ServeThreePages(server);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ListArgs args;
  args.tenant = "contoso";
  args.state = v1::ONBOARDING_STATE_FAILED;
  args.batch = "batches/b1";
  args.limit = 1;

  ASSERT_EQ(RunList(server.ctx, args), kExitOk) << server.err.str();
  ASSERT_EQ(server.onboarding.lists.size(), 1u);
  const v1::ListOnboardingsRequest& sent = server.onboarding.lists[0];
  EXPECT_EQ(sent.tenant(), "contoso");
  EXPECT_EQ(sent.state(), v1::ONBOARDING_STATE_FAILED);
  EXPECT_EQ(sent.batch(), "batches/b1");
  EXPECT_EQ(sent.page_size(), 1);
  EXPECT_EQ(sent.page_token(), "");
  EXPECT_EQ(server.out.str(),
            "NAME            TENANT   EMAIL            STATE   UPDATED\n"
            "onboardings/o1  contoso  ada@example.com  FAILED  -\n");
  EXPECT_THAT(server.err.str(), HasSubstr("--page-token p2"));
}

TEST(RunListTest, AllFollowsEveryPageIntoOneTable) {
  FakeServer server;
  ServeThreePages(server);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ListArgs args;
  args.all = true;

  ASSERT_EQ(RunList(server.ctx, args), kExitOk) << server.err.str();
  std::vector<std::string> tokens;
  for (const auto& request : server.onboarding.lists) tokens.push_back(request.page_token());
  EXPECT_THAT(tokens, ElementsAre("", "p2", "p3"));
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[1], HasSubstr("onboardings/o1"));
  EXPECT_THAT(lines[3], HasSubstr("onboardings/o3"));
  EXPECT_THAT(server.err.str(), IsEmpty());
}

TEST(RunListTest, AllWithJsonIsOneMergedResponse) {
  FakeServer server;
  ServeThreePages(server);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.json = true;
  ListArgs args;
  args.all = true;
  ASSERT_EQ(RunList(server.ctx, args), kExitOk);
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 1u);
  const nlohmann::json json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json.at("onboardings").size(), 3u);
  EXPECT_EQ(json.at("nextPageToken"), "");
}

TEST(RunListTest, AGivenPageTokenIsSentAndARepeatedOneStopsAll) {
  FakeServer server;
  server.onboarding.on_list = [](const v1::ListOnboardingsRequest& request,
                                 v1::ListOnboardingsResponse* out) {
    out->set_next_page_token("same");
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ListArgs args;
  args.page_token = "same";
  ASSERT_EQ(RunList(server.ctx, args), kExitOk);
  EXPECT_EQ(server.onboarding.lists[0].page_token(), "same");

  args.page_token.clear();
  args.all = true;
  EXPECT_EQ(RunList(server.ctx, args), kExitError);
  EXPECT_THAT(server.err.str(), HasSubstr("same page token twice"));
}

struct WatchCase {
  v1::OnboardingState final_state;
  int exit_code;
};

class RunWatchExitTest : public ::testing::TestWithParam<WatchCase> {};

TEST_P(RunWatchExitTest, ExitCodeFollowsTheFinalState) {
  FakeServer server;
  server.onboarding.on_watch =
      StreamOf({MakeEvent(1, "created", v1::STEP_KIND_UNSPECIFIED, v1::ONBOARDING_STATE_QUEUED),
                MakeEvent(2, "step_started", v1::STEP_KIND_INVITE, v1::ONBOARDING_STATE_RUNNING),
                MakeEvent(3, "finished", v1::STEP_KIND_UNSPECIFIED, GetParam().final_state)});
  ASSERT_NO_FATAL_FAILURE(server.Start());

  EXPECT_EQ(RunWatch(server.ctx, "onboardings/w"), GetParam().exit_code) << server.err.str();
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 4u) << server.out.str();
  EXPECT_EQ(lines[0], "2026-11-28T10:04:06Z  -        created         created message");
  EXPECT_EQ(lines[1], "2026-11-28T10:04:07Z  invite   step_started    step_started message");
  EXPECT_EQ(lines[3], "onboardings/w " + OnboardingStateText(GetParam().final_state));
}

INSTANTIATE_TEST_SUITE_P(
    FinalStates, RunWatchExitTest,
    ::testing::Values(WatchCase{v1::ONBOARDING_STATE_SUCCEEDED, kExitOk},
                      WatchCase{v1::ONBOARDING_STATE_FAILED, kExitNotSucceeded},
                      WatchCase{v1::ONBOARDING_STATE_CANCELLED, kExitNotSucceeded}));

TEST(RunWatchTest, JsonIsOneObjectPerEventAndNoSummary) {
  FakeServer server;
  server.onboarding.on_watch = StreamOf(
      {MakeEvent(1, "created", v1::STEP_KIND_UNSPECIFIED, v1::ONBOARDING_STATE_QUEUED),
       MakeEvent(2, "succeeded", v1::STEP_KIND_UNSPECIFIED, v1::ONBOARDING_STATE_SUCCEEDED)});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.json = true;
  ASSERT_EQ(RunWatch(server.ctx, "onboardings/w"), kExitOk);
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0]).at("event").at("sequence"), "1");  // int64: string
  EXPECT_EQ(nlohmann::json::parse(lines[1]).at("onboarding").at("state"),
            "ONBOARDING_STATE_SUCCEEDED");
}

TEST(RunWatchTest, StreamEndingBeforeTheEndIsAnError) {
  FakeServer server;
  server.onboarding.on_watch =
      StreamOf({MakeEvent(1, "created", v1::STEP_KIND_UNSPECIFIED, v1::ONBOARDING_STATE_RUNNING)});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_EQ(RunWatch(server.ctx, "onboardings/w"), kExitError);
  EXPECT_THAT(server.err.str(), HasSubstr("still RUNNING"));
}

TEST(RunWatchTest, WithoutSnapshotsAsksForTheFinalState) {
  FakeServer server;
  server.onboarding.on_watch = [](grpc::ServerContext*, const v1::WatchOnboardingRequest&,
                                  grpc::ServerWriter<v1::WatchOnboardingResponse>*) {
    return grpc::Status::OK;  // nothing after `after_sequence`
  };
  server.onboarding.on_get = [](const v1::GetOnboardingRequest& request, v1::Onboarding* out) {
    *out = MakeOnboarding(request.name(), v1::ONBOARDING_STATE_SUCCEEDED);
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_EQ(RunWatch(server.ctx, "onboardings/w", /*after_sequence=*/7), kExitOk);
  EXPECT_EQ(server.onboarding.watches[0].after_sequence(), 7);
  EXPECT_EQ(server.onboarding.gets.size(), 1u);
}

TEST(RunWatchTest, NotFoundExitsOne) {
  FakeServer server;
  server.onboarding.on_watch = [](grpc::ServerContext*, const v1::WatchOnboardingRequest&,
                                  grpc::ServerWriter<v1::WatchOnboardingResponse>*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such onboarding");
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_EQ(RunWatch(server.ctx, "onboardings/x"), kExitError);
  EXPECT_EQ(server.err.str(), "error: NOT_FOUND: no such onboarding\n");
}

TEST(RunWatchTest, ResumesAfterTheLastEventWhenTheStreamBreaks) {
  FakeServer server;
  std::atomic<int> calls{0};
  server.onboarding.on_watch = [&calls](grpc::ServerContext*,
                                        const v1::WatchOnboardingRequest& request,
                                        grpc::ServerWriter<v1::WatchOnboardingResponse>* writer) {
    if (calls++ == 0) {
      writer->Write(
          MakeEvent(1, "created", v1::STEP_KIND_UNSPECIFIED, v1::ONBOARDING_STATE_QUEUED));
      writer->Write(
          MakeEvent(2, "step_started", v1::STEP_KIND_INVITE, v1::ONBOARDING_STATE_RUNNING));
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
    }
    writer->Write(
        MakeEvent(3, "succeeded", v1::STEP_KIND_UNSPECIFIED, v1::ONBOARDING_STATE_SUCCEEDED));
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  EXPECT_EQ(RunWatch(server.ctx, "onboardings/w"), kExitOk) << server.err.str();
  ASSERT_EQ(server.onboarding.watches.size(), 2u);
  EXPECT_EQ(server.onboarding.watches[1].after_sequence(), 2);
  EXPECT_EQ(AllLines(server.out.str()).size(), 4u);  // 3 events, each once, and the summary
  EXPECT_THAT(server.err.str(), HasSubstr("reconnecting"));
}

TEST(RunWatchTest, GivesUpAfterThreeReconnects) {
  FakeServer server;
  server.onboarding.on_watch = [](grpc::ServerContext*, const v1::WatchOnboardingRequest& request,
                                  grpc::ServerWriter<v1::WatchOnboardingResponse>* writer) {
    writer->Write(MakeEvent(request.after_sequence() + 1, "step_retry", v1::STEP_KIND_ROLE,
                            v1::ONBOARDING_STATE_WAITING));
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "flapping");
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_EQ(RunWatch(server.ctx, "onboardings/w"), kExitError);
  EXPECT_EQ(server.onboarding.watches.size(), 4u);
  EXPECT_THAT(server.err.str(), HasSubstr("error: UNAVAILABLE: "));
}

TEST(RunWatchTest, AnExplicitTimeoutBoundsTheWatch) {
  FakeServer server;
  server.onboarding.on_watch = [](grpc::ServerContext* context, const v1::WatchOnboardingRequest&,
                                  grpc::ServerWriter<v1::WatchOnboardingResponse>* writer) {
    writer->Write(MakeEvent(1, "step_retry", v1::STEP_KIND_ROLE, v1::ONBOARDING_STATE_WAITING));
    while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return grpc::Status::CANCELLED;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());
  server.ctx.stream_timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  EXPECT_EQ(RunWatch(server.ctx, "onboardings/w"), kExitError);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(server.err.str(), HasSubstr("error: DEADLINE_EXCEEDED: "));
  EXPECT_THAT(server.err.str(), HasSubstr("within 300ms"));
}

TEST(RunRetryCancelTest, PrintTheResultingState) {
  FakeServer server;
  server.onboarding.on_retry = [](const v1::RetryOnboardingRequest& request, v1::Onboarding* out) {
    *out = MakeOnboarding(request.name(), v1::ONBOARDING_STATE_QUEUED);
    return grpc::Status::OK;
  };
  server.onboarding.on_cancel = [](const v1::CancelOnboardingRequest& request, v1::Onboarding*) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, request.name() + " already ended");
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  EXPECT_EQ(RunRetry(server.ctx, "onboardings/r"), kExitOk);
  EXPECT_EQ(server.out.str(), "onboardings/r QUEUED\n");
  EXPECT_THAT(server.onboarding.retries, ElementsAre("onboardings/r"));

  EXPECT_EQ(RunCancel(server.ctx, "onboardings/r"), kExitError);
  EXPECT_EQ(server.err.str(), "error: FAILED_PRECONDITION: onboardings/r already ended\n");
  // Cancel is not retried: the first attempt's answer stands.
  EXPECT_THAT(server.onboarding.cancels, ElementsAre("onboardings/r"));
}

v1::CloudCall MakeCloudCall(const std::string& onboarding, const std::string& request_id) {
  v1::CloudCall call;
  call.set_onboarding(onboarding);
  call.set_tenant("contoso");
  call.set_step(v1::STEP_KIND_INVITE);
  call.set_actor("gf-1");
  call.mutable_time()->set_seconds(1795860245);
  call.set_method("POST");
  call.set_url("https://graph.microsoft.com/v1.0/invitations");
  call.set_http_status(201);
  call.set_request_id(request_id);
  return call;
}

// Two pages of one call each: tokens "" -> "c2" -> end.
void ServeTwoPagesOfCalls(FakeServer& server) {
  server.onboarding.on_list_cloud_calls = [](const v1::ListCloudCallsRequest& request,
                                             v1::ListCloudCallsResponse* out) {
    const bool first = request.page_token().empty();
    *out->add_cloud_calls() = MakeCloudCall("onboardings/o1", first ? "r-1" : "r-2");
    out->set_next_page_token(first ? "c2" : "");
    return grpc::Status::OK;
  };
}

TEST(RunCallsTest, FollowsEveryPageIntoOneTable) {
  FakeServer server;
  ServeTwoPagesOfCalls(server);
  ASSERT_NO_FATAL_FAILURE(server.Start());

  ASSERT_EQ(RunCalls(server.ctx, "onboardings/o1"), kExitOk) << server.err.str();
  std::vector<std::string> tokens;
  for (const auto& request : server.onboarding.cloud_call_lists) {
    EXPECT_EQ(request.parent(), "onboardings/o1");
    tokens.push_back(request.page_token());
  }
  EXPECT_THAT(tokens, ElementsAre("", "c2"));
  EXPECT_EQ(server.out.str(),
            "TIME                  STEP    METHOD  STATUS  DURATION  REQUEST-ID  ACTOR  URL\n"
            "2026-11-28T10:04:05Z  invite  POST    201     0ms       r-1         gf-1   "
            "https://graph.microsoft.com/v1.0/invitations\n"
            "2026-11-28T10:04:05Z  invite  POST    201     0ms       r-2         gf-1   "
            "https://graph.microsoft.com/v1.0/invitations\n");
  EXPECT_THAT(server.err.str(), IsEmpty());
}

TEST(RunCallsTest, ATenantsCallsNameTheirOnboardingAndJsonIsOneMergedResponse) {
  FakeServer server;
  ServeTwoPagesOfCalls(server);
  ASSERT_NO_FATAL_FAILURE(server.Start());

  ASSERT_EQ(RunCalls(server.ctx, "tenants/contoso"), kExitOk) << server.err.str();
  EXPECT_EQ(server.onboarding.cloud_call_lists[0].parent(), "tenants/contoso");
  EXPECT_THAT(AllLines(server.out.str())[0],
              HasSubstr("TIME                  ONBOARDING      STEP"));
  EXPECT_THAT(AllLines(server.out.str())[1], HasSubstr("  onboardings/o1  invite  "));

  server.out.str("");
  server.ctx.json = true;
  ASSERT_EQ(RunCalls(server.ctx, "tenants/contoso"), kExitOk);
  const std::vector<std::string> lines = AllLines(server.out.str());
  ASSERT_EQ(lines.size(), 1u);
  const nlohmann::json json = nlohmann::json::parse(lines[0]);
  ASSERT_EQ(json.at("cloudCalls").size(), 2u);
  EXPECT_EQ(json.at("cloudCalls").at(1).at("requestId"), "r-2");
  EXPECT_EQ(json.at("cloudCalls").at(1).at("httpStatus"), 201);
  EXPECT_EQ(json.at("cloudCalls").at(1).at("step"), "STEP_KIND_INVITE");
  EXPECT_EQ(json.at("nextPageToken"), "");
}

TEST(RunCallsTest, NoCallsIsTheHeaderAloneOrAnEmptyArray) {
  FakeServer server;
  server.onboarding.on_list_cloud_calls = [](const v1::ListCloudCallsRequest&,
                                             v1::ListCloudCallsResponse*) {
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  ASSERT_EQ(RunCalls(server.ctx, "onboardings/quiet"), kExitOk) << server.err.str();
  EXPECT_EQ(server.out.str(), "TIME  STEP  METHOD  STATUS  DURATION  REQUEST-ID  ACTOR  URL\n");

  server.out.str("");
  server.ctx.json = true;
  ASSERT_EQ(RunCalls(server.ctx, "onboardings/quiet"), kExitOk);
  const nlohmann::json json = nlohmann::json::parse(server.out.str());
  EXPECT_EQ(json.at("cloudCalls"), nlohmann::json::array());
  EXPECT_THAT(server.err.str(), IsEmpty());
}

TEST(RunCallsTest, RpcErrorsExitOneAndARepeatedPageTokenStops) {
  FakeServer server;
  server.onboarding.on_list_cloud_calls = [](const v1::ListCloudCallsRequest& request,
                                             v1::ListCloudCallsResponse* out) {
    if (request.parent() == "onboardings/nope") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "onboardings/nope does not exist");
    }
    out->set_next_page_token("same");
    return grpc::Status::OK;
  };
  ASSERT_NO_FATAL_FAILURE(server.Start());

  EXPECT_EQ(RunCalls(server.ctx, "onboardings/nope"), kExitError);
  EXPECT_EQ(server.err.str(), "error: NOT_FOUND: onboardings/nope does not exist\n");
  EXPECT_THAT(server.out.str(), IsEmpty());

  server.err.str("");
  EXPECT_EQ(RunCalls(server.ctx, "onboardings/loop"), kExitError);
  EXPECT_THAT(server.err.str(), HasSubstr("same page token twice"));
  EXPECT_THAT(server.out.str(), IsEmpty());
}

// A loopback port with nothing listening: bound, then closed.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(UnreachableServerTest, UnavailableNamesTheAddress) {
  CommandContext ctx;
  ctx.server = "127.0.0.1:" + std::to_string(ClosedPort());
  ctx.channel = *Connect({.server = ctx.server, .plaintext = true});
  std::ostringstream out;
  std::ostringstream err;
  ctx.out = &out;
  ctx.err = &err;
  ListArgs args;
  EXPECT_EQ(RunList(ctx, args), kExitError);
  EXPECT_THAT(err.str(),
              HasSubstr("error: UNAVAILABLE: cannot reach the guestflow server at " + ctx.server));
  EXPECT_THAT(out.str(), IsEmpty());
}

}  // namespace
}  // namespace guestflow::cli
