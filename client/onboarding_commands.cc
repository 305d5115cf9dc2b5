#include "client/onboarding_commands.h"

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/duration_text.h"
#include "client/exit_codes.h"
#include "client/names.h"
#include "client/onboarding_text.h"
#include "client/request_builders.h"
#include "client/request_id.h"
#include "guestflow/v1/onboarding_service.grpc.pb.h"

namespace guestflow::cli {
namespace {

constexpr int kMaxReconnects = 3;

int PrintOnboardingSummary(const CommandContext& ctx, const v1::Onboarding& onboarding) {
  if (ctx.json) return PrintJson(ctx, onboarding) ? kExitOk : kExitError;
  *ctx.out << RenderOnboardingSummary(onboarding) << std::endl;
  return kExitOk;
}

int ExitCodeOfFinalState(v1::OnboardingState state) {
  if (state == v1::ONBOARDING_STATE_SUCCEEDED) return kExitOk;
  return kExitNotSucceeded;
}

// Sends `request` through `stub`'s `rpc` into `merged`, and with `all` again
// with each next_page_token until the last page. `merged` ends with the last
// page's next_page_token. Returns the exit code when a call failed (already
// reported).
template <typename Stub, typename Request, typename Response>
std::optional<int> FetchPages(const CommandContext& ctx, Stub& stub,
                              grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                        Response*),
                              Request request, bool all, Response& merged) {
  while (true) {
    grpc::ClientContext context;
    SetDeadline(context, ctx.unary_timeout);
    Response page;
    const grpc::Status status = (stub.*rpc)(&context, request, &page);
    if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
    merged.MergeFrom(page);
    merged.set_next_page_token(page.next_page_token());
    if (!all || page.next_page_token().empty()) return std::nullopt;
    // A server that hands back the token it was given would loop forever.
    if (page.next_page_token() == request.page_token()) {
      *ctx.err << "error: the server returned the same page token twice; stopping" << std::endl;
      return kExitError;
    }
    request.set_page_token(page.next_page_token());
  }
}

}  // namespace

int RunOnboard(const CommandContext& ctx, const OnboardArgs& args) {
  v1::StartOnboardingRequest request = BuildStartOnboardingRequest(args);
  if (request.request_id().empty()) request.set_request_id(NewRequestId());

  auto stub = v1::OnboardingService::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(context, ctx.unary_timeout);
  v1::Onboarding onboarding;
  const grpc::Status status = stub->StartOnboarding(&context, request, &onboarding);
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  // The id is the user's handle for re-sending this exact request; show it
  // even if the server does not echo it (validate_only stores nothing).
  if (onboarding.request_id().empty()) onboarding.set_request_id(request.request_id());

  if (ctx.json) {
    if (!PrintJson(ctx, onboarding)) return kExitError;
  } else if (args.validate_only) {
    *ctx.out << "valid: " << request.guest().email() << " can be onboarded into "
             << request.tenant() << " (nothing was stored)" << std::endl;
  } else {
    *ctx.out << RenderOnboardingSummary(onboarding) << "\n"
             << "request id: " << onboarding.request_id() << std::endl;
  }
  if (!args.wait || args.validate_only) return kExitOk;
  return RunWatch(ctx, onboarding.name());
}

int RunGet(const CommandContext& ctx, const std::string& name) {
  auto stub = v1::OnboardingService::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(context, ctx.unary_timeout);
  v1::GetOnboardingRequest request;
  request.set_name(name);
  v1::Onboarding onboarding;
  const grpc::Status status = stub->GetOnboarding(&context, request, &onboarding);
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  if (ctx.json) return PrintJson(ctx, onboarding) ? kExitOk : kExitError;
  *ctx.out << RenderOnboardingDetail(onboarding, ctx.terminal) << std::flush;
  return kExitOk;
}

int RunList(const CommandContext& ctx, const ListArgs& args) {
  auto stub = v1::OnboardingService::NewStub(ctx.channel);
  v1::ListOnboardingsRequest request;
  request.set_tenant(args.tenant);
  request.set_state(args.state);
  request.set_batch(args.batch);
  request.set_page_size(args.limit);
  request.set_page_token(args.page_token);

  v1::ListOnboardingsResponse merged;
  if (std::optional<int> failed = FetchPages(
          ctx, *stub, &v1::OnboardingService::Stub::ListOnboardings, request, args.all, merged)) {
    return *failed;
  }

  if (ctx.json) return PrintJson(ctx, merged) ? kExitOk : kExitError;
  *ctx.out << RenderOnboardingTable(merged.onboardings()) << std::flush;
  if (!merged.next_page_token().empty()) {
    *ctx.err << "more onboardings: add --page-token " << merged.next_page_token() << " (or --all)"
             << std::endl;
  }
  return kExitOk;
}

int RunWatch(const CommandContext& ctx, const std::string& name, int64_t after_sequence) {
  auto stub = v1::OnboardingService::NewStub(ctx.channel);
  const absl::Time deadline = ctx.stream_timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + ctx.stream_timeout;
  v1::WatchOnboardingRequest request;
  request.set_name(name);
  request.set_after_sequence(after_sequence);

  bool have_snapshot = false;
  v1::Onboarding last;
  absl::Duration backoff = ctx.reconnect_backoff;
  for (int reconnects = 0;; ++reconnects) {
    grpc::ClientContext context;
    SetDeadline(context, deadline);
    auto reader = stub->WatchOnboarding(&context, request);
    v1::WatchOnboardingResponse response;
    bool got_any = false;
    while (reader->Read(&response)) {
      got_any = true;
      if (ctx.json) {
        if (!PrintJson(ctx, response)) {
          context.TryCancel();
          static_cast<void>(reader->Finish());
          return kExitError;
        }
      } else {
        *ctx.out << RenderEventLine(response.event()) << std::endl;
      }
      request.set_after_sequence(std::max(request.after_sequence(), response.event().sequence()));
      if (response.has_onboarding()) {
        last = response.onboarding();
        have_snapshot = true;
      }
    }
    const grpc::Status status = reader->Finish();
    if (status.ok()) break;
    // A server restart breaks the stream, but the history is durable: pick
    // up after the last event printed. Before any event, gRPC's own retry
    // policy has already tried.
    const bool resumable = status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                           (got_any || reconnects > 0) && reconnects < kMaxReconnects &&
                           absl::Now() + backoff < deadline;
    if (!resumable) return ReportRpcError(ctx, status, ctx.stream_timeout);
    *ctx.err << "stream lost (" << status.error_message() << "); reconnecting in "
             << FormatDurationText(backoff) << std::endl;
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
    backoff *= 2;
  }

  if (!have_snapshot) {
    // Every event carries a snapshot today; ask once in case a server sends
    // none (or the history after `after_sequence` was empty).
    v1::GetOnboardingRequest get;
    get.set_name(name);
    grpc::ClientContext context;
    SetDeadline(context, ctx.unary_timeout);
    const grpc::Status status = stub->GetOnboarding(&context, get, &last);
    if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  }
  if (!IsTerminal(last.state())) {
    *ctx.err << "error: the watch stream ended while " << name << " is still "
             << OnboardingStateText(last.state()) << std::endl;
    return kExitError;
  }
  if (!ctx.json) *ctx.out << RenderOnboardingSummary(last) << std::endl;
  return ExitCodeOfFinalState(last.state());
}

int RunRetry(const CommandContext& ctx, const std::string& name) {
  auto stub = v1::OnboardingService::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(context, ctx.unary_timeout);
  v1::RetryOnboardingRequest request;
  request.set_name(name);
  v1::Onboarding onboarding;
  const grpc::Status status = stub->RetryOnboarding(&context, request, &onboarding);
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  return PrintOnboardingSummary(ctx, onboarding);
}

int RunCancel(const CommandContext& ctx, const std::string& name) {
  auto stub = v1::OnboardingService::NewStub(ctx.channel);
  grpc::ClientContext context;
  SetDeadline(context, ctx.unary_timeout);
  v1::CancelOnboardingRequest request;
  request.set_name(name);
  v1::Onboarding onboarding;
  const grpc::Status status = stub->CancelOnboarding(&context, request, &onboarding);
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  return PrintOnboardingSummary(ctx, onboarding);
}

int RunCalls(const CommandContext& ctx, const std::string& parent) {
  auto stub = v1::OnboardingService::NewStub(ctx.channel);
  v1::ListCloudCallsRequest request;
  request.set_parent(parent);
  v1::ListCloudCallsResponse merged;
  if (std::optional<int> failed =
          FetchPages(ctx, *stub, &v1::OnboardingService::Stub::ListCloudCalls, request,
                     /*all=*/true, merged)) {
    return *failed;
  }

  if (ctx.json) return PrintJson(ctx, merged) ? kExitOk : kExitError;
  *ctx.out << RenderCloudCallTable(merged.cloud_calls(),
                                   /*with_onboarding=*/absl::StartsWith(parent, "tenants/"),
                                   ctx.terminal)
           << std::flush;
  return kExitOk;
}

}  // namespace guestflow::cli
