// --call start: StartOnboarding, a new guest every call, with acks.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "guestflow/v1/onboarding.pb.h"
#include "guestflow/v1/onboarding_service.pb.h"
#include "load/byte_buffers.h"
#include "load/call_kind.h"

namespace guestflow::bench {
namespace {

class StartCall final : public CallKind {
 public:
  StartCall(std::string tenant, std::FILE* acks)
      : tenant_(std::move(tenant)),
        // Unique to this run of the process: a rerun against the same store
        // starts new guests instead of replaying request_ids.
        run_(absl::StrCat(getpid(), "-", absl::ToUnixMicros(absl::Now()))),
        acks_(acks) {}

  ~StartCall() override {
    absl::MutexLock lock(&mu_);
    if (acks_ != nullptr) std::fclose(acks_);
  }

  const std::string& method() const override { return method_; }

  grpc::ByteBuffer NextRequest() override {
    const uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
    v1::StartOnboardingRequest request;
    request.set_tenant(tenant_);
    request.set_request_id(absl::StrCat("bench-load-", run_, "-", n));
    v1::Guest* guest = request.mutable_guest();
    guest->set_email(absl::StrCat("load-", run_, "-", n, "@bench.example"));
    guest->set_first_name("Load");
    guest->set_last_name(absl::StrCat("Guest", n));
    guest->set_usage_location("US");
    return ToByteBuffer(request);
  }

  absl::Status CheckResponse(grpc::ByteBuffer* response) override {
    v1::Onboarding onboarding;
    if (absl::Status parsed = ParseByteBuffer(response, &onboarding, "Onboarding"); !parsed.ok()) {
      return parsed;
    }
    if (!absl::StartsWith(onboarding.name(), "onboardings/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("the Onboarding's name is \"", onboarding.name(), "\""));
    }
    if (acks_ == nullptr) return absl::OkStatus();
    const std::string line = absl::StrCat(onboarding.name(), "\n");
    absl::MutexLock lock(&mu_);
    if (std::fputs(line.c_str(), acks_) == EOF || std::fflush(acks_) != 0) {
      ack_error_ = absl::InternalError(absl::StrCat("--ack-file: ", std::strerror(errno)));
      return ack_error_;
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    absl::MutexLock lock(&mu_);
    if (acks_ != nullptr) {
      const bool closed = std::fclose(acks_) == 0;
      acks_ = nullptr;
      if (!closed && ack_error_.ok()) {
        ack_error_ = absl::InternalError(absl::StrCat("--ack-file: ", std::strerror(errno)));
      }
    }
    return ack_error_;
  }

 private:
  const std::string method_ = "/guestflow.v1.OnboardingService/StartOnboarding";
  const std::string tenant_;
  const std::string run_;
  std::atomic<uint64_t> next_{0};
  absl::Mutex mu_;
  std::FILE* acks_ ABSL_GUARDED_BY(mu_);
  absl::Status ack_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<CallKind>> NewStartCall(const std::string& tenant,
                                                       const std::string& ack_file) {
  if (tenant.empty()) return absl::InvalidArgumentError("--tenant is required with --call start");
  std::FILE* acks = nullptr;
  if (!ack_file.empty()) {
    acks = std::fopen(ack_file.c_str(), "a");
    if (acks == nullptr) {
      return absl::NotFoundError(absl::StrCat("--ack-file ", ack_file, ": ", std::strerror(errno)));
    }
  }
  return std::make_unique<StartCall>(tenant, acks);
}

}  // namespace guestflow::bench
