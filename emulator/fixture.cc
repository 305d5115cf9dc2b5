#include "emulator/fixture.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace guestflow::emulator {
namespace {

// yaml-cpp reports problems by exception; they are turned into a Status at
// the edge of this file.
struct FixtureError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw FixtureError{absl::StrCat(path, ": ", what)};
}

void CheckKeys(const YAML::Node& node, const std::string& path,
               const std::set<std::string>& allowed) {
  if (!node.IsMap()) Fail(path, "expected a map");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (allowed.count(key) == 0) {
      Fail(absl::StrCat(path, ".", key),
           absl::StrCat("unknown key; expected one of: ", absl::StrJoin(allowed, ", ")));
    }
  }
}

template <typename T>
T Get(const YAML::Node& node, const char* key, const std::string& path, T fallback) {
  const YAML::Node v = node[key];
  if (!v || v.IsNull()) return fallback;
  try {
    return v.as<T>();
  } catch (const YAML::Exception&) {
    Fail(absl::StrCat(path, ".", key), "wrong type");
  }
}

std::string Required(const YAML::Node& node, const char* key, const std::string& path) {
  std::string v = Get<std::string>(node, key, path, "");
  if (v.empty()) Fail(absl::StrCat(path, ".", key), "required");
  return v;
}

std::vector<std::string> Strings(const YAML::Node& node, const char* key, const std::string& path) {
  return Get<std::vector<std::string>>(node, key, path, {});
}

void ParseKnobs(const YAML::Node& n, Knobs& k) {
  if (!n) return;
  CheckKeys(n, "knobs",
            {"latency_ms", "replication_lag_ms", "usage_location_lag_ms", "license_propagation_ms",
             "dataverse_sync_delay_ms", "throttle_scale", "throttle_limits", "error_rate",
             "throttle_rate", "reset_rate", "slow_rate", "slow_ms"});
  k.latency_ms = Get<std::map<std::string, int>>(n, "latency_ms", "knobs", k.latency_ms);
  k.replication_lag_ms = Get<int>(n, "replication_lag_ms", "knobs", k.replication_lag_ms);
  k.usage_location_lag_ms = Get<int>(n, "usage_location_lag_ms", "knobs", k.usage_location_lag_ms);
  k.license_propagation_ms =
      Get<int>(n, "license_propagation_ms", "knobs", k.license_propagation_ms);
  k.dataverse_sync_delay_ms =
      Get<int>(n, "dataverse_sync_delay_ms", "knobs", k.dataverse_sync_delay_ms);
  k.throttle_scale = Get<double>(n, "throttle_scale", "knobs", k.throttle_scale);
  if (const YAML::Node limits = n["throttle_limits"]; limits) {
    if (!limits.IsMap()) {
      Fail("knobs.throttle_limits", "must be a map of limit name to {requests, per_s}");
    }
    std::map<std::string, LimitOverride> parsed;
    for (const auto& entry : limits) {
      const std::string name = entry.first.as<std::string>();
      const std::string p = absl::StrCat("knobs.throttle_limits.", name);
      if (name != "graph_writes" && name != "graph_resource_units" && name != "dataverse" &&
          name != "dataverse_concurrent" && name != "admin") {
        Fail(p,
             "unknown limit (graph_writes, graph_resource_units, dataverse, "
             "dataverse_concurrent, admin)");
      }
      CheckKeys(entry.second, p, {"requests", "per_s"});
      LimitOverride o;
      o.requests = Get<double>(entry.second, "requests", p, 0);
      o.per_s = Get<double>(entry.second, "per_s", p, 0);
      if (!(o.requests >= 1)) Fail(absl::StrCat(p, ".requests"), "must be at least 1");
      if (!(o.per_s >= 0)) Fail(absl::StrCat(p, ".per_s"), "must be positive (or 0: documented)");
      parsed[name] = o;
    }
    k.throttle_limits = std::move(parsed);
  }
  k.error_rate = Get<double>(n, "error_rate", "knobs", k.error_rate);
  k.throttle_rate = Get<double>(n, "throttle_rate", "knobs", k.throttle_rate);
  k.reset_rate = Get<double>(n, "reset_rate", "knobs", k.reset_rate);
  k.slow_rate = Get<double>(n, "slow_rate", "knobs", k.slow_rate);
  k.slow_ms = Get<int>(n, "slow_ms", "knobs", k.slow_ms);
}

Tenant ParseTenant(const YAML::Node& n, const std::string& path) {
  CheckKeys(n, path,
            {"id", "domain", "display_name", "invitations_allowed", "apps", "skus", "groups",
             "users", "environments"});
  Tenant t;
  t.id = Required(n, "id", path);
  t.domain = Required(n, "domain", path);
  t.display_name = Get<std::string>(n, "display_name", path, t.domain);
  t.invitations_allowed = Get<bool>(n, "invitations_allowed", path, true);
  int i = 0;
  for (const YAML::Node& a : n["apps"]) {
    const std::string p = absl::StrCat(path, ".apps[", i++, "]");
    CheckKeys(a, p, {"client_id", "client_secret", "display_name"});
    t.apps.push_back(App{Required(a, "client_id", p), Required(a, "client_secret", p),
                         Get<std::string>(a, "display_name", p, "")});
  }
  i = 0;
  for (const YAML::Node& s : n["skus"]) {
    const std::string p = absl::StrCat(path, ".skus[", i++, "]");
    CheckKeys(s, p, {"sku_id", "sku_part_number", "enabled", "consumed", "capability_status"});
    Sku sku;
    sku.sku_id = Required(s, "sku_id", p);
    sku.sku_part_number = Required(s, "sku_part_number", p);
    sku.enabled_units = Get<int>(s, "enabled", p, 0);
    sku.consumed_units = Get<int>(s, "consumed", p, 0);
    sku.capability_status = Get<std::string>(s, "capability_status", p, "Enabled");
    t.skus.push_back(sku);
  }
  i = 0;
  for (const YAML::Node& g : n["groups"]) {
    const std::string p = absl::StrCat(path, ".groups[", i++, "]");
    CheckKeys(g, p, {"id", "display_name", "members"});
    Group group{Required(g, "id", p), Get<std::string>(g, "display_name", p, ""), {}};
    for (const std::string& m : Strings(g, "members", p)) group.members.insert(m);
    t.groups.push_back(group);
  }
  i = 0;
  for (const YAML::Node& u : n["users"]) {
    const std::string p = absl::StrCat(path, ".users[", i++, "]");
    CheckKeys(u, p,
              {"id", "user_principal_name", "mail", "other_mails", "display_name", "given_name",
               "surname", "usage_location", "user_type", "assigned_sku_ids"});
    User user;
    user.id = Required(u, "id", p);
    user.user_principal_name = Required(u, "user_principal_name", p);
    user.mail = Get<std::string>(u, "mail", p, "");
    user.other_mails = Strings(u, "other_mails", p);
    user.display_name = Get<std::string>(u, "display_name", p, "");
    user.given_name = Get<std::string>(u, "given_name", p, "");
    user.surname = Get<std::string>(u, "surname", p, "");
    user.usage_location = Get<std::string>(u, "usage_location", p, "");
    user.user_type = Get<std::string>(u, "user_type", p, "Member");
    if (user.user_type == "Guest") user.external_user_state = "Accepted";
    user.assigned_sku_ids = Strings(u, "assigned_sku_ids", p);
    if (!user.assigned_sku_ids.empty()) user.license_effective_at = absl::InfinitePast();
    t.users.push_back(user);
  }
  i = 0;
  for (const YAML::Node& e : n["environments"]) {
    const std::string p = absl::StrCat(path, ".environments[", i++, "]");
    CheckKeys(e, p,
              {"id", "org", "display_name", "security_group", "application_users", "business_units",
               "roles"});
    Environment env;
    env.id = Required(e, "id", p);
    env.org = Required(e, "org", p);
    env.display_name = Get<std::string>(e, "display_name", p, env.org);
    env.security_group_id = Get<std::string>(e, "security_group", p, "");
    env.application_users = Strings(e, "application_users", p);
    int j = 0;
    for (const YAML::Node& b : e["business_units"]) {
      const std::string bp = absl::StrCat(p, ".business_units[", j++, "]");
      CheckKeys(b, bp, {"id", "name", "parent"});
      env.business_units.push_back(BusinessUnit{Required(b, "id", bp), Required(b, "name", bp),
                                                Get<std::string>(b, "parent", bp, "")});
    }
    if (env.business_units.empty()) Fail(p, "needs at least its root business unit");
    j = 0;
    for (const YAML::Node& r : e["roles"]) {
      const std::string rp = absl::StrCat(p, ".roles[", j++, "]");
      CheckKeys(r, rp, {"id", "name", "business_unit"});
      env.roles.push_back(Role{Required(r, "id", rp), Required(r, "name", rp),
                               Get<std::string>(r, "business_unit", rp, env.business_units[0].id)});
    }
    t.environments.push_back(env);
  }
  return t;
}

}  // namespace

absl::StatusOr<Fixture> ParseFixture(const std::string& yaml_text, const std::string& source) {
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    Fixture f;
    if (!root || root.IsNull()) return f;
    CheckKeys(root, "fixture", {"tenants", "knobs"});
    ParseKnobs(root["knobs"], f.knobs);
    int i = 0;
    for (const YAML::Node& t : root["tenants"]) {
      f.tenants.push_back(ParseTenant(t, absl::StrCat("tenants[", i++, "]")));
    }
    return f;
  } catch (const FixtureError& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.message));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
}

absl::StatusOr<Fixture> LoadFixtureFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read fixture ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseFixture(text.str(), path);
}

absl::Status ApplyKnobs(const std::string& json_text, Knobs& knobs) {
  // JSON is YAML: reuse the fixture's knob parser and its key checks.
  try {
    const YAML::Node node = YAML::Load(json_text);
    Knobs updated = knobs;
    ParseKnobs(node, updated);
    knobs = updated;
    return absl::OkStatus();
  } catch (const FixtureError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

}  // namespace guestflow::emulator
