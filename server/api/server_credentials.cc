#include "server/api/server_credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "server/common/status_macros.h"
#include "server/config/secret.h"

namespace guestflow {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::StatusOr<std::string> ReadFile(absl::string_view key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(key, ": cannot read ", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM file.
absl::StatusOr<Cert> FirstCertificate(absl::string_view key, const std::string& path,
                                      const std::string& pem) {
  Bio bio = MemoryBio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", path, " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return cert;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& server) {
  if (!server.tls.has_value()) {
    if (server.plaintext) return grpc::InsecureServerCredentials();
    return absl::FailedPreconditionError(
        "server.tls: required, or server.plaintext: true on a loopback address");
  }
  const TlsConfig& tls = *server.tls;
  GF_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile("server.tls.cert_file", tls.cert_file));
  GF_ASSIGN_OR_RETURN(Cert cert, FirstCertificate("server.tls.cert_file", tls.cert_file, cert_pem));
  absl::StatusOr<std::string> key_pem = ResolveSecret({SecretRef::Source::kFile, tls.key_file});
  if (!key_pem.ok()) {
    return absl::Status(key_pem.status().code(),
                        absl::StrCat("server.tls.key_file: ", key_pem.status().message()));
  }
  {
    Bio bio = MemoryBio(*key_pem);
    Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("server.tls.key_file: ", tls.key_file,
                       " holds no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"));
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat("server.tls.key_file: ", tls.key_file,
                                                     " is not the key of the certificate in ",
                                                     tls.cert_file));
    }
  }
  if (!tls.client_ca_file.empty()) {
    GF_ASSIGN_OR_RETURN(std::string ca_pem,
                        ReadFile("server.tls.client_ca_file", tls.client_ca_file));
    GF_RETURN_IF_ERROR(
        FirstCertificate("server.tls.client_ca_file", tls.client_ca_file, ca_pem).status());
  }
  const auto interval =
      static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(tls.reload_interval)));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (tls.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(tls.require_client_cert
                                      ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace guestflow
