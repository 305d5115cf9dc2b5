// The clients in other languages, end to end: each example (client/python,
// client/node) onboards a guest, watches it to the end and imports a CSV
// file, against a real guestflowd and the cloud emulator. Their output (one
// JSON line per thing they saw) and the emulator's counters are checked.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_process.h"
#include "tests/support/test_callers.h"

namespace guestflow {
namespace {

using ::guestflow::itest::EmulatorProcess;
using ::guestflow::itest::RunResult;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;

struct Language {
  const char* name;
  std::vector<std::string> command;  // the example, without its arguments
  std::map<std::string, std::string> env;
};

Language Python() {
  return {
      "python",
      {"/usr/bin/python3", GUESTFLOW_SOURCE_DIR "/client/python/examples/onboard_and_import.py"},
      {{"PYTHONPATH",
        absl::StrCat(GUESTFLOW_PYTHON_GEN_DIR, ":", GUESTFLOW_SOURCE_DIR, "/client/python")}}};
}

Language Node() {
  return {
      "node",
      {"/usr/bin/env", "node", GUESTFLOW_SOURCE_DIR "/client/node/examples/onboard_and_import.js"},
      {{"NODE_PATH", GUESTFLOW_NODE_MODULES}}};
}

class PolyglotClientTest : public ::testing::TestWithParam<Language> {
 protected:
  void SetUp() override {
    emulator_ =
        std::make_unique<EmulatorProcess>(GUESTFLOW_DEMO_FIXTURE, dir_.File("emulator.log"));
    ASSERT_TRUE(emulator_->Start()) << emulator_->log();
    WriteFile(dir_.File("guestflowd.yaml"),
              itest::DemoConfig(GUESTFLOW_DEMO_CONFIG, emulator_->url(), PLUGIN_DIR, dir_.path()));
    server_ =
        std::make_unique<ServerProcess>(dir_.File("guestflowd.yaml"), dir_.File("guestflowd.log"));
    server_->SetEnv("CONTOSO_CLIENT_SECRET", "contoso-emulator-secret");
    ASSERT_TRUE(server_->Start()) << server_->log();
  }

  nlohmann::json Counters() {
    httplib::Client client(emulator_->url());
    auto res = client.Get("/_emulator/counters");
    EXPECT_TRUE(res && res->status == 200);
    return res ? nlohmann::json::parse(res->body) : nlohmann::json();
  }

  TempDir dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_P(PolyglotClientTest, TheExampleOnboardsWatchesAndImports) {
  const Language& language = GetParam();
  WriteFile(dir_.File("guests.csv"),
            "Email,FirstName,LastName,UsageLocation\n"
            "grace@fabrikam.com,Grace,Hopper,US\n"
            "alan@fabrikam.com,Alan,Turing,GB\n");
  std::vector<std::string> argv = language.command;
  for (const char* arg :
       {"--tenant", "contoso", "--email", "ada@fabrikam.com", "--first-name", "Ada", "--last-name",
        "Lovelace", "--usage-location", "GB", "--role", "Salesperson", "--csv"}) {
    argv.push_back(arg);
  }
  argv.push_back(dir_.File("guests.csv"));
  std::map<std::string, std::string> env = language.env;
  env["GUESTFLOW_SERVER"] = server_->address();
  env["GUESTFLOW_PLAINTEXT"] = "1";
  env["GUESTFLOW_TOKEN"] = test_callers::kAdminToken;
  const RunResult run = itest::Run(argv, env);
  ASSERT_EQ(run.exit_code, 0) << run.output << server_->log();

  // What the example saw, by kind.
  std::map<std::string, std::vector<nlohmann::json>> seen;
  for (absl::string_view line : absl::StrSplit(run.output, '\n', absl::SkipEmpty())) {
    if (line.empty() || line.front() != '{') continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    seen[j.at("kind").get<std::string>()].push_back(j);
  }
  ASSERT_EQ(seen["started"].size(), 1u) << run.output;
  const nlohmann::json& started = seen["started"][0]["message"];
  EXPECT_EQ(started.value("tenant", ""), "contoso");
  EXPECT_EQ(started.value("requestedBy", ""), "local-admin");  // the token's caller
  ASSERT_EQ(seen["ended"].size(), 1u) << run.output;
  EXPECT_EQ(seen["ended"][0]["message"].value("state", ""), "ONBOARDING_STATE_SUCCEEDED");
  // The whole history, in order, from "created" to "succeeded".
  ASSERT_GE(seen["event"].size(), 7u) << run.output;
  EXPECT_EQ(seen["event"].front()["message"].value("type", ""), "created");
  EXPECT_EQ(seen["event"].back()["message"].value("type", ""), "succeeded");
  for (size_t i = 0; i < seen["event"].size(); ++i) {
    EXPECT_EQ(seen["event"][i]["message"].value("sequence", ""), std::to_string(i + 1));
  }
  // The batch: two rows, both onboarded, and it ended done.
  ASSERT_EQ(seen["imported"].size(), 1u) << run.output;
  EXPECT_EQ(seen["imported"][0]["message"].value("rowsTotal", ""), "2");
  ASSERT_FALSE(seen["batch"].empty());
  EXPECT_TRUE(seen["batch"].back()["message"].value("done", false));
  ASSERT_EQ(seen["item"].size(), 2u) << run.output;
  for (const nlohmann::json& item : seen["item"]) {
    EXPECT_EQ(item["message"].value("state", ""), "ONBOARDING_STATE_SUCCEEDED") << item.dump();
  }

  // The cloud saw each guest invited once.
  const nlohmann::json c = Counters();
  for (const char* email : {"ada@fabrikam.com", "grace@fabrikam.com", "alan@fabrikam.com"}) {
    EXPECT_EQ(c["invitations_by_email"][email], 1) << email << " " << c.dump();
  }
}

TEST_P(PolyglotClientTest, AWrongTokenIsAnErrorTheExampleReports) {
  const Language& language = GetParam();
  std::vector<std::string> argv = language.command;
  for (const char* arg : {"--tenant", "contoso", "--email", "ada@fabrikam.com", "--first-name",
                          "Ada", "--last-name", "Lovelace", "--usage-location", "GB"}) {
    argv.push_back(arg);
  }
  std::map<std::string, std::string> env = language.env;
  env["GUESTFLOW_SERVER"] = server_->address();
  env["GUESTFLOW_PLAINTEXT"] = "1";
  env["GUESTFLOW_TOKEN"] = "gft_not-a-token-of-this-server-00000000";
  const RunResult run = itest::Run(argv, env);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  bool reported = false;
  for (absl::string_view line : absl::StrSplit(run.output, '\n', absl::SkipEmpty())) {
    if (line.front() != '{') continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.value("kind", "") == "error") reported = j.value("code", "") == "UNAUTHENTICATED";
  }
  EXPECT_TRUE(reported) << run.output;
  EXPECT_EQ(Counters()["invitations_by_email"].size(), 0u);
}

std::vector<Language> Languages() {
  std::vector<Language> out = {Python()};
  if (!std::string(GUESTFLOW_NODE_MODULES).empty()) out.push_back(Node());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Languages, PolyglotClientTest, ::testing::ValuesIn(Languages()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace guestflow
