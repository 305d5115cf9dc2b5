#include "client/batch_commands.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/batch_progress.h"
#include "client/batch_report.h"
#include "client/batch_text.h"
#include "client/duration_text.h"
#include "client/exit_codes.h"
#include "client/file_chunks.h"
#include "client/request_builders.h"
#include "client/request_id.h"
#include "client/rpc_error.h"
#include "guestflow/v1/batch_service.grpc.pb.h"

namespace guestflow::cli {
namespace {

constexpr size_t kTerminalRefusedRows = 20;
constexpr int32_t kReportPageSize = 1000;
constexpr absl::Duration kMaxReconnectBackoff = absl::Seconds(30);
// Without --timeout a watch may last hours, so only attempts that bring no
// progress count against this.
constexpr int kMaxFruitlessReconnects = 10;

// The columns the progress line may use without wrapping (a wrapped line
// cannot be redrawn with \r); 0 when unknown. One column is kept free for
// terminals that wrap as soon as the last one is written.
size_t TerminalColumns() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1) {
    return static_cast<size_t>(size.ws_col) - 1;
  }
  return 0;
}

absl::Time DeadlineAfter(absl::Duration timeout) {
  return timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
}

int ExitCodeOf(const v1::Batch& batch) {
  const BatchProgress progress = SummarizeBatch(batch);
  const bool refused = progress.refused > 0 || batch.rejected_size() > 0;
  const bool failed = progress.failed > 0 || progress.cancelled > 0;
  return refused || failed ? kExitNotSucceeded : kExitOk;
}

// CreateBatch. Returns the exit code when it failed (already reported).
std::optional<int> Upload(const CommandContext& ctx, const ImportArgs& args, std::istream& csv,
                          v1::BatchService::StubInterface& stub, v1::Batch& batch) {
  v1::CreateBatchRequest header = BuildBatchHeaderRequest(args);
  if (header.header().request_id().empty()) header.mutable_header()->set_request_id(NewRequestId());

  grpc::ClientContext context;
  // The upload of a large file is bounded by the same deadline as any RPC;
  // --timeout raises it.
  SetDeadline(context, ctx.unary_timeout);
  auto writer = stub.CreateBatch(&context, &batch);

  // A failed Write means the server already ended the call (UNIMPLEMENTED,
  // INVALID_ARGUMENT on the header...): stop sending and let Finish() say why.
  bool stream_open = writer->Write(header);
  absl::Status read_status = absl::OkStatus();
  if (stream_open) {
    read_status = ForEachChunk(csv, kUploadChunkBytes, [&](absl::string_view chunk) {
      v1::CreateBatchRequest request;
      request.set_csv_chunk(chunk.data(), chunk.size());
      stream_open = writer->Write(request);
      return stream_open;
    });
  }
  if (!read_status.ok()) {
    // Do not let the server take a truncated file for the whole one.
    context.TryCancel();
    static_cast<void>(writer->Finish());
    return ReportLocalError(ctx, absl::DataLossError(absl::StrCat(
                                     "reading ", args.path, " failed; nothing more was sent")));
  }
  if (stream_open) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    *ctx.err << "error: UNIMPLEMENTED: the server at " << ctx.server
             << " does not support CSV import yet (BatchService.CreateBatch)";
    if (!status.error_message().empty()) *ctx.err << ": " << status.error_message();
    *ctx.err << std::endl;
    return kExitError;
  }
  if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
  if (batch.request_id().empty()) batch.set_request_id(header.header().request_id());
  return std::nullopt;
}

bool Resumable(const grpc::Status& status) {
  // RESOURCE_EXHAUSTED is what a busy server answers a watch ("watch again
  // later").
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

// Follows `batch` (the CreateBatch result) until a snapshot says it is done;
// `batch` then holds that snapshot. Returns the exit code when it could not
// (already reported). `printer` may be null.
std::optional<int> FollowBatch(const CommandContext& ctx, v1::BatchService::StubInterface& stub,
                               ProgressPrinter* printer, v1::Batch& batch) {
  const std::string name = batch.name();
  const absl::Time deadline = DeadlineAfter(ctx.stream_timeout);
  absl::Duration backoff = ctx.reconnect_backoff;
  int fruitless = 0;
  bool reopen = false;
  const auto seen = [&](const v1::Batch& snapshot) {
    batch = snapshot;
    if (printer != nullptr) printer->Update(batch);
  };
  const auto break_line = [printer] {
    if (printer != nullptr) printer->BreakLine();
  };

  while (!batch.done()) {
    const BatchProgress before = SummarizeBatch(batch);
    grpc::Status status;
    absl::Duration timeout = ctx.stream_timeout;
    if (reopen) {
      // The snapshot a watch would send first anyway, but through a unary
      // call that gRPC's channel retries while the server restarts.
      grpc::ClientContext context;
      SetDeadline(context, std::min(deadline, DeadlineAfter(ctx.unary_timeout)));
      v1::GetBatchRequest request;
      request.set_name(name);
      v1::Batch snapshot;
      status = stub.GetBatch(&context, request, &snapshot);
      if (status.ok()) seen(snapshot);
      if (!status.ok()) timeout = std::min(ctx.unary_timeout, ctx.stream_timeout);
    }
    if (status.ok() && !batch.done()) {
      grpc::ClientContext context;
      SetDeadline(context, deadline);
      v1::WatchBatchRequest request;
      request.set_name(name);
      auto reader = stub.WatchBatch(&context, request);
      v1::Batch snapshot;
      while (!batch.done() && reader->Read(&snapshot)) seen(snapshot);
      // The server ends the stream after `done`; a client that waited for
      // that would hang on one that does not.
      if (batch.done()) context.TryCancel();
      status = reader->Finish();
    }
    if (batch.done()) break;
    if (!status.ok() && !Resumable(status)) {
      break_line();
      return ReportRpcError(ctx, status, timeout);
    }

    const BatchProgress after = SummarizeBatch(batch);
    // A watch always opens with a snapshot, so "got a message" would reset
    // the count on a server that drops every stream; only progress does.
    if (after.finished > before.finished || after.total > before.total) {
      fruitless = 0;
      backoff = ctx.reconnect_backoff;
    } else {
      ++fruitless;
    }
    const bool out_of_time = absl::Now() + backoff >= deadline;
    const bool out_of_attempts =
        deadline == absl::InfiniteFuture() && fruitless >= kMaxFruitlessReconnects;
    break_line();
    if (out_of_time || out_of_attempts) {
      if (!status.ok()) return ReportRpcError(ctx, status, timeout);
      *ctx.err << "error: the watch of " << name << " ended before the batch was done" << std::endl;
      return kExitError;
    }
    *ctx.err << "watch of " << name << " lost ("
             << (status.ok() ? std::string("the stream ended early")
                             : absl::StrCat(GrpcCodeName(status.error_code()), ": ",
                                            status.error_message()))
             << "); reconnecting in " << FormatDurationText(backoff) << std::endl;
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
    backoff = std::min(backoff * 2, kMaxReconnectBackoff);
    reopen = true;
  }
  return std::nullopt;
}

// Every item of the batch, page by page, into `report`. Returns the exit code
// when it failed (already reported).
std::optional<int> WriteItems(const CommandContext& ctx, v1::BatchService::StubInterface& stub,
                              const std::string& name, ReportWriter& report) {
  v1::ListBatchItemsRequest request;
  request.set_parent(name);
  request.set_page_size(kReportPageSize);
  while (true) {
    grpc::ClientContext context;
    SetDeadline(context, ctx.unary_timeout);
    v1::ListBatchItemsResponse page;
    const grpc::Status status = stub.ListBatchItems(&context, request, &page);
    if (!status.ok()) return ReportRpcError(ctx, status, ctx.unary_timeout);
    for (const v1::BatchItem& item : page.items()) {
      const absl::Status written = report.Add(item);
      if (!written.ok()) return ReportLocalError(ctx, written);
    }
    if (page.next_page_token().empty()) return std::nullopt;
    // A server that hands back the token it was given would loop forever.
    if (page.next_page_token() == request.page_token()) {
      *ctx.err << "error: the server returned the same page token twice; the report "
               << report.path() << " was not written" << std::endl;
      return kExitError;
    }
    request.set_page_token(page.next_page_token());
  }
}

// The report of a dry run: nothing was stored, so the refused rows the
// CreateBatch answer carries are all there is.
std::optional<int> WriteRejected(const CommandContext& ctx, const v1::Batch& batch,
                                 ReportWriter& report) {
  for (const v1::BatchItem& item : batch.rejected()) {
    const absl::Status written = report.Add(item);
    if (!written.ok()) return ReportLocalError(ctx, written);
  }
  if (batch.rows_invalid() > batch.rejected_size()) {
    *ctx.err << "note: " << report.path() << " holds the first "
             << FormatThousands(batch.rejected_size()) << " of "
             << FormatThousands(batch.rows_invalid())
             << " refused rows (a dry run keeps no more); fix those and run it again" << std::endl;
  }
  return std::nullopt;
}

}  // namespace

int RunImport(const CommandContext& ctx, const ImportArgs& args) {
  if (args.path == "-") return ImportCsv(ctx, args, std::cin);
  std::error_code ec;
  if (std::filesystem::is_directory(args.path, ec)) {
    return ReportLocalError(ctx, absl::InvalidArgumentError(absl::StrCat("cannot read ", args.path,
                                                                         ": it is a directory")));
  }
  std::ifstream file(args.path, std::ios::binary);
  if (!file) {
    return ReportLocalError(ctx, absl::NotFoundError(absl::StrCat("cannot read ", args.path, ": ",
                                                                  std::strerror(errno))));
  }
  return ImportCsv(ctx, args, file);
}

int ImportCsv(const CommandContext& ctx, const ImportArgs& args, std::istream& csv) {
  const bool dry_run = args.validate_only;
  const bool wait = args.wait && !dry_run;

  // Before the upload: a report that cannot be written should stop the
  // command while nothing has been started yet.
  std::unique_ptr<ReportWriter> report;
  if (!args.report_path.empty()) {
    absl::StatusOr<std::unique_ptr<ReportWriter>> opened = ReportWriter::Open(args.report_path);
    if (!opened.ok()) return ReportLocalError(ctx, opened.status());
    report = *std::move(opened);
  }

  auto stub = v1::BatchService::NewStub(ctx.channel);
  v1::Batch created;
  if (std::optional<int> failed = Upload(ctx, args, csv, *stub, created)) return *failed;

  if (ctx.json) {
    if (!wait && !PrintJson(ctx, created)) return kExitError;
  } else if (dry_run) {
    *ctx.out << RenderDryRunVerdict(created) << std::flush;
  } else {
    const std::string hint =
        report != nullptr ? absl::StrCat(", see ", report->path()) : ", see --report";
    *ctx.out << RenderBatch(created)
             << RenderRefusedRows(
                    created,
                    ctx.terminal ? kTerminalRefusedRows : std::numeric_limits<size_t>::max(), hint)
             << std::flush;
  }

  v1::Batch last = created;
  if (wait) {
    if (!last.done()) {
      std::optional<ProgressPrinter> printer;
      if (!ctx.json) {
        ProgressPrinter::Options options;
        options.terminal = ctx.terminal;
        if (ctx.terminal) options.max_columns = TerminalColumns();
        printer.emplace(ctx.out, options, [] { return absl::Now(); });
        printer->Update(last);
      }
      if (std::optional<int> failed =
              FollowBatch(ctx, *stub, printer.has_value() ? &*printer : nullptr, last)) {
        return *failed;
      }
      if (printer.has_value()) printer->Finish(last);
    }
    // Watch snapshots do not repeat the refused rows; keep the upload's.
    if (last.rejected_size() == 0) *last.mutable_rejected() = created.rejected();
    if (last.request_id().empty()) last.set_request_id(created.request_id());
    if (ctx.json) {
      if (!PrintJson(ctx, last)) return kExitError;
    } else {
      *ctx.out << RenderBatchOutcome(last) << std::endl;
    }
  }

  if (report != nullptr) {
    std::optional<int> failed = dry_run ? WriteRejected(ctx, created, *report)
                                        : WriteItems(ctx, *stub, last.name(), *report);
    if (failed.has_value()) return *failed;
    const absl::Status committed = report->Commit();
    if (!committed.ok()) return ReportLocalError(ctx, committed);
    if (!ctx.json) {
      *ctx.out << "report: " << report->path() << " (" << FormatThousands(report->records())
               << (report->records() == 1 ? " row)" : " rows)") << std::endl;
    }
  }
  return ExitCodeOf(last);
}

}  // namespace guestflow::cli
