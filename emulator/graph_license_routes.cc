// The emulated Graph license routes (microsoft-apis.md section D):
//   GET  /v1.0/subscribedSkus?$select=...
//   POST /v1.0/users/{id | userPrincipalName}/assignLicense
#include "emulator/graph_license_routes.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "emulator/http_util.h"
#include "emulator/odata_query.h"

namespace guestflow::emulator {
namespace {

using nlohmann::json;

struct ServicePlan {
  const char* sku_id;
  const char* service_plan_id;
  const char* service_plan_name;
};

// The service plans of the SKUs the licensing reference documents.
constexpr ServicePlan kServicePlans[] = {
    {"ea126fc5-a19e-42e2-a731-da9d437bffcf", "d56f3deb-50d8-465a-bedb-f079817ccac1",
     "DYN365_ENTERPRISE_P1"},
};

// A GUID-shaped id that stays the same for the same seed, so that a
// subscription keeps its id from one GET to the next.
std::string StableGuid(const std::string& seed) {
  const uint64_t a = std::hash<std::string>{}(seed);
  const uint64_t b = std::hash<std::string>{}(seed + "#");
  return absl::StrFormat(
      "%08x-%04x-4%03x-%04x-%012x", static_cast<uint32_t>(a >> 32),
      static_cast<uint32_t>((a >> 16) & 0xFFFF), static_cast<uint32_t>(a & 0x0FFF),
      static_cast<uint32_t>(0x8000 | ((b >> 48) & 0x3FFF)), b & 0xFFFFFFFFFFFFULL);
}

json SkuJson(const Tenant& tenant, const Sku& sku) {
  json plans = json::array();
  for (const ServicePlan& plan : kServicePlans) {
    if (!absl::EqualsIgnoreCase(plan.sku_id, sku.sku_id)) continue;
    plans.push_back({{"servicePlanId", plan.service_plan_id},
                     {"servicePlanName", plan.service_plan_name},
                     {"provisioningStatus", "Success"},
                     {"appliesTo", "User"}});
  }
  return {{"accountId", tenant.id},
          {"accountName", tenant.display_name},
          {"appliesTo", "User"},
          {"capabilityStatus", sku.capability_status},
          {"consumedUnits", sku.consumed_units},
          {"id", absl::StrCat(tenant.id, "_", sku.sku_id)},
          {"prepaidUnits",
           {{"enabled", sku.enabled_units}, {"lockedOut", 0}, {"suspended", 0}, {"warning", 0}}},
          {"servicePlans", plans},
          {"skuId", sku.sku_id},
          {"skuPartNumber", sku.sku_part_number},
          {"subscriptionIds", {StableGuid(absl::StrCat(tenant.id, "/", sku.sku_id))}}};
}

void ListSubscribedSkus(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  // The list supports $select only.
  for (const char* option : {"$filter", "$orderby", "$top", "$expand", "$search"}) {
    if (req.has_param(option)) {
      SendGraphError(
          req, res, 400, "Request_UnsupportedQuery",
          absl::StrCat("The query option '", option, "' is not supported for subscribedSkus."));
      return;
    }
  }
  ctx.state->Locked([&](CloudState& s) {
    const Tenant& tenant = *s.FindTenant(grant->tenant_id);
    json value = json::array();
    for (const Sku& sku : tenant.skus) {
      json item = SkuJson(tenant, sku);
      if (req.has_param("$select")) {
        std::string unknown;
        std::optional<json> selected =
            SelectProperties(item, req.get_param_value("$select"), &unknown);
        if (!selected.has_value()) {
          SendGraphError(req, res, 400, "Request_BadRequest",
                         absl::StrCat("Could not find a property named '", unknown,
                                      "' on type 'microsoft.graph.subscribedSku'."));
          return;
        }
        item = *std::move(selected);
      }
      value.push_back(std::move(item));
    }
    SendJson(
        res, 200,
        {{"@odata.context", absl::StrCat(kGraphMetadataUrl, "#subscribedSkus")}, {"value", value}});
  });
}

constexpr char kNotAGuid[] =
    "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception "
    "for more details.";

// The parsed assignLicense parameters.
struct LicenseChange {
  std::vector<std::string> add;     // skuIds
  std::vector<std::string> remove;  // skuIds
};

// Reads the action's parameters; answers 400 and returns false if they are
// missing or malformed.
bool ParseLicenseChange(const httplib::Request& req, httplib::Response& res, const json& body,
                        LicenseChange* change) {
  auto bad = [&](const std::string& message) {
    SendGraphError(req, res, 400, "Request_BadRequest", message);
    return false;
  };
  std::vector<std::string> missing;
  for (const char* name : {"addLicenses", "removeLicenses"}) {
    if (!body.contains(name)) missing.push_back(name);
  }
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) absl::StrAppend(&names, names.empty() ? "" : ",", m);
    return bad(
        absl::StrCat("One or more parameters of the function import 'assignLicense' are "
                     "missing from the request payload. The missing parameters are: ",
                     names, "."));
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "addLicenses" && key != "removeLicenses") {
      return bad(absl::StrCat("The parameter '", key,
                              "' in the request payload is not a valid parameter for the "
                              "operation 'assignLicense'."));
    }
  }
  const json& add = body["addLicenses"];
  const json& remove = body["removeLicenses"];
  if (!add.is_array() || !remove.is_array()) {
    return bad("addLicenses and removeLicenses must be collections (they may be empty).");
  }
  for (const json& license : add) {
    if (!license.is_object()) return bad("addLicenses must hold assignedLicense objects.");
    const json sku = license.value("skuId", json());
    if (!sku.is_string() || !IsGuid(sku.get<std::string>())) return bad(kNotAGuid);
    const json plans = license.value("disabledPlans", json::array());
    if (!plans.is_array()) return bad("disabledPlans must be a collection of GUIDs.");
    for (const json& plan : plans) {
      if (!plan.is_string() || !IsGuid(plan.get<std::string>())) return bad(kNotAGuid);
    }
    change->add.push_back(absl::AsciiStrToLower(sku.get<std::string>()));
  }
  for (const json& sku : remove) {
    if (!sku.is_string() || !IsGuid(sku.get<std::string>())) return bad(kNotAGuid);
    change->remove.push_back(absl::AsciiStrToLower(sku.get<std::string>()));
  }
  return true;
}

bool HasLicense(const User& user, absl::string_view sku_id) {
  for (const std::string& assigned : user.assigned_sku_ids) {
    if (absl::EqualsIgnoreCase(assigned, sku_id)) return true;
  }
  return false;
}

void AssignLicense(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  const std::string id = req.matches[1];
  std::optional<json> body = ParseJsonBody(req, res);
  if (!body.has_value()) return;
  LicenseChange change;
  if (!ParseLicenseChange(req, res, *body, &change)) return;
  ctx.state->Locked([&](CloudState& s) {
    const absl::Time now = absl::Now();
    Tenant& tenant = *s.FindTenant(grant->tenant_id);
    User* user = FindVisibleUser(tenant, id, now);
    if (user == nullptr) {
      SendResourceNotFound(req, res, id);
      return;
    }
    auto bad = [&](const std::string& message) {
      SendGraphError(req, res, 400, "Request_BadRequest", message);
    };
    std::vector<Sku*> to_add;
    for (const std::string& sku_id : change.add) {
      Sku* sku = tenant.FindSku(sku_id);
      if (sku == nullptr) {
        bad(absl::StrCat("License ", sku_id, " does not correspond to a valid company License."));
        return;
      }
      if (!HasLicense(*user, sku->sku_id)) to_add.push_back(sku);
    }
    if (!to_add.empty()) {
      // Right after a PATCH the licensing service may not see the new usage
      // location yet: the documented 400 until it does.
      if (user->usage_location.empty() || user->usage_location_effective_at > now) {
        bad("License assignment cannot be done for user with invalid usage location.");
        return;
      }
      for (const Sku* sku : to_add) {
        if (sku->consumed_units >= sku->enabled_units ||
            !absl::EqualsIgnoreCase(sku->capability_status, "Enabled")) {
          bad(absl::StrCat("Subscription with SKU ", sku->sku_id,
                           " does not have any available licenses."));
          return;
        }
      }
    }
    // Every check passed: apply the whole change.
    for (Sku* sku : to_add) {
      user->assigned_sku_ids.push_back(sku->sku_id);
      ++sku->consumed_units;
      ++s.counters.license_assignments[absl::StrCat(user->id, "|", sku->sku_id)];
    }
    if (!to_add.empty()) {
      user->license_effective_at = now + absl::Milliseconds(s.knobs.license_propagation_ms);
    }
    for (const std::string& sku_id : change.remove) {
      for (auto it = user->assigned_sku_ids.begin(); it != user->assigned_sku_ids.end(); ++it) {
        if (!absl::EqualsIgnoreCase(*it, sku_id)) continue;
        user->assigned_sku_ids.erase(it);
        if (Sku* sku = tenant.FindSku(sku_id); sku != nullptr && sku->consumed_units > 0) {
          --sku->consumed_units;
        }
        break;
      }
    }
    json out = UserJson(*user);
    out["@odata.context"] = absl::StrCat(kGraphMetadataUrl, "#users/$entity");
    SendJson(res, 200, out);
  });
}

}  // namespace

void RegisterGraphLicenseRoutes(httplib::Server& server, EmulatorContext& ctx) {
  server.Get(R"(/v1\.0/subscribedSkus)",
             [&ctx](const httplib::Request& req, httplib::Response& res) {
               ListSubscribedSkus(ctx, req, res);
             });
  server.Post(R"(/v1\.0/users/([^/]+)/assignLicense)",
              [&ctx](const httplib::Request& req, httplib::Response& res) {
                AssignLicense(ctx, req, res);
              });
}

}  // namespace guestflow::emulator
