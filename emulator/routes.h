// The emulator's route groups. Each Register* function adds the routes of one
// cloud service to the server; all share one EmulatorContext.
#pragma once

#include <string>

#include "emulator/cloud_state.h"
#include "emulator/journal.h"
#include "httplib.h"

namespace guestflow::emulator {

struct EmulatorContext {
  CloudState* state = nullptr;  // borrowed
  Journal* journal = nullptr;   // borrowed
};

// POST /{tenant}/oauth2/v2.0/token (login.microsoftonline.com).
void RegisterTokenRoutes(httplib::Server& server, EmulatorContext& ctx);
// /v1.0/... (graph.microsoft.com): invitations, users, groups, subscribedSkus,
// assignLicense, sendMail.
void RegisterGraphRoutes(httplib::Server& server, EmulatorContext& ctx);
// /providers/Microsoft.BusinessAppPlatform/... (api.bap.microsoft.com).
void RegisterAdminRoutes(httplib::Server& server, EmulatorContext& ctx);
// /orgs/{org}/api/data/v9.2/... (the Dataverse instance {org}).
void RegisterDataverseRoutes(httplib::Server& server, EmulatorContext& ctx);
// /_emulator/...: journal, counters, knobs, state.
void RegisterControlRoutes(httplib::Server& server, EmulatorContext& ctx);

}  // namespace guestflow::emulator
