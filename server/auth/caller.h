// Who is calling the API and what it may do: Authenticate finds the caller
// of the configuration a request's credentials name, Authorize checks its
// role, and MayUse its tenants. Plain functions over the configuration, so
// that a reload takes effect at the next request. The gRPC side (reading the
// credentials off a call) is server/api/access.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config/config.h"

namespace guestflow {

struct Caller {
  std::string name;
  CallerRole role = CallerRole::kReader;
  bool all_tenants = false;
  std::vector<std::string> tenants;

  // Whether the caller may see and act on `tenant`'s onboardings.
  bool MayUse(absl::string_view tenant) const;
};

// What a request presented.
struct PresentedCredentials {
  // The value of its `authorization` metadata, if it sent one.
  std::optional<std::string> authorization;
  // The identities of the client certificate the TLS handshake verified
  // (subject common name, subject alternative names); empty without one.
  std::vector<std::string> cert_names;
};

absl::string_view RoleName(CallerRole role);

// The token of an `authorization` metadata value "Bearer <token>" (any case,
// surrounding blanks ignored): UNAUTHENTICATED, saying what to send, for
// another form or a token longer than kMaxCallerTokenBytes. The message never
// repeats the value.
absl::StatusOr<absl::string_view> BearerToken(absl::string_view authorization);

// The caller `presented` proves to be. A bearer token, when sent, decides
// alone (a wrong token is refused even with a good certificate); otherwise a
// verified client certificate whose identity a caller lists. UNAUTHENTICATED
// with what to send when nothing matches; the message never repeats the token.
absl::StatusOr<Caller> Authenticate(const std::vector<CallerConfig>& callers,
                                    const PresentedCredentials& presented);

// PERMISSION_DENIED unless the caller's role is at least `needed`; `rpc`
// names the call in the message.
absl::Status Authorize(const Caller& caller, CallerRole needed, absl::string_view rpc);

// The answer for a tenant the caller may not use, which is also the answer
// for a tenant that does not exist: NOT_FOUND, naming the caller's tenants.
absl::Status TenantNotFound(const Caller& caller, absl::string_view tenant);

}  // namespace guestflow
