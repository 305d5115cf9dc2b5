// guestflow: the command-line client of guestflowd. This file only turns the
// parsed command line into a CommandContext and dispatches on the verb.
#include <unistd.h>

#include <iostream>

#include "client/admin_commands.h"
#include "client/batch_commands.h"
#include "client/command_context.h"
#include "client/command_line.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/onboarding_commands.h"

namespace guestflow::cli {
namespace {

CommandContext MakeContext(const GlobalOptions& global) {
  CommandContext ctx;
  ctx.server = global.server;
  ctx.channel = Connect(global.server);
  ctx.json = global.json;
  ctx.terminal = isatty(STDOUT_FILENO) == 1;
  const absl::Duration timeout =
      global.timeout == absl::ZeroDuration() ? absl::InfiniteDuration() : global.timeout;
  ctx.unary_timeout = timeout;
  ctx.stream_timeout = global.timeout_given ? timeout : absl::InfiniteDuration();
  return ctx;
}

int Dispatch(const CommandLine& line) {
  const CommandContext ctx = MakeContext(line.global);
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
