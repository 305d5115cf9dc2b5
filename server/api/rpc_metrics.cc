#include "server/api/rpc_metrics.h"

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/metrics/metrics.h"

namespace guestflow {
namespace {

metrics::Counter* const rpc_requests =
    metrics::Counter::New("guestflow_rpc_requests_total",
                          "gRPC calls answered, by method and status code.", {"method", "code"});
metrics::Histogram* const rpc_duration = metrics::Histogram::New(
    "guestflow_rpc_duration_seconds",
    "Time from a call's arrival to its status, by method (a stream: its whole life).", {"method"},
    metrics::Histogram::LatencyBuckets());

// "/guestflow.v1.OnboardingService/StartOnboarding" -> "OnboardingService/StartOnboarding".
std::string MethodLabel(const char* full) {
  absl::string_view m = full != nullptr ? full : "";
  if (!m.empty() && m.front() == '/') m.remove_prefix(1);
  const size_t slash = m.find('/');
  const size_t dot = m.rfind('.', slash);
  if (slash != absl::string_view::npos && dot != absl::string_view::npos) m.remove_prefix(dot + 1);
  return std::string(m);
}

// The series one method's calls feed, bound at its first call: a call then
// costs two clock reads and a few atomic adds, no lock and no allocation
// (guestflowd answers a cached GetOnboarding in about 20 us of CPU).
class MethodSeries {
 public:
  explicit MethodSeries(const char* method)
      : label_(MethodLabel(method)), duration_(rpc_duration->Bind({label_})) {}

  void Record(grpc::StatusCode code, absl::Duration elapsed) {
    Requests(code)->Add();
    duration_->Observe(absl::ToDoubleSeconds(elapsed));
  }

 private:
  // The request counter's series of `code`, bound at its first use.
  metrics::Counter::Series* Requests(grpc::StatusCode code) {
    std::atomic<metrics::Counter::Series*>* slot =
        code >= 0 && static_cast<size_t>(code) < by_code_.size() ? &by_code_[code] : nullptr;
    metrics::Counter::Series* series =
        slot != nullptr ? slot->load(std::memory_order_acquire) : nullptr;
    if (series == nullptr) {
      // gRPC's codes are absl's, number for number: its names are theirs.
      series = rpc_requests->Bind(
          {label_, absl::StatusCodeToString(static_cast<absl::StatusCode>(code))});
      // Bind gives the same series every time: a race stores it twice.
      if (slot != nullptr) slot->store(series, std::memory_order_release);
    }
    return series;
  }

  const std::string label_;
  metrics::Histogram::Series* const duration_;
  // By status code, 0 (OK) to 16 (UNAUTHENTICATED).
  std::array<std::atomic<metrics::Counter::Series*>, 17> by_code_{};
};

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RpcMetricsInterceptor(MethodSeries* series) : series_(series), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      series_->Record(methods->GetSendStatus().error_code(), absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  MethodSeries* const series_;
  const absl::Time start_;
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(SeriesOf(info->method()));
  }

 private:
  MethodSeries* SeriesOf(const char* method) {
    const absl::string_view name = method != nullptr ? method : "";
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = by_method_.find(name); it != by_method_.end()) return it->second.get();
    }
    absl::MutexLock lock(&mu_);
    std::unique_ptr<MethodSeries>& series = by_method_[name];
    if (series == nullptr) series = std::make_unique<MethodSeries>(method);
    return series.get();
  }

  absl::Mutex mu_;
  // By full method name: the services' methods, and any name a client asked
  // for that gRPC answered UNIMPLEMENTED (as the labels are, one per name).
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> by_method_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor() {
  return std::make_unique<RpcMetricsFactory>();
}

}  // namespace guestflow
