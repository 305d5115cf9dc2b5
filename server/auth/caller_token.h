// The bearer tokens of API callers. A token is random and shown once; the
// configuration keeps only "sha256:<salt hex>:<digest hex>", where digest =
// SHA-256(salt bytes followed by the token).
//
// Why SHA-256 and not a slow password hash (bcrypt, Argon2): a token is 32
// random bytes, so there is nothing to guess, and every RPC checks one; a
// slow hash protects low-entropy passwords at a cost paid on each request.
// The salt keeps two configurations (or two callers) from sharing a digest.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace guestflow {

// The longest token accepted in a request; longer ones are refused unread.
inline constexpr size_t kMaxCallerTokenBytes = 512;

// A new token: "gft_" and 43 base64url characters (32 bytes from OpenSSL's
// RAND_bytes). INTERNAL if the random generator fails.
absl::StatusOr<std::string> NewCallerToken();

// The config's token_hash for `token`, with a fresh 16-byte salt.
absl::StatusOr<std::string> HashCallerToken(absl::string_view token);

// SHA-256(token), unsalted, as raw bytes: a key under which a token that
// already matched a caller is remembered (server/api/access.h), one hash per
// request instead of one salted hash per configured caller. Never stored.
std::string CallerTokenDigest(absl::string_view token);

// Whether SHA-256(salt + token) equals the digest, both given as lowercase
// hex (as the config loader checked them). The comparison takes the same
// time whatever the content (CRYPTO_memcmp).
bool CallerTokenMatches(absl::string_view salt_hex, absl::string_view digest_hex,
                        absl::string_view token);

}  // namespace guestflow
