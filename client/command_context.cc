#include "client/command_context.h"

#include <chrono>

#include "client/exit_codes.h"
#include "client/json_output.h"
#include "client/rpc_error.h"

namespace guestflow::cli {

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return;
  SetDeadline(context, absl::Now() + timeout);
}

void SetDeadline(grpc::ClientContext& context, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return;
  context.set_deadline(absl::ToChronoTime(deadline));
}

int ReportRpcError(const CommandContext& ctx, const grpc::Status& status, absl::Duration timeout) {
  *ctx.err << FormatRpcError(status, ctx.server, timeout) << std::endl;
  return kExitError;
}

int ReportLocalError(const CommandContext& ctx, const absl::Status& status) {
  *ctx.err << "error: " << status.message() << std::endl;
  return kExitError;
}

bool PrintJson(const CommandContext& ctx, const google::protobuf::Message& message) {
  const absl::Status status = WriteJsonLine(*ctx.out, message);
  if (!status.ok()) ReportLocalError(ctx, status);
  return status.ok();
}

}  // namespace guestflow::cli
