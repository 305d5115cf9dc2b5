// dataverse_role's RoleCache: what it keeps, for how long, and under which
// key.
#include "role_cache.h"

#include "gtest/gtest.h"

namespace guestflow::dataverse_role {
namespace {

constexpr char kOrg[] = "https://contoso.crm.dynamics.com";
constexpr char kRootBu[] = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2901";
constexpr char kSalesBu[] = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2902";
const RoleCache::Role kSalesperson{"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01", "Salesperson"};

TEST(RoleCacheTest, ARoleIsFoundUntilItIsMaxAgeOld) {
  RoleCache cache(1000);
  cache.Put(kOrg, kRootBu, "Salesperson", kSalesperson, 5000);
  ASSERT_TRUE(cache.Find(kOrg, kRootBu, "Salesperson", 5000).has_value());
  const std::optional<RoleCache::Role> found = cache.Find(kOrg, kRootBu, "Salesperson", 5999);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, kSalesperson.id);
  EXPECT_EQ(found->name, "Salesperson");
  EXPECT_FALSE(cache.Find(kOrg, kRootBu, "Salesperson", 6000).has_value());
  // A clock that went back does not make an entry younger.
  EXPECT_FALSE(cache.Find(kOrg, kRootBu, "Salesperson", 4999).has_value());
}

TEST(RoleCacheTest, NamesAndIdsMatchWhateverTheirCase) {
  RoleCache cache(60000);
  cache.Put(kOrg, kRootBu, "Salesperson", kSalesperson, 0);
  EXPECT_TRUE(cache
                  .Find("HTTPS://Contoso.crm.dynamics.com", "7E6D5C4B-3A29-4180-9F7E-6D5C4B3A2901",
                        "SALESPERSON", 1)
                  .has_value());
}

TEST(RoleCacheTest, ARoleIsKeptPerBusinessUnitAndEnvironment) {
  RoleCache cache(60000);
  cache.Put(kOrg, kRootBu, "Salesperson", kSalesperson, 0);
  EXPECT_FALSE(cache.Find(kOrg, kSalesBu, "Salesperson", 1).has_value());
  EXPECT_FALSE(
      cache.Find("https://fabrikam.crm.dynamics.com", kRootBu, "Salesperson", 1).has_value());
  EXPECT_FALSE(cache.Find(kOrg, kRootBu, "Sales Manager", 1).has_value());
}

TEST(RoleCacheTest, ForgetDropsOneRole) {
  RoleCache cache(60000);
  cache.Put(kOrg, kRootBu, "Salesperson", kSalesperson, 0);
  cache.Put(kOrg, kRootBu, "Sales Manager",
            {"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02", "Sales Manager"}, 0);
  cache.Forget(kOrg, kRootBu, "salesperson");
  EXPECT_FALSE(cache.Find(kOrg, kRootBu, "Salesperson", 1).has_value());
  EXPECT_TRUE(cache.Find(kOrg, kRootBu, "Sales Manager", 1).has_value());
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RoleCacheTest, MaxAgeZeroKeepsNothing) {
  RoleCache cache(0);
  cache.Put(kOrg, kRootBu, "Salesperson", kSalesperson, 0);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Find(kOrg, kRootBu, "Salesperson", 0).has_value());
}

TEST(RoleCacheTest, ItStartsOverPastItsBound) {
  RoleCache cache(60000);
  for (int i = 0; i < 5000; ++i) {
    cache.Put(kOrg, kRootBu, "role " + std::to_string(i), kSalesperson, 0);
    ASSERT_LE(cache.size(), 4096u);
  }
  EXPECT_TRUE(cache.Find(kOrg, kRootBu, "role 4999", 1).has_value());
}

}  // namespace
}  // namespace guestflow::dataverse_role
