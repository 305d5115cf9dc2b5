#include "client/names.h"

#include <cctype>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace guestflow::cli {
namespace {

constexpr absl::string_view kStatePrefix = "ONBOARDING_STATE_";

// Strips a generated enum name's prefix; the generated names are the single
// source of truth, so a state added to the proto shows up here unchanged.
std::string EnumText(const std::string& full_name, absl::string_view prefix, int value,
                     absl::string_view unknown_prefix) {
  if (full_name.empty()) return absl::StrCat(unknown_prefix, value);
  return std::string(absl::StripPrefix(full_name, prefix));
}

}  // namespace

absl::StatusOr<std::string> NormalizeResourceName(absl::string_view collection,
                                                  absl::string_view text) {
  absl::string_view name = absl::StripAsciiWhitespace(text);
  absl::string_view id = name;
  if (const size_t slash = name.find('/'); slash != absl::string_view::npos) {
    if (name.substr(0, slash) != collection) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' is not of the form ", collection, "/ID (or just ID)"));
    }
    id = name.substr(slash + 1);
  }
  if (id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("empty ", collection, " id in '", text, "'"));
  }
  for (const char c : id) {
    if (c == '/' || std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not of the form ", collection,
                                                     "/ID: the ID may not hold '/' or spaces"));
    }
  }
  return absl::StrCat(collection, "/", id);
}

absl::StatusOr<std::string> NormalizeOnboardingName(absl::string_view text) {
  return NormalizeResourceName("onboardings", text);
}

absl::StatusOr<std::string> NormalizeBatchName(absl::string_view text) {
  return NormalizeResourceName("batches", text);
}

absl::StatusOr<std::string> NormalizeCloudCallParent(absl::string_view text) {
  const absl::string_view name = absl::StripAsciiWhitespace(text);
  const absl::string_view collection = name.substr(0, name.find('/'));
  if (collection == "tenants") return NormalizeResourceName("tenants", name);
  if (collection == name || collection == "onboardings") return NormalizeOnboardingName(name);
  return absl::InvalidArgumentError(
      absl::StrCat("'", name, "' is not of the form onboardings/ID, tenants/TENANT or just ID"));
}

absl::StatusOr<v1::OnboardingState> ParseOnboardingState(absl::string_view text) {
  std::string word =
      absl::StrReplaceAll(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text)), {{"-", "_"}});
  if (!absl::StartsWith(word, kStatePrefix)) word = absl::StrCat(kStatePrefix, word);
  v1::OnboardingState state = v1::ONBOARDING_STATE_UNSPECIFIED;
  if (!v1::OnboardingState_Parse(word, &state) || state == v1::ONBOARDING_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("unknown onboarding state '", text,
                                                   "': expected one of ", OnboardingStateWords()));
  }
  return state;
}

std::string OnboardingStateWords() {
  std::vector<std::string> words;
  const auto* descriptor = v1::OnboardingState_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const int number = descriptor->value(i)->number();
    if (number == v1::ONBOARDING_STATE_UNSPECIFIED) continue;
    words.push_back(
        absl::AsciiStrToLower(OnboardingStateText(static_cast<v1::OnboardingState>(number))));
  }
  return absl::StrJoin(words, ", ");
}

std::string OnboardingStateText(v1::OnboardingState state) {
  return EnumText(v1::OnboardingState_Name(state), kStatePrefix, state, "STATE_");
}

std::string StepKindText(v1::StepKind kind) {
  if (kind == v1::STEP_KIND_UNSPECIFIED) return "-";
  return absl::AsciiStrToLower(EnumText(v1::StepKind_Name(kind), "STEP_KIND_", kind, "STEP_"));
}

std::string StepStateText(v1::StepState state) {
  return EnumText(v1::StepState_Name(state), "STEP_STATE_", state, "STATE_");
}

bool IsTerminal(v1::OnboardingState state) {
  return state == v1::ONBOARDING_STATE_SUCCEEDED || state == v1::ONBOARDING_STATE_FAILED ||
         state == v1::ONBOARDING_STATE_CANCELLED;
}

}  // namespace guestflow::cli
