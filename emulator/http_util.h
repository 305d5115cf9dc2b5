// Helpers the emulator's route handlers share: JSON answers, the Graph and
// Dataverse error envelopes, bearer-token checks.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "emulator/cloud_state.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace guestflow::emulator {

// Which cloud service a path belongs to: "token", "graph", "admin",
// "dataverse", "control", or "" (unknown).
std::string ServiceOf(const std::string& path);

// The request id of the current request (set by the server for every
// request; echoed as `request-id` and `client-request-id`).
std::string CurrentRequestId(const httplib::Request& req);
void SetCurrentRequestId(std::string id);  // by the server, per request

void SendJson(httplib::Response& res, int status, const nlohmann::json& body,
              const char* content_type = "application/json");

// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}
void SendGraphError(const httplib::Request& req, httplib::Response& res, int status,
                    absl::string_view code, absl::string_view message);

// {"error":{"code","message"}} with OData headers.
void SendDataverseError(httplib::Response& res, int status, absl::string_view code,
                        absl::string_view message);

// The grant of the request's `Authorization: Bearer` token if it is valid for
// `audience` ("graph", "admin", "dataverse:{org}"); otherwise answers 401 (or
// 403 for a token of another audience) in the service's error shape and
// returns nullopt. Takes the state's lock itself.
std::optional<Grant> Authorize(const httplib::Request& req, httplib::Response& res,
                               CloudState& state, const std::string& audience);

// OData `$filter` helpers for the simple forms clients send:
// `name eq 'value'` (with '' escapes) and `name eq <guid>`. Returns the
// value compared to `field`, if the filter has such a clause.
std::optional<std::string> FilterEquals(const std::string& filter, absl::string_view field);

}  // namespace guestflow::emulator
