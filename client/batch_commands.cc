#include "client/batch_commands.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/batch_text.h"
#include "client/exit_codes.h"
#include "client/file_chunks.h"
#include "client/request_builders.h"
#include "client/request_id.h"
#include "guestflow/v1/batch_service.grpc.pb.h"

namespace guestflow::cli {

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
  v1::CreateBatchRequest header = BuildBatchHeaderRequest(args);
  if (header.header().request_id().empty()) header.mutable_header()->set_request_id(NewRequestId());

  auto stub = v1::BatchService::NewStub(ctx.channel);
  grpc::ClientContext context;
  // The upload of a large file is bounded by the same deadline as any RPC;
  // --timeout raises it.
  SetDeadline(context, ctx.unary_timeout);
  v1::Batch batch;
  auto writer = stub->CreateBatch(&context, &batch);

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
  if (ctx.json) return PrintJson(ctx, batch) ? kExitOk : kExitError;
  if (args.validate_only) *ctx.out << "validated only: nothing was started\n";
  *ctx.out << RenderBatch(batch) << std::flush;
  return kExitOk;
}

}  // namespace guestflow::cli
