// GuestflowServer: builds guestflowd from its options — config, store, HTTP
// and token layer, plugin host, engine, gRPC services — and runs it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "server/api/access.h"
#include "server/api/admin_backend.h"
#include "server/api/admin_service.h"
#include "server/api/onboarding_service.h"
#include "server/common/clock.h"
#include "server/engine/change_feed.h"
#include "server/engine/engine.h"
#include "server/engine/scheduler.h"
#include "server/engine/worker_pool.h"
#include "server/http/http_client.h"
#include "server/http/token_provider.h"
#include "server/live_config.h"
#include "server/store/batch_store.h"
#include "server/store/store.h"

namespace guestflow {

class PgChangeListener;
namespace metrics {
class MetricsServer;
}
class PgReplicaRegistry;

struct ServerOptions {
  std::string config_path;
  std::string listen_override;  // replaces server.listen when set
  std::string port_file;        // the bound port is written here when set
};

// Lifecycle: Create (validates and loads everything; an error refuses to
// start, naming the file and key or the plugin file), Start, then Shutdown
// once. Reload and the AdminBackend methods are thread-safe.
class GuestflowServer : public AdminBackend {
 public:
  static absl::StatusOr<std::unique_ptr<GuestflowServer>> Create(const ServerOptions& options);
  ~GuestflowServer() override;

  // Starts serving and running steps; the health status turns SERVING.
  absl::Status Start();

  // The bound port (after Start).
  int port() const { return port_; }

  // Stops accepting RPCs, lets running steps finish for up to the configured
  // grace (their outcomes are stored; what does not finish resumes at the
  // next start), then stops. Idempotent.
  void Shutdown();

  // AdminBackend
  std::vector<TenantConfig> Tenants() const override;
  std::vector<PluginSummary> Plugins() const override;
  absl::StatusOr<std::vector<TenantCheckResult>> CheckTenant(absl::string_view tenant) override;
  absl::StatusOr<ReloadSummary> Reload() override;

 private:
  GuestflowServer() = default;

  ServerOptions options_;
  Clock* clock_ = Clock::Real();
  // The stores the config names (SQLite or PostgreSQL) and lease_owner_.
  absl::Status OpenStores(const StoreConfig& config);

  std::string lease_owner_;  // this process's name on the leases it takes
  std::string pg_dsn_;       // set with a PostgreSQL store
  // GetOnboarding's answers, with the SQLite store only (null otherwise);
  // store_ invalidates its entries, so it goes after store_.
  std::unique_ptr<OnboardingCache> read_cache_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<BatchStore> batch_store_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<TokenProvider> tokens_;
  std::unique_ptr<LiveConfig> live_;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<Access> access_;
  std::unique_ptr<WorkerPool> api_pool_;
  std::unique_ptr<OnboardingServiceImpl> onboarding_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Service> batch_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  // The /metrics endpoint (server.metrics_listen) and the gauges counted at
  // each scrape.
  absl::Status StartMetrics();
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  int port_ = 0;
  bool shut_down_ = false;
  absl::Mutex reload_mu_;  // one reload at a time
  // With PostgreSQL: this replica's heartbeat, every kReplicaBeat, and the
  // count of live replicas it learns, which divides the rate limits.
  static constexpr absl::Duration kReplicaBeat = absl::Seconds(2);
  static constexpr absl::Duration kReplicaTtl = absl::Seconds(10);
  void BeatOnce();
  void HeartbeatLoop();
  void StopHeartbeat();  // and leaves the registry
  std::unique_ptr<PgReplicaRegistry> replicas_registry_;
  std::atomic<int> replicas_{1};
  absl::Mutex heartbeat_mu_;
  bool heartbeat_stop_ ABSL_GUARDED_BY(heartbeat_mu_) = false;
  std::thread heartbeat_;
  // Last: it calls into feed_ and scheduler_, so it goes first.
  std::unique_ptr<PgChangeListener> listener_;
};

}  // namespace guestflow
