#include "load/load_report.h"

#include "absl/time/time.h"

namespace guestflow::bench {

nlohmann::json LoadReport(const std::string& call, const std::string& method,
                          const LoadOptions& options, const LoadResult& result,
                          double client_cpu_seconds) {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, e] : result.errors) {
    errors[code] = {{"count", e.count}, {"sample", e.sample}};
  }
  nlohmann::json settings = {
      {"target", options.target},
      {"connections", options.connections},
      {"concurrency", options.concurrency},
      {"threads", options.threads},
      {"warmup_seconds", absl::ToDoubleSeconds(options.warmup)},
      {"deadline_seconds", absl::ToDoubleSeconds(options.deadline)},
      {"token", !options.token.empty()},
  };
  if (options.requests > 0) {
    settings["requests"] = options.requests;
  } else {
    settings["duration_seconds"] = absl::ToDoubleSeconds(options.duration);
  }
  const LatencyHistogram& h = result.latency_us;
  return {
      {"call", call},
      {"method", method},
      {"settings", settings},
      {"calls", result.calls},
      {"ok", result.ok},
      {"errors", errors},
      {"warmup_calls", result.warmup_calls},
      {"warmup_errors", result.warmup_errors},
      {"elapsed_seconds", result.elapsed_seconds},
      {"rate_per_second", result.elapsed_seconds > 0
                              ? static_cast<double>(result.calls) / result.elapsed_seconds
                              : 0.0},
      {"latency_us",
       {{"p50", h.Percentile(0.50)},
        {"p90", h.Percentile(0.90)},
        {"p99", h.Percentile(0.99)},
        {"p999", h.Percentile(0.999)},
        {"max", h.Max()}}},
      {"latency_method", kLatencyMethod},
      {"request_bytes", result.request_bytes},
      {"response_bytes", result.response_bytes},
      {"client_cpu_seconds", client_cpu_seconds},
  };
}

}  // namespace guestflow::bench
