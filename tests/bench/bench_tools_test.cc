// The benchmarks' tools (bench/load), not a benchmark: guestflow-bench-load
// against guestflow-bench-echo and against a real guestflowd on the fake
// plugins. Checks that calls are made, checked and counted as they should be
// and that the report carries its fields; measures nothing.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_process.h"
#include "tests/support/test_callers.h"

extern char** environ;

namespace guestflow {
namespace {

using ::guestflow::itest::ReadFile;
using ::guestflow::itest::Run;
using ::guestflow::itest::RunResult;
using ::guestflow::itest::ServerProcess;
using ::guestflow::itest::TempDir;
using ::guestflow::itest::WriteFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kConfig[] = R"(server:
  listen: 127.0.0.1:0
  plaintext: true
  plugin_dir: {plugin_dir}
  plugins: [fake_invite.so, fake_license.so, fake_role.so, fake_notifier.so]
store:
  sqlite: {path: {dir}/guestflow.db}
engine:
  workers: 2
tenants:
  - id: contoso
    azure: {tenant_id: contoso.onmicrosoft.com, client_id: 11111111-2222-3333-4444-555555555555, client_secret: {env: GF_TEST_SECRET}}
    dynamics: {instance_url: https://contoso.crm.dynamics.com}
    plugins:
      invite: {name: fake_invite}
      license: {name: fake_license}
      role: {name: fake_role}
      notifier: {name: fake_notifier}
)";

// guestflow-bench-echo in the background, stopped with SIGTERM at the end.
class EchoProcess {
 public:
  EchoProcess(const TempDir& dir, int response_bytes)
      : log_(dir.File("echo.log")), port_file_(dir.File("echo.port")) {
    std::vector<std::string> argv = {GUESTFLOW_BENCH_ECHO_BIN,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     port_file_,
                                     "--response-bytes",
                                     std::to_string(response_bytes)};
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }

  ~EchoProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }

  // The port once serving; 0 if it exited or took more than 10 s.
  int WaitForPort() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      const std::string text = ReadFile(port_file_);
      if (!text.empty() && text.back() == '\n') return std::stoi(text);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  std::string log() const { return ReadFile(log_); }

 private:
  std::string log_;
  std::string port_file_;
  pid_t pid_ = -1;
};

// Runs guestflow-bench-load with `args` and returns its exit code and the
// JSON report it printed last (null when there is none).
struct LoadRun {
  int exit_code = -1;
  std::string output;
  nlohmann::json report;
};

LoadRun RunLoad(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {GUESTFLOW_BENCH_LOAD_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = Run(argv);
  LoadRun out{r.exit_code, r.output, nullptr};
  for (absl::string_view line : absl::StrSplit(r.output, '\n')) {
    if (!line.empty() && line.front() == '{') {
      out.report = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    }
  }
  return out;
}

TEST(BenchToolsTest, EchoCallsAreCountedWithTheirSizes) {
  TempDir dir;
  EchoProcess echo(dir, 300);
  const int port = echo.WaitForPort();
  ASSERT_NE(port, 0) << echo.log();
  const std::string target = absl::StrCat("127.0.0.1:", port);

  LoadRun run = RunLoad({"--target", target, "--call", "echo", "--request-bytes", "40",
                         "--response-bytes", "300", "--requests", "300", "--concurrency", "8",
                         "--connections", "2", "--threads", "2", "--token", "any"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_TRUE(run.report.is_object()) << run.output;
  const nlohmann::json& r = run.report;
  EXPECT_EQ(r["call"], "echo");
  EXPECT_EQ(r["method"], "/guestflow.bench.Echo/Echo");
  EXPECT_EQ(r["calls"], 300);
  EXPECT_EQ(r["ok"], 300);
  EXPECT_TRUE(r["errors"].empty()) << r["errors"].dump();
  EXPECT_EQ(r["warmup_calls"], 0);
  EXPECT_EQ(r["request_bytes"], 40);
  EXPECT_EQ(r["response_bytes"], 300);
  EXPECT_GT(r["elapsed_seconds"].get<double>(), 0);
  EXPECT_GT(r["rate_per_second"].get<double>(), 0);
  EXPECT_GE(r["client_cpu_seconds"].get<double>(), 0);
  EXPECT_THAT(r["latency_method"].get<std::string>(), HasSubstr("histogram"));
  const nlohmann::json& lat = r["latency_us"];
  for (const char* key : {"p50", "p90", "p99", "p999", "max"}) {
    ASSERT_TRUE(lat.contains(key)) << key;
  }
  EXPECT_GT(lat["p50"].get<uint64_t>(), 0u);
  EXPECT_LE(lat["p50"].get<uint64_t>(), lat["p90"].get<uint64_t>());
  EXPECT_LE(lat["p90"].get<uint64_t>(), lat["p99"].get<uint64_t>());
  EXPECT_LE(lat["p99"].get<uint64_t>(), lat["p999"].get<uint64_t>());
  EXPECT_LE(lat["p999"].get<uint64_t>(), lat["max"].get<uint64_t>());
  EXPECT_EQ(r["settings"]["connections"], 2);
  EXPECT_EQ(r["settings"]["concurrency"], 8);
  EXPECT_EQ(r["settings"]["requests"], 300);

  // 130 bytes is a size `payload` alone cannot make (its length prefix
  // grows a byte at 128); an answer of an unexpected size is a bad one.
  run = RunLoad({"--target", target, "--call", "echo", "--request-bytes", "130", "--response-bytes",
                 "299", "--requests", "5"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.report["request_bytes"], 130);
  EXPECT_EQ(run.report["ok"], 0);
  EXPECT_EQ(run.report["errors"]["BAD_RESPONSE"]["count"], 5);
  EXPECT_THAT(run.report["errors"]["BAD_RESPONSE"]["sample"].get<std::string>(),
              HasSubstr("300 bytes, not 299"));

  // A duration run with a warmup counts only what it measured.
  run = RunLoad({"--target", target, "--call", "echo", "--request-bytes", "40", "--duration", "0.3",
                 "--warmup", "0.2", "--concurrency", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(run.report["warmup_calls"].get<int64_t>(), 0);
  EXPECT_GT(run.report["calls"].get<int64_t>(), 0);
  EXPECT_EQ(run.report["calls"], run.report["ok"]);
  EXPECT_EQ(run.report["settings"]["duration_seconds"], 0.3);
}

// Against guestflowd: StartOnboarding acks what the server answered OK,
// GetOnboarding reads it back, and failed calls are counted by their code.
TEST(BenchToolsTest, GuestflowdCallsAndErrorsByCode) {
  TempDir dir;
  WriteFile(dir.File("guestflowd.yaml"),
            absl::StrCat(
                absl::StrReplaceAll(kConfig, {{"{plugin_dir}", PLUGIN_DIR}, {"{dir}", dir.path()}}),
                test_callers::kCallersYaml));
  ServerProcess server(dir.File("guestflowd.yaml"), dir.File("guestflowd.log"));
  ASSERT_TRUE(server.Start()) << server.log();
  const std::string token = test_callers::kAdminToken;

  const std::string acks = dir.File("acks.txt");
  LoadRun run =
      RunLoad({"--target", server.address(), "--token", token, "--call", "start", "--tenant",
               "contoso", "--ack-file", acks, "--requests", "5", "--concurrency", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.report["ok"], 5) << run.report.dump();
  std::vector<std::string> names = absl::StrSplit(ReadFile(acks), '\n', absl::SkipEmpty());
  ASSERT_EQ(names.size(), 5u);
  for (const std::string& name : names) EXPECT_THAT(name, StartsWith("onboardings/"));

  run = RunLoad({"--target", server.address(), "--token", token, "--call", "get", "--names-file",
                 acks, "--requests", "20", "--concurrency", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.report["ok"], 20) << run.report.dump();
  EXPECT_GT(run.report["response_bytes"].get<int64_t>(), 0);

  run = RunLoad({"--target", server.address(), "--token", token, "--call", "list", "--page-size",
                 "3", "--requests", "5"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.report["ok"], 5) << run.report.dump();

  const std::string unknown = dir.File("unknown.txt");
  WriteFile(unknown, "onboardings/0123456789abcdef01234567\n");
  run = RunLoad({"--target", server.address(), "--token", token, "--call", "get", "--names-file",
                 unknown, "--requests", "20", "--concurrency", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.report["calls"], 20);
  EXPECT_EQ(run.report["ok"], 0);
  ASSERT_TRUE(run.report["errors"].contains("NOT_FOUND")) << run.report.dump();
  EXPECT_EQ(run.report["errors"]["NOT_FOUND"]["count"], 20);
  EXPECT_THAT(run.report["errors"]["NOT_FOUND"]["sample"].get<std::string>(),
              HasSubstr("not found"));

  // The token goes on every call: without it, every call is refused.
  run = RunLoad(
      {"--target", server.address(), "--call", "get", "--names-file", acks, "--requests", "3"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.report["errors"]["UNAUTHENTICATED"]["count"], 3) << run.report.dump();
}

}  // namespace
}  // namespace guestflow
