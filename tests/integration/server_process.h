// ServerProcess: runs a real guestflowd binary for a test, with a config
// written to a temp folder, on a port the kernel picks.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "grpcpp/channel.h"

namespace guestflow::itest {

// A temp folder removed when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text);

// The demo config (deploy/guestflowd.demo.yaml, at `demo_config`) pointed at a
// running emulator and a test's folders: the emulator's URL for every cloud
// endpoint, a port the kernel picks, `plugin_dir`, and `dir` for the store
// and the outbox.
std::string DemoConfig(const std::string& demo_config, const std::string& emulator_url,
                       const std::string& plugin_dir, const std::string& dir);

// `config` with guestflowd's own rate limits switched off (a `limits:`
// section before `tenants:`), for tests whose emulator does not throttle.
std::string WithoutLimits(const std::string& config);

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a command to completion (argv[0] is a path), capturing its output.
RunResult Run(const std::vector<std::string>& argv,
              const std::map<std::string, std::string>& env = {});

class ServerProcess {
 public:
  // Does not start anything.
  ServerProcess(std::string config_path, std::string log_path);
  ~ServerProcess();  // SIGKILLs a server still running

  // Starts guestflowd and waits until it serves (port file written) or
  // exits. Returns false if it exited; exit_code() and log() say why.
  bool Start();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // A plain-text channel whose calls carry `token` (by default the admin's
  // of tests/support/test_callers.h; empty: no credentials).
  std::shared_ptr<grpc::Channel> Channel() const;
  std::shared_ptr<grpc::Channel> Channel(const std::string& token) const;

  // SIGTERM, then waits for the exit; returns the exit code.
  int Stop();
  // SIGKILL, no chance to clean up.
  void Kill9();
  void SendSignal(int sig);
  int exit_code() const { return exit_code_; }
  std::string log() const;
  // The port of /metrics (server.metrics_listen) from the start-up line
  // "metrics on http://127.0.0.1:PORT/metrics"; 0 when there is none.
  int MetricsPort() const;
  // GET /metrics; empty on failure.
  std::string ScrapeMetrics() const;
  // Adds an environment variable for the next Start().
  void SetEnv(const std::string& name, const std::string& value) { env_[name] = value; }

 private:
  int WaitExit();
  void KeepLog() const;

  std::map<std::string, std::string> env_ = {{"GF_TEST_SECRET", "test-client-secret"}};
  std::string config_path_;
  std::string log_path_;
  std::string port_file_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

// Runs the guestflow-emulator binary on a port the kernel picks.
class EmulatorProcess {
 public:
  EmulatorProcess(std::string fixture_path, std::string log_path);
  ~EmulatorProcess();
  bool Start();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const;
  // POST /_emulator/knobs with `json` (fixture keys); "" when the emulator
  // took them, otherwise why not.
  std::string SetKnobs(const std::string& json) const;
  // GET /_emulator/counters: the JSON body, or "" when it did not answer 200.
  std::string Counters() const;

 private:
  std::string fixture_path_;
  std::string log_path_;
  std::string port_file_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace guestflow::itest
