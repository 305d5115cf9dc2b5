#include "role_cache.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace guestflow::dataverse_role {
namespace {

// A bound on what one instance keeps. Only roles that exist are put, named
// by onboardings, in the business units of their guests: a few dozen in
// practice. Past it the cache starts over.
constexpr size_t kMaxEntries = 4096;

}  // namespace

RoleCache::Key RoleCache::KeyOf(std::string_view instance_url, std::string_view business_unit_id,
                                std::string_view name) {
  Key key{instance_url, business_unit_id, name};
  for (std::string* part : {&std::get<0>(key), &std::get<1>(key), &std::get<2>(key)}) {
    std::transform(part->begin(), part->end(), part->begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return key;
}

std::optional<RoleCache::Role> RoleCache::Find(std::string_view instance_url,
                                               std::string_view business_unit_id,
                                               std::string_view name, int64_t now_ms) const {
  if (max_age_ms_ <= 0) return std::nullopt;
  const Key key = KeyOf(instance_url, business_unit_id, name);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  // A clock that went back counts as expired too.
  const int64_t age = now_ms - it->second.put_ms;
  if (age < 0 || age >= max_age_ms_) return std::nullopt;
  return it->second.role;
}

void RoleCache::Put(std::string_view instance_url, std::string_view business_unit_id,
                    std::string_view name, Role role, int64_t now_ms) {
  if (max_age_ms_ <= 0) return;
  Key key = KeyOf(instance_url, business_unit_id, name);
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= kMaxEntries && entries_.count(key) == 0) entries_.clear();
  entries_[std::move(key)] = Entry{std::move(role), now_ms};
}

void RoleCache::Forget(std::string_view instance_url, std::string_view business_unit_id,
                       std::string_view name) {
  const Key key = KeyOf(instance_url, business_unit_id, name);
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

size_t RoleCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace guestflow::dataverse_role
