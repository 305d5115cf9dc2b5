// graph_mail_notifier: the `notifier` plugin kind over Microsoft Graph. Step
// `notify` mails the guest the Dynamics instance URL
// (tenant_settings.instance_url) and, when the invite step produced one, the
// invitation redeem URL, with
//   POST {graph_url}/v1.0/users/{sender}/sendMail   (Mail.Send, 202 Accepted)
// check() reports whether a Graph token can be had and the sender mailbox
// exists (GET /users/{sender}).
//
// Settings (the tenant's `plugins.notifier.settings`):
//   sender       required: UPN or object id of a mailbox in the tenant
//   template     optional message templates (plugins/common/message_template.h);
//                the body is sent as HTML when the template has an HTML part
//                (the default does), as text otherwise
//   graph_scope  optional token scope (default https://graph.microsoft.com/.default)
// Unknown keys or wrong types fail create() with a message naming the key.
//
// Outputs of `notify`: mail_sent ("true"), mail_sent_at (RFC 3339 UTC).
//
// Thread safety: one instance per tenant; the settings are immutable after
// create(), so steps of several onboardings may run on it at once.
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "common/graph_client.h"
#include "common/message_template.h"
#include "common/plugin_settings.h"
#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"

namespace guestflow::graph_mail_notifier {
namespace {

using nlohmann::json;
using sdk::StepResult;

struct MailSettings {
  std::string sender;
  std::string graph_scope;
  std::string graph_url;  // tenant_settings.graph_url, for check()
};

MailSettings ParseMailSettings(std::string_view json_text) {
  plugins::SettingsReader reader(json_text, "graph_mail_notifier");
  reader.RejectUnknown({"sender", "template", "graph_scope"});
  MailSettings s;
  s.sender = reader.String("sender");
  if (s.sender.empty()) reader.Fail("'sender' is required (a mailbox UPN or object id)");
  s.graph_scope = reader.String("graph_scope", plugins::kGraphScope);
  s.graph_url = reader.TenantSetting("graph_url");
  return s;
}

std::string NowRfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json SettingsObject(std::string_view json_text) {
  std::optional<nlohmann::json> j =
      json_text.empty() ? nlohmann::json::object() : plugins::ParseObject(json_text);
  return j.has_value() ? *j : nlohmann::json::object();
}

class GraphMailNotifier : public sdk::Plugin {
 public:
  GraphMailNotifier(const sdk::Host& host, std::string_view config_json)
      : settings_(ParseMailSettings(config_json)),
        template_(SettingsObject(config_json), "graph_mail_notifier") {}

  StepResult RunStep(sdk::Call& call, std::string_view step, std::string_view input_json) override {
    if (step != "notify") {
      return StepResult::Failed("graph_mail_notifier runs the step notify, not '" +
                                std::string(step) + "'");
    }
    const plugins::StepInput in = plugins::ParseStepInput(input_json);
    // sendMail has no idempotency key, so the only guard against a second
    // mail is our own record of the first. A crash (or a lost SetOutput)
    // between Graph's 202 and the store still sends the mail again on the
    // next attempt: the documented at-most-one-duplicate case.
    if (in.PreviousOutput("mail_sent") == "true") {
      call.Log(GF_LOG_INFO, "notify: mail already sent at " + in.PreviousOutput("mail_sent_at"));
      return StepResult::Succeeded();
    }
    if (in.email.empty()) return StepResult::Failed("the guest has no email address");
    if (in.instance_url.empty()) {
      return StepResult::Failed("the tenant has no instance_url to tell the guest");
    }

    plugins::GraphClient graph(call, in.graph_url.empty() ? settings_.graph_url : in.graph_url,
                               settings_.graph_scope);
    if (std::optional<StepResult> failed = graph.Authenticate()) return *failed;

    const plugins::Fields fields = plugins::FieldsFrom(in);
    const plugins::RenderedMessage message = template_.Render(fields);
    const bool html = !message.html.empty();
    const json body = {
        {"message",
         {{"subject", message.subject},
          {"body",
           {{"contentType", html ? "HTML" : "Text"},
            {"content", html ? message.html : message.text}}},
          {"toRecipients",
           json::array(
               {{{"emailAddress", {{"address", in.email}, {"name", fields.guest_name}}}}})}}},
        {"saveToSentItems", false}};
    const std::string path = "/users/" + plugins::UrlEncode(settings_.sender) + "/sendMail";
    const sdk::HttpResponse r = graph.Send("POST", path, body);
    if (r.status == 202) {
      call.SetOutput("mail_sent", "true");
      call.SetOutput("mail_sent_at", NowRfc3339());
      return StepResult::Succeeded();
    }
    if (r.status == 404) {
      return StepResult::Failed("sender mailbox " + settings_.sender +
                                " not found in the tenant: POST /users/" + settings_.sender +
                                "/sendMail answered 404: " + plugins::CloudMessage(r));
    }
    return plugins::GraphFailure(r, "POST /users/" + settings_.sender + "/sendMail");
  }

  StepResult Check(sdk::Call& call) override {
    plugins::GraphClient graph(call, settings_.graph_url, settings_.graph_scope);
    if (std::optional<StepResult> failed = graph.Authenticate()) {
      call.AddCheck("graph token", false, failed->error);
      return StepResult::Succeeded();
    }
    call.AddCheck("graph token", true, "token for " + settings_.graph_scope);
    const std::string& sender = settings_.sender;
    const sdk::HttpResponse r =
        graph.Get("/users/" + plugins::UrlEncode(sender) + "?$select=id,userPrincipalName,mail");
    const std::optional<json> user = plugins::ParseObject(r.body);
    if (r.status == 200 && user.has_value()) {
      call.AddCheck("sender mailbox", true,
                    plugins::StringAt(*user, "userPrincipalName", sender) + " (" +
                        plugins::StringAt(*user, "id") + ")");
    } else if (r.status == 404) {
      call.AddCheck("sender mailbox", false,
                    "sender mailbox " + sender + " not found in the tenant");
    } else {
      call.AddCheck("sender mailbox", false,
                    "GET /users/" + sender + " answered " + std::to_string(r.status) + ": " +
                        plugins::CloudMessage(r));
    }
    return StepResult::Succeeded();
  }

 private:
  const MailSettings settings_;
  const plugins::MessageTemplate template_;
};

}  // namespace
}  // namespace guestflow::graph_mail_notifier

GUESTFLOW_PLUGIN(guestflow::graph_mail_notifier::GraphMailNotifier, "graph_mail_notifier",
                 GF_PLUGIN_KIND_NOTIFIER, "1.0.0")
