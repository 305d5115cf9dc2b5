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

// CreateBatch: sends the header (tenant, request id — a fresh UUID v4 when
// `args.request_id` is empty —, validate_only, options), then `csv` in
// kUploadChunkBytes chunks, and prints the resulting Batch (or it as JSON).
// UNIMPLEMENTED (a server without batch support) gets a message that says
// so; exit 1 like every RPC error.
int ImportCsv(const CommandContext& ctx, const ImportArgs& args, std::istream& csv);

}  // namespace guestflow::cli
