// The gRPC server's transport, from server.tls or server.plaintext.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "server/config/config.h"

namespace guestflow {

// With server.tls: checks the files now (each readable and PEM; the key not
// readable by others, and the key of the certificate; the client CA file
// holding a certificate), then serves them through gRPC's file watcher,
// which re-reads them every reload_interval: a renewed certificate (or CA)
// is used by the next handshakes without a restart. A client certificate is
// requested and verified against client_ca_file when set, and required with
// require_client_cert. With server.plaintext: insecure credentials (the
// config loader allows them only on a loopback address).
//
// Errors name the key (server.tls.cert_file, ...) and the file:
// NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT (not PEM, key and
// certificate do not match), FAILED_PRECONDITION (neither transport).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& server);

}  // namespace guestflow
