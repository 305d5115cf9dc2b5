// Counts and times every RPC the server answers, by method and status code:
// a gRPC server interceptor (so the health and reflection services count
// too) feeding guestflow_rpc_requests_total and
// guestflow_rpc_duration_seconds (server/metrics/metrics.h).
#pragma once

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace guestflow {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor();

}  // namespace guestflow
