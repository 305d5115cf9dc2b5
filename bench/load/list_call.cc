// --call list: the first page of ListOnboardings.
#include "absl/strings/str_cat.h"
#include "guestflow/v1/onboarding_service.pb.h"
#include "load/byte_buffers.h"
#include "load/call_kind.h"

namespace guestflow::bench {
namespace {

class ListCall final : public CallKind {
 public:
  explicit ListCall(const grpc::ByteBuffer& request) : request_(request) {}

  const std::string& method() const override { return method_; }
  grpc::ByteBuffer NextRequest() override { return request_; }

  absl::Status CheckResponse(grpc::ByteBuffer* response) override {
    v1::ListOnboardingsResponse page;
    return ParseByteBuffer(response, &page, "ListOnboardingsResponse");
  }

 private:
  const std::string method_ = "/guestflow.v1.OnboardingService/ListOnboardings";
  const grpc::ByteBuffer request_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CallKind>> NewListCall(int page_size, const std::string& tenant) {
  if (page_size < 0) return absl::InvalidArgumentError("--page-size: must not be negative");
  v1::ListOnboardingsRequest request;
  request.set_page_size(page_size);
  request.set_tenant(tenant);
  return std::make_unique<ListCall>(ToByteBuffer(request));
}

}  // namespace guestflow::bench
