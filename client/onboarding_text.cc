#include "client/onboarding_text.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/duration_text.h"
#include "client/names.h"
#include "client/table.h"
#include "client/time_text.h"

namespace guestflow::cli {
namespace {

// Room for a LAST-ERROR cell next to the other columns on an 120-column
// terminal.
constexpr size_t kLastErrorWidth = 60;
// Room for a transport error in the STATUS cell of `calls`.
constexpr size_t kTransportErrorWidth = 32;

std::string GuestText(const v1::Guest& guest) {
  std::string display = guest.display_name();
  if (display.empty()) {
    std::vector<std::string> parts;
    for (const std::string& part : {guest.first_name(), guest.last_name()}) {
      if (!part.empty()) parts.push_back(part);
    }
    display = absl::StrJoin(parts, " ");
  }
  std::string text;
  if (!display.empty()) absl::StrAppend(&text, display, " ");
  absl::StrAppend(&text, "<", guest.email(), ">");
  if (!guest.usage_location().empty()) {
    absl::StrAppend(&text, ", usage location ", guest.usage_location());
  }
  return text;
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string CloudCallStatusText(const v1::CloudCall& call) {
  if (call.http_status() != 0) return absl::StrCat(call.http_status());
  return call.transport_error();
}

}  // namespace

std::string RenderOnboardingSummary(const v1::Onboarding& onboarding) {
  std::string text =
      absl::StrCat(OrDash(onboarding.name()), " ", OnboardingStateText(onboarding.state()));
  if (!onboarding.error().empty()) absl::StrAppend(&text, ": ", SanitizeCell(onboarding.error()));
  return text;
}

std::string RenderOnboardingDetail(const v1::Onboarding& onboarding, bool terminal) {
  std::string out;
  AppendField(out, "name", onboarding.name());
  AppendField(out, "tenant", onboarding.tenant());
  AppendField(out, "guest", GuestText(onboarding.guest()));
  AppendField(out, "state", OnboardingStateText(onboarding.state()));
  AppendField(out, "error", onboarding.error());
  AppendField(out, "request id", onboarding.request_id());
  if (!onboarding.batch().empty()) AppendField(out, "batch", onboarding.batch());
  if (!onboarding.instance_url().empty()) AppendField(out, "instance", onboarding.instance_url());
  if (onboarding.options().roles_size() > 0) {
    AppendField(out, "roles", absl::StrJoin(onboarding.options().roles(), ", "));
  }
  AppendField(out, "created", FormatTimestamp(onboarding.create_time()));
  AppendField(out, "updated", FormatTimestamp(onboarding.update_time()));
  std::string finished = FormatTimestamp(onboarding.finish_time());
  if (IsSet(onboarding.finish_time()) && IsSet(onboarding.create_time())) {
    absl::StrAppend(&finished, " (took ",
                    FormatDurationText(ToAbslTime(onboarding.finish_time()) -
                                       ToAbslTime(onboarding.create_time())),
                    ")");
  }
  AppendField(out, "finished", finished);

  out += "\n";
  TextTable steps({"STEP", "STATE", "ATTEMPTS", "PLUGIN", "LAST-ERROR"});
  if (terminal) steps.SetMaxWidth(4, kLastErrorWidth);
  std::vector<std::string> waits;
  for (const v1::Step& step : onboarding.steps()) {
    steps.AddRow({StepKindText(step.kind()), StepStateText(step.state()),
                  absl::StrCat(step.attempts()), step.plugin(), step.last_error()});
    if (step.state() == v1::STEP_STATE_WAITING && IsSet(step.next_attempt_time())) {
      waits.push_back(absl::StrCat(StepKindText(step.kind()), " runs again at ",
                                   FormatTimestamp(step.next_attempt_time())));
    }
  }
  out += steps.Render();
  for (const std::string& wait : waits) absl::StrAppend(&out, wait, "\n");

  // Protobuf maps iterate in no fixed order; sorted output diffs cleanly.
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const v1::Step& step : onboarding.steps()) {
    std::vector<std::pair<std::string, std::string>> step_outputs(step.outputs().begin(),
                                                                  step.outputs().end());
    std::sort(step_outputs.begin(), step_outputs.end());
    for (auto& [key, value] : step_outputs) {
      outputs.emplace_back(absl::StrCat(StepKindText(step.kind()), ".", key), std::move(value));
    }
  }
  out += "\noutputs:";
  if (outputs.empty()) out += "    -";
  out += "\n";
  size_t key_width = 0;
  for (const auto& [key, value] : outputs) key_width = std::max(key_width, DisplayWidth(key));
  for (const auto& [key, value] : outputs) {
    absl::StrAppend(&out, "  ", key, std::string(key_width - DisplayWidth(key), ' '), " = ",
                    SanitizeCell(value), "\n");
  }
  return out;
}

std::string RenderOnboardingTable(
    const google::protobuf::RepeatedPtrField<v1::Onboarding>& onboardings) {
  TextTable table({"NAME", "TENANT", "EMAIL", "STATE", "UPDATED"});
  for (const v1::Onboarding& onboarding : onboardings) {
    table.AddRow({onboarding.name(), onboarding.tenant(), onboarding.guest().email(),
                  OnboardingStateText(onboarding.state()),
                  FormatTimestamp(onboarding.update_time())});
  }
  return table.Render();
}

std::string RenderCloudCallTable(const google::protobuf::RepeatedPtrField<v1::CloudCall>& calls,
                                 bool with_onboarding, bool terminal) {
  std::vector<std::string> headers = {"TIME",     "STEP",       "METHOD", "STATUS",
                                      "DURATION", "REQUEST-ID", "ACTOR",  "URL"};
  if (with_onboarding) headers.insert(headers.begin() + 1, "ONBOARDING");
  const size_t status_column =
      std::find(headers.begin(), headers.end(), "STATUS") - headers.begin();
  TextTable table(std::move(headers));
  if (terminal) table.SetMaxWidth(status_column, kTransportErrorWidth);
  for (const v1::CloudCall& call : calls) {
    std::vector<std::string> row = {FormatTimestamp(call.time()),
                                    StepKindText(call.step()),
                                    call.method(),
                                    CloudCallStatusText(call),
                                    FormatDurationText(ToAbslDuration(call.duration())),
                                    call.request_id(),
                                    call.actor(),
                                    call.url()};
    if (with_onboarding) row.insert(row.begin() + 1, call.onboarding());
    table.AddRow(std::move(row));
  }
  return table.Render();
}

std::string RenderEventLine(const v1::OnboardingEvent& event) {
  return absl::StrFormat("%s  %-7s  %-14s  %s", FormatTimestamp(event.time()),
                         StepKindText(event.step()), SanitizeCell(event.type()),
                         SanitizeCell(event.message()));
}

}  // namespace guestflow::cli
