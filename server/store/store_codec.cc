#include "server/store/store_codec.h"

#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace guestflow {
namespace {

using Json = nlohmann::json;

constexpr int64_t kMinMicros = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxMicros = std::numeric_limits<int64_t>::max();

// `replace`: a stray non-UTF-8 byte in, say, a plugin's output must not make
// the onboarding impossible to write (and the default handler would throw).
std::string DumpJson(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

// ---- times ------------------------------------------------------------------

// The infinite times are legal values of the model (create_time defaults to
// InfinitePast) but ToUnixMicros only saturates them, so keep them apart to
// make them survive a round trip.
int64_t ToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return kMinMicros;
  if (t == absl::InfiniteFuture()) return kMaxMicros;
  return absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t micros) {
  if (micros == kMinMicros) return absl::InfinitePast();
  if (micros == kMaxMicros) return absl::InfiniteFuture();
  return absl::FromUnixMicros(micros);
}

// ---- enums and JSON ---------------------------------------------------------

absl::StatusOr<OnboardingState> ParseOnboardingState(absl::string_view name) {
  for (OnboardingState s :
       {OnboardingState::kQueued, OnboardingState::kRunning, OnboardingState::kWaiting,
        OnboardingState::kSucceeded, OnboardingState::kFailed, OnboardingState::kCancelled}) {
    if (OnboardingStateName(s) == name) return s;
  }
  return absl::InternalError(
      absl::StrCat("unknown onboarding state \"", name, "\" in the database"));
}

absl::StatusOr<StepState> ParseStepState(absl::string_view name) {
  for (StepState s : {StepState::kPending, StepState::kRunning, StepState::kWaiting,
                      StepState::kSucceeded, StepState::kFailed, StepState::kCancelled}) {
    if (StepStateName(s) == name) return s;
  }
  return absl::InternalError(absl::StrCat("unknown step state \"", name, "\" in the database"));
}

absl::StatusOr<StepKind> ParseStepKind(absl::string_view name) {
  std::optional<StepKind> kind = StepFromName(name);
  if (!kind.has_value()) {
    return absl::InternalError(absl::StrCat("unknown step kind \"", name, "\" in the database"));
  }
  return *kind;
}

std::string OptionsToJson(const OnboardingOptions& options) {
  Json json = Json::object();
  json["roles"] = options.roles;
  if (options.send_invitation_message.has_value()) {
    json["send_invitation_message"] = *options.send_invitation_message;
  }
  json["invitation_message"] = options.invitation_message;
  if (options.update_dynamics_email.has_value()) {
    json["update_dynamics_email"] = *options.update_dynamics_email;
  }
  return DumpJson(json);
}

// Type-checks before every get<>() so that nothing here can throw.
absl::StatusOr<OnboardingOptions> OptionsFromJson(const std::string& text) {
  absl::Status bad = absl::InternalError(absl::StrCat("bad options JSON in the database: ", text));
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return bad;
  OnboardingOptions options;
  if (auto it = json.find("roles"); it != json.end()) {
    if (!it->is_array()) return bad;
    for (const Json& role : *it) {
      if (!role.is_string()) return bad;
      options.roles.push_back(role.get<std::string>());
    }
  }
  if (auto it = json.find("send_invitation_message"); it != json.end() && !it->is_null()) {
    if (!it->is_boolean()) return bad;
    options.send_invitation_message = it->get<bool>();
  }
  if (auto it = json.find("invitation_message"); it != json.end()) {
    if (!it->is_string()) return bad;
    options.invitation_message = it->get<std::string>();
  }
  if (auto it = json.find("update_dynamics_email"); it != json.end() && !it->is_null()) {
    if (!it->is_boolean()) return bad;
    options.update_dynamics_email = it->get<bool>();
  }
  return options;
}

std::string OutputsToJson(const std::map<std::string, std::string>& outputs) {
  Json json = Json::object();
  for (const auto& [key, value] : outputs) json[key] = value;
  return DumpJson(json);
}

absl::StatusOr<std::map<std::string, std::string>> OutputsFromJson(const std::string& text) {
  absl::Status bad =
      absl::InternalError(absl::StrCat("bad step outputs JSON in the database: ", text));
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return bad;
  std::map<std::string, std::string> outputs;
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (!it.value().is_string()) return bad;
    outputs.emplace(it.key(), it.value().get<std::string>());
  }
  return outputs;
}

// ---- page tokens ------------------------------------------------------------

std::string EncodePageToken(const Onboarding& last) {
  std::string token;
  absl::WebSafeBase64Escape(absl::StrCat(ToMicros(last.create_time), ":", last.id), &token);
  return token;
}

absl::StatusOr<PageKey> DecodePageToken(const std::string& token) {
  absl::Status bad = absl::InvalidArgumentError("invalid page_token");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad;
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits(':', 1));
  PageKey key;
  if (parts.size() != 2 || parts[1].empty() || !absl::SimpleAtoi(parts[0], &key.create_time)) {
    return bad;
  }
  key.id = std::move(parts[1]);
  return key;
}

absl::StatusOr<int64_t> CloudCallPageStart(const CloudCallQuery& query) {
  if (query.onboarding_id.empty() && query.tenant.empty()) {
    return absl::InvalidArgumentError("name an onboarding or a tenant");
  }
  if (query.page_size <= 0) return absl::InvalidArgumentError("page_size must be positive");
  int64_t after = 0;
  if (!query.page_token.empty() && (!absl::SimpleAtoi(query.page_token, &after) || after < 0)) {
    return absl::InvalidArgumentError("invalid page_token");
  }
  return after;
}

absl::Status OnboardingNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("onboarding ", id, " not found"));
}

absl::Status CorruptOnboarding(absl::string_view id, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("onboarding ", id, ": ", status.message()));
}

}  // namespace guestflow
