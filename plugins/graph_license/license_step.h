// The `license` step: give the guest (the invite step's invited_user_id) a
// license of settings.sku, once.
//   1. Resolve the SKU through the catalog (skuPartNumber or skuId); unknown
//      → Failed naming the SKUs the tenant has.
//   2. GET /users/{id}?$select=id,assignedLicenses,usageLocation: already
//      licensed → Succeeded (license_already_assigned "true"); 404 → Wait
//      (the new guest is not replicated yet).
//   3. No free seat (prepaidUnits.enabled − consumedUnits ≤ 0, counted again
//      before failing) → Failed "no free seats of SKU (N of M used)".
//   4. POST /users/{id}/assignLicense. The documented "invalid usage
//      location" 400 (the PATCH of the profile step lags) → Retry after
//      settings.usage_location_retry_ms, settings.usage_location_retries
//      times, then Failed; the no-seats 400 (lost a race) → Failed.
// Outputs: sku_id, sku_part_number, license_already_assigned, and
// usage_location_retries (the count so far). Other answers follow
// sdk::ClassifyFailure. Thread-safe (the catalog is).
#pragma once

#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "license_settings.h"
#include "sku_catalog.h"

namespace guestflow::graph_license {

sdk::StepResult RunLicenseStep(sdk::Call& call, const LicenseSettings& settings,
                               SkuCatalog& catalog, const plugins::StepInput& input);

}  // namespace guestflow::graph_license
