// What every command needs: the channel, where to print, and the deadlines.
#pragma once

#include <iostream>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace guestflow::cli {

// A command reads this and never changes it. The streams and the channel are
// borrowed/shared; the context outlives the command that uses it.
struct CommandContext {
  std::shared_ptr<grpc::ChannelInterface> channel;
  // The address `channel` points at, for error messages.
  std::string server;
  // Print response messages as JSON lines instead of text.
  bool json = false;
  // Standard output is a terminal: print ✔/✘ and cut long table cells.
  bool terminal = false;
  // Deadline of each unary RPC; InfiniteDuration() for none.
  absl::Duration unary_timeout = absl::Seconds(30);
  // Deadline of a whole `watch` (reconnections included); InfiniteDuration()
  // for none.
  absl::Duration stream_timeout = absl::InfiniteDuration();
  // First pause before `watch` reconnects after its stream broke; doubles
  // on each further attempt. Tests shorten it.
  absl::Duration reconnect_backoff = absl::Seconds(1);
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
};

// Sets `context`'s deadline to now + `timeout`, unless `timeout` is infinite.
void SetDeadline(grpc::ClientContext& context, absl::Duration timeout);

// Sets `context`'s deadline to `deadline`, unless it is absl::InfiniteFuture().
void SetDeadline(grpc::ClientContext& context, absl::Time deadline);

// Prints FormatRpcError(status, ctx.server, timeout) to *ctx.err and returns
// kExitError.
int ReportRpcError(const CommandContext& ctx, const grpc::Status& status, absl::Duration timeout);

// Prints `error: <message>` (a local failure, not an RPC) to *ctx.err and
// returns kExitError.
int ReportLocalError(const CommandContext& ctx, const absl::Status& status);

// Writes `message` as a JSON line to *ctx.out; on a printing failure reports
// it and returns false.
bool PrintJson(const CommandContext& ctx, const google::protobuf::Message& message);

}  // namespace guestflow::cli
