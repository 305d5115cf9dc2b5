// The verb on BatchService: import. Returns the process exit code
// (client/exit_codes.h) and prints to the context's streams; never throws.
#pragma once

#include <istream>

#include "client/command_context.h"
#include "client/command_line.h"

namespace guestflow::cli {

// Opens `args.path` (`-`: standard input) and runs ImportCsv on it. A file
// that cannot be opened is reported as a local error (exit 1).
int RunImport(const CommandContext& ctx, const ImportArgs& args);

// The whole `import`, in this order:
//  1. With `args.report_path`, creates `<report>.tmp` first, so that a report
//     that cannot be written fails the command before anything is started.
//  2. CreateBatch: sends the header (tenant, request id — a fresh UUID v4
//     when `args.request_id` is empty —, validate_only, options), then `csv`
//     in kUploadChunkBytes chunks. UNIMPLEMENTED (a server without batch
//     support) gets a message that says so; exit 1 like every RPC error.
//  3. Prints the result: a dry run's verdict (RenderDryRunVerdict), or the
//     batch (RenderBatch) and its refused rows (at most 20 when
//     `ctx.terminal`); with `ctx.json`, the Batch as one JSON line instead
//     (with `args.wait`, only the final Batch, after step 4).
//  4. With `args.wait` (never with validate_only): follows WatchBatch until
//     the batch is done, drawing progress on *ctx.out (ProgressPrinter:
//     in place when `ctx.terminal`, throttled lines otherwise, nothing with
//     `ctx.json`). A stream that breaks with UNAVAILABLE or
//     RESOURCE_EXHAUSTED, or ends before `done`, is re-opened (GetBatch,
//     then WatchBatch) after ctx.reconnect_backoff, doubling up to 30 s,
//     until ctx.stream_timeout runs out — or, with no timeout, after 10
//     attempts in a row that brought no snapshot.
//  5. With `args.report_path`: pages through ListBatchItems (page_size 1000)
//     writing each page to the report (a dry run writes Batch.rejected
//     instead), then renames `<report>.tmp` over the report.
//
// Exit: 0 when no row was refused and no onboarding (in the last snapshot
// seen) is FAILED or CANCELLED; 2 when a row was refused or an onboarding
// ended FAILED or CANCELLED; 1 for an RPC error, a stream that could not be
// resumed, or a report that could not be written (no .tmp is left then).
int ImportCsv(const CommandContext& ctx, const ImportArgs& args, std::istream& csv);

}  // namespace guestflow::cli
