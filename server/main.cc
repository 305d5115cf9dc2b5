// guestflowd: parses flags into ServerOptions and runs the server until
// SIGTERM or SIGINT; SIGHUP reloads the configuration. Two subcommands make
// callers' tokens: `new-token` and `hash-token` (docs/security.md).
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "server/auth/caller_token.h"
#include "server/common/logging.h"
#include "server/common/process_hardening.h"
#include "server/config/config_loader.h"
#include "server/server.h"

namespace {

guestflow::LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return guestflow::LogLevel::kDebug;
  if (s == "warn") return guestflow::LogLevel::kWarn;
  if (s == "error") return guestflow::LogLevel::kError;
  return guestflow::LogLevel::kInfo;
}

// `new-token`: a fresh token and its hash; `hash-token`: the hash of the
// token on standard input (never an argument: it would show in `ps`).
int RunTokenCommand(bool make_new) {
  std::string token;
  if (make_new) {
    absl::StatusOr<std::string> made = guestflow::NewCallerToken();
    if (!made.ok()) {
      std::fprintf(stderr, "guestflowd: %s\n", std::string(made.status().message()).c_str());
      return 1;
    }
    token = *made;
  } else {
    std::getline(std::cin, token);
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty() || token.size() > guestflow::kMaxCallerTokenBytes) {
      std::fprintf(stderr,
                   "guestflowd: hash-token reads one token (1 to %zu bytes) on standard input\n",
                   guestflow::kMaxCallerTokenBytes);
      return 2;
    }
  }
  absl::StatusOr<std::string> hash = guestflow::HashCallerToken(token);
  if (!hash.ok()) {
    std::fprintf(stderr, "guestflowd: %s\n", std::string(hash.status().message()).c_str());
    return 1;
  }
  if (make_new) {
    std::printf("token:      %s\n", token.c_str());
    std::printf("token_hash: %s\n", hash->c_str());
    std::fprintf(stderr,
                 "Give the token to the caller (it is shown only now) and put token_hash in "
                 "its callers entry.\n");
  } else {
    std::printf("%s\n", hash->c_str());
  }
  return 0;
}

}  // namespace

// CLI11 throws only for mistakes in the option set-up below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  guestflow::ServerOptions options;
  std::string log_format = "text";
  std::string log_level = "info";
  CLI::App app{"guestflowd: onboards B2B guests into Dynamics 365 through plugins"};
  app.add_option("--config", options.config_path, "YAML configuration file");
  CLI::App* new_token =
      app.add_subcommand("new-token", "print a new caller token and its token_hash");
  bool check_config = false;
  app.add_flag("--check-config", check_config,
               "validate the configuration (keys, values, transport, callers) and exit; files it "
               "names (certificates, plugins, secrets) are read at start");
  CLI::App* hash_token = app.add_subcommand(
      "hash-token", "print the token_hash of the token read from standard input");
  app.require_subcommand(0, 1);
  app.add_option("--listen", options.listen_override,
                 "HOST:PORT to listen on (overrides server.listen; port 0 picks one)");
  app.add_option("--port-file", options.port_file,
                 "write the bound port to this file once serving");
  app.add_option("--log-format", log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  if (new_token->parsed() || hash_token->parsed()) return RunTokenCommand(new_token->parsed());
  if (options.config_path.empty()) {
    std::fprintf(stderr, "guestflowd: --config is required\n%s", app.help().c_str());
    return 2;
  }
  if (check_config) {
    absl::StatusOr<guestflow::Config> config = guestflow::LoadConfigFile(options.config_path);
    absl::Status servable = config.ok() ? guestflow::CheckServable(*config) : config.status();
    if (!servable.ok()) {
      std::fprintf(stderr, "guestflowd: %s\n", std::string(servable.message()).c_str());
      return 1;
    }
    std::printf("%s: valid (%zu tenant(s), %zu caller(s), %s)\n", options.config_path.c_str(),
                config->tenants.size(), config->callers.size(),
                config->server.tls.has_value() ? "TLS" : "plain text on loopback");
    return 0;
  }
  guestflow::InitLogging(ParseLevel(log_level), log_format);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex taken
  // while another is held updates a global lock graph, itself behind a
  // global lock (91 ns a nested pair instead of 34 on the CI machine, and a
  // point where every thread meets). The tests keep the detection on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
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
