#include "server/api/rpc_metrics.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
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

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RpcMetricsInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(MethodLabel(info->method())), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      // gRPC's codes are absl's, number for number: its names are theirs.
      rpc_requests->Add({method_, absl::StatusCodeToString(static_cast<absl::StatusCode>(
                                      methods->GetSendStatus().error_code()))});
      rpc_duration->Observe({method_}, absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  const absl::Time start_;
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor() {
  return std::make_unique<RpcMetricsFactory>();
}

}  // namespace guestflow
