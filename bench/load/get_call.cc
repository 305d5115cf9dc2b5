// --call get: GetOnboarding over the names of a file.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "guestflow/v1/onboarding_service.pb.h"
#include "load/byte_buffers.h"
#include "load/call_kind.h"

namespace guestflow::bench {
namespace {

class GetCall final : public CallKind {
 public:
  GetCall(std::vector<grpc::ByteBuffer> requests, bool size_only, int64_t response_bytes)
      : requests_(std::move(requests)), size_only_(size_only), response_bytes_(response_bytes) {}

  const std::string& method() const override { return method_; }

  grpc::ByteBuffer NextRequest() override {
    return requests_[next_.fetch_add(1, std::memory_order_relaxed) % requests_.size()];
  }

  absl::Status CheckResponse(grpc::ByteBuffer* response) override {
    if (size_only_) return CheckLength(*response, static_cast<size_t>(response_bytes_), "answer");
    v1::Onboarding onboarding;
    return ParseByteBuffer(response, &onboarding, "Onboarding");
  }

 private:
  const std::string method_ = "/guestflow.v1.OnboardingService/GetOnboarding";
  // Serialized once: a call copies a reference, not the bytes.
  const std::vector<grpc::ByteBuffer> requests_;
  std::atomic<uint64_t> next_{0};
  const bool size_only_;
  const int64_t response_bytes_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CallKind>> NewGetCall(const std::string& names_file, uint64_t seed,
                                                     bool size_only, int64_t response_bytes) {
  if (size_only && response_bytes < 0) {
    return absl::InvalidArgumentError("--check size needs --response-bytes");
  }
  std::ifstream in(names_file);
  if (!in) return absl::NotFoundError(absl::StrCat("--names-file ", names_file, ": cannot read"));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    std::string name(absl::StripAsciiWhitespace(line));
    if (!name.empty()) names.push_back(std::move(name));
  }
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--names-file ", names_file, ": no names"));
  }
  std::mt19937_64 random(seed);
  std::shuffle(names.begin(), names.end(), random);
  std::vector<grpc::ByteBuffer> requests;
  requests.reserve(names.size());
  for (const std::string& name : names) {
    v1::GetOnboardingRequest request;
    request.set_name(name);
    requests.push_back(ToByteBuffer(request));
  }
  return std::make_unique<GetCall>(std::move(requests), size_only, response_bytes);
}

}  // namespace guestflow::bench
