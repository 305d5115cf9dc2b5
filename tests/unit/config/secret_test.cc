// ResolveSecret: a secret comes from the environment or from a file only the
// service may read, and no error ever carries its value.
#include "server/config/secret.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kValue[] = "s3cr3t-value-in-a-file";

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "secret_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  SecretRef Write(const std::string& name, fs::perms perms) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << kValue << "\n";
    fs::permissions(path, perms);
    return SecretRef{SecretRef::Source::kFile, path.string()};
  }
  fs::path dir_;
};

TEST_F(SecretFileTest, AnOwnerOnlyOrGroupReadableFileIsReadWithoutItsNewline) {
  for (fs::perms perms : {fs::perms::owner_read | fs::perms::owner_write,
                          fs::perms::owner_read | fs::perms::group_read}) {
    absl::StatusOr<std::string> secret = ResolveSecret(Write("key", perms));
    ASSERT_TRUE(secret.ok()) << secret.status();
    EXPECT_EQ(*secret, kValue);
  }
}

TEST_F(SecretFileTest, AFileOthersMayReadOrWriteIsRefusedWithoutReadingIt) {
  for (fs::perms extra : {fs::perms::others_read, fs::perms::others_write}) {
    const SecretRef ref = Write("open", fs::perms::owner_read | fs::perms::owner_write | extra);
    absl::StatusOr<std::string> secret = ResolveSecret(ref);
    ASSERT_EQ(secret.status().code(), absl::StatusCode::kPermissionDenied) << secret.status();
    EXPECT_THAT(secret.status().message(),
                AllOf(HasSubstr(ref.name), HasSubstr("readable or writable by others"),
                      HasSubstr("chmod o-rwx"), Not(HasSubstr(kValue))));
  }
}

TEST_F(SecretFileTest, AMissingFileOrUnsetVariableIsNotFoundAndNamed) {
  absl::StatusOr<std::string> missing =
      ResolveSecret(SecretRef{SecretRef::Source::kFile, (dir_ / "nope").string()});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope"));
  unsetenv("GF_SECRET_TEST_UNSET");
  absl::StatusOr<std::string> unset =
      ResolveSecret(SecretRef{SecretRef::Source::kEnv, "GF_SECRET_TEST_UNSET"});
  EXPECT_EQ(unset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unset.status().message(), HasSubstr("GF_SECRET_TEST_UNSET"));
  setenv("GF_SECRET_TEST_SET", kValue, 1);
  absl::StatusOr<std::string> set =
      ResolveSecret(SecretRef{SecretRef::Source::kEnv, "GF_SECRET_TEST_SET"});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(*set, kValue);
}

}  // namespace
}  // namespace guestflow
