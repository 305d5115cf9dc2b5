#include "sku_catalog.h"

#include "nlohmann/json.hpp"

namespace guestflow::graph_license {
namespace {

using nlohmann::json;

int64_t IntAt(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

const SubscribedSku* FindSku(const std::vector<SubscribedSku>& skus, std::string_view sku) {
  for (const SubscribedSku& s : skus) {
    if (plugins::EqualsIgnoreCase(s.sku_id, sku) ||
        plugins::EqualsIgnoreCase(s.sku_part_number, sku)) {
      return &s;
    }
  }
  return nullptr;
}

std::string DescribeSkus(const std::vector<SubscribedSku>& skus) {
  std::string out;
  for (const SubscribedSku& s : skus) out += (out.empty() ? "" : ", ") + s.Name();
  return out.empty() ? "none" : out;
}

std::optional<std::vector<SubscribedSku>> ParseSubscribedSkus(std::string_view body) {
  const std::optional<json> object = plugins::ParseObject(body);
  const json value = object.has_value() ? object->value("value", json()) : json();
  if (!value.is_array()) return std::nullopt;
  std::vector<SubscribedSku> skus;
  for (const json& item : value) {
    SubscribedSku sku;
    sku.sku_id = plugins::StringAt(item, "skuId");
    sku.sku_part_number = plugins::StringAt(item, "skuPartNumber");
    sku.consumed = IntAt(item, "consumedUnits");
    sku.enabled = IntAt(plugins::ObjectAt(item, "prepaidUnits"), "enabled");
    sku.capability_status = plugins::StringAt(item, "capabilityStatus");
    if (!sku.sku_id.empty()) skus.push_back(std::move(sku));
  }
  return skus;
}

std::optional<sdk::StepResult> SkuCatalog::Load(plugins::GraphClient& graph, int64_t now_ms,
                                                bool refresh, Snapshot* out) {
  if (!refresh) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fetched_ms_ >= 0 && now_ms - fetched_ms_ < max_age_ms_) {
      out->skus = skus_;
      out->fetched = false;
      return std::nullopt;
    }
  }
  const sdk::HttpResponse r = graph.Get(
      "/subscribedSkus?$select=skuId,skuPartNumber,consumedUnits,prepaidUnits,capabilityStatus");
  if (r.status != 200) return plugins::GraphFailure(r, "GET /subscribedSkus");
  std::optional<std::vector<SubscribedSku>> skus = ParseSubscribedSkus(r.body);
  if (!skus.has_value()) {
    return sdk::StepResult::Retry("GET /subscribedSkus answered 200 without a value array");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    skus_ = *skus;
    fetched_ms_ = now_ms;
  }
  out->skus = std::move(*skus);
  out->fetched = true;
  return std::nullopt;
}

void SkuCatalog::NoteAssigned(std::string_view sku_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (SubscribedSku& s : skus_) {
    if (plugins::EqualsIgnoreCase(s.sku_id, sku_id)) ++s.consumed;
  }
}

}  // namespace guestflow::graph_license
