/*
 * guestflow plugin ABI — the only contract between guestflowd and a plugin
 * library. Pure C: only {ptr,len} strings, integers, enums and opaque handles
 * cross it. No exception may cross it.
 *
 * Versioning: semantic. The host loads a plugin when the major versions are
 * equal and the host's minor version is >= the plugin's. New fields are only
 * ever appended to the tables below, and each table starts with its own size,
 * so an older plugin keeps working with a newer host. Any change to this file
 * must bump GF_PLUGIN_ABI_VERSION_MINOR (append-only change) or
 * GF_PLUGIN_ABI_VERSION_MAJOR (anything else); tests/unit/plugin_abi_freeze_test
 * fails otherwise.
 *
 * Life of a plugin:
 *   1. The host dlopen()s the library (RTLD_NOW | RTLD_LOCAL) and calls the
 *      entry point GF_PLUGIN_ENTRY_SYMBOL once. It checks `abi_version` and
 *      `struct_size` before it reads anything else.
 *   2. For every tenant that binds the plugin, the host calls `create` with the
 *      tenant's settings for the plugin (a JSON object). One library may have
 *      many live instances.
 *   3. The host calls `run_step` (and `check`) on an instance, possibly from
 *      several threads at once: an instance must be thread-safe.
 *   4. The host calls `destroy` once per instance, then unloads the library.
 *
 * Threading: every host callback may be called from any thread, but only with
 * the gf_call handle of a call that is still running.
 */
#ifndef GUESTFLOW_PLUGIN_ABI_H_
#define GUESTFLOW_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GF_PLUGIN_ABI_VERSION_MAJOR 1
#define GF_PLUGIN_ABI_VERSION_MINOR 0
#define GF_PLUGIN_ABI_VERSION \
  ((uint32_t)((GF_PLUGIN_ABI_VERSION_MAJOR << 16) | GF_PLUGIN_ABI_VERSION_MINOR))
#define GF_PLUGIN_ABI_MAJOR(v) ((uint32_t)(v) >> 16)
#define GF_PLUGIN_ABI_MINOR(v) ((uint32_t)(v)&0xFFFFu)

/* The one symbol a plugin library exports, of type gf_plugin_entry_fn. */
#define GF_PLUGIN_ENTRY_SYMBOL "guestflow_plugin_entry"

/* Plugin kinds. A kind-`invite` plugin runs the `invite` and `profile` steps;
 * the others run the step of the same name (`notifier` runs `notify`). */
#define GF_PLUGIN_KIND_INVITE "invite"
#define GF_PLUGIN_KIND_LICENSE "license"
#define GF_PLUGIN_KIND_ROLE "role"
#define GF_PLUGIN_KIND_NOTIFIER "notifier"

/* A byte string that is not NUL-terminated. OWNERSHIP: always borrowed; who
 * owns the bytes and for how long is stated wherever a gf_str appears. */
typedef struct gf_str {
  const char* data;
  size_t len;
} gf_str;

typedef enum gf_log_level {
  GF_LOG_DEBUG = 0,
  GF_LOG_INFO = 1,
  GF_LOG_WARN = 2,
  GF_LOG_ERROR = 3,
} gf_log_level;

/* What a step (or create/destroy) came to. */
typedef enum gf_step_outcome {
  /* Done. Outputs set during the call are kept. */
  GF_STEP_SUCCEEDED = 0,
  /* A transient failure (5xx, 429, timeout...): run the step again later.
   * Counts as an attempt; the host backs off, or waits retry_after_ms if set. */
  GF_STEP_RETRY = 1,
  /* Not a failure: the cloud is still busy (replication, sync). Run the step
   * again after retry_after_ms. Does not count as an attempt, but the host
   * bounds the total time a step may wait. */
  GF_STEP_WAIT = 2,
  /* A permanent failure that retrying cannot fix (bad input, no seats,
   * forbidden). set_error must say why, for a person to act on. */
  GF_STEP_FAILED = 3,
  /* The plugin itself broke (for example an exception reached the boundary).
   * last_error() says what happened. Treated as a permanent failure. */
  GF_STEP_PLUGIN_ERROR = 4,
} gf_step_outcome;

/* Opaque handle to one host call (a run_step or check invocation). OWNERSHIP:
 * owned by the host; valid only until the plugin function it was passed to
 * returns. */
typedef struct gf_call gf_call;

/* Opaque plugin instance. OWNERSHIP: created by the plugin's `create`, owned
 * by the host, released only through the same plugin's `destroy`. */
typedef struct gf_instance gf_instance;

typedef struct gf_http_header {
  gf_str name;
  gf_str value;
} gf_http_header;

/* An outbound HTTP request. OWNERSHIP: everything borrowed from the plugin for
 * the duration of the `http` callback. */
typedef struct gf_http_request {
  uint32_t struct_size;
  gf_str method; /* "GET", "POST", "PATCH", "DELETE", ... */
  gf_str url;    /* absolute http(s) URL */
  const gf_http_header* headers;
  size_t header_count;
  gf_str body;
  /* Whole-request timeout in milliseconds; 0 takes the host default. */
  uint32_t timeout_ms;
  /* The cloud service the call goes to, for rate limits, retries and
   * metrics: "graph", "dataverse", "admin", "smtp", "webhook", ... */
  gf_str service;
} gf_http_request;

/* The answer to an HTTP request. OWNERSHIP: every buffer is owned by the host
 * and stays valid until the current gf_call ends. */
typedef struct gf_http_response {
  uint32_t struct_size;
  /* HTTP status, or 0 when no response arrived (see transport_error). */
  int32_t status;
  gf_str body;
  const gf_http_header* headers;
  size_t header_count;
  /* Why no response arrived (DNS, connect, TLS, timeout), when status is 0. */
  gf_str transport_error;
} gf_http_response;

/* What the host offers a plugin. OWNERSHIP: owned by the host; valid from
 * `create` until `destroy` of the instance it was given to returns. Check
 * struct_size before using a field appended after 1.0. */
typedef struct gf_host_api {
  uint32_t struct_size;
  uint32_t abi_version; /* the host's GF_PLUGIN_ABI_VERSION */

  /* Writes a log line attributed to the call's onboarding, tenant and step.
   * `call` may be NULL outside a call (in create/destroy). The host redacts
   * secrets it knows of. */
  void (*log)(gf_call* call, gf_log_level level, gf_str message);

  /* The host's clock, in milliseconds since the Unix epoch. Tests inject it.
   * `call` may be NULL. */
  int64_t (*now_unix_ms)(gf_call* call);

  /* Sends an HTTP request through the host's client (connection reuse,
   * timeouts, TLS verification, size limits, metrics). Returns 0 and fills
   * `response` when a response or a transport error was obtained; returns
   * non-zero only when the request itself is malformed (then
   * response->transport_error says why). Blocking. */
  int32_t (*http)(gf_call* call, const gf_http_request* request, gf_http_response* response);

  /* Gets an OAuth2 access token for the call's tenant and `scope` (for
   * example "https://graph.microsoft.com/.default") with the tenant's client
   * credentials, from the host's cache when it can. Returns 0 and sets
   * `token`, or non-zero and sets `error`; both buffers are owned by the host
   * until the call ends. `*permanent` is set to 1 when retrying cannot help
   * (bad secret, unknown client, wrong resource). */
  int32_t (*get_token)(gf_call* call, gf_str scope, gf_str* token, gf_str* error,
                       int32_t* permanent);

  /* Records an output of the step (a later call with the same key
   * replaces the value). Outputs are stored with the step whatever its
   * outcome, and handed back to the next attempt and to later steps. */
  void (*set_output)(gf_call* call, gf_str key, gf_str value);

  /* Sets the error message of the step's outcome. */
  void (*set_error)(gf_call* call, gf_str message);

  /* Asks the host to run the step again no sooner than this (for
   * GF_STEP_RETRY and GF_STEP_WAIT). */
  void (*set_retry_after_ms)(gf_call* call, int64_t delay_ms);

  /* Reports one check result from `check`. */
  void (*add_check)(gf_call* call, gf_str name, int32_t ok, gf_str detail);
} gf_host_api;

/* The table a plugin exports. OWNERSHIP: owned by the plugin library; static,
 * valid while the library is loaded. */
typedef struct gf_plugin_table {
  /* Must be GF_PLUGIN_ABI_VERSION as the plugin was built. Read first. */
  uint32_t abi_version;
  /* Must be sizeof(gf_plugin_table) as the plugin was built. */
  uint32_t struct_size;
  /* NUL-terminated, static. `name` is unique among loaded plugins and is what
   * tenants bind; `kind` is one of GF_PLUGIN_KIND_*. */
  const char* name;
  const char* kind;
  const char* version;

  /* Creates an instance for one tenant. `config_json` is the tenant's
   * settings object for this plugin (borrowed for the call). Unless the
   * settings name them, the host adds "base_dir" (the configuration file's
   * folder: relative paths in settings resolve against it),
   * "tenant_settings" (the tenant's endpoints and ids, as in the step input)
   * and "default_roles". On success
   * returns GF_STEP_SUCCEEDED and sets *out; otherwise returns
   * GF_STEP_FAILED or GF_STEP_PLUGIN_ERROR and last_error(NULL) says why. */
  gf_step_outcome (*create)(const gf_host_api* host, gf_str config_json, gf_instance** out);

  /* Runs one step for one onboarding. `step` is "invite", "profile",
   * "license", "role" or "notify"; `input_json` describes the guest, the
   * tenant, the outputs of earlier steps and this step's own outputs from
   * earlier attempts (see docs/plugin-guide.md). Both borrowed for the call.
   * Must be idempotent: it may run again after a crash or a retry. */
  gf_step_outcome (*run_step)(gf_instance* instance, gf_call* call, gf_str step, gf_str input_json);

  /* Checks the tenant's setup for this plugin, reporting each check through
   * host->add_check. May be NULL. */
  gf_step_outcome (*check)(gf_instance* instance, gf_call* call);

  /* Frees an instance. `instance` may be NULL (no-op). */
  void (*destroy)(gf_instance* instance);

  /* The last error of a failed create/run_step/check on this thread, or "".
   * `instance` may be NULL. OWNERSHIP: owned by the plugin; valid until the
   * next call into the plugin from the same thread. */
  const char* (*last_error)(gf_instance* instance);
} gf_plugin_table;

/* The entry point's type. Returns the plugin's static table; never NULL. */
typedef const gf_plugin_table* (*gf_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GUESTFLOW_PLUGIN_ABI_H_ */
