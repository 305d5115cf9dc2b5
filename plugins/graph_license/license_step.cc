#include "license_step.h"

#include <string>

#include "common/graph_client.h"
#include "nlohmann/json.hpp"

namespace guestflow::graph_license {
namespace {

using nlohmann::json;
using sdk::StepResult;

void SetSkuOutputs(sdk::Call& call, const SubscribedSku& sku, bool already) {
  call.SetOutput("sku_id", sku.sku_id);
  call.SetOutput("sku_part_number", sku.sku_part_number);
  call.SetOutput("license_already_assigned", already ? "true" : "false");
}

std::string NoSeats(const SubscribedSku& sku) {
  return "no free seats of " + sku.sku_part_number + " (" + std::to_string(sku.consumed) + " of " +
         std::to_string(sku.enabled) + " used)";
}

bool HasLicense(const json& user, const std::string& sku_id) {
  const json licenses = user.value("assignedLicenses", json::array());
  if (!licenses.is_array()) return false;
  for (const json& license : licenses) {
    if (plugins::EqualsIgnoreCase(plugins::StringAt(license, "skuId"), sku_id)) return true;
  }
  return false;
}

int64_t ParseCount(const std::string& text) {
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

StepResult RunLicenseStep(sdk::Call& call, const LicenseSettings& settings, SkuCatalog& catalog,
                          const plugins::StepInput& in) {
  const std::string user_id = in.OutputOf("invite", "invited_user_id");
  if (user_id.empty()) {
    return StepResult::Failed("the invite step recorded no invited_user_id; run it first");
  }
  plugins::GraphClient graph(call, in.graph_url, settings.graph_scope);
  if (std::optional<StepResult> failed = graph.Authenticate()) return *failed;

  // 1. The SKU; a cached list that lacks it is listed again before failing.
  SkuCatalog::Snapshot skus;
  if (auto failed = catalog.Load(graph, call.NowUnixMs(), false, &skus)) return *failed;
  const SubscribedSku* found = FindSku(skus.skus, settings.sku);
  if (found == nullptr && !skus.fetched) {
    if (auto failed = catalog.Load(graph, call.NowUnixMs(), true, &skus)) return *failed;
    found = FindSku(skus.skus, settings.sku);
  }
  if (found == nullptr) {
    return StepResult::Failed("SKU " + settings.sku +
                              " (license plugin setting sku) is not "
                              "subscribed in this tenant; it has: " +
                              DescribeSkus(skus.skus));
  }
  SubscribedSku sku = *found;

  // 2. What the user already has.
  const std::string user_path = "/users/" + plugins::UrlEncode(user_id);
  const sdk::HttpResponse got = graph.Get(user_path + "?$select=id,assignedLicenses,usageLocation");
  if (got.status == 404) {
    return StepResult::Wait(
        settings.replication_poll_ms,
        "user " + user_id + " is not replicated yet: " + plugins::CloudMessage(got));
  }
  if (got.status != 200) return plugins::GraphFailure(got, "GET /users/" + user_id);
  const json user = plugins::ParseObject(got.body).value_or(json::object());
  if (HasLicense(user, sku.sku_id)) {
    SetSkuOutputs(call, sku, /*already=*/true);
    return StepResult::Succeeded();
  }

  // 3. A free seat; the cached counts may be old, so count again before
  // failing for good.
  if (sku.Free() <= 0 && !skus.fetched) {
    if (auto failed = catalog.Load(graph, call.NowUnixMs(), true, &skus)) return *failed;
    if (const SubscribedSku* again = FindSku(skus.skus, sku.sku_id)) sku = *again;
  }
  if (sku.Free() <= 0) return StepResult::Failed(NoSeats(sku));

  // 4. Assign.
  const json body = {
      {"addLicenses", json::array({{{"disabledPlans", json::array()}, {"skuId", sku.sku_id}}})},
      {"removeLicenses", json::array()}};
  const sdk::HttpResponse r = graph.Send("POST", user_path + "/assignLicense", body);
  if (r.status == 200) {
    catalog.NoteAssigned(sku.sku_id);
    SetSkuOutputs(call, sku, /*already=*/false);
    call.Log(GF_LOG_INFO, "assigned " + sku.Name() + " to user " + user_id);
    return StepResult::Succeeded();
  }
  const std::string message = plugins::CloudMessage(r);
  if (r.status == 404) {
    return StepResult::Wait(settings.replication_poll_ms,
                            "user " + user_id + " is not replicated yet: " + message);
  }
  if (r.status == 400 && plugins::ContainsIgnoreCase(message, "invalid usage location")) {
    // The usage location set by the profile step takes a few seconds to
    // reach the licensing service.
    const int64_t retries = ParseCount(in.PreviousOutput("usage_location_retries"));
    const std::string usage_location = plugins::StringAt(user, "usageLocation");
    if (retries < settings.usage_location_retries) {
      call.SetOutput("usage_location_retries", std::to_string(retries + 1));
      return StepResult::Retry("POST /users/" + user_id + "/assignLicense answered 400: " +
                                   message + " (the usage location may still be propagating)",
                               settings.usage_location_retry_ms);
    }
    return StepResult::Failed(
        "POST /users/" + user_id + "/assignLicense answered 400: " + message + " (still after " +
        std::to_string(retries) + " retries; the user's usageLocation is " +
        (usage_location.empty() ? std::string("not set") : "'" + usage_location + "'") +
        "; the profile step sets it from the guest's usage location)");
  }
  if (r.status == 400 && plugins::ContainsIgnoreCase(message, "does not have any available")) {
    return StepResult::Failed("no free seats of " + sku.sku_part_number + ": " + message);
  }
  return plugins::GraphFailure(r, "POST /users/" + user_id + "/assignLicense");
}

}  // namespace guestflow::graph_license
