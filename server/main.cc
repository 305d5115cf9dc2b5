// guestflowd: parses flags into ServerOptions and runs the server until
// SIGTERM or SIGINT; SIGHUP reloads the configuration.
#include <signal.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "server/common/logging.h"
#include "server/common/process_hardening.h"
#include "server/server.h"

namespace {

guestflow::LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return guestflow::LogLevel::kDebug;
  if (s == "warn") return guestflow::LogLevel::kWarn;
  if (s == "error") return guestflow::LogLevel::kError;
  return guestflow::LogLevel::kInfo;
}

}  // namespace

// CLI11 throws only for mistakes in the option set-up below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  guestflow::ServerOptions options;
  std::string log_format = "text";
  std::string log_level = "info";
  CLI::App app{"guestflowd: onboards B2B guests into Dynamics 365 through plugins"};
  app.add_option("--config", options.config_path, "YAML configuration file")->required();
  app.add_option("--listen", options.listen_override,
                 "HOST:PORT to listen on (overrides server.listen; port 0 picks one)");
  app.add_option("--port-file", options.port_file,
                 "write the bound port to this file once serving");
  app.add_option("--log-format", log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  guestflow::InitLogging(ParseLevel(log_level), log_format);
  // Before any secret is read: a core dump or a ptrace would show them.
  if (absl::Status hardened = guestflow::HardenProcess(); !hardened.ok()) {
    std::fprintf(stderr, "guestflowd: %s\n", std::string(hardened.message()).c_str());
    return 1;
  }

  // Signals are taken by sigwait on this thread only: block them before any
  // thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = guestflow::GuestflowServer::Create(options);
  if (!server.ok()) {
    std::fprintf(stderr, "guestflowd: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  if (absl::Status started = (*server)->Start(); !started.ok()) {
    std::fprintf(stderr, "guestflowd: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      auto reloaded = (*server)->Reload();
      if (!reloaded.ok()) guestflow::LogError(std::string(reloaded.status().message()));
      continue;
    }
    guestflow::LogInfo(
        absl::StrCat("received ", sig == SIGTERM ? "SIGTERM" : "SIGINT", "; shutting down"));
    break;
  }
  (*server)->Shutdown();
  return 0;
}
