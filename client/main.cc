// guestflow: the command-line client of guestflowd. This file only turns the
// parsed command line into a CommandContext and dispatches on the verb.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/strings/strip.h"
#include "client/admin_commands.h"
#include "client/batch_commands.h"
#include "client/command_context.h"
#include "client/command_line.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/onboarding_commands.h"

namespace guestflow::cli {
namespace {

// The channel, with the caller's credentials.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const GlobalOptions& global) {
  ConnectionOptions options;
  options.server = global.server;
  options.plaintext = global.plaintext;
  options.ca_file = global.tls_ca;
  options.server_name = global.tls_server_name;
  options.cert_file = global.tls_cert;
  options.key_file = global.tls_key;
  if (!global.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(global.token_file);
    if (!token.ok()) return token.status();
    options.token = *std::move(token);
  } else if (const char* token = std::getenv("GUESTFLOW_TOKEN"); token != nullptr) {
    options.token = std::string(absl::StripAsciiWhitespace(token));
  }
  return Connect(options);
}

CommandContext MakeContext(const GlobalOptions& global, std::shared_ptr<grpc::Channel> channel) {
  CommandContext ctx;
  ctx.server = global.server;
  ctx.channel = std::move(channel);
  ctx.json = global.json;
  ctx.terminal = isatty(STDOUT_FILENO) == 1;
  const absl::Duration timeout =
      global.timeout == absl::ZeroDuration() ? absl::InfiniteDuration() : global.timeout;
  ctx.unary_timeout = timeout;
  ctx.stream_timeout = global.timeout_given ? timeout : absl::InfiniteDuration();
  return ctx;
}

int Dispatch(const CommandLine& line) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenChannel(line.global);
  if (!channel.ok()) {
    std::cerr << "error: " << channel.status().message() << "\n";
    return kExitError;
  }
  const CommandContext ctx = MakeContext(line.global, *std::move(channel));
  switch (line.verb) {
    case Verb::kOnboard:
      return RunOnboard(ctx, line.onboard);
    case Verb::kGet:
      return RunGet(ctx, line.name);
    case Verb::kList:
      return RunList(ctx, line.list);
    case Verb::kWatch:
      return RunWatch(ctx, line.name);
    case Verb::kImport:
      return RunImport(ctx, line.import);
    case Verb::kRetry:
      return RunRetry(ctx, line.name);
    case Verb::kCancel:
      return RunCancel(ctx, line.name);
    case Verb::kTenants:
      return RunTenants(ctx);
    case Verb::kPlugins:
      return RunPlugins(ctx);
    case Verb::kDoctor:
      return RunDoctor(ctx, line.tenant);
    case Verb::kCalls:
      return RunCalls(ctx, line.parent);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace guestflow::cli

int main(int argc, char** argv) {
  const guestflow::cli::ParseOutcome parsed =
      guestflow::cli::ParseCommandLine(argc, argv, std::cout, std::cerr);
  if (!parsed.command_line.has_value()) return parsed.exit_code;
  return guestflow::cli::Dispatch(*parsed.command_line);
}
