#include "client/rpc_error.h"

#include "absl/strings/str_cat.h"
#include "client/duration_text.h"

namespace guestflow::cli {

std::string GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return absl::StrCat("CODE_", static_cast<int>(code));
  }
}

std::string FormatRpcError(const grpc::Status& status, absl::string_view server,
                           absl::Duration deadline) {
  std::string text = absl::StrCat("error: ", GrpcCodeName(status.error_code()));
  std::string detail = status.error_message();
  // gRPC's own texts ("failed to connect to all addresses...") do not say
  // which address was configured, and the user may not know that
  // GUESTFLOW_SERVER chose it.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    detail =
        absl::StrCat("cannot reach the guestflow server at ", server,
                     " (set --server or GUESTFLOW_SERVER)", detail.empty() ? "" : ": ", detail);
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
             deadline != absl::InfiniteDuration()) {
    detail = absl::StrCat(detail, detail.empty() ? "" : " ", "(no answer from ", server, " within ",
                          FormatDurationText(deadline), "; raise --timeout)");
  }
  if (!detail.empty()) absl::StrAppend(&text, ": ", detail);
  return text;
}

}  // namespace guestflow::cli
