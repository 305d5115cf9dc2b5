// The verbs on OnboardingService: onboard, get, list, watch, retry, cancel,
// calls.
// Each returns the process exit code (client/exit_codes.h) and prints to the
// context's streams; none throws.
#pragma once

#include <cstdint>
#include <string>

#include "client/command_context.h"
#include "client/command_line.h"

namespace guestflow::cli {

// StartOnboarding, with a fresh UUID v4 request id when none was given; prints
// the name and state (and the request id), or the Onboarding as JSON with its
// request_id filled. With `args.wait`, continues as RunWatch.
int RunOnboard(const CommandContext& ctx, const OnboardArgs& args);

// GetOnboarding; prints RenderOnboardingDetail or the Onboarding as JSON.
int RunGet(const CommandContext& ctx, const std::string& name);

// ListOnboardings; prints the table (and on stderr the next page token, if
// any), or one ListOnboardingsResponse as JSON. With `args.all` every page is
// fetched and merged into one table / one response.
int RunList(const CommandContext& ctx, const ListArgs& args);

// WatchOnboarding from `after_sequence`; prints one line (or JSON object) per
// event as it arrives, then the final summary. If the stream breaks with
// UNAVAILABLE after at least one event, reconnects from the last sequence
// seen, up to 3 times. Exit: 0 if the onboarding SUCCEEDED, 2 if it ended
// FAILED or CANCELLED, 1 on an RPC error or a stream that ended early.
int RunWatch(const CommandContext& ctx, const std::string& name, int64_t after_sequence = 0);

// RetryOnboarding / CancelOnboarding; print the resulting name and state.
int RunRetry(const CommandContext& ctx, const std::string& name);
int RunCancel(const CommandContext& ctx, const std::string& name);

// ListCloudCalls of `parent` (`onboardings/x` or `tenants/x`), every page;
// prints RenderCloudCallTable (with the ONBOARDING column for a tenant), or
// one ListCloudCallsResponse holding every call as JSON.
int RunCalls(const CommandContext& ctx, const std::string& parent);

}  // namespace guestflow::cli
