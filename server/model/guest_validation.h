// Validation of what a caller says about a guest, before anything is stored
// or sent to Microsoft. Used by the gRPC handlers, the CSV import and the
// config loader (for a tenant's default roles and invitation message).
//
// Contract:
// - Every function returns OK or INVALID_ARGUMENT, never another code.
// - A message names the field it is about, quotes the offending value (control
//   characters escaped, long values shortened) and says what is expected, so a
//   person can fix the input without reading this code, e.g.
//     guest.usage_location: "UK" is not an ISO 3166-1 alpha-2 code; the United
//     Kingdom is "GB"
// - ValidateGuest and ValidateOptions check every field and report every
//   problem, one line per field ("\n"-separated), in field order.
// - Lengths are counted in Unicode code points of the UTF-8 text (as the
//   proto documents "characters"); invalid UTF-8 is refused.
// - Not checked here: mailbox approval and server-side sync requests
//   (FAILED_PRECONDITION, decided by the RPC layer), whether roles exist in
//   Dataverse, whether the tenant allows the guest's domain.
//
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/model/onboarding.h"

namespace guestflow {

// The documented limits (proto/guestflow/v1/onboarding.proto).
inline constexpr size_t kMaxEmailLength = 254;
inline constexpr size_t kMaxEmailLocalPartLength = 64;
inline constexpr size_t kMaxEmailDomainLength = 253;
inline constexpr size_t kMaxNameLength = 64;  // first_name, last_name
inline constexpr size_t kMaxDisplayNameLength = 256;
inline constexpr size_t kMaxRoles = 32;
inline constexpr size_t kMaxRoleNameLength = 100;
inline constexpr size_t kMaxInvitationMessageLength = 2000;

// email, first_name, last_name and usage_location are required; display_name
// is optional. Field names in messages are "guest.<field>".
[[nodiscard]] absl::Status ValidateGuest(const Guest& guest);

// roles (ValidateRoleNames) and invitation_message; field names in messages
// are "options.<field>". Everything else in OnboardingOptions is a tri-state
// bool with nothing to check.
[[nodiscard]] absl::Status ValidateOptions(const OnboardingOptions& options);

// Microsoft Graph's rules for invitedUserEmailAddress, plus the usual limits:
// - printable ASCII only, exactly one "@", at most 254 characters;
// - local part of 1 to 64 characters, none of ~ ! # $ % ^ & * ( ) + = [ ] { }
//   \ / | ; : " < > ? , (Graph refuses them), "." and "-" neither first nor
//   last, no "..";
// - domain of at most 253 characters with at least one dot; each label 1 to
//   63 letters, digits or "-", not starting or ending with "-"; the last label
//   is not all digits (no IP addresses).
[[nodiscard]] absl::Status ValidateEmail(absl::string_view email,
                                         absl::string_view field = "guest.email");

// Required; an assigned ISO 3166-1 alpha-2 code in upper case. Lower case is
// refused with the upper-case spelling; common mistakes get a hint: "UK" (use
// "GB"), "EL" (use "GR"), language codes such as "EN", "JA", "ZH", alpha-3
// codes ("DEU" is "DE") and country names ("Germany" is "DE").
[[nodiscard]] absl::Status ValidateUsageLocation(absl::string_view code,
                                                 absl::string_view field = "guest.usage_location");

// True for the 249 assigned ISO 3166-1 alpha-2 codes, upper case only.
bool IsIso3166Alpha2(absl::string_view code);

// At most 32 names; each 1 to 100 characters, no control characters, no
// leading or trailing spaces, no duplicates (compared ignoring ASCII case, as
// Dataverse compares role names). Elements are named "<field>[i]".
[[nodiscard]] absl::Status ValidateRoleNames(const std::vector<std::string>& roles,
                                             absl::string_view field = "options.roles");

// Optional; at most 2,000 characters; line breaks and tabs are allowed, other
// control characters are not.
[[nodiscard]] absl::Status ValidateInvitationMessage(
    absl::string_view message, absl::string_view field = "options.invitation_message");

}  // namespace guestflow
