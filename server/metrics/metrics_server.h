// The /metrics endpoint: plain HTTP on its own address (server.metrics_listen),
// serving Registry::Render() as the Prometheus text format; any other path is
// 404. Separate from the gRPC port so that a scraper needs no gRPC and no
// caller credentials (it sees counts, tenant ids and plugin names, never a
// guest's data or a secret).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/metrics/metrics.h"

namespace httplib {
class Server;
}

namespace guestflow::metrics {

class MetricsServer {
 public:
  // Binds `listen` (host:port; port 0 picks one) and serves on a thread.
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              Registry& registry);
  ~MetricsServer();  // stops serving

  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace guestflow::metrics
