#include "server/auth/caller.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/auth/caller_token.h"

namespace guestflow {
namespace {

constexpr absl::string_view kHowToAuthenticate =
    "send the metadata \"authorization: Bearer <token>\" (the guestflow CLI: --token-file or "
    "$GUESTFLOW_TOKEN) or a client certificate a caller of the server configuration lists";

Caller FromConfig(const CallerConfig& c) {
  return Caller{c.name, c.role, c.all_tenants, c.tenants};
}

}  // namespace

bool Caller::MayUse(absl::string_view tenant) const {
  return all_tenants || std::find(tenants.begin(), tenants.end(), tenant) != tenants.end();
}

absl::string_view RoleName(CallerRole role) {
  switch (role) {
    case CallerRole::kReader:
      return "reader";
    case CallerRole::kOperator:
      return "operator";
    case CallerRole::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<absl::string_view> BearerToken(absl::string_view authorization) {
  const absl::string_view value = absl::StripAsciiWhitespace(authorization);
  constexpr absl::string_view kBearer = "bearer ";
  if (value.size() <= kBearer.size() || !absl::StartsWithIgnoreCase(value, kBearer)) {
    return absl::UnauthenticatedError("the authorization metadata must read \"Bearer <token>\"");
  }
  const absl::string_view token = absl::StripLeadingAsciiWhitespace(value.substr(kBearer.size()));
  if (token.size() > kMaxCallerTokenBytes) {
    return absl::UnauthenticatedError(
        absl::StrCat("the bearer token is longer than ", kMaxCallerTokenBytes, " bytes"));
  }
  return token;
}

absl::StatusOr<Caller> Authenticate(const std::vector<CallerConfig>& callers,
                                    const PresentedCredentials& presented) {
  if (presented.authorization.has_value()) {
    absl::StatusOr<absl::string_view> token = BearerToken(*presented.authorization);
    if (!token.ok()) return token.status();
    // Every caller's digest is computed, whichever matches.
    const CallerConfig* match = nullptr;
    for (const CallerConfig& c : callers) {
      if (c.token_digest_hex.empty()) continue;
      if (CallerTokenMatches(c.token_salt_hex, c.token_digest_hex, *token) && match == nullptr) {
        match = &c;
      }
    }
    if (match == nullptr) {
      return absl::UnauthenticatedError(
          "the bearer token matches no caller of the server configuration");
    }
    return FromConfig(*match);
  }
  if (!presented.cert_names.empty()) {
    for (const CallerConfig& c : callers) {
      for (const std::string& name : c.client_cert_names) {
        if (std::find(presented.cert_names.begin(), presented.cert_names.end(), name) !=
            presented.cert_names.end()) {
          return FromConfig(c);
        }
      }
    }
    return absl::UnauthenticatedError(
        absl::StrCat("the client certificate (", absl::StrJoin(presented.cert_names, ", "),
                     ") names no caller of the server configuration; ", kHowToAuthenticate));
  }
  return absl::UnauthenticatedError(absl::StrCat("no credentials: ", kHowToAuthenticate));
}

absl::Status Authorize(const Caller& caller, CallerRole needed, absl::string_view rpc) {
  if (caller.role >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("caller \"", caller.name, "\" (",
                                                  RoleName(caller.role), ") may not call ", rpc,
                                                  ": it needs the ", RoleName(needed), " role"));
}

absl::Status TenantNotFound(const Caller& caller, absl::string_view tenant) {
  return absl::NotFoundError(absl::StrCat(
      "tenant \"", tenant, "\" is not configured or not granted to caller \"", caller.name,
      "\" (its tenants: ", caller.all_tenants ? "all" : absl::StrJoin(caller.tenants, ", "), ")"));
}

}  // namespace guestflow
