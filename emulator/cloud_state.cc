#include "emulator/cloud_state.h"

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace guestflow::emulator {
namespace {

template <typename T>
T* FindById(std::vector<T>& items, absl::string_view id) {
  for (T& item : items) {
    if (absl::EqualsIgnoreCase(item.id, id)) return &item;
  }
  return nullptr;
}

}  // namespace

User* Tenant::FindUser(absl::string_view id) { return FindById(users, id); }
Group* Tenant::FindGroup(absl::string_view id) { return FindById(groups, id); }

App* Tenant::FindApp(absl::string_view client_id) {
  for (App& app : apps) {
    if (absl::EqualsIgnoreCase(app.client_id, client_id)) return &app;
  }
  return nullptr;
}

Sku* Tenant::FindSku(absl::string_view sku_id) {
  for (Sku& sku : skus) {
    if (absl::EqualsIgnoreCase(sku.sku_id, sku_id)) return &sku;
  }
  return nullptr;
}

Tenant* CloudState::FindTenant(absl::string_view id_or_domain) {
  for (Tenant& t : tenants) {
    if (absl::EqualsIgnoreCase(t.id, id_or_domain) ||
        absl::EqualsIgnoreCase(t.domain, id_or_domain)) {
      return &t;
    }
  }
  return nullptr;
}

Environment* CloudState::FindEnvironmentByOrg(absl::string_view org, Tenant** tenant) {
  for (Tenant& t : tenants) {
    for (Environment& e : t.environments) {
      if (absl::EqualsIgnoreCase(e.org, org)) {
        if (tenant != nullptr) *tenant = &t;
        return &e;
      }
    }
  }
  return nullptr;
}

Environment* CloudState::FindEnvironmentById(absl::string_view id, Tenant** tenant) {
  for (Tenant& t : tenants) {
    for (Environment& e : t.environments) {
      if (absl::EqualsIgnoreCase(e.id, id)) {
        if (tenant != nullptr) *tenant = &t;
        return &e;
      }
    }
  }
  return nullptr;
}

std::string NewGuid() {
  thread_local absl::BitGen gen;
  const uint64_t a = absl::Uniform<uint64_t>(gen);
  const uint64_t b = absl::Uniform<uint64_t>(gen);
  // Version 4, variant 10xx.
  return absl::StrFormat(
      "%08x-%04x-4%03x-%04x-%012x", static_cast<uint32_t>(a >> 32),
      static_cast<uint32_t>((a >> 16) & 0xFFFF), static_cast<uint32_t>(a & 0x0FFF),
      static_cast<uint32_t>(0x8000 | ((b >> 48) & 0x3FFF)), b & 0xFFFFFFFFFFFFULL);
}

}  // namespace guestflow::emulator
