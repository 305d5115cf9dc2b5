// The emulated cloud's state: directory tenants with their apps, users, SKUs
// and groups, and their Dynamics environments with business units, roles and
// system users. Plain values guarded by one mutex; the route handlers read and
// change it through CloudState::Locked.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace guestflow::emulator {

struct App {
  std::string client_id;
  std::string client_secret;
  std::string display_name;
};

struct User {
  std::string id;  // object id (GUID)
  std::string user_principal_name;
  std::string mail;
  std::vector<std::string> other_mails;
  std::string display_name;
  std::string given_name;
  std::string surname;
  std::string usage_location;        // "" = not set
  std::string user_type = "Member";  // "Guest" for invited users
  std::string external_user_state;   // "PendingAcceptance" for guests
  bool account_enabled = true;
  std::vector<std::string> assigned_sku_ids;
  absl::Time created = absl::InfinitePast();
  // Directory replication: GET/PATCH of the user answer 404 before this.
  absl::Time visible_at = absl::InfinitePast();
  // Usage-location lag: assignLicense still sees no usage location before this.
  absl::Time usage_location_effective_at = absl::InfinitePast();
  // License propagation: the admin addUser still says userNotLicensed before this.
  absl::Time license_effective_at = absl::InfiniteFuture();
};

struct Sku {
  std::string sku_id;  // GUID
  std::string sku_part_number;
  int enabled_units = 0;   // prepaidUnits.enabled
  int consumed_units = 0;  // consumedUnits
  std::string capability_status = "Enabled";
};

struct Group {
  std::string id;
  std::string display_name;
  std::set<std::string> members;  // user object ids
};

struct BusinessUnit {
  std::string id;
  std::string name;
  std::string parent_id;  // "" for the root
};

struct Role {
  std::string id;
  std::string name;
  std::string business_unit_id;
};

struct SystemUser {
  std::string id;
  std::string aad_object_id;
  std::string business_unit_id;
  std::string internal_email;
  std::string domain_name;
  std::string first_name;
  std::string last_name;
  bool disabled = false;
  int access_mode = 0;
  std::set<std::string> role_ids;
  // Dataverse sync: the row is not returned by queries before this.
  absl::Time visible_at = absl::InfinitePast();
};

struct Environment {
  std::string id;   // the Power Platform environment id (BAP)
  std::string org;  // path prefix: instance URL is http://HOST:PORT/orgs/{org}
  std::string display_name;
  std::string security_group_id;               // "" = none gates the environment
  std::vector<std::string> application_users;  // client ids with an application user
  std::vector<BusinessUnit> business_units;
  std::vector<Role> roles;
  std::vector<SystemUser> system_users;
};

struct Tenant {
  std::string id;      // directory (tenant) id, a GUID
  std::string domain;  // e.g. contoso.onmicrosoft.com
  std::string display_name;
  bool invitations_allowed = true;
  std::vector<App> apps;
  std::vector<User> users;
  std::vector<Sku> skus;
  std::vector<Group> groups;
  std::vector<Environment> environments;

  User* FindUser(absl::string_view id);
  App* FindApp(absl::string_view client_id);
  Group* FindGroup(absl::string_view id);
  Sku* FindSku(absl::string_view sku_id);
};

// One throttling limit set by hand instead of scaled from Microsoft's figure
// (knobs.throttle_limits).
struct LimitOverride {
  double requests = 0;  // > 0
  double per_s = 0;     // the window in seconds; 0: the documented window
};

// Behaviour knobs; settable from the fixture and at run time.
struct Knobs {
  // Added latency per service ("token", "graph", "admin", "dataverse").
  std::map<std::string, int> latency_ms;
  int replication_lag_ms = 0;       // new guest 404s on /users/{id} this long
  int usage_location_lag_ms = 0;    // assignLicense ignores a fresh usageLocation this long
  int license_propagation_ms = 0;   // addUser says userNotLicensed this long after assignLicense
  int dataverse_sync_delay_ms = 0;  // systemuser invisible this long after addUser
  double throttle_scale = 1.0;      // multiplies the documented limits; 0 disables throttling
  // Limits given exactly, by name: graph_writes, graph_resource_units,
  // dataverse, dataverse_concurrent (requests only), admin. Not scaled; the
  // others stay scaled by throttle_scale.
  std::map<std::string, LimitOverride> throttle_limits;
  double error_rate = 0;     // share of requests answered 503
  double throttle_rate = 0;  // share answered 429 with Retry-After, whatever the limits
  double reset_rate = 0;     // share of connections reset before answering
  double slow_rate = 0;      // share of requests delayed by slow_ms
  int slow_ms = 0;
};

// What tests count to prove idempotency.
struct Counters {
  std::map<std::string, int> invitations_by_email;     // POST /invitations per email
  std::map<std::string, int> guests_created_by_email;  // new guest users per email
  std::map<std::string, int> license_assignments;      // "userId|skuId" -> successful adds
  std::map<std::string, int> role_associations;        // "systemuserId|roleId" -> associations
  std::map<std::string, int> group_member_adds;        // "groupId|userId" -> adds
  std::map<std::string, int> mails_sent;               // sender -> sendMail calls
  std::map<std::string, int> status_codes;             // "429" -> count
};

// An access token the token endpoint issued.
struct Grant {
  std::string tenant_id;
  std::string client_id;
  std::string audience;  // "graph", "admin" or "dataverse:{org}"
  absl::Time expires = absl::InfinitePast();
};

// Thread-safe.
class CloudState {
 public:
  // Runs `f(state)` under the lock and returns what it returns.
  template <typename F>
  auto Locked(F f) {
    absl::MutexLock lock(&mu_);
    return f(*this);
  }

  // Everything below is guarded by the lock Locked() holds.
  std::vector<Tenant> tenants;
  Knobs knobs;
  Counters counters;
  std::map<std::string, Grant> grants;  // access token -> grant

  // By GUID or domain name (case-insensitive).
  Tenant* FindTenant(absl::string_view id_or_domain);
  // The environment whose org (path prefix) is `org`, and its tenant.
  Environment* FindEnvironmentByOrg(absl::string_view org, Tenant** tenant);
  Environment* FindEnvironmentById(absl::string_view id, Tenant** tenant);

 private:
  absl::Mutex mu_;
};

// A new random GUID, lower case.
std::string NewGuid();

}  // namespace guestflow::emulator
