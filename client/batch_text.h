// Batches as text for people. Pure functions, safe from any thread.
#pragma once

#include <string>

#include "guestflow/v1/batch_service.pb.h"

namespace guestflow::cli {

// Labelled lines: name, tenant, request id, rows (total and invalid), the
// count of each state (sorted by state order), created, finished, rate.
std::string RenderBatch(const v1::Batch& batch);

}  // namespace guestflow::cli
