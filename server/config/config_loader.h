// Reads guestflowd's YAML configuration into a validated Config.
//
// The file (every key optional unless marked required; defaults are those of
// config.h):
//
//   server:
//     listen: 127.0.0.1:50051      # host:port; host is a name, an IPv4 address
//                                  # or [IPv6]; port 0..65535 (0 = any free port)
//     tls:                         # the transport; or instead:
//       cert_file: tls/server.crt  # required; PEM chain, leaf first
//       key_file: tls/server.key   # required; PEM key, not readable by others
//       client_ca_file: tls/ca.crt # client certificates signed by it are verified
//       require_client_cert: false # true: refuse connections without one
//       reload_interval: 60s       # at least 1s; the files are re-read this often
//     plaintext: false             # true instead of tls: no TLS, loopback only
//     metrics_listen: 0.0.0.0:9464 # Prometheus /metrics (plain HTTP); unset: none
//     plugin_dir: ./plugins        # folder holding the plugin libraries;
//                                  # required when `plugins` lists any
//     plugins: [fake_invite.so]    # library file names inside plugin_dir (plain
//                                  # names, no "/"), no duplicates
//     shutdown_grace: 30s          # positive duration
//   store:
//     sqlite:
//       path: ./guestflow.db       # ":memory:" is kept as is
//   engine:
//     workers: 4                   # 1..256
//     max_attempts: 8              # 1..1000 attempts per step
//     backoff_initial: 1s          # positive, <= backoff_max
//     backoff_max: 5m              # positive
//     backoff_multiplier: 2        # 1..100
//     max_step_wait: 1h            # positive; total time a step may wait
//     lease: 60s                   # positive; how long a worker owns a step
//     max_unfinished: 100000       # 0..100000000 (0 = no bound): onboardings not
//                                  # yet ended; beyond, new ones are refused
//                                  # with RESOURCE_EXHAUSTED and a retry hint
//   http:
//     connect_timeout: 10s         # positive, <= request_timeout
//     request_timeout: 60s         # positive
//     ca_file: ""                  # PEM bundle; empty = the system's CAs
//     max_response_bytes: 16777216 # 1024..1073741824
//   limits:                        # outbound request limits (server/http/rate_limiter.h)
//     graph_writes: {requests: 3000, per: 150s}  # Graph POST/PATCH/PUT/DELETE
//                                  # per app (client_id) and directory
//     dataverse: {requests: 6000, per: 300s, concurrent: 52}  # per app and
//                                  # instance (instance_url host)
//     admin: {requests: 100, per: 60s}  # Power Platform admin API (addUser)
//                                  # per app and directory
//                                  # at most `requests` in any window `per`;
//                                  # requests: 0..1000000 (0 = no rate limit);
//                                  # per: positive, at most 24h;
//                                  # concurrent: 0..10000 (0 = no cap)
//     max_wait: 30s                # positive, at most engine.lease: the longest a
//                                  # step waits for a slot before its request is
//                                  # answered as throttled (a local 429)
//   tenants:                       # a list; may be empty
//     - id: contoso                # required; [a-z0-9-]{1,63}; unique
//       display_name: Contoso Ltd  # notifiers' {{organization.name}}
//       support_contact: helpdesk@contoso.com  # {{organization.support_contact}}
//       azure:                     # required
//         tenant_id: contoso.onmicrosoft.com   # required; GUID or domain
//         client_id: 00000000-0000-0000-0000-000000000000   # required
//         client_secret: {env: CONTOSO_SECRET} # required; {env: NAME} or
//                                              # {file: PATH}, never the value
//         authority_url: https://login.microsoftonline.com
//         graph_url: https://graph.microsoft.com
//       dynamics:                  # required
//         instance_url: https://contoso.crm.dynamics.com   # required
//         admin_url: https://api.bap.microsoft.com
//         environment_id: 00000000-0000-0000-0000-000000000000  # letters, digits, "-"
//       onboarding:                # defaults for requests that leave them unset
//         default_roles: [Salesperson]       # same rules as a request's roles
//         send_invitation_message: true
//         invitation_message: "Welcome"      # at most 2,000 characters
//         update_dynamics_email: false
//       plugins:                   # required; all four kinds required
//         invite:   {name: azure_ad_invite, settings: {...}}
//         license:  {name: graph_license, settings: {sku: DYN365_ENTERPRISE_PLAN1}}
//         role:     {name: dataverse_role}
//         notifier: {name: outbox_notifier, settings: {dir: ./outbox}}
//         notifier_fallback: {name: webhook_notifier, settings: {...}}  # optional:
//                                  # tried when the notifier fails permanently
//                                  # (docs/notifiers.md)
//   callers:                       # who may call; docs/security.md
//     - name: hr-portal            # required; [A-Za-z0-9._-]{1,63}; unique
//       role: operator             # required; reader, operator or admin
//       tenants: [contoso]         # required; configured tenant ids, or ["*"]
//       token_hash: sha256:<salt hex>:<digest hex>  # guestflowd hash-token
//       client_cert_names: [hr-portal.contoso.com]  # a client certificate's
//                                  # CN or a DNS/URI/email SAN; unique across
//                                  # callers. At least one of the two.
//
// Value rules:
// - A key with no value (`key:` or `key: ~`) counts as absent.
// - Booleans are `true` or `false` (not yes/no/on/off); numbers and booleans
//   must not be quoted.
// - Durations are numbers with a unit: `500ms`, `30s`, `5m`, `1h`, `1h30m`.
// - URLs are absolute http(s) URLs without credentials, query or fragment;
//   https is required unless the host is loopback (127.0.0.0/8, localhost,
//   [::1]), so the emulator can run on plain http. A trailing "/" is dropped.
// - Relative paths (plugin_dir, store.sqlite.path, http.ca_file,
//   client_secret's file) are made absolute against the config file's folder
//   (`base_dir`) and normalised.
// - Plugin names are 1..64 of [A-Za-z0-9_.-]; `settings` must be a map and is
//   handed to the plugin as a JSON object string: plain scalars follow the
//   YAML 1.2 core schema (true/false, null/~, decimal integers and floats),
//   quoted scalars are strings. Paths inside settings are not resolved here;
//   Config::base_dir tells the plugin host where relative ones start.
// - Unknown keys, duplicate keys and wrong types are errors.
//
// What guestflowd also needs to serve (a transport, at least one caller) is
// checked by CheckServable, not here.
//
// Errors: INVALID_ARGUMENT listing every problem found (at most 50), one per
// line, each as `<source>:<line>:<column>: <key path>: <what was expected>`,
// e.g.
//   guestflowd.yaml:14:22: tenants[0].azure.client_secret: expected {env: NAME}
//   or {file: PATH}; secrets are never written in the config file
// (line and column are 1-based; left out when unknown). YAML syntax errors are
// reported the same way. LoadConfigFile adds NOT_FOUND / PERMISSION_DENIED for
// a file it cannot read.
//
// Secrets are not read here: a SecretRef only says where the secret is, and
// ResolveSecret (secret.h) reads it when it is needed.
//
// Thread safety: both functions are pure apart from reading the file (and the
// current directory when base_dir is relative); safe from any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config/config.h"

namespace guestflow {

// Reads and validates the file at `path`. Messages name the file as `path` was
// given; Config::source is its absolute path (for ReloadConfig) and
// Config::base_dir its folder. Files larger than 4 MiB are refused.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// What a configuration needs before guestflowd may serve with it (after
// --listen is applied): server.tls, or server.plaintext on a loopback
// listen address; and at least one caller. FAILED_PRECONDITION naming each
// problem and what to write.
absl::Status CheckServable(const Config& config);

// Validates `yaml_text`. `source_name` names it in messages and becomes
// Config::source; relative paths resolve against `base_dir` (made absolute
// against the current directory if it is relative or empty).
absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, const std::string& source_name,
                                   const std::string& base_dir);

}  // namespace guestflow
