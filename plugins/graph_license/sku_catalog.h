// SkuCatalog: the tenant's subscribed SKUs (GET /v1.0/subscribedSkus), kept
// for a few minutes so that every license step does not list them again.
//
// Thread-safe: one catalog per plugin instance, shared by the steps running
// on it. The HTTP call happens outside the lock; two steps that find the
// cache stale at once may both fetch, and the later answer wins.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/graph_client.h"
#include "guestflow/plugin_sdk.h"

namespace guestflow::graph_license {

struct SubscribedSku {
  std::string sku_id;
  std::string sku_part_number;
  int64_t enabled = 0;   // prepaidUnits.enabled
  int64_t consumed = 0;  // consumedUnits
  std::string capability_status;

  int64_t Free() const { return enabled - consumed; }
  // "DYN365_ENTERPRISE_PLAN1 (ea126fc5-...)"
  std::string Name() const { return sku_part_number + " (" + sku_id + ")"; }
};

// The SKU `sku` names: a skuId (GUID) or a skuPartNumber, both
// case-insensitive; null if none.
const SubscribedSku* FindSku(const std::vector<SubscribedSku>& skus, std::string_view sku);

// "A (id), B (id)", or "none".
std::string DescribeSkus(const std::vector<SubscribedSku>& skus);

// The SKUs of a GET /subscribedSkus answer's `value` array (items without a
// skuId are left out); nullopt when the body has no such array. Never throws.
std::optional<std::vector<SubscribedSku>> ParseSubscribedSkus(std::string_view body);

class SkuCatalog {
 public:
  explicit SkuCatalog(int64_t max_age_ms) : max_age_ms_(max_age_ms) {}

  struct Snapshot {
    std::vector<SubscribedSku> skus;
    bool fetched = false;  // true: listed by this call, not from the cache
  };

  // The SKUs, from the cache when it is younger than max_age_ms and `refresh`
  // is false, else from Graph. nullopt on success, else the step's result
  // (sdk::ClassifyFailure of the answer).
  std::optional<sdk::StepResult> Load(plugins::GraphClient& graph, int64_t now_ms, bool refresh,
                                      Snapshot* out);

  // Counts a seat the plugin just consumed, so that the cached counts do not
  // lag behind its own assignments.
  void NoteAssigned(std::string_view sku_id);

 private:
  const int64_t max_age_ms_;
  std::mutex mu_;
  int64_t fetched_ms_ = -1;          // guarded by mu_; -1 = never
  std::vector<SubscribedSku> skus_;  // guarded by mu_
};

}  // namespace guestflow::graph_license
