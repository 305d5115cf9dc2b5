// The channel to guestflowd: its transport (TLS, or plain text when asked
// for) and the caller's credentials.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"

namespace guestflow::cli {

// The gRPC service config the CLI's channel uses: UNAVAILABLE is retried (4
// attempts, 0.2 s to 2 s back-off) for the RPCs that are safe to send twice:
// reads, WatchOnboarding (gRPC only retries it before the first message) and
// StartOnboarding, which the CLI always sends with a request_id. Cancel,
// Retry and the CreateBatch upload are never retried.
std::string RetryServiceConfigJson();

struct ConnectionOptions {
  // `host:port`, or any gRPC target such as `unix:/path`.
  std::string server;
  // No TLS: for a guestflowd with server.plaintext (loopback development).
  bool plaintext = false;
  // TLS: the CAs that sign the server's certificate (PEM); empty: the
  // system's. The name it must carry; empty: the host of `server`.
  std::string ca_file;
  std::string server_name;
  // TLS: a client certificate and its key (PEM), for a caller known by
  // certificate (server.tls.client_ca_file). Both or neither.
  std::string cert_file;
  std::string key_file;
  // The caller's bearer token, sent as "authorization: Bearer <token>" on
  // every call; empty: none.
  std::string token;
};

// A channel with RetryServiceConfigJson() and a `guestflow-cli/<version>` user
// agent. Connects lazily: an unreachable server shows up as UNAVAILABLE on
// the first RPC. Errors (a file that cannot be read, a key without its
// certificate) are INVALID_ARGUMENT / NOT_FOUND naming the file. Thread-safe,
// like every grpc::Channel.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options);

// The token in `path`: its first line, without surrounding whitespace.
// PERMISSION_DENIED for a file readable or writable by others (chmod o-rwx),
// NOT_FOUND for one that cannot be read or is empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace guestflow::cli
