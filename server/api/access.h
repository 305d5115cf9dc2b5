// The RPC edge of authentication: reads a call's credentials (the
// `authorization` metadata, the verified client certificate) and finds its
// caller in the live configuration (server/auth/caller.h).
#pragma once

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "server/auth/caller.h"
#include "server/config/config.h"

namespace guestflow {

// What a call presented; no check is made here.
PresentedCredentials CredentialsOf(const grpc::ServerContextBase& context);

// Thread-safe; the configuration is read anew on each call, so that a reload
// changes who may call at once.
class Access {
 public:
  using ConfigSource = std::function<std::shared_ptr<const Config>()>;
  explicit Access(ConfigSource config) : config_(std::move(config)) {}

  // The call's caller, if it may call `rpc` with role `needed`:
  // UNAUTHENTICATED (no or unknown credentials) or PERMISSION_DENIED (role).
  absl::StatusOr<Caller> Admit(const grpc::ServerContextBase& context, CallerRole needed,
                               absl::string_view rpc) const;

 private:
  ConfigSource config_;
};

}  // namespace guestflow
