// --call echo: guestflow-bench-echo's one method.
#include "absl/strings/str_cat.h"
#include "load/byte_buffers.h"
#include "load/call_kind.h"
#include "load/echo_payload.h"

namespace guestflow::bench {
namespace {

class EchoCall final : public CallKind {
 public:
  EchoCall(const grpc::ByteBuffer& request, int64_t response_bytes, bool size_only)
      : request_(request), response_bytes_(response_bytes), size_only_(size_only) {}

  const std::string& method() const override { return method_; }
  grpc::ByteBuffer NextRequest() override { return request_; }

  absl::Status CheckResponse(grpc::ByteBuffer* response) override {
    if (size_only_) return CheckLength(*response, static_cast<size_t>(response_bytes_), "answer");
    const size_t size = response->Length();
    EchoResponse echo;
    if (absl::Status parsed = ParseByteBuffer(response, &echo, "EchoResponse"); !parsed.ok()) {
      return parsed;
    }
    if (response_bytes_ >= 0 && size != static_cast<size_t>(response_bytes_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the EchoResponse is ", size, " bytes, not ", response_bytes_));
    }
    return absl::OkStatus();
  }

 private:
  const std::string method_ = "/guestflow.bench.Echo/Echo";
  const grpc::ByteBuffer request_;
  const int64_t response_bytes_;
  const bool size_only_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CallKind>> NewEchoCall(size_t request_bytes, int64_t response_bytes,
                                                      bool size_only) {
  if (size_only && response_bytes < 0) {
    return absl::InvalidArgumentError("--check size needs --response-bytes");
  }
  absl::StatusOr<EchoRequest> request = SizedEchoRequest(request_bytes);
  if (!request.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--request-bytes: ", request.status().message()));
  }
  return std::make_unique<EchoCall>(ToByteBuffer(*request), response_bytes, size_only);
}

}  // namespace guestflow::bench
