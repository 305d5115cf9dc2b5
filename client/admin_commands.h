// The verbs on AdminService: tenants, plugins, doctor. Each returns the
// process exit code (client/exit_codes.h) and prints to the context's
// streams; none throws.
#pragma once

#include <string>

#include "client/command_context.h"

namespace guestflow::cli {

// ListTenants; prints the table or the response as JSON.
int RunTenants(const CommandContext& ctx);

// ListPlugins; prints the table or the response as JSON.
int RunPlugins(const CommandContext& ctx);

// CheckTenant; prints one line per check (or the response as JSON). Exit 0
// only if every check passed, 2 if one failed, 1 on an RPC error.
int RunDoctor(const CommandContext& ctx, const std::string& tenant);

}  // namespace guestflow::cli
