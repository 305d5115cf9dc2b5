// Fuzz target: the validation of a StartOnboarding request, as the RPC does
// it (server/api/onboarding_service.cc): the request's wire bytes are parsed
// into guestflow.v1.StartOnboardingRequest, converted (proto_convert.h) and
// handed to Engine::Start, which checks the tenant, the guest and the options
// with guest_validation.h. validate_only is forced: nothing is stored.
//
// Input: a serialized StartOnboardingRequest (what grpc++ deserializes). The
// seed corpus is made from text protos (protoc --decode shows them again):
//   protoc -Iproto --encode=guestflow.v1.StartOnboardingRequest
//     proto/guestflow/v1/onboarding_service.proto < request.txtpb > corpus/...
//
// Invariants checked:
// - Errors are INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION; an
//   INVALID_ARGUMENT message has one line per problem, each naming its field,
//   in valid UTF-8 without control characters (values are escaped and
//   shortened, never cut inside a character).
// - An accepted request gives an onboarding that is not stored, whose guest
//   and options pass the validators again, and that converts back to its
//   wire form unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "guestflow/v1/onboarding_service.pb.h"
#include "server/api/proto_convert.h"
#include "server/engine/engine.h"
#include "server/model/guest_validation.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/validate_only_engine.h"

namespace guestflow {
namespace {

void CheckError(const absl::Status& status) {
  const absl::StatusCode code = status.code();
  GF_FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ||
                    code == absl::StatusCode::kFailedPrecondition,
                status.ToString());
  GF_FUZZ_CHECK(!status.message().empty(), status.ToString());
  if (code != absl::StatusCode::kInvalidArgument) return;
  GF_FUZZ_CHECK(fuzz::IsUtf8(std::string(status.message())), status.message());
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    GF_FUZZ_CHECK(absl::StartsWith(line, "guest.") || absl::StartsWith(line, "options.") ||
                      absl::StartsWith(line, "tenant: ") || absl::StartsWith(line, "request_id: "),
                  line);
    for (unsigned char c : line) GF_FUZZ_CHECK(c >= 0x20 && c != 0x7F, line);
  }
}

void CheckAccepted(const CreateResult& result, const StartRequest& request) {
  const Onboarding& o = result.onboarding;
  GF_FUZZ_CHECK(!result.created && o.id.empty(), "validate_only stored an onboarding");
  GF_FUZZ_CHECK(o.tenant == request.tenant, o.tenant);
  GF_FUZZ_CHECK(ValidateGuest(o.guest).ok(), ValidateGuest(o.guest).ToString());
  GF_FUZZ_CHECK(ValidateOptions(o.options).ok(), ValidateOptions(o.options).ToString());
  GF_FUZZ_CHECK(!o.guest.display_name.empty(), "no display name");
  GF_FUZZ_CHECK(o.steps.size() == std::size(kAllSteps), "steps missing");
  GF_FUZZ_CHECK(o.request_fingerprint.size() == 16, o.request_fingerprint);

  v1::Onboarding wire;
  ToProto(o, &wire);
  const Guest back = FromProto(wire.guest());
  GF_FUZZ_CHECK(back.email == o.guest.email && back.first_name == o.guest.first_name &&
                    back.last_name == o.guest.last_name &&
                    back.display_name == o.guest.display_name &&
                    back.usage_location == o.guest.usage_location,
                wire.ShortDebugString());
  const OnboardingOptions options = FromProto(wire.options());
  GF_FUZZ_CHECK(options.roles == o.options.roles &&
                    options.send_invitation_message == o.options.send_invitation_message &&
                    options.invitation_message == o.options.invitation_message &&
                    options.update_dynamics_email == o.options.update_dynamics_email,
                wire.ShortDebugString());
}

}  // namespace

namespace fuzz {

void FuzzOne(std::string_view input) {
  static ValidateOnlyEngine* const engine = [] {
    // Bytes that are not UTF-8 in a string field fail the parse, as in
    // grpc++, and protobuf logs each such field: not wanted here.
    google::protobuf::SetLogHandler(nullptr);
    return new ValidateOnlyEngine();
  }();
  v1::StartOnboardingRequest wire;
  if (!wire.ParseFromArray(input.data(), static_cast<int>(input.size()))) return;

  // As OnboardingServiceImpl::StartOnboarding builds it.
  StartRequest request;
  request.requested_by = "ipv4:127.0.0.1:40000";
  request.tenant = wire.tenant();
  request.guest = FromProto(wire.guest());
  request.options = FromProto(wire.options());
  request.approve_mailbox = wire.options().approve_mailbox();
  request.enable_server_side_sync = wire.options().enable_server_side_sync();
  request.request_id = wire.request_id();
  request.validate_only = true;  // wire.validate_only() would need a store

  const absl::StatusOr<CreateResult> result = engine->engine()->Start(request);
  if (result.ok()) {
    CheckAccepted(*result, request);
  } else {
    CheckError(result.status());
  }
}

}  // namespace fuzz
}  // namespace guestflow
