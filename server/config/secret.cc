#include "server/config/secret.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace guestflow {

absl::StatusOr<std::string> ResolveSecret(const SecretRef& ref) {
  switch (ref.source) {
    case SecretRef::Source::kNone:
      return absl::FailedPreconditionError("no secret configured");
    case SecretRef::Source::kEnv: {
      const char* value = std::getenv(ref.name.c_str());
      if (value == nullptr || *value == '\0') {
        return absl::NotFoundError(
            absl::StrCat("environment variable ", ref.name, " is not set or empty"));
      }
      return std::string(value);
    }
    case SecretRef::Source::kFile: {
      std::error_code ec;
      const std::filesystem::perms perms = std::filesystem::status(ref.name, ec).permissions();
      if (!ec && (perms & (std::filesystem::perms::others_read |
                           std::filesystem::perms::others_write)) != std::filesystem::perms::none) {
        return absl::PermissionDeniedError(
            absl::StrCat("secret file ", ref.name,
                         " is readable or writable by others; a secret file must not be (chmod "
                         "o-rwx ",
                         ref.name, ")"));
      }
      std::ifstream in(ref.name, std::ios::binary);
      if (!in) {
        const int err = errno;
        if (err == EACCES) {
          return absl::PermissionDeniedError(absl::StrCat("cannot read secret file ", ref.name));
        }
        return absl::NotFoundError(
            absl::StrCat("cannot open secret file ", ref.name, ": ", std::strerror(err)));
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      std::string value = buffer.str();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
      if (value.empty()) {
        return absl::NotFoundError(absl::StrCat("secret file ", ref.name, " is empty"));
      }
      return value;
    }
  }
  return absl::InternalError("unknown secret source");
}

}  // namespace guestflow
