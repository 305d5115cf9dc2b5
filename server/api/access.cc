#include "server/api/access.h"

#include <optional>
#include <string>

#include "grpcpp/security/auth_context.h"
#include "server/auth/caller_token.h"
#include "server/common/status_macros.h"

namespace guestflow {

PresentedCredentials CredentialsOf(const grpc::ServerContextBase& context) {
  PresentedCredentials out;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    out.authorization.emplace(it->second.data(), it->second.size());
    return out;
  }
  // Only a certificate the handshake verified against server.tls.client_ca_file.
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const char* property : {"x509_common_name", "x509_subject_alternative_name"}) {
      for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
        out.cert_names.emplace_back(value.data(), value.size());
      }
    }
  }
  return out;
}

absl::StatusOr<Caller> Access::Admit(const grpc::ServerContextBase& context, CallerRole needed,
                                     absl::string_view rpc) const {
  return Admit(CredentialsOf(context), needed, rpc);
}

absl::StatusOr<Caller> Access::Admit(const PresentedCredentials& presented, CallerRole needed,
                                     absl::string_view rpc) const {
  GF_ASSIGN_OR_RETURN(Caller caller, Identify(config_(), presented));
  GF_RETURN_IF_ERROR(Authorize(caller, needed, rpc));
  return caller;
}

absl::StatusOr<Caller> Access::Identify(const std::shared_ptr<const Config>& config,
                                        const PresentedCredentials& presented) const {
  if (!presented.authorization.has_value()) return Authenticate(config->callers, presented);
  GF_ASSIGN_OR_RETURN(absl::string_view token, BearerToken(*presented.authorization));
  // The key is a digest, so that no token is kept in memory; looking it up
  // tells an attacker nothing about a caller's token (finding a token for a
  // prefix of a digest is as hard as finding one for the digest).
  const std::string digest = CallerTokenDigest(token);
  {
    absl::ReaderMutexLock lock(&known_mu_);
    if (known_config_ == config) {
      if (auto it = known_tokens_.find(digest); it != known_tokens_.end()) return it->second;
    }
  }
  GF_ASSIGN_OR_RETURN(Caller caller, Authenticate(config->callers, presented));
  absl::MutexLock lock(&known_mu_);
  if (known_config_ != config || known_tokens_.size() >= kMaxKnownTokens) {
    known_tokens_.clear();
    known_config_ = config;
  }
  known_tokens_.emplace(digest, caller);
  return caller;
}

}  // namespace guestflow
