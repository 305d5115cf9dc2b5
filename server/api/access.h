// The RPC edge of authentication: reads a call's credentials (the
// `authorization` metadata, the verified client certificate) and finds its
// caller in the live configuration (server/auth/caller.h).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "server/auth/caller.h"
#include "server/config/config.h"

namespace guestflow {

// What a call presented; no check is made here. The certificate's names are
// read only when no `authorization` metadata was sent: a bearer token decides
// alone (Authenticate).
PresentedCredentials CredentialsOf(const grpc::ServerContextBase& context);

// Thread-safe; the configuration is read anew on each call, so that a reload
// changes who may call at once. Admit does not block (one SHA-256 and a
// short critical section): RPC handlers call it on gRPC's threads.
class Access {
 public:
  using ConfigSource = std::function<std::shared_ptr<const Config>()>;
  // The most bearer tokens remembered (see Admit); far more than callers.
  static constexpr size_t kMaxKnownTokens = 1024;

  explicit Access(ConfigSource config) : config_(std::move(config)) {}

  // The call's caller, if it may call `rpc` with role `needed`:
  // UNAUTHENTICATED (no or unknown credentials) or PERMISSION_DENIED (role).
  absl::StatusOr<Caller> Admit(const grpc::ServerContextBase& context, CallerRole needed,
                               absl::string_view rpc) const;

  // The same for credentials already read off a call. A bearer token that
  // matched a caller is remembered, under its unsalted SHA-256, until the
  // configuration changes (a reload: each one is a new Config): then it is
  // known by one hash instead of one salted hash per configured caller. Only
  // tokens that matched are kept, so there are at most as many as callers
  // with a token: an unknown token costs what it always did, and cannot push
  // a caller's out.
  absl::StatusOr<Caller> Admit(const PresentedCredentials& presented, CallerRole needed,
                               absl::string_view rpc) const;

 private:
  absl::StatusOr<Caller> Identify(const std::shared_ptr<const Config>& config,
                                  const PresentedCredentials& presented) const;

  ConfigSource config_;
  mutable absl::Mutex known_mu_;
  // The configuration the tokens below matched callers of.
  mutable std::shared_ptr<const Config> known_config_ ABSL_GUARDED_BY(known_mu_);
  // CallerTokenDigest(token) -> the caller it matched.
  mutable absl::flat_hash_map<std::string, Caller> known_tokens_ ABSL_GUARDED_BY(known_mu_);
};

}  // namespace guestflow
