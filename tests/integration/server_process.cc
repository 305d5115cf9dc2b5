#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/connection.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "httplib.h"
#include "tests/support/test_callers.h"

namespace guestflow::itest {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "guestflow-test-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) std::abort();
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string WithoutLimits(const std::string& config) {
  return absl::StrReplaceAll(config, {{"\ntenants:\n",
                                       "\nlimits:\n  graph_writes: {requests: 0}\n"
                                       "  dataverse: {requests: 0, concurrent: 0}\n"
                                       "  admin: {requests: 0}\n\ntenants:\n"}});
}

std::string DemoConfig(const std::string& demo_config, const std::string& emulator_url,
                       const std::string& plugin_dir, const std::string& dir) {
  return absl::StrReplaceAll(ReadFile(demo_config),
                             {{"http://127.0.0.1:47080", emulator_url},
                              {"listen: 127.0.0.1:47051", "listen: 127.0.0.1:0"},
                              {"metrics_listen: 127.0.0.1:47090", "metrics_listen: 127.0.0.1:0"},
                              {"../build/plugins", plugin_dir},
                              {"../build/sandbox", dir}});
}

namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& output_path,
            const std::map<std::string, std::string>& env) {
  // Everything is prepared before fork(): in a multi-threaded parent the child
  // may only call async-signal-safe functions until exec.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    if (env.count(key) == 0) env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> args;
  for (std::string& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid != 0) return pid;
  int fd = open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  execve(args[0], args.data(), envp.data());
  _exit(127);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RunResult Run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  TempDir dir;
  const std::string out = dir.File("out");
  pid_t pid = Spawn(argv, out, env);
  int status = 0;
  waitpid(pid, &status, 0);
  return RunResult{DecodeStatus(status), ReadFile(out)};
}

ServerProcess::ServerProcess(std::string config_path, std::string log_path)
    : config_path_(std::move(config_path)), log_path_(std::move(log_path)) {
  port_file_ = log_path_ + ".port";
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitExit();
  }
  KeepLog();
}

// The suite's secrets_absent_from_logs test reads every guestflowd log after
// the last integration test: each one is kept under a name of its own.
void ServerProcess::KeepLog() const {
#ifdef GUESTFLOW_TEST_LOG_DIR
  static std::atomic<int> count{0};
  std::error_code ec;
  if (!std::filesystem::exists(log_path_, ec)) return;
  std::filesystem::create_directories(GUESTFLOW_TEST_LOG_DIR, ec);
  const std::string kept = absl::StrCat(GUESTFLOW_TEST_LOG_DIR, "/", getpid(), "-", count++, "-",
                                        std::filesystem::path(log_path_).filename().string());
  std::filesystem::copy_file(log_path_, kept, std::filesystem::copy_options::overwrite_existing,
                             ec);
#endif
}

bool ServerProcess::Start() {
  std::filesystem::remove(port_file_);
  pid_ =
      Spawn({GUESTFLOWD_BIN, "--config", config_path_, "--port-file", port_file_}, log_path_, env_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = DecodeStatus(status);
      pid_ = -1;
      return false;
    }
    std::string text = ReadFile(port_file_);
    if (!text.empty() && text.back() == '\n') {
      port_ = std::stoi(text);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::shared_ptr<grpc::Channel> ServerProcess::Channel() const {
  return Channel(test_callers::kAdminToken);
}

std::shared_ptr<grpc::Channel> ServerProcess::Channel(const std::string& token) const {
  return *cli::Connect({.server = address(), .plaintext = true, .token = token});
}

int ServerProcess::WaitExit() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  exit_code_ = DecodeStatus(status);
  return exit_code_;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return exit_code_;
  kill(pid_, SIGTERM);
  return WaitExit();
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  WaitExit();
}

void ServerProcess::SendSignal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::string ServerProcess::log() const { return ReadFile(log_path_); }

int ServerProcess::MetricsPort() const {
  const std::string line = "metrics on http://127.0.0.1:";
  const std::string text = log();
  const size_t at = text.find(line);
  if (at == std::string::npos) return 0;
  const size_t start = at + line.size();
  int port = 0;
  return absl::SimpleAtoi(text.substr(start, text.find('/', start) - start), &port) ? port : 0;
}

std::string ServerProcess::ScrapeMetrics() const {
  httplib::Client client("127.0.0.1", MetricsPort());
  auto res = client.Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

EmulatorProcess::EmulatorProcess(std::string fixture_path, std::string log_path)
    : fixture_path_(std::move(fixture_path)), log_path_(std::move(log_path)) {
  port_file_ = log_path_ + ".port";
}

EmulatorProcess::~EmulatorProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

bool EmulatorProcess::Start() {
  std::filesystem::remove(port_file_);
  pid_ = Spawn({GUESTFLOW_EMULATOR_BIN, "--fixture", fixture_path_, "--listen", "127.0.0.1:0",
                "--port-file", port_file_, "--threads", "16"},
               log_path_, {});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::string text = ReadFile(port_file_);
    if (!text.empty() && text.back() == '\n') {
      port_ = std::stoi(text);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string EmulatorProcess::log() const { return ReadFile(log_path_); }

std::string EmulatorProcess::SetKnobs(const std::string& json) const {
  httplib::Client control(url());
  auto res = control.Post("/_emulator/knobs", json, "application/json");
  if (!res) return "the emulator did not answer POST /_emulator/knobs";
  if (res->status != 200)
    return absl::StrCat("POST /_emulator/knobs: ", res->status, " ", res->body);
  return "";
}

std::string EmulatorProcess::Counters() const {
  httplib::Client control(url());
  auto res = control.Get("/_emulator/counters");
  if (!res || res->status != 200) return "";
  return res->body;
}

}  // namespace guestflow::itest
