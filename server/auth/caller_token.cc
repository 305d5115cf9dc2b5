#include "server/auth/caller_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace guestflow {
namespace {

constexpr int kTokenBytes = 32;
constexpr int kSaltBytes = 16;

absl::StatusOr<std::string> RandomBytes(int n) {
  std::string out(static_cast<size_t>(n), '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), n) != 1) {
    return absl::InternalError("OpenSSL's random generator failed (RAND_bytes)");
  }
  return out;
}

// Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up
// again at every EVP_DigestInit_ex, and every RPC hashes its token.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

std::string Sha256(absl::string_view salt, absl::string_view token) {
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  // One context per thread, reset by each EVP_DigestInit_ex: not one
  // allocated and freed per request.
  thread_local const std::unique_ptr<EVP_MD_CTX, Free> ctx(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr);
  EVP_DigestUpdate(ctx.get(), salt.data(), salt.size());
  EVP_DigestUpdate(ctx.get(), token.data(), token.size());
  EVP_DigestFinal_ex(ctx.get(), digest, &size);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace

absl::StatusOr<std::string> NewCallerToken() {
  absl::StatusOr<std::string> bytes = RandomBytes(kTokenBytes);
  if (!bytes.ok()) return bytes.status();
  std::string encoded;
  absl::WebSafeBase64Escape(*bytes, &encoded);  // no padding
  return absl::StrCat("gft_", encoded);
}

absl::StatusOr<std::string> HashCallerToken(absl::string_view token) {
  absl::StatusOr<std::string> salt = RandomBytes(kSaltBytes);
  if (!salt.ok()) return salt.status();
  return absl::StrCat("sha256:", absl::BytesToHexString(*salt), ":",
                      absl::BytesToHexString(Sha256(*salt, token)));
}

std::string CallerTokenDigest(absl::string_view token) { return Sha256({}, token); }

bool CallerTokenMatches(absl::string_view salt_hex, absl::string_view digest_hex,
                        absl::string_view token) {
  const std::string salt = absl::HexStringToBytes(salt_hex);
  const std::string expected = absl::HexStringToBytes(digest_hex);
  const std::string actual = Sha256(salt, token);
  return expected.size() == actual.size() &&
         CRYPTO_memcmp(expected.data(), actual.data(), actual.size()) == 0;
}

}  // namespace guestflow
