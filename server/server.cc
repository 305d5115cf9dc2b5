#include "server/server.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/api/batch_service.h"
#include "server/api/rpc_metrics.h"
#include "server/api/server_credentials.h"
#include "server/common/logging.h"
#include "server/common/status_macros.h"
#include "server/config/config_loader.h"
#include "server/config/secret.h"
#include "server/http/curl_http_client.h"
#include "server/http/oauth2_token_provider.h"
#include "server/http/rate_limiter.h"
#include "server/metrics/metrics.h"
#include "server/metrics/metrics_server.h"
#include "server/store/observed_store.h"
#include "server/store/pg_batch_store.h"
#include "server/store/pg_change_listener.h"
#include "server/store/pg_connection.h"
#include "server/store/pg_replicas.h"
#include "server/store/pg_store.h"
#include "server/store/sqlite_batch_store.h"
#include "server/store/sqlite_store.h"

namespace guestflow {
namespace {

// gRPC's own limit is 4 MiB; requests here are small, and a bulk import
// streams in chunks.
constexpr int kMaxReceiveBytes = 4 << 20;
// The API pool's threads block on the store; most of that time is a commit
// waiting for its fsync, during which the thread does nothing. With the
// SQLite store's group commit, one fsync serves as many StartOnboarding calls
// as there are threads waiting on it: 4 threads capped intake at 4 per fsync.
// 32 idle threads cost their stacks' touched pages.
constexpr int kApiThreads = 32;
constexpr size_t kApiQueue = 4096;
// GetOnboarding's read cache (server/api/onboarding_cache.h), with the SQLite
// store only: the serialized answers of at most this many onboardings, in at
// most this many bytes (about 1.5 KB each: the bytes bind first).
constexpr size_t kReadCacheEntries = 100'000;
constexpr size_t kReadCacheBytes = size_t{64} << 20;

#ifndef GUESTFLOW_VERSION
#define GUESTFLOW_VERSION "0.0.0"
#endif

metrics::Gauge* const build_info =
    metrics::Gauge::New("guestflow_build_info", "Always 1: the guestflowd version and its store.",
                        {"version", "store"});
metrics::Gauge* const onboardings_gauge = metrics::Gauge::New(
    "guestflow_onboardings", "Onboardings in the store, by tenant and state.", {"tenant", "state"});
metrics::Gauge* const queue_gauge = metrics::Gauge::New(
    "guestflow_queue_depth",
    "Onboardings due to run a step now and not leased: the scheduler's queue (all replicas).");
metrics::Gauge* const leases_gauge = metrics::Gauge::New(
    "guestflow_leases", "Onboardings leased by a replica: a step running (all replicas).");
metrics::Gauge* const api_pending_gauge = metrics::Gauge::New(
    "guestflow_api_pending", "API work queued or running on this replica's API pool.");
metrics::Gauge* const replicas_gauge = metrics::Gauge::New(
    "guestflow_replicas", "Replicas this one counts by heartbeat (1 with SQLite).");

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write port file ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot write port file ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GuestflowServer>> GuestflowServer::Create(
    const ServerOptions& options) {
  std::unique_ptr<GuestflowServer> s(new GuestflowServer());
  s->options_ = options;
  GF_ASSIGN_OR_RETURN(Config config, LoadConfigFile(options.config_path));
  if (!options.listen_override.empty()) config.server.listen = options.listen_override;
  GF_RETURN_IF_ERROR(CheckServable(config));
  GF_ASSIGN_OR_RETURN(s->credentials_, MakeServerCredentials(config.server));
  auto shared_config = std::make_shared<const Config>(std::move(config));

  GF_RETURN_IF_ERROR(s->OpenStores(shared_config->store));

  GF_ASSIGN_OR_RETURN(s->http_, CurlHttpClient::Create(shared_config->http));
  s->tokens_ = std::make_unique<OAuth2TokenProvider>(s->http_.get(), s->clock_);
  // One limiter for the life of the process: each reload hands it on to the
  // next plugin host, so that a pause or a bucket's recent traffic is not
  // forgotten by a config change.
  RateLimiterOptions limiter_options;
  limiter_options.clock = s->clock_;
  HostServices services{s->clock_, s->http_.get(), s->tokens_.get(),
                        std::make_shared<RateLimiter>(shared_config->limits, limiter_options)};
  GF_ASSIGN_OR_RETURN(std::unique_ptr<PluginHost> host,
                      PluginHost::Create(*shared_config, std::move(services)));
  s->live_ =
      std::make_unique<LiveConfig>(shared_config, std::shared_ptr<PluginHost>(std::move(host)));

  s->feed_ = std::make_unique<ChangeFeed>();
  SchedulerOptions so;
  so.owner = s->lease_owner_;
  const EngineConfig& ec = shared_config->engine;
  so.workers = ec.workers;
  so.lease = ec.lease;
  so.retry.max_attempts = ec.max_attempts;
  so.retry.initial = ec.backoff_initial;
  so.retry.max = ec.backoff_max;
  so.retry.multiplier = ec.backoff_multiplier;
  so.retry.max_step_wait = ec.max_step_wait;
  s->scheduler_ =
      std::make_unique<Scheduler>(s->store_.get(), s->live_.get(), s->clock_, s->feed_.get(), so);
  s->engine_ = std::make_unique<Engine>(s->store_.get(), s->live_.get(), s->live_.get(), s->clock_,
                                        s->feed_.get(), s->scheduler_.get());
  s->engine_->SetMaxUnfinished(s->live_->config()->engine.max_unfinished);
  if (!s->pg_dsn_.empty()) {
    // What other replicas change reaches this one's watchers and scheduler.
    GuestflowServer* self = s.get();
    GF_ASSIGN_OR_RETURN(s->listener_,
                        PgChangeListener::Start(s->pg_dsn_, [self](const PgChange& change) {
                          if (change.origin == self->lease_owner_) return;  // published already
                          self->feed_->Publish(change.id);
                          if (!change.batch_id.empty()) {
                            self->feed_->Publish(BatchFeedKey(change.batch_id));
                          }
                          self->scheduler_->Wake();
                        }));
  }
  s->api_pool_ = std::make_unique<WorkerPool>("api", kApiThreads, kApiQueue);
  LiveConfig* live = s->live_.get();
  s->access_ = std::make_unique<Access>([live] { return live->config(); });
  s->onboarding_service_ = std::make_unique<OnboardingServiceImpl>(
      s->engine_.get(), s->api_pool_.get(), s->access_.get(), s->read_cache_.get());
  s->admin_service_ =
      std::make_unique<AdminServiceImpl>(s.get(), s->api_pool_.get(), s->access_.get());
  s->batch_service_ = std::make_unique<BatchServiceImpl>(
      s->engine_.get(), s->batch_store_.get(), s->clock_, s->api_pool_.get(), s->access_.get());
  return s;
}

absl::Status GuestflowServer::OpenStores(const StoreConfig& config) {
  if (!config.postgres.has_value()) {
    SqliteStore::Options options;
    options.group_commit = config.sqlite_group_commit;
    GF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> sqlite,
                        SqliteStore::Open(config.sqlite_path, options));
    // The embedded store serves one process, so every write of an onboarding
    // goes through store_ (the engine, the scheduler, batch imports and the
    // admin RPCs all hold it): it invalidates the read cache's entry after
    // each one, and the cache is never older than the store.
    read_cache_ = std::make_unique<OnboardingCache>(kReadCacheEntries, kReadCacheBytes);
    OnboardingCache* cache = read_cache_.get();
    store_ = std::make_unique<ObservedStore>(
        std::move(sqlite), [cache](absl::string_view id) { cache->Invalidate(id); });
    // The embedded store serves one process: a lease left behind by a
    // process that died is nobody's, and its onboardings resume now.
    GF_RETURN_IF_ERROR(store_->ReleaseAllLeases());
    GF_ASSIGN_OR_RETURN(batch_store_, SqliteBatchStore::Open(config.sqlite_path));
    lease_owner_ = absl::StrCat("guestflowd-", getpid());
    return absl::OkStatus();
  }
  // Replicas share the database: a lease names its replica (host, pid and a
  // random part, since pids repeat across containers), and a lease left by a
  // replica that died is taken over when it expires, not at start.
  // No read cache: the other replicas' writes reach this one only by NOTIFY,
  // later (pg_change_listener.h), and a GetOnboarding answered meanwhile
  // from the cache would be older than what the database already holds.
  const PostgresStoreConfig& pg = *config.postgres;
  const char* dsn = std::getenv(pg.dsn_env.c_str());
  if (dsn == nullptr || *dsn == '\0') {
    return absl::FailedPreconditionError(
        absl::StrCat("store.postgres.dsn_env: the environment variable ", pg.dsn_env,
                     " is not set; it must hold the PostgreSQL connection string"));
  }
  PgPoolOptions options;
  options.size = pg.pool_size;
  options.statement_timeout = pg.statement_timeout;
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(dsn, options);
  if (!pool.ok()) {
    return absl::Status(pool.status().code(), absl::StrCat("store.postgres (", pg.dsn_env,
                                                           "): ", pool.status().message()));
  }
  std::shared_ptr<PgPool> shared(*std::move(pool));
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  lease_owner_ = absl::StrCat("guestflowd-", host, "-", getpid(), "-",
                              absl::Hex(absl::Uniform<uint32_t>(absl::BitGen()), absl::kZeroPad8));
  GF_ASSIGN_OR_RETURN(store_, PgStore::Open(shared, lease_owner_));
  GF_ASSIGN_OR_RETURN(batch_store_, PgBatchStore::Open(shared));
  pg_dsn_ = dsn;
  replicas_registry_ = std::make_unique<PgReplicaRegistry>(shared);
  return absl::OkStatus();
}

absl::Status GuestflowServer::StartMetrics() {
  const std::shared_ptr<const Config> config = live_->config();
  build_info->Set({GUESTFLOW_VERSION, config->store.postgres.has_value() ? "postgres" : "sqlite"},
                  1);
  // Counted at each scrape: the store is the truth, shared by the replicas.
  // One query serves the three gauges of a scrape (they render one after
  // the other): its answer is kept for a second.
  struct StatsCache {
    absl::Mutex mu;
    absl::Time at = absl::InfinitePast();
    absl::StatusOr<OnboardingStats> stats;
  };
  auto cache = std::make_shared<StatsCache>();
  Store* store = store_.get();
  Clock* clock = clock_;
  auto stats = [cache, store, clock]() -> absl::StatusOr<OnboardingStats> {
    absl::MutexLock lock(&cache->mu);
    const absl::Time now = clock->Now();
    if (now - cache->at > absl::Seconds(1)) {
      cache->stats = store->Stats(now);
      cache->at = now;
    }
    return cache->stats;
  };
  onboardings_gauge->SetCallback([stats] {
    std::map<metrics::Labels, double> out;
    absl::StatusOr<OnboardingStats> s = stats();
    if (!s.ok()) return out;
    for (const auto& [key, count] : s->by_tenant_and_state) {
      out[{key.first, std::string(OnboardingStateName(key.second))}] = static_cast<double>(count);
    }
    return out;
  });
  queue_gauge->SetCallback([stats] {
    absl::StatusOr<OnboardingStats> s = stats();
    return s.ok() ? std::map<metrics::Labels, double>{{{}, double(s->due)}}
                  : std::map<metrics::Labels, double>{};
  });
  leases_gauge->SetCallback([stats] {
    absl::StatusOr<OnboardingStats> s = stats();
    return s.ok() ? std::map<metrics::Labels, double>{{{}, double(s->leased)}}
                  : std::map<metrics::Labels, double>{};
  });
  WorkerPool* pool = api_pool_.get();
  api_pending_gauge->SetCallback([pool] {
    return std::map<metrics::Labels, double>{{{}, double(pool->Pending())}};
  });
  std::atomic<int>* replicas = &replicas_;
  replicas_gauge->SetCallback([replicas] {
    return std::map<metrics::Labels, double>{{{}, double(replicas->load())}};
  });
  if (config->server.metrics_listen.empty()) return absl::OkStatus();
  GF_ASSIGN_OR_RETURN(metrics_server_, metrics::MetricsServer::Start(config->server.metrics_listen,
                                                                     metrics::Registry::Default()));
  const std::string& listen = config->server.metrics_listen;
  LogInfo(absl::StrCat("metrics on http://", listen.substr(0, listen.rfind(':')), ":",
                       metrics_server_->port(), "/metrics"));
  return absl::OkStatus();
}

GuestflowServer::~GuestflowServer() {
  metrics_server_.reset();
  for (metrics::Gauge* g :
       {onboardings_gauge, queue_gauge, leases_gauge, api_pending_gauge, replicas_gauge}) {
    g->SetCallback(nullptr);
  }
  Shutdown();
  StopHeartbeat();
}

void GuestflowServer::BeatOnce() {
  absl::StatusOr<int> alive = replicas_registry_->Beat(lease_owner_, clock_->Now(), kReplicaTtl);
  if (!alive.ok()) {
    LogWarn(absl::StrCat("cannot record this replica's heartbeat: ", alive.status().ToString()));
    return;
  }
  if (*alive == replicas_.exchange(*alive)) return;
  // Microsoft counts the limits per app and tenant, not per process.
  if (const std::shared_ptr<RateLimiter>& limiter = live_->host()->services().limiter) {
    limiter->SetLimits(ReplicaShare(live_->config()->limits, *alive));
  }
  LogInfo(absl::StrCat(*alive,
                       " replica(s) share this database; this one paces its cloud calls at 1/",
                       *alive, " of the configured limits"));
}

void GuestflowServer::HeartbeatLoop() {
  absl::MutexLock lock(&heartbeat_mu_);
  while (!heartbeat_stop_) {
    heartbeat_mu_.AwaitWithTimeout(absl::Condition(&heartbeat_stop_), kReplicaBeat);
    if (heartbeat_stop_) break;
    heartbeat_mu_.Unlock();
    BeatOnce();
    heartbeat_mu_.Lock();
  }
}

void GuestflowServer::StopHeartbeat() {
  if (!heartbeat_.joinable()) return;
  {
    absl::MutexLock lock(&heartbeat_mu_);
    heartbeat_stop_ = true;
  }
  heartbeat_.join();
  if (absl::Status left = replicas_registry_->Leave(lease_owner_); !left.ok()) {
    LogWarn(absl::StrCat("cannot remove this replica's heartbeat: ", left.ToString()));
  }
}

absl::Status GuestflowServer::Start() {
  const std::string listen = live_->config()->server.listen;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, credentials_, &port_);
  builder.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewRpcMetricsInterceptor());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(onboarding_service_.get());
  builder.RegisterService(admin_service_.get());
  builder.RegisterService(batch_service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " (address in use or not local?)"));
  }
  grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService();
  health->SetServingStatus(false);
  scheduler_->Start();
  if (replicas_registry_ != nullptr) {
    BeatOnce();  // the share is right before the first step runs
    heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  }
  GF_RETURN_IF_ERROR(StartMetrics());
  health->SetServingStatus(true);
  if (!options_.port_file.empty()) GF_RETURN_IF_ERROR(WritePortFile(options_.port_file, port_));
  const std::string host = listen.substr(0, listen.rfind(':'));
  const ServerConfig& server = live_->config()->server;
  if (server.plaintext) {
    LogWarn(absl::StrCat("serving plain text (server.plaintext: true) on ", host, ":", port_,
                         ": callers' tokens cross the wire unencrypted; configure server.tls "
                         "for anything but local development"));
  }
  LogInfo(absl::StrCat("guestflowd listening on ", host, ":", port_,
                       server.tls.has_value() ? (server.tls->client_ca_file.empty()
                                                     ? " (TLS)"
                                                     : " (TLS, client certificates verified)")
                                              : " (plain text)"),
          absl::StrCat("config=", options_.config_path, " store=",
                       live_->config()->store.postgres.has_value() ? "postgres" : "sqlite",
                       " lease_owner=", lease_owner_));
  return absl::OkStatus();
}

void GuestflowServer::Shutdown() {
  if (shut_down_ || grpc_server_ == nullptr) return;  // never started
  shut_down_ = true;
  const absl::Duration grace =
      live_ != nullptr ? live_->config()->server.shutdown_grace : absl::ZeroDuration();
  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  // A step waiting for a rate-limit slot gives up now (its request is
  // answered as throttled and the step retries after the restart) instead of
  // eating into the grace period.
  if (live_ != nullptr) {
    if (const std::shared_ptr<RateLimiter>& limiter = live_->host()->services().limiter) {
      limiter->StopWaiting();
    }
  }
  // Steps drain while the RPC side shuts down: the scheduler stops leasing at
  // once and lets running steps finish within the grace period.
  std::thread drain([this, grace] { scheduler_->Stop(grace); });
  StopHeartbeat();
  // New calls are refused at once; calls in flight (watch streams) get a few
  // seconds, then are cancelled.
  grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  drain.join();
  api_pool_->Shutdown();
  grpc_server_->Wait();
  LogInfo("guestflowd stopped");
}

std::vector<TenantConfig> GuestflowServer::Tenants() const { return live_->config()->tenants; }

std::vector<PluginSummary> GuestflowServer::Plugins() const {
  std::vector<PluginSummary> out;
  for (const PluginInfo& p : live_->host()->ListPlugins()) {
    out.push_back(PluginSummary{p.name, p.kind, p.version, p.abi_version, p.file, p.tenants});
  }
  return out;
}

absl::StatusOr<std::vector<TenantCheckResult>> GuestflowServer::CheckTenant(
    absl::string_view tenant) {
  std::shared_ptr<const Config> config = live_->config();
  const TenantConfig* t = config->FindTenant(tenant);
  if (t == nullptr) GF_RETURN_IF_ERROR(live_->FindTenant(tenant).status());
  std::vector<TenantCheckResult> checks;
  checks.push_back(
      {"instance url", !t->instance_url.empty(),
       t->instance_url.empty() ? "dynamics.instance_url is not set" : t->instance_url});
  if (t->client_secret.source != SecretRef::Source::kNone) {
    absl::StatusOr<std::string> secret = ResolveSecret(t->client_secret);
    checks.push_back({"client secret", secret.ok(),
                      secret.ok() ? "resolved" : std::string(secret.status().message())});
  }
  GF_ASSIGN_OR_RETURN(std::vector<PluginCheck> plugin_checks, live_->host()->CheckTenant(tenant));
  for (const PluginCheck& c : plugin_checks) checks.push_back({c.name, c.ok, c.detail});
  return checks;
}

absl::StatusOr<ReloadSummary> GuestflowServer::Reload() {
  absl::MutexLock lock(&reload_mu_);
  std::shared_ptr<const Config> old = live_->config();
  absl::StatusOr<Config> loaded = LoadConfigFile(old->source);
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration not reloaded: ", loaded.status().message()));
  }
  // The socket stays as it is; so does its transport (the certificate files
  // themselves are re-read without a reload).
  if (loaded->server.tls.has_value() != old->server.tls.has_value() ||
      loaded->server.plaintext != old->server.plaintext ||
      (loaded->server.tls.has_value() &&
       (loaded->server.tls->cert_file != old->server.tls->cert_file ||
        loaded->server.tls->key_file != old->server.tls->key_file ||
        loaded->server.tls->client_ca_file != old->server.tls->client_ca_file ||
        loaded->server.tls->require_client_cert != old->server.tls->require_client_cert ||
        loaded->server.tls->reload_interval != old->server.tls->reload_interval))) {
    LogWarn("server.tls or server.plaintext changed; it takes effect at the next start");
  }
  loaded->server.listen = old->server.listen;
  loaded->server.tls = old->server.tls;
  loaded->server.plaintext = old->server.plaintext;
  if (absl::Status servable = CheckServable(*loaded); !servable.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration not reloaded: ", servable.message()));
  }
  if (loaded->store.sqlite_path != old->store.sqlite_path ||
      loaded->store.sqlite_group_commit != old->store.sqlite_group_commit ||
      loaded->store.postgres.has_value() != old->store.postgres.has_value() ||
      (loaded->store.postgres.has_value() &&
       (loaded->store.postgres->dsn_env != old->store.postgres->dsn_env ||
        loaded->store.postgres->pool_size != old->store.postgres->pool_size ||
        loaded->store.postgres->statement_timeout != old->store.postgres->statement_timeout))) {
    LogWarn("the store section changed; it takes effect at the next start");
    loaded->store = old->store;
  }
  auto config = std::make_shared<const Config>(*std::move(loaded));
  // The same services, the rate limiter with its state included.
  const HostServices services = live_->host()->services();
  absl::StatusOr<std::unique_ptr<PluginHost>> host = PluginHost::Create(*config, services);
  if (!host.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration not reloaded: ", host.status().message()));
  }
  live_->Swap(config, std::shared_ptr<PluginHost>(*std::move(host)));
  if (services.limiter != nullptr) {
    services.limiter->SetLimits(ReplicaShare(config->limits, replicas_.load()));
  }
  engine_->SetMaxUnfinished(config->engine.max_unfinished);
  ReloadSummary summary;
  for (const TenantConfig& t : config->tenants) summary.tenants.push_back(t.id);
  for (const PluginInfo& p : live_->host()->ListPlugins()) summary.plugins.push_back(p.name);
  LogInfo(absl::StrCat("configuration reloaded: tenants ", absl::StrJoin(summary.tenants, ","),
                       "; plugins ", absl::StrJoin(summary.plugins, ",")));
  return summary;
}

}  // namespace guestflow
