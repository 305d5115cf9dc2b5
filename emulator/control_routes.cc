// /_emulator/...: what tests and people use to look inside the fake cloud.
//   GET  /_emulator/journal?after=N   every request answered (JSON lines array)
//   GET  /_emulator/counters          idempotency counters
//   GET  /_emulator/knobs             current knobs
//   POST /_emulator/knobs             change knobs (JSON object, fixture keys)
//   GET  /_emulator/state             tenants, users, system users (for debugging)
//   GET  /_emulator/health            200 "ok"
#include "absl/strings/numbers.h"
#include "emulator/fixture.h"
#include "emulator/http_util.h"
#include "emulator/routes.h"

namespace guestflow::emulator {
namespace {

nlohmann::json KnobsJson(const Knobs& k) {
  nlohmann::json limits = nlohmann::json::object();
  for (const auto& [name, o] : k.throttle_limits) {
    limits[name] = {{"requests", o.requests}, {"per_s", o.per_s}};
  }
  return {{"latency_ms", k.latency_ms},
          {"replication_lag_ms", k.replication_lag_ms},
          {"usage_location_lag_ms", k.usage_location_lag_ms},
          {"license_propagation_ms", k.license_propagation_ms},
          {"dataverse_sync_delay_ms", k.dataverse_sync_delay_ms},
          {"throttle_scale", k.throttle_scale},
          {"throttle_limits", limits},
          {"error_rate", k.error_rate},
          {"throttle_rate", k.throttle_rate},
          {"reset_rate", k.reset_rate},
          {"slow_rate", k.slow_rate},
          {"slow_ms", k.slow_ms}};
}

}  // namespace

void RegisterControlRoutes(httplib::Server& server, EmulatorContext& ctx) {
  server.Get("/_emulator/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });

  server.Get("/_emulator/journal", [&ctx](const httplib::Request& req, httplib::Response& res) {
    int64_t after = 0;
    if (req.has_param("after") && !absl::SimpleAtoi(req.get_param_value("after"), &after)) {
      SendJson(res, 400, {{"error", "after must be an integer"}});
      return;
    }
    nlohmann::json entries = nlohmann::json::array();
    for (const JournalEntry& e : ctx.journal->Since(after)) entries.push_back(Journal::ToJson(e));
    SendJson(res, 200, entries);
  });

  server.Get("/_emulator/counters", [&ctx](const httplib::Request&, httplib::Response& res) {
    nlohmann::json body = ctx.state->Locked([](CloudState& s) {
      const Counters& c = s.counters;
      return nlohmann::json{{"invitations_by_email", c.invitations_by_email},
                            {"guests_created_by_email", c.guests_created_by_email},
                            {"license_assignments", c.license_assignments},
                            {"role_associations", c.role_associations},
                            {"group_member_adds", c.group_member_adds},
                            {"mails_sent", c.mails_sent},
                            {"status_codes", c.status_codes}};
    });
    SendJson(res, 200, body);
  });

  server.Get("/_emulator/knobs", [&ctx](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, ctx.state->Locked([](CloudState& s) { return KnobsJson(s.knobs); }));
  });

  server.Post("/_emulator/knobs", [&ctx](const httplib::Request& req, httplib::Response& res) {
    absl::Status applied =
        ctx.state->Locked([&](CloudState& s) { return ApplyKnobs(req.body, s.knobs); });
    if (!applied.ok()) {
      SendJson(res, 400, {{"error", std::string(applied.message())}});
      return;
    }
    SendJson(res, 200, ctx.state->Locked([](CloudState& s) { return KnobsJson(s.knobs); }));
  });

  server.Get("/_emulator/state", [&ctx](const httplib::Request&, httplib::Response& res) {
    nlohmann::json body = ctx.state->Locked([](CloudState& s) {
      nlohmann::json tenants = nlohmann::json::array();
      for (const Tenant& t : s.tenants) {
        nlohmann::json users = nlohmann::json::array();
        for (const User& u : t.users) {
          users.push_back({{"id", u.id},
                           {"userPrincipalName", u.user_principal_name},
                           {"mail", u.mail},
                           {"userType", u.user_type},
                           {"usageLocation", u.usage_location},
                           {"givenName", u.given_name},
                           {"surname", u.surname},
                           {"assignedSkuIds", u.assigned_sku_ids}});
        }
        nlohmann::json skus = nlohmann::json::array();
        for (const Sku& k : t.skus) {
          skus.push_back({{"skuPartNumber", k.sku_part_number},
                          {"enabled", k.enabled_units},
                          {"consumed", k.consumed_units}});
        }
        nlohmann::json envs = nlohmann::json::array();
        for (const Environment& e : t.environments) {
          nlohmann::json sus = nlohmann::json::array();
          for (const SystemUser& su : e.system_users) {
            nlohmann::json roles = nlohmann::json::array();
            for (const std::string& r : su.role_ids) roles.push_back(r);
            sus.push_back({{"systemuserid", su.id},
                           {"azureactivedirectoryobjectid", su.aad_object_id},
                           {"internalemailaddress", su.internal_email},
                           {"isdisabled", su.disabled},
                           {"roles", roles}});
          }
          envs.push_back({{"id", e.id}, {"org", e.org}, {"systemusers", sus}});
        }
        tenants.push_back({{"id", t.id},
                           {"domain", t.domain},
                           {"users", users},
                           {"skus", skus},
                           {"environments", envs}});
      }
      return nlohmann::json{{"tenants", tenants}};
    });
    SendJson(res, 200, body);
  });
}

}  // namespace guestflow::emulator
