// The server configuration, as loaded from YAML and validated (config_loader.h).
// Plain values; defaults are the documented ones.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace guestflow {

// A secret is never written in the config itself, only where to find it.
struct SecretRef {
  enum class Source { kNone, kEnv, kFile };
  Source source = Source::kNone;
  std::string name;  // environment variable name, or file path
};

// The plugin a tenant uses for one plugin kind, and its settings.
struct PluginBinding {
  std::string plugin;         // plugin name (from the library's table)
  std::string settings_json;  // JSON object handed to the plugin's create()
};

struct TenantConfig {
  std::string id;
  std::string display_name;
  // Who guests ask for help (an address, URL or phone): notifiers' templates
  // show it as organization.support_contact. Optional.
  std::string support_contact;

  // azure:
  std::string directory;  // Entra tenant GUID or domain (azure.tenant_id)
  std::string client_id;
  SecretRef client_secret;
  std::string authority_url = "https://login.microsoftonline.com";
  std::string graph_url = "https://graph.microsoft.com";

  // dynamics:
  std::string instance_url;  // required, no default
  std::string admin_url = "https://api.bap.microsoft.com";
  std::string environment_id;

  // onboarding defaults:
  std::vector<std::string> default_roles;
  bool send_invitation_message = true;
  std::string invitation_message;
  bool update_dynamics_email = false;

  // plugin kind ("invite", "license", "role", "notifier") -> binding; plus,
  // optionally, "notifier_fallback": a notifier tried when the notifier
  // fails permanently.
  std::map<std::string, PluginBinding> plugins;
};

// The gRPC server's certificate. The files are PEM and are re-read every
// `reload_interval`, so that a renewed certificate is served without a
// restart; the key file is a secret (not readable by others).
struct TlsConfig {
  std::string cert_file;       // the certificate chain, leaf first
  std::string key_file;        // its private key
  std::string client_ca_file;  // set: client certificates signed by these CAs are verified
  // With client_ca_file: refuse a connection without a client certificate.
  // Otherwise a client may come without one and authenticate with a token.
  bool require_client_cert = false;
  absl::Duration reload_interval = absl::Seconds(60);
};

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  // Exactly one of the two: TLS, or plain text, which must be asked for
  // (`plaintext: true`) and only listens on a loopback address.
  std::optional<TlsConfig> tls;
  bool plaintext = false;
  // Set: the Prometheus /metrics endpoint listens here (plain HTTP, host:port;
  // port 0 picks one). Empty: no endpoint.
  std::string metrics_listen;
  std::string plugin_dir;            // absolute after loading
  std::vector<std::string> plugins;  // library files inside plugin_dir
  // Optional allowlist: when not empty, every file of `plugins` must be here
  // with the lowercase hex SHA-256 of its content, or it is not loaded.
  std::map<std::string, std::string> plugin_sha256;
  absl::Duration shutdown_grace = absl::Seconds(30);
};

// PostgreSQL, for several replicas sharing the work: the connection string
// (libpq's "host=... dbname=..." or "postgresql://..." form, with its
// password) is a secret, so the file names only the environment variable
// that holds it.
struct PostgresStoreConfig {
  std::string dsn_env;
  int pool_size = 8;                                     // connections per process
  absl::Duration statement_timeout = absl::Seconds(10);  // per SQL statement
};

struct StoreConfig {
  std::string sqlite_path = "guestflow.db";  // absolute after loading
  // Concurrent creates share one transaction and one fsync
  // (SqliteStore::Options::group_commit).
  bool sqlite_group_commit = true;
  std::optional<PostgresStoreConfig> postgres;  // set: PostgreSQL, sqlite_path unused
};

struct EngineConfig {
  int workers = 4;
  int max_attempts = 8;
  absl::Duration backoff_initial = absl::Seconds(1);
  absl::Duration backoff_max = absl::Minutes(5);
  double backoff_multiplier = 2.0;
  absl::Duration max_step_wait = absl::Hours(1);
  absl::Duration lease = absl::Seconds(60);
  // The most onboardings not yet ended (queued, running, waiting) the store
  // may hold; beyond it StartOnboarding and CreateBatch answer
  // RESOURCE_EXHAUSTED with a retry hint. 0: no bound.
  int64_t max_unfinished = 100000;
};

struct HttpConfig {
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration request_timeout = absl::Seconds(60);
  std::string ca_file;  // empty: system CAs
  size_t max_response_bytes = 16 << 20;
};

// One documented service limit: at most `requests` requests per `per`
// (requests 0: no rate limit) and, where the service has one, at most
// `concurrent` requests in flight at once (0: no cap). RateLimiter
// (server/http/rate_limiter.h) enforces them per app and tenant.
struct RateLimitConfig {
  int64_t requests = 0;
  absl::Duration per = absl::Seconds(1);
  int64_t concurrent = 0;
};

// Microsoft's documented limits, as the defaults.
struct LimitsConfig {
  // Graph identity writes (POST/PATCH/PUT/DELETE): per app and directory.
  RateLimitConfig graph_writes{3000, absl::Seconds(150), 0};
  // Dataverse service protection: per app user and environment (instance).
  RateLimitConfig dataverse{6000, absl::Seconds(300), 52};
  // Power Platform admin API (addUser): per app and directory. Microsoft
  // publishes no figure; 100 per 60 s is the emulator's, of the order of the
  // platform's other per-user limits.
  RateLimitConfig admin{100, absl::Seconds(60), 0};
  // The longest a step waits for a slot before its request is answered as
  // throttled (a synthetic 429) instead of being sent.
  absl::Duration max_wait = absl::Seconds(30);
};

// What a caller may do; each role may do what the ones before it may.
enum class CallerRole {
  kReader = 1,    // get, list and watch onboardings, batches and audit entries
  kOperator = 2,  // and start, cancel, retry and import
  kAdmin = 3,     // and the AdminService RPCs
};

// One client of the API, and how it proves who it is: a bearer token (the
// config holds only its salted SHA-256), a client certificate, or either.
struct CallerConfig {
  std::string name;  // recorded as requested_by and in the audit trail
  CallerRole role = CallerRole::kReader;
  bool all_tenants = false;          // tenants: ["*"]
  std::vector<std::string> tenants;  // otherwise: these configured tenants
  // token_hash "sha256:<salt>:<digest>", both hex: digest = SHA-256(salt
  // bytes + token). Empty: no token.
  std::string token_salt_hex;
  std::string token_digest_hex;
  // Client certificate identities (its subject common name, or any of its
  // DNS, URI or email subject alternative names). Empty: no certificate.
  std::vector<std::string> client_cert_names;
};

struct Config {
  std::string source;  // the file it was read from
  // The absolute folder relative paths resolve against (the config file's).
  // Kept so that the plugin host can resolve relative paths in plugin
  // settings (e.g. an outbox `dir`) the same way.
  std::string base_dir;
  ServerConfig server;
  StoreConfig store;
  EngineConfig engine;
  HttpConfig http;
  LimitsConfig limits;
  std::vector<TenantConfig> tenants;
  std::vector<CallerConfig> callers;

  const TenantConfig* FindTenant(absl::string_view id) const;
};

}  // namespace guestflow
