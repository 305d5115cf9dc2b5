// RoleCache: the security roles the role step resolved (a name in a business
// unit -> its roleid), kept for a few minutes so that every guest does not
// query `roles` again. Dataverse allows 6,000 requests per user in 5 minutes
// (reference/microsoft-apis.md, service protection): a bulk import's guests
// all ask for the same few roles, so a look-up per guest would spend a fifth
// of that allowance on the same answer.
//
// Only roles that were found are kept: an unknown name is looked up every
// time (it fails the step, and someone may be creating the role). A roleid
// that Dataverse no longer knows (the role was deleted, or deleted and made
// again) is answered 404 at its association: the step then forgets what it
// took from here (Forget) and retries, looking the names up again. Roles
// associated before that one in the same attempt stay associated.
//
// What a cache cannot see: a role renamed, and another created under its old
// name, within max_age_ms. The old roleid still exists, so guests get the
// renamed role until the entry expires. Set role_cache_ms to 0 where roles
// are renamed while onboardings run.
//
// Thread-safe: one cache per plugin instance, shared by the steps running on
// it. The look-ups happen outside the lock; two steps that miss at once both
// query, and the later answer wins.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace guestflow::dataverse_role {

class RoleCache {
 public:
  // max_age_ms 0: nothing is kept.
  explicit RoleCache(int64_t max_age_ms) : max_age_ms_(max_age_ms) {}

  struct Role {
    std::string id;
    std::string name;  // as Dataverse spells it
  };

  // The role named `name` (case-insensitive) in business unit
  // `business_unit_id` of the environment at `instance_url`, if it was put
  // less than max_age_ms before `now_ms`.
  std::optional<Role> Find(std::string_view instance_url, std::string_view business_unit_id,
                           std::string_view name, int64_t now_ms) const;
  void Put(std::string_view instance_url, std::string_view business_unit_id, std::string_view name,
           Role role, int64_t now_ms);
  void Forget(std::string_view instance_url, std::string_view business_unit_id,
              std::string_view name);

  size_t size() const;

 private:
  // instance_url, business unit and name, lower-cased.
  using Key = std::tuple<std::string, std::string, std::string>;
  struct Entry {
    Role role;
    int64_t put_ms = 0;
  };
  static Key KeyOf(std::string_view instance_url, std::string_view business_unit_id,
                   std::string_view name);

  const int64_t max_age_ms_;
  mutable std::mutex mu_;
  std::map<Key, Entry> entries_;  // guarded by mu_
};

}  // namespace guestflow::dataverse_role
