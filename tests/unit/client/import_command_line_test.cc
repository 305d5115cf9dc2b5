// The `import` verb's flags: --dry-run (and its alias), --wait, --report.
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "client/command_line.h"
#include "client/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

using ::testing::HasSubstr;

class ImportCommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("GUESTFLOW_SERVER"); }

  ParseOutcome Parse(std::vector<std::string> args) {
    args.insert(args.begin(), {"guestflow", "import", "guests.csv", "--tenant", "contoso"});
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

TEST_F(ImportCommandLineTest, Defaults) {
  const ParseOutcome outcome = Parse({});
  ASSERT_TRUE(outcome.command_line.has_value()) << err_.str();
  const ImportArgs& args = outcome.command_line->import;
  EXPECT_FALSE(args.validate_only);
  EXPECT_FALSE(args.wait);
  EXPECT_TRUE(args.report_path.empty());
}

TEST_F(ImportCommandLineTest, DryRunAndItsOldName) {
  for (const char* flag : {"--dry-run", "--validate-only"}) {
    const ParseOutcome outcome = Parse({flag});
    ASSERT_TRUE(outcome.command_line.has_value()) << flag << ": " << err_.str();
    EXPECT_TRUE(outcome.command_line->import.validate_only) << flag;
  }
}

TEST_F(ImportCommandLineTest, WaitAndReport) {
  const ParseOutcome outcome = Parse({"--wait", "--report", "out/Result.JSON"});
  ASSERT_TRUE(outcome.command_line.has_value()) << err_.str();
  EXPECT_TRUE(outcome.command_line->import.wait);
  EXPECT_EQ(outcome.command_line->import.report_path, "out/Result.JSON");

  const ParseOutcome dry = Parse({"--dry-run", "--report", "refused.csv"});
  ASSERT_TRUE(dry.command_line.has_value()) << err_.str();
  EXPECT_EQ(dry.command_line->import.report_path, "refused.csv");
}

TEST_F(ImportCommandLineTest, ReportNeedsACsvOrJsonName) {
  const ParseOutcome outcome = Parse({"--report", "result.xlsx"});
  EXPECT_FALSE(outcome.command_line.has_value());
  EXPECT_EQ(outcome.exit_code, kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("must end in .csv or .json"));
}

TEST_F(ImportCommandLineTest, WaitAndDryRunExcludeEachOther) {
  const ParseOutcome outcome = Parse({"--dry-run", "--wait"});
  EXPECT_FALSE(outcome.command_line.has_value());
  EXPECT_EQ(outcome.exit_code, kExitUsage);
}

TEST_F(ImportCommandLineTest, HelpHasAnExampleForEachFlagAndTheExitCodes) {
  const ParseOutcome outcome = Parse({"--help"});
  EXPECT_FALSE(outcome.command_line.has_value());
  EXPECT_EQ(outcome.exit_code, kExitOk);
  const std::string help = out_.str();
  for (const char* text : {"--dry-run\n", "--wait\n", "--report result.csv", "--request-id march",
                           "--no-send-invitation", "import - --tenant", "--json --timeout 2h",
                           "Exit code: 0 when", "FAILED or CANCELLED"}) {
    EXPECT_THAT(help, HasSubstr(text));
  }
}

}  // namespace
}  // namespace guestflow::cli
