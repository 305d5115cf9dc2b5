#include "server/api/access.h"

#include <string>

#include "grpcpp/security/auth_context.h"
#include "server/common/status_macros.h"

namespace guestflow {

PresentedCredentials CredentialsOf(const grpc::ServerContextBase& context) {
  PresentedCredentials out;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    out.authorization.emplace(it->second.data(), it->second.size());
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
  const std::shared_ptr<const Config> config = config_();
  GF_ASSIGN_OR_RETURN(Caller caller, Authenticate(config->callers, CredentialsOf(context)));
  GF_RETURN_IF_ERROR(Authorize(caller, needed, rpc));
  return caller;
}

}  // namespace guestflow
