// The license half of the emulated Microsoft Graph (GET /v1.0/subscribedSkus,
// POST /v1.0/users/{id}/assignLicense), and the few directory helpers it
// shares with the rest of the Graph routes (emulator/graph_routes.cc, which
// defines them and calls RegisterGraphLicenseRoutes from
// RegisterGraphRoutes).
//
// Every helper below expects the CloudState lock to be held (call it inside
// CloudState::Locked) unless it says otherwise.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "emulator/cloud_state.h"
#include "emulator/routes.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace guestflow::emulator {

// Adds GET /v1.0/subscribedSkus and POST /v1.0/users/{id}/assignLicense.
// `ctx` must outlive `server`.
void RegisterGraphLicenseRoutes(httplib::Server& server, EmulatorContext& ctx);

// The base of every @odata.context the emulator writes.
inline constexpr char kGraphMetadataUrl[] = "https://graph.microsoft.com/v1.0/$metadata";

// The user `id_or_upn` names (object id or userPrincipalName, both
// case-insensitive) if it exists and has replicated (visible_at <= now);
// otherwise null, as a replica that has not caught up answers.
User* FindVisibleUser(Tenant& tenant, absl::string_view id_or_upn, absl::Time now);

// 404 Request_ResourceNotFound "Resource '<id>' does not exist or one of its
// queried reference-property objects are not present."
void SendResourceNotFound(const httplib::Request& req, httplib::Response& res,
                          absl::string_view id);

// Every property the emulator keeps for a user, as Graph names them.
nlohmann::json UserJson(const User& user);

// The request body as a JSON object, or nullopt after answering 400
// BadRequest (what Graph says for an unreadable payload). Lock not needed.
std::optional<nlohmann::json> ParseJsonBody(const httplib::Request& req, httplib::Response& res);

// The `$select` projection of `entity` (an object with every property): the
// properties named in the comma-separated `select`, matched
// case-insensitively. Returns nullopt and sets `*unknown` to the first name
// `entity` does not have. Lock not needed.
std::optional<nlohmann::json> SelectProperties(const nlohmann::json& entity,
                                               const std::string& select, std::string* unknown);

}  // namespace guestflow::emulator
