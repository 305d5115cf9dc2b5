// webhook_notifier: the `notifier` plugin kind over an HTTPS webhook. Step
// `notify` tells the organization's chat or automation (a generic receiver,
// a Microsoft Teams or a Slack incoming webhook) the guest's Dynamics 365
// instance URL and, when the invite step produced one, the invitation redeem
// URL, with one
//   POST {url}   Content-Type: application/json
// through the host's HTTP client. check() posts nothing (that would send a
// message): it reports the URL (scheme://host only) and whether requests are
// signed.
//
// Settings (the tenant's `plugins.notifier.settings`; any other key fails
// create(), except the host's base_dir, tenant_settings and default_roles):
//   url         required. https://...; http:// only for a loopback host
//               (127.0.0.1, [::1], localhost: tests, a local relay). No
//               user:password@.
//   format      "generic" (default) | "teams" | "slack"
//   secret      {"env": "NAME"} or {"file": "path"} (relative to base_dir;
//               one trailing newline is trimmed): the HMAC key, read at
//               create. Required for generic; optional for teams and slack,
//               whose incoming-webhook URL is itself the secret. A missing
//               variable or an unreadable or empty file fails create() naming
//               the variable or file, never the value.
//   timeout_ms  1000..120000, default 15000: the whole request
//   template    the message (subject, text, html, text_file, html_file), see
//               plugins/common/message_template.h; checked at create.
//
// Every request carries
//   X-Guestflow-Delivery:  <onboarding id>.notify  (the same on every retry,
//                          so a receiver can de-duplicate)
// and, when a secret is set,
//   X-Guestflow-Timestamp: unix seconds (the host's clock)
//   X-Guestflow-Signature: v1=<lower-case hex HMAC-SHA256(secret,
//                          timestamp + "." + body)>
// over exactly the bytes of the body. A receiver should recompute it,
// compare in constant time and refuse a timestamp far from its own clock.
//
// Bodies:
//   generic  {"type":"guestflow.guest.notify","id":<delivery id>,
//             "onboarding":"onboardings/<id>","tenant",
//             "guest":{"email","name","first_name","last_name","display_name"},
//             "instance_url","redeem_url" (when there is one),
//             "organization":{"name","support_contact" (when set)},
//             "message":{"subject","text","html" (when the template has one)}}
//   teams    a MessageCard: summary and title = subject, text = the rendered
//             text, themeColor 0078D7, OpenUri actions "Accept the
//             invitation" (with a redeem URL) and "Open Dynamics 365"
//   slack    {"text": subject, "blocks": [header (subject, cut to 150
//             characters), section (mrkdwn text, cut to 3000 characters),
//             actions (buttons for the redeem and the instance URL)]}
//
// Outcomes of `notify`:
//   2xx                      Succeeded; outputs delivered ("true"),
//                            delivered_at (RFC 3339 UTC), http_status
//   already delivered        Succeeded without a request (the step's own
//                            `delivered` output from an earlier attempt)
//   408, 429, 5xx, transport Retry (Retry-After honoured)
//   TLS/certificate failure  Failed: a configuration problem, not a glitch
//   404, 410                 Failed: the webhook URL is gone
//   other 3xx/4xx            Failed: "webhook_notifier: POST <url> answered
//                            <status>: <first 200 bytes of the body>"
//   no guest email or no instance_url: Failed
// Errors and logs show the URL as scheme://host/… only: Slack and Teams
// URLs carry their secret in the path. The secret never appears anywhere.
//
// Thread safety: one instance per tenant; the settings are immutable after
// create(), so steps of several onboardings may run on it at once.
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "common/graph_client.h"
#include "common/message_template.h"
#include "common/plugin_settings.h"
#include "common/secret_setting.h"
#include "common/step_input.h"
#include "guestflow/cloud_errors.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"
#include "webhook_notifier/webhook_payload.h"

namespace guestflow::webhook {
namespace {

using nlohmann::json;
using sdk::StepResult;

constexpr char kPlugin[] = "webhook_notifier";
constexpr int64_t kDefaultTimeoutMs = 15000;
constexpr size_t kMaxErrorBody = 200;

struct WebhookSettings {
  std::string url;
  WebhookUrl parsed;
  Format format = Format::kGeneric;
  std::string secret;         // "" = unsigned
  std::string secret_source;  // "environment variable X" / "file /path", for check()
  int64_t timeout_ms = kDefaultTimeoutMs;
};

WebhookSettings ParseSettings(std::string_view json_text) {
  plugins::SettingsReader reader(json_text, kPlugin);
  reader.RejectUnknown({"url", "format", "secret", "timeout_ms", "template"});
  // The reader accepted it, so it is an object (or empty: none).
  const json object = plugins::ParseObject(json_text).value_or(json::object());
  WebhookSettings s;
  s.url = reader.String("url");
  std::string why;
  std::optional<WebhookUrl> parsed = ParseWebhookUrl(s.url, &why);
  if (!parsed.has_value()) reader.Fail(why);
  s.parsed = *std::move(parsed);
  const std::string format = reader.String("format", "generic");
  std::optional<Format> f = ParseFormat(format);
  if (!f.has_value()) {
    reader.Fail("'format' must be generic, teams or slack, got '" + format + "'");
  }
  s.format = *f;
  s.timeout_ms = reader.Int("timeout_ms", kDefaultTimeoutMs, 1000, 120000);
  s.secret = plugins::ReadSecretSetting(object, "secret", kPlugin, &s.secret_source);
  if (s.format == Format::kGeneric && s.secret.empty()) {
    reader.Fail(
        R"('secret' is required for format generic ({"env": "VARIABLE"} or {"file": "path"}): )"
        "without it a receiver cannot tell guestflow's requests from anyone's");
  }
  return s;
}

json SettingsObject(std::string_view json_text) {
  return plugins::ParseObject(json_text).value_or(json::object());
}

std::string Rfc3339(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

bool IsTlsFailure(std::string_view transport_error) {
  return plugins::ContainsIgnoreCase(transport_error, "SSL") ||
         plugins::ContainsIgnoreCase(transport_error, "certificate");
}

// The body for an error message: at most kMaxErrorBody bytes, not cut inside
// a UTF-8 character.
std::string BodyExcerpt(const std::string& body) {
  if (body.size() <= kMaxErrorBody) return body;
  size_t cut = kMaxErrorBody;
  while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
  return body.substr(0, cut);
}

class WebhookNotifier : public sdk::Plugin {
 public:
  WebhookNotifier(const sdk::Host& host, std::string_view config_json)
      : settings_(ParseSettings(config_json)),
        template_(SettingsObject(config_json), kPlugin),
        safe_url_(RedactedUrl(settings_.parsed)) {}

  StepResult RunStep(sdk::Call& call, std::string_view step, std::string_view input_json) override {
    if (step != "notify") {
      return StepResult::Failed("webhook_notifier runs the step notify, not '" + std::string(step) +
                                "'");
    }
    const plugins::StepInput in = plugins::ParseStepInput(input_json);
    // Webhooks have no idempotency of their own: our record of the first
    // delivery is the guard. A crash between the receiver's 2xx and the
    // store delivers again, with the same X-Guestflow-Delivery, which a
    // receiver that cares de-duplicates on.
    if (in.PreviousOutput("delivered") == "true") {
      call.Log(GF_LOG_INFO, "notify: already delivered to " + safe_url_ + " at " +
                                in.PreviousOutput("delivered_at") + "; not posting again");
      return StepResult::Succeeded();
    }
    const plugins::Fields fields = plugins::FieldsFrom(in);
    if (fields.email.empty()) return StepResult::Failed("the guest has no email address");
    if (fields.instance_url.empty()) {
      return StepResult::Failed("the tenant has no instance_url to tell the guest");
    }

    const plugins::RenderedMessage message = template_.Render(fields);
    sdk::HttpRequest request;
    request.method = "POST";
    request.url = settings_.url;
    request.service = "webhook";
    request.timeout_ms = static_cast<uint32_t>(settings_.timeout_ms);
    // Dumped once: the signature is over exactly these bytes.
    request.body = BuildPayload(settings_.format, fields, message)
                       .dump(-1, ' ', false, json::error_handler_t::replace);
    request.headers.push_back({"Content-Type", "application/json"});
    request.headers.push_back({"X-Guestflow-Delivery", DeliveryId(fields)});
    if (!settings_.secret.empty()) {
      const std::string timestamp = std::to_string(call.NowUnixMs() / 1000);
      request.headers.push_back({"X-Guestflow-Timestamp", timestamp});
      request.headers.push_back(
          {"X-Guestflow-Signature", Signature(settings_.secret, timestamp, request.body)});
    }

    sdk::HttpResponse response = call.Http(request);
    if (response.status >= 200 && response.status < 300) {
      call.SetOutput("delivered", "true");
      call.SetOutput("delivered_at", Rfc3339(call.NowUnixMs()));
      call.SetOutput("http_status", std::to_string(response.status));
      call.Log(GF_LOG_INFO, "notify: delivered to " + safe_url_ + " (" +
                                FormatName(settings_.format) + ", HTTP " +
                                std::to_string(response.status) + ")");
      return StepResult::Succeeded();
    }
    return Failure(std::move(response));
  }

  StepResult Check(sdk::Call& call) override {
    call.AddCheck("webhook url", true,
                  safe_url_ + " (format " + FormatName(settings_.format) + "; not posted to)");
    call.AddCheck("signature", true,
                  settings_.secret.empty()
                      ? std::string("requests are not signed (no secret)")
                      : "HMAC-SHA256 key loaded from " + settings_.secret_source);
    return StepResult::Succeeded();
  }

 private:
  StepResult Failure(sdk::HttpResponse response) const {
    const std::string what = std::string(kPlugin) + ": POST " + safe_url_;
    if (response.status == 0) {
      // The host's message names the URL without its query: the path of a
      // Slack or Teams URL is still its secret.
      const std::string& url = settings_.url;
      const std::string without_query = url.substr(0, url.find_first_of("?#"));
      ReplaceAll(response.transport_error, without_query, safe_url_);
      const size_t path = without_query.find('/', without_query.find("://") + 3);
      if (path != std::string::npos && without_query.size() > path + 1) {
        ReplaceAll(response.transport_error, without_query.substr(path), "/\xE2\x80\xA6");
      }
      // The host's message starts with the request itself: said once.
      const std::string own_prefix = "POST " + safe_url_ + ": ";
      if (response.transport_error.rfind(own_prefix, 0) == 0) {
        response.transport_error.erase(0, own_prefix.size());
      }
      if (IsTlsFailure(response.transport_error)) {
        return StepResult::Failed(
            what + " failed in TLS: " + response.transport_error +
            " (a configuration problem, not retried: the receiver must speak https at this "
            "address with a certificate this host trusts, issued for its name)");
      }
      return sdk::ClassifyFailure(response, what, "");
    }
    std::string body = BodyExcerpt(response.body);
    if (response.status == 404 || response.status == 410) {
      return StepResult::Failed(what + " answered " + std::to_string(response.status) + ": " +
                                body +
                                " (the webhook URL is gone: deleted, or its channel archived; "
                                "configure a new one)");
    }
    StepResult result = sdk::ClassifyFailure(response, what, body);
    if (result.outcome == GF_STEP_FAILED && response.status >= 300 && response.status < 400) {
      result.error += " (redirects are not followed: configure the final URL)";
    }
    return result;
  }

  const WebhookSettings settings_;
  const plugins::MessageTemplate template_;
  const std::string safe_url_;
};

}  // namespace
}  // namespace guestflow::webhook

GUESTFLOW_PLUGIN(guestflow::webhook::WebhookNotifier, "webhook_notifier", GF_PLUGIN_KIND_NOTIFIER,
                 "1.0.0")
