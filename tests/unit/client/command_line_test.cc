#include "client/command_line.h"

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "client/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Runs the parser on `args` (program name added) with GUESTFLOW_SERVER unset
// unless a test sets it.
class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("GUESTFLOW_SERVER"); }
  void TearDown() override { unsetenv("GUESTFLOW_SERVER"); }

  ParseOutcome Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "guestflow");
    std::vector<const char*> argv;
    argv.reserve(args.size());
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    out_.str("");
    err_.str("");
    return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), out_, err_);
  }

  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CommandLineTest, GlobalDefaults) {
  const ParseOutcome outcome = Parse({"tenants"});
  ASSERT_TRUE(outcome.command_line.has_value());
  const CommandLine& line = *outcome.command_line;
  EXPECT_EQ(line.verb, Verb::kTenants);
  EXPECT_EQ(line.global.server, "127.0.0.1:50051");
  EXPECT_FALSE(line.global.json);
  EXPECT_EQ(line.global.timeout, absl::Seconds(30));
  EXPECT_FALSE(line.global.timeout_given);
}

TEST_F(CommandLineTest, ServerComesFromTheEnvironmentUnlessGiven) {
  setenv("GUESTFLOW_SERVER", "gf.internal:7000", 1);
  EXPECT_EQ(Parse({"tenants"}).command_line->global.server, "gf.internal:7000");
  EXPECT_EQ(Parse({"--server", "other:1", "tenants"}).command_line->global.server, "other:1");
  setenv("GUESTFLOW_SERVER", "", 1);
  EXPECT_EQ(Parse({"tenants"}).command_line->global.server, "127.0.0.1:50051");
}

TEST_F(CommandLineTest, GlobalOptionsMayFollowTheVerb) {
  const ParseOutcome outcome = Parse({"get", "abc", "--json", "--timeout", "2m"});
  ASSERT_TRUE(outcome.command_line.has_value()) << err_.str();
  EXPECT_TRUE(outcome.command_line->global.json);
  EXPECT_EQ(outcome.command_line->global.timeout, absl::Minutes(2));
  EXPECT_TRUE(outcome.command_line->global.timeout_given);
}

TEST_F(CommandLineTest, OnboardingNamesAreNormalized) {
  for (const char* verb : {"get", "watch", "retry", "cancel"}) {
    const ParseOutcome bare = Parse({verb, "abc"});
    ASSERT_TRUE(bare.command_line.has_value()) << verb << ": " << err_.str();
    EXPECT_EQ(bare.command_line->name, "onboardings/abc");
    EXPECT_EQ(Parse({verb, "onboardings/abc"}).command_line->name, "onboardings/abc");
  }
  EXPECT_EQ(Parse({"get", "abc"}).command_line->verb, Verb::kGet);
  EXPECT_EQ(Parse({"watch", "abc"}).command_line->verb, Verb::kWatch);
  EXPECT_EQ(Parse({"retry", "abc"}).command_line->verb, Verb::kRetry);
  EXPECT_EQ(Parse({"cancel", "abc"}).command_line->verb, Verb::kCancel);
}

TEST_F(CommandLineTest, OnboardCollectsEveryField) {
  const ParseOutcome outcome = Parse({"onboard",
                                      "--tenant",
                                      "contoso",
                                      "--email",
                                      "ada@example.com",
                                      "--first-name",
                                      "Ada",
                                      "--last-name",
                                      "Lovelace",
                                      "--usage-location",
                                      "GB",
                                      "--display-name",
                                      "Ada L.",
                                      "--role",
                                      "Salesperson",
                                      "--role",
                                      "Sales Manager",
                                      "--no-send-invitation",
                                      "--message",
                                      "Welcome",
                                      "--update-dynamics-email",
                                      "--request-id",
                                      "r-1",
                                      "--wait"});
  ASSERT_TRUE(outcome.command_line.has_value()) << err_.str();
  const CommandLine& line = *outcome.command_line;
  EXPECT_EQ(line.verb, Verb::kOnboard);
  const OnboardArgs& args = line.onboard;
  EXPECT_EQ(args.tenant, "contoso");
  EXPECT_EQ(args.email, "ada@example.com");
  EXPECT_EQ(args.first_name, "Ada");
  EXPECT_EQ(args.last_name, "Lovelace");
  EXPECT_EQ(args.usage_location, "GB");
  EXPECT_EQ(args.display_name, "Ada L.");
  EXPECT_THAT(args.options.roles, ElementsAre("Salesperson", "Sales Manager"));
  EXPECT_EQ(args.options.send_invitation_message, std::optional<bool>(false));
  EXPECT_EQ(args.options.invitation_message, "Welcome");
  EXPECT_EQ(args.options.update_dynamics_email, std::optional<bool>(true));
  EXPECT_EQ(args.request_id, "r-1");
  EXPECT_TRUE(args.wait);
  EXPECT_FALSE(args.validate_only);
}

TEST_F(CommandLineTest, OnboardLeavesTenantDefaultsUnset) {
  const ParseOutcome outcome =
      Parse({"onboard", "--tenant", "t", "--email", "e@x.org", "--first-name", "F", "--last-name",
             "L", "--usage-location", "US", "--send-invitation"});
  ASSERT_TRUE(outcome.command_line.has_value()) << err_.str();
  const OnboardArgs& args = outcome.command_line->onboard;
  EXPECT_EQ(args.options.send_invitation_message, std::optional<bool>(true));
  EXPECT_EQ(args.options.update_dynamics_email, std::nullopt);
  EXPECT_TRUE(args.options.roles.empty());
  EXPECT_TRUE(args.request_id.empty());
}

TEST_F(CommandLineTest, ListFilters) {
  const ParseOutcome outcome = Parse({"list", "--tenant", "contoso", "--state", "failed", "--batch",
                                      "b1", "--limit", "20", "--all"});
  ASSERT_TRUE(outcome.command_line.has_value()) << err_.str();
  const ListArgs& args = outcome.command_line->list;
  EXPECT_EQ(args.tenant, "contoso");
  EXPECT_EQ(args.state, v1::ONBOARDING_STATE_FAILED);
  EXPECT_EQ(args.batch, "batches/b1");
  EXPECT_EQ(args.limit, 20);
  EXPECT_TRUE(args.all);
  EXPECT_EQ(Parse({"list", "--state", "ONBOARDING_STATE_WAITING"}).command_line->list.state,
            v1::ONBOARDING_STATE_WAITING);
  EXPECT_EQ(Parse({"list"}).command_line->list.state, v1::ONBOARDING_STATE_UNSPECIFIED);
}

TEST_F(CommandLineTest, ImportAndDoctor) {
  const ParseOutcome import = Parse(
      {"import", "guests.csv", "--tenant", "contoso", "--validate-only", "--role", "Salesperson"});
  ASSERT_TRUE(import.command_line.has_value()) << err_.str();
  EXPECT_EQ(import.command_line->verb, Verb::kImport);
  EXPECT_EQ(import.command_line->import.path, "guests.csv");
  EXPECT_EQ(import.command_line->import.tenant, "contoso");
  EXPECT_TRUE(import.command_line->import.validate_only);
  EXPECT_THAT(import.command_line->import.options.roles, ElementsAre("Salesperson"));

  const ParseOutcome doctor = Parse({"doctor", "contoso"});
  ASSERT_TRUE(doctor.command_line.has_value());
  EXPECT_EQ(doctor.command_line->verb, Verb::kDoctor);
  EXPECT_EQ(doctor.command_line->tenant, "contoso");
}

TEST_F(CommandLineTest, CallsTakesAnOnboardingOrATenant) {
  const ParseOutcome bare = Parse({"calls", "abc", "--json"});
  ASSERT_TRUE(bare.command_line.has_value()) << err_.str();
  EXPECT_EQ(bare.command_line->verb, Verb::kCalls);
  EXPECT_EQ(bare.command_line->parent, "onboardings/abc");
  EXPECT_TRUE(bare.command_line->global.json);
  EXPECT_EQ(Parse({"calls", "onboardings/abc"}).command_line->parent, "onboardings/abc");
  EXPECT_EQ(Parse({"calls", "tenants/contoso"}).command_line->parent, "tenants/contoso");

  const ParseOutcome bad = Parse({"calls", "batches/b1"});
  EXPECT_FALSE(bad.command_line.has_value());
  EXPECT_EQ(bad.exit_code, kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("onboardings/ID, tenants/TENANT or just ID"));
}

TEST_F(CommandLineTest, ZeroTimeoutParses) {
  EXPECT_EQ(Parse({"--timeout", "0", "tenants"}).command_line->global.timeout,
            absl::ZeroDuration());
}

TEST_F(CommandLineTest, UsageErrorsExit64WithCli11sMessage) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"get"},
      {"get", "batches/x"},
      {"get", "a", "b"},
      {"list", "--state", "done"},
      {"list", "--limit", "0"},
      {"list", "--all", "--page-token", "x"},
      {"--timeout", "soon", "tenants"},
      {"--server", "", "tenants"},
      {"onboard", "--tenant", "t"},
      {"onboard", "--tenant", "t", "--email", "e", "--first-name", "f", "--last-name", "l",
       "--usage-location", "GB", "--send-invitation", "--no-send-invitation"},
      {"onboard", "--tenant", "t", "--email", "e", "--first-name", "f", "--last-name", "l",
       "--usage-location", "GB", "--validate-only", "--wait"},
      {"import", "x.csv"},
      {"doctor"},
      {"calls"},
      {"calls", "tenants/"},
      {"calls", "batches/b1"},
      {"calls", "a", "b"},
  };
  for (const auto& args : bad) {
    const ParseOutcome outcome = Parse(args);
    std::string joined;
    for (const auto& arg : args) joined += arg + " ";
    EXPECT_FALSE(outcome.command_line.has_value()) << joined;
    EXPECT_EQ(outcome.exit_code, kExitUsage) << joined;
    EXPECT_THAT(err_.str(), HasSubstr("Run with --help")) << joined;
  }
  Parse({"list", "--state", "done"});
  EXPECT_THAT(err_.str(), HasSubstr("queued, running, waiting, succeeded, failed, cancelled"));
}

TEST_F(CommandLineTest, HelpAndVersionExitZeroOnStdout) {
  ParseOutcome outcome = Parse({"--help"});
  EXPECT_FALSE(outcome.command_line.has_value());
  EXPECT_EQ(outcome.exit_code, kExitOk);
  for (const char* verb : {"onboard", "get", "list", "watch", "import", "retry", "cancel",
                           "tenants", "plugins", "doctor", "calls"}) {
    EXPECT_THAT(out_.str(), HasSubstr(std::string("guestflow ") + verb)) << verb;
  }
  EXPECT_THAT(out_.str(), HasSubstr("Exit codes:"));
  EXPECT_THAT(out_.str(), HasSubstr("64"));

  outcome = Parse({"watch", "--help"});
  EXPECT_EQ(outcome.exit_code, kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("guestflow watch 7f3c2a"));

  outcome = Parse({"--version"});
  EXPECT_EQ(outcome.exit_code, kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("guestflow "));
}

}  // namespace
}  // namespace guestflow::cli
