// Fake plugins for tests: real plugin libraries built with the SDK, one per
// (name, kind, behaviour). They talk to no cloud. This file is compiled once
// for all of them; each library's own fake_plugin_spec.cc says which one it
// is (kSpec: name, kind and behaviour, see fake_plugin_spec.h).
//
// Settings (the tenant's JSON object for the plugin), all optional:
//   journal          file: one JSON line {plugin, step, onboarding, attempt,
//                    email} appended per run (the notifier adds `message`)
//   input_log        file: the raw input JSON of every run, one per line
//   delay_ms         sleep this long in every run
//   fail_create      make create() fail with this text
//   probe_url        GET it through the host's HTTP client (with the token of
//                    token_scope, if any) and output probe_status,
//                    probe_body, probe_header (X-Probe), probe_error
//   token_scope      get a token through the host; output token_ok,
//                    token_error, token_permanent; log it (to test redaction)
//   check_fail       make check() report a failed check with this text
//   report_time      (true) output now_unix_ms, the host clock's time
//   Behavior::kRetry only: mode "retry" (default): RETRY after retry_after_ms
//                    (default 2000) until the attempt reaches
//                    succeed_on_attempt (default 3); mode "wait": WAIT after
//                    retry_after_ms until the `polls` step output reaches
//                    succeed_on_poll (default 3).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "fake_plugin_spec.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"

namespace {

using guestflow::fake::Behavior;
using guestflow::fake::kSpec;
using guestflow::sdk::Call;
using guestflow::sdk::StepResult;
using nlohmann::json;

// One write() per line on an O_APPEND file: lines from several plugin
// libraries and threads (each library has its own statics) never interleave.
void AppendLine(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  const std::string text = line + "\n";
  const ssize_t written = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(text.size())) {
    throw std::runtime_error("cannot write " + path);
  }
}

std::string Str(const json& j, const char* key, const std::string& fallback = {}) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

int64_t Int(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

class FakePlugin : public guestflow::sdk::Plugin {
 public:
  FakePlugin(const guestflow::sdk::Host& host, std::string_view config_json)
      : settings_(json::parse(config_json)) {
    if (!settings_.is_object()) throw std::invalid_argument("settings must be a JSON object");
    if (settings_.contains("fail_create")) {
      throw std::invalid_argument(Str(settings_, "fail_create", "fail_create is set"));
    }
    host.Log(GF_LOG_DEBUG, std::string(kSpec.name) + " created");
  }

  StepResult RunStep(Call& call, std::string_view step, std::string_view input_json) override {
    AppendLine(Str(settings_, "input_log"), std::string(input_json));
    const json input = json::parse(input_json);
    if (const int64_t delay = Int(settings_, "delay_ms", 0); delay > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    json line = {{"plugin", kSpec.name},
                 {"step", std::string(step)},
                 {"onboarding", input.value("onboarding", "")},
                 {"attempt", input.value("attempt", 0)},
                 {"email", input.at("guest").value("email", "")}};
    if (std::string_view(kSpec.kind) == GF_PLUGIN_KIND_NOTIFIER) {
      line["message"] = NotifyMessage(input);
    }
    AppendLine(Str(settings_, "journal"), line.dump());
    Probe(call);

    switch (kSpec.behavior) {
      case Behavior::kFail:
        return StepResult::Failed("no free seats (test plugin)");
      case Behavior::kThrow:
        throw std::runtime_error("fake_throw: the notifier exploded (test plugin)");
      case Behavior::kRetry:
        if (std::optional<StepResult> not_yet = RetryOrWait(call, input)) return *not_yet;
        break;
      case Behavior::kSucceed:
        break;
    }
    SetSuccessOutputs(call, step, input);
    return StepResult::Succeeded();
  }

  StepResult Check(Call& call) override {
    call.AddCheck("fake settings", true, "journal=" + Str(settings_, "journal", "none"));
    if (settings_.contains("check_fail")) {
      call.AddCheck("fake reachability", false, Str(settings_, "check_fail"));
    }
    return StepResult::Succeeded();
  }

 private:
  // Behavior::kRetry: RETRY or WAIT until the settings' attempt or poll, then
  // nothing (the step succeeds).
  std::optional<StepResult> RetryOrWait(Call& call, const json& input) {
    const int64_t retry_after_ms = Int(settings_, "retry_after_ms", 2000);
    if (Str(settings_, "mode", "retry") == "wait") {
      const std::string previous = input.at("step_outputs").value("polls", "0");
      const int64_t polls = std::stoll(previous) + 1;
      call.SetOutput("polls", std::to_string(polls));
      if (polls < Int(settings_, "succeed_on_poll", 3)) {
        return StepResult::Wait(retry_after_ms, "waiting for replication (test plugin)");
      }
    } else {
      const int64_t attempt = input.value("attempt", 0);
      call.SetOutput("tries", std::to_string(attempt));
      if (attempt < Int(settings_, "succeed_on_attempt", 3)) {
        return StepResult::Retry("throttled (test plugin), attempt " + std::to_string(attempt),
                                 retry_after_ms);
      }
    }
    return std::nullopt;
  }

  static std::string NotifyMessage(const json& input) {
    const json& outputs = input.at("outputs");
    std::string redeem;
    if (outputs.contains("invite")) redeem = outputs.at("invite").value("invite_redeem_url", "");
    std::string message = "Hello " + input.at("guest").value("first_name", "") +
                          ", you can now sign in to " +
                          input.at("tenant_settings").value("instance_url", "");
    if (!redeem.empty()) message += " (accept the invitation first: " + redeem + ")";
    return message;
  }

  void SetSuccessOutputs(Call& call, std::string_view step, const json& input) {
    const std::string email = input.at("guest").value("email", "");
    const std::string_view kind = kSpec.kind;
    if (step == "invite") {
      call.SetOutput("invited_user_id", "fake-user-" + email);
      call.SetOutput("invite_redeem_url", "https://invitations.example.test/redeem?user=" + email);
    } else if (step == "profile") {
      call.SetOutput("profile_updated", "true");
    } else if (kind == GF_PLUGIN_KIND_LICENSE) {
      call.SetOutput("license_sku", Str(settings_, "sku", "FAKE_SKU"));
    } else if (kind == GF_PLUGIN_KIND_ROLE) {
      call.SetOutput("systemuser_id", "fake-systemuser-" + email);
      std::string roles;
      for (const auto& role : input.at("options").at("roles")) {
        if (!roles.empty()) roles += ",";
        roles += role.get<std::string>();
      }
      call.SetOutput("roles", roles);
    } else if (kind == GF_PLUGIN_KIND_NOTIFIER) {
      call.SetOutput("notified_via", kSpec.name);
    }
  }

  // Exercises the host's HTTP and token callbacks when the settings ask.
  void Probe(Call& call) {
    if (settings_.value("report_time", false)) {
      call.SetOutput("now_unix_ms", std::to_string(call.NowUnixMs()));
    }
    std::string token;
    if (const std::string scope = Str(settings_, "token_scope"); !scope.empty()) {
      std::string error;
      bool permanent = false;
      token = call.Token(scope, &error, &permanent);
      call.SetOutput("token_ok", token.empty() ? "false" : "true");
      call.SetOutput("token_error", error);
      call.SetOutput("token_permanent", permanent ? "true" : "false");
      call.Log(GF_LOG_INFO, "got token " + token + " (Authorization: Bearer " + token + ")");
    }
    if (const std::string url = Str(settings_, "probe_url"); !url.empty()) {
      guestflow::sdk::HttpRequest request;
      request.url = url;
      request.service = "probe";
      if (!token.empty()) request.headers.push_back({"Authorization", "Bearer " + token});
      const guestflow::sdk::HttpResponse response = call.Http(request);
      call.SetOutput("probe_status", std::to_string(response.status));
      call.SetOutput("probe_body", response.body);
      call.SetOutput("probe_header", response.Header("X-Probe"));
      call.SetOutput("probe_error", response.transport_error);
    }
  }

  const json settings_;
};

}  // namespace

GUESTFLOW_PLUGIN(FakePlugin, guestflow::fake::kSpec.name, guestflow::fake::kSpec.kind, "1.0.0-test")
