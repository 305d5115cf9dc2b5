// The one JSON object guestflow-bench-load prints at the end of a run.
#pragma once

#include <string>

#include "load/load_runner.h"
#include "nlohmann/json.hpp"

namespace guestflow::bench {

// How the latency percentiles are computed, as the report says it.
inline constexpr char kLatencyMethod[] =
    "log-linear histogram (HDR-style: exact below 256 us, then 128 buckets per power of two); "
    "a percentile is the highest value of its bucket (at most 0.8 % above the true one), max "
    "is exact; every measured call, failed ones included";

// The report of `result`: the settings it ran with (`call` is --call's
// value), the counts, errors by code with a sample message each, elapsed
// seconds, rate, latency percentiles in microseconds, the request and
// response sizes and this process's CPU seconds (`client_cpu_seconds`).
nlohmann::json LoadReport(const std::string& call, const std::string& method,
                          const LoadOptions& options, const LoadResult& result,
                          double client_cpu_seconds);

}  // namespace guestflow::bench
