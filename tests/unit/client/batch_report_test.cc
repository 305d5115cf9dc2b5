#include "client/batch_report.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace guestflow::cli {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("guestflow-report-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string PathOf(const std::string& name) const { return (dir_ / name).string(); }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
};

v1::BatchItem Item(int64_t line, const std::string& email, v1::OnboardingState state,
                   const std::string& onboarding, v1::StepKind failed_step,
                   const std::string& error) {
  v1::BatchItem item;
  item.set_line(line);
  item.set_email(email);
  item.set_state(state);
  item.set_onboarding(onboarding);
  item.set_failed_step(failed_step);
  item.set_error(error);
  return item;
}

TEST(ReportFormatForPathTest, ByExtension) {
  EXPECT_EQ(ReportFormatForPath("out.csv").value(), ReportFormat::kCsv);
  EXPECT_EQ(ReportFormatForPath("/tmp/OUT.CSV").value(), ReportFormat::kCsv);
  EXPECT_EQ(ReportFormatForPath("reports/out.json").value(), ReportFormat::kJson);
  EXPECT_EQ(ReportFormatForPath("out.Json").value(), ReportFormat::kJson);
  for (const char* bad : {"out.txt", "out", "out.csv.bak", ".csv", "dir.csv/", ""}) {
    const absl::StatusOr<ReportFormat> format = ReportFormatForPath(bad);
    ASSERT_FALSE(format.ok()) << bad;
    EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(format.status().message(), HasSubstr("must end in .csv or .json"));
  }
}

TEST(CsvFieldTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("ada@example.com"), "ada@example.com");
  EXPECT_EQ(CsvField("Lovelace, Ada"), "\"Lovelace, Ada\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\rinside"), "\"cr\rinside\"");
  EXPECT_EQ(CsvField("a'quote"), "a'quote");
}

TEST(CsvFieldTest, NeutralisesEachFormulaPrefix) {
  EXPECT_EQ(CsvField("=1+1"), "'=1+1");
  EXPECT_EQ(CsvField("+33 1 23"), "'+33 1 23");
  EXPECT_EQ(CsvField("-2"), "'-2");
  EXPECT_EQ(CsvField("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvField("\tindented"), "'\tindented");
  EXPECT_EQ(CsvField("\rx"), "\"'\rx\"");  // CR also needs quotes
  // Prefix first, then quoting of what it became.
  EXPECT_EQ(CsvField("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  // Only the first character matters.
  EXPECT_EQ(CsvField("a=b"), "a=b");
  EXPECT_EQ(CsvField(" =b"), " =b");
}

TEST(ReportStateTextTest, RefusedRowsSaySo) {
  EXPECT_EQ(ReportStateText(Item(1, "", v1::ONBOARDING_STATE_UNSPECIFIED, "", {}, "")), "REFUSED");
  EXPECT_EQ(ReportStateText(Item(1, "", v1::ONBOARDING_STATE_FAILED, "", {}, "")), "FAILED");
}

TEST_F(ReportTest, CsvHeaderRowsCrlfAndRename) {
  const std::string path = PathOf("report.csv");
  auto writer = ReportWriter::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_TRUE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(fs::exists(path));
  ASSERT_TRUE((*writer)
                  ->Add(Item(2, "ada@example.com", v1::ONBOARDING_STATE_SUCCEEDED, "onboardings/o1",
                             v1::STEP_KIND_UNSPECIFIED, ""))
                  .ok());
  ASSERT_TRUE((*writer)
                  ->Add(Item(3, "=cmd|' /C calc'!A0", v1::ONBOARDING_STATE_UNSPECIFIED, "",
                             v1::STEP_KIND_UNSPECIFIED, "InvitedUserEmailAddress: not an email"))
                  .ok());
  ASSERT_TRUE((*writer)
                  ->Add(Item(4, "bob@example.com", v1::ONBOARDING_STATE_FAILED, "onboardings/o2",
                             v1::STEP_KIND_LICENSE, "no free seats, \"SPE_E3\""))
                  .ok());
  EXPECT_EQ((*writer)->records(), 3);
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(
      Read(path),
      "line,email,state,onboarding,failed_step,reason\r\n"
      "2,ada@example.com,SUCCEEDED,onboardings/o1,,\r\n"
      "3,'=cmd|' /C calc'!A0,REFUSED,,,InvitedUserEmailAddress: not an email\r\n"
      "4,bob@example.com,FAILED,onboardings/o2,license,\"no free seats, \"\"SPE_E3\"\"\"\r\n");
}

TEST_F(ReportTest, JsonIsAnArrayOfObjectsOnePerLine) {
  const std::string path = PathOf("report.json");
  auto writer = ReportWriter::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)
                  ->Add(Item(2, "=ada@example.com", v1::ONBOARDING_STATE_RUNNING, "onboardings/o1",
                             v1::STEP_KIND_UNSPECIFIED, ""))
                  .ok());
  ASSERT_TRUE((*writer)
                  ->Add(Item(3, std::string("bad\xff") + "@x", v1::ONBOARDING_STATE_FAILED,
                             "onboardings/o2", v1::STEP_KIND_ROLE, "role 'Sales' not found"))
                  .ok());
  ASSERT_TRUE((*writer)->Commit().ok());

  const std::string text = Read(path);
  EXPECT_EQ(text.substr(0, text.find('\n', 2) + 1),
            "[\n{\"line\":2,\"email\":\"=ada@example.com\",\"state\":\"RUNNING\","
            "\"onboarding\":\"onboardings/o1\",\"failed_step\":\"\",\"reason\":\"\"},\n");
  const nlohmann::json json = nlohmann::json::parse(text);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[1].at("line"), 3);
  EXPECT_EQ(json[1].at("email"), "bad\xef\xbf\xbd@x");  // U+FFFD for the bad byte
  EXPECT_EQ(json[1].at("state"), "FAILED");
  EXPECT_EQ(json[1].at("failed_step"), "role");
  EXPECT_EQ(json[1].at("reason"), "role 'Sales' not found");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(ReportTest, EmptyJsonReportIsAnEmptyArray) {
  const std::string path = PathOf("empty.json");
  auto writer = ReportWriter::Open(path);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(nlohmann::json::parse(Read(path)), nlohmann::json::array());
}

TEST_F(ReportTest, AnUncommittedReportLeavesNoFileAndKeepsTheOldOne) {
  const std::string path = PathOf("report.csv");
  std::ofstream(path) << "the good old report\n";
  {
    auto writer = ReportWriter::Open(path);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Add(Item(2, "a@x", v1::ONBOARDING_STATE_QUEUED, "", {}, "")).ok());
    EXPECT_TRUE(fs::exists(path + ".tmp"));
  }  // dropped before Commit, as after an RPC error
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(Read(path), "the good old report\n");
}

TEST_F(ReportTest, AFailedRenameLeavesNoTemporaryFile) {
  // `report.csv` is a non-empty directory: rename() onto it fails.
  const std::string path = PathOf("report.csv");
  fs::create_directories(fs::path(path) / "inside");
  {
    auto writer = ReportWriter::Open(path);
    ASSERT_TRUE(writer.ok());
    const absl::Status committed = (*writer)->Commit();
    EXPECT_FALSE(committed.ok());
    EXPECT_THAT(committed.message(), HasSubstr("cannot rename the report " + path + ".tmp"));
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_TRUE(fs::is_directory(path));
}

TEST_F(ReportTest, UnwritableDirectoryIsAnErrorAndCreatesNothing) {
  const std::string path = PathOf("no-such-dir/report.csv");
  auto writer = ReportWriter::Open(path);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(writer.status().message(), HasSubstr("cannot write the report " + path + ".tmp"));
  EXPECT_FALSE(fs::exists(PathOf("no-such-dir")));

  EXPECT_EQ(ReportWriter::Open(PathOf("report.txt")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReportTest, AFullDiskIsDataLoss) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  // The writer writes to `<path>.tmp`: make that a link to /dev/full.
  const std::string path = PathOf("full.csv");
  fs::create_symlink("/dev/full", path + ".tmp");
  auto writer = ReportWriter::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  absl::Status status = absl::OkStatus();
  // The stream buffers; enough rows overflow its buffer and hit the device.
  for (int i = 0; i < 10000 && status.ok(); ++i) {
    status = (*writer)->Add(Item(i, "guest@example.com", v1::ONBOARDING_STATE_QUEUED, "", {}, ""));
  }
  if (status.ok()) status = (*writer)->Commit();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("writing the report " + path + ".tmp failed"));
}

}  // namespace
}  // namespace guestflow::cli
