// The channel to guestflowd.
#pragma once

#include <memory>
#include <string>

#include "grpcpp/channel.h"

namespace guestflow::cli {

// The gRPC service config the CLI's channel uses: UNAVAILABLE is retried (4
// attempts, 0.2 s to 2 s back-off) for the RPCs that are safe to send twice:
// reads, WatchOnboarding (gRPC only retries it before the first message) and
// StartOnboarding, which the CLI always sends with a request_id. Cancel,
// Retry and the CreateBatch upload are never retried.
std::string RetryServiceConfigJson();

// An insecure channel to `server` (`host:port`, or any gRPC target such as
// `unix:/path`), with RetryServiceConfigJson() and a `guestflow-cli/<version>`
// user agent. Connects lazily: an unreachable server shows up as UNAVAILABLE
// on the first RPC. Thread-safe, like every grpc::Channel.
std::shared_ptr<grpc::Channel> Connect(const std::string& server);

}  // namespace guestflow::cli
