// Authenticate, Authorize and tenant grants: who a request's credentials
// name, what that caller may do, and the answers that reveal nothing.
#include "server/auth/caller.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// The test_callers.h tokens, whose hashes these are.
constexpr char kAdminToken[] = "gft_local-development-admin-0f3b6e2a";
constexpr char kOperatorToken[] = "gft_test-operator-7c1d";
constexpr char kReaderToken[] = "gft_test-reader-4e9a";

std::vector<CallerConfig> Callers() {
  CallerConfig admin;
  admin.name = "ops";
  admin.role = CallerRole::kAdmin;
  admin.all_tenants = true;
  admin.token_salt_hex = "5eed0f3b6e2a11d49c07a1b2c3d4e5f6";
  admin.token_digest_hex = "88fbfbd478529bc284cc024ba201447d4305e745b23803065c86045056a13000";
  CallerConfig op;
  op.name = "hr-portal";
  op.role = CallerRole::kOperator;
  op.tenants = {"contoso", "fabrikam"};
  op.token_salt_hex = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
  op.token_digest_hex = "cfe21e0f2f40af5232debd777ec3dea3957d336afe70a07bb1c484fa208487c1";
  op.client_cert_names = {"hr-portal.contoso.example"};
  CallerConfig reader;
  reader.name = "dashboard";
  reader.role = CallerRole::kReader;
  reader.tenants = {"contoso"};
  reader.token_salt_hex = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
  reader.token_digest_hex = "b60ac414306ab070fc87b0e55481c205cd3886070a99614909eeaefd70a06b66";
  CallerConfig by_cert;
  by_cert.name = "auditor";
  by_cert.role = CallerRole::kReader;
  by_cert.all_tenants = true;
  by_cert.client_cert_names = {"audit.example", "spiffe://example/auditor"};
  return {admin, op, reader, by_cert};
}

absl::StatusOr<Caller> WithToken(const std::string& authorization) {
  PresentedCredentials presented;
  presented.authorization = authorization;
  return Authenticate(Callers(), presented);
}

absl::StatusOr<Caller> WithCert(std::vector<std::string> names) {
  PresentedCredentials presented;
  presented.cert_names = std::move(names);
  return Authenticate(Callers(), presented);
}

TEST(AuthenticateTest, ABearerTokenNamesItsCaller) {
  absl::StatusOr<Caller> c = WithToken(std::string("Bearer ") + kOperatorToken);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "hr-portal");
  EXPECT_EQ(c->role, CallerRole::kOperator);
  EXPECT_THAT(c->tenants, ElementsAre("contoso", "fabrikam"));
  EXPECT_FALSE(c->all_tenants);
  EXPECT_EQ(WithToken(std::string("Bearer ") + kAdminToken)->name, "ops");
  EXPECT_EQ(WithToken(std::string("Bearer ") + kReaderToken)->name, "dashboard");
  // The scheme is case-insensitive (RFC 7235); spaces around are ignored.
  EXPECT_EQ(WithToken(std::string("bearer  ") + kReaderToken + " ")->name, "dashboard");
}

TEST(AuthenticateTest, AWrongOrMalformedTokenIsUnauthenticatedWithoutEchoingIt) {
  for (const std::string header : std::vector<std::string>{
           "Bearer gft_guess-0000", std::string("Bearer ") + kReaderToken + "x",
           std::string("Basic ") + kReaderToken, std::string(kReaderToken), "Bearer ",
           "Bearer " + std::string(600, 'a')}) {
    absl::StatusOr<Caller> c = WithToken(header);
    ASSERT_FALSE(c.ok()) << header;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << header;
    EXPECT_THAT(c.status().message(), Not(HasSubstr("gft_"))) << header;
  }
}

TEST(AuthenticateTest, ATokenDecidesEvenWithAGoodCertificate) {
  PresentedCredentials presented;
  presented.authorization = "Bearer gft_wrong";
  presented.cert_names = {"audit.example"};
  EXPECT_EQ(Authenticate(Callers(), presented).status().code(), absl::StatusCode::kUnauthenticated);
  presented.authorization = std::string("Bearer ") + kReaderToken;
  EXPECT_EQ(Authenticate(Callers(), presented)->name, "dashboard");
}

TEST(AuthenticateTest, AVerifiedCertificateNamesItsCallerByAnyOfItsNames) {
  EXPECT_EQ(WithCert({"audit.example"})->name, "auditor");
  EXPECT_EQ(WithCert({"other.example", "spiffe://example/auditor"})->name, "auditor");
  EXPECT_EQ(WithCert({"hr-portal.contoso.example"})->name, "hr-portal");
  absl::StatusOr<Caller> stranger = WithCert({"stranger.example"});
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(stranger.status().message(), HasSubstr("stranger.example"));
}

TEST(AuthenticateTest, NoCredentialsSaysWhatToSend) {
  absl::StatusOr<Caller> c = Authenticate(Callers(), PresentedCredentials{});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(c.status().message(),
              AllOf(HasSubstr("authorization: Bearer <token>"), HasSubstr("GUESTFLOW_TOKEN")));
  // With no callers configured, nobody gets in.
  PresentedCredentials presented;
  presented.authorization = std::string("Bearer ") + kAdminToken;
  EXPECT_EQ(Authenticate({}, presented).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthorizeTest, EachRoleMayDoWhatTheRolesBelowItMay) {
  const Caller reader{"dashboard", CallerRole::kReader, false, {"contoso"}};
  const Caller op{"hr-portal", CallerRole::kOperator, false, {"contoso"}};
  const Caller admin{"ops", CallerRole::kAdmin, true, {}};
  EXPECT_TRUE(Authorize(reader, CallerRole::kReader, "GetOnboarding").ok());
  EXPECT_TRUE(Authorize(op, CallerRole::kReader, "GetOnboarding").ok());
  EXPECT_TRUE(Authorize(op, CallerRole::kOperator, "StartOnboarding").ok());
  EXPECT_TRUE(Authorize(admin, CallerRole::kOperator, "StartOnboarding").ok());
  EXPECT_TRUE(Authorize(admin, CallerRole::kAdmin, "ReloadConfig").ok());
  const absl::Status denied = Authorize(reader, CallerRole::kOperator, "StartOnboarding");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(),
            "caller \"dashboard\" (reader) may not call StartOnboarding: it needs the operator "
            "role");
  EXPECT_EQ(Authorize(op, CallerRole::kAdmin, "ReloadConfig").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(CallerTest, MayUseItsTenantsOnlyUnlessGrantedAll) {
  const Caller op{"hr-portal", CallerRole::kOperator, false, {"contoso", "fabrikam"}};
  EXPECT_TRUE(op.MayUse("contoso"));
  EXPECT_TRUE(op.MayUse("fabrikam"));
  EXPECT_FALSE(op.MayUse("northwind"));
  EXPECT_FALSE(op.MayUse(""));
  EXPECT_FALSE(op.MayUse("contoso "));
  const Caller all{"ops", CallerRole::kAdmin, true, {}};
  EXPECT_TRUE(all.MayUse("northwind"));
}

TEST(CallerTest, TenantNotFoundNamesOnlyTheCallersOwnTenants) {
  const Caller op{"hr-portal", CallerRole::kOperator, false, {"contoso", "fabrikam"}};
  const absl::Status s = TenantNotFound(op, "northwind");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "tenant \"northwind\" is not configured or not granted to caller \"hr-portal\" (its "
            "tenants: contoso, fabrikam)");
}

}  // namespace
}  // namespace guestflow
