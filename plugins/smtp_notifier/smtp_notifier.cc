// smtp_notifier: the `notifier` plugin kind over SMTP. Step `notify` mails
// the guest the organization's message (plugins/common/message_template.h):
// the Dynamics instance URL and, when the invite step produced one, the
// invitation redeem URL, as a text part and an HTML alternative.
//
// Settings: see smtp_settings.h.
//
// The message is RFC 5322 (plugins/common/mail_message.h): a UTF-8 subject
// as RFC 2047 words, CRLF lines within 998 octets. Its Message-ID is derived
// from the onboarding (<id.notify@sender-domain>) and its Date is the first
// attempt's (kept in the step outputs), so a retried send is the same message,
// byte for byte, and a receiving system can recognise a duplicate.
//
// SMTP has no way to ask whether a message was delivered, so the guard
// against a second mail is our own record (output mail_sent). A crash between
// the server's 250 and that record sends once more, with the same Message-ID.
//
// Outcomes: 250 to DATA: Succeeded, outputs mail_sent ("true"), message_id,
// date, smtp_server. No connection, a timeout or a 4xx reply: Retry. A 5xx
// reply (a refused recipient), TLS or AUTH failure: Failed, with the
// server's own words.
// check(): connects, upgrades to TLS and authenticates exactly as a send
// would, then quits without sending (no recipient is needed for that).
//
// Thread safety: one instance per tenant, immutable after create(); sends of
// several onboardings may run at once, each on its own connection.
#include <string>
#include <string_view>

#include "common/mail_message.h"
#include "common/message_template.h"
#include "common/plugin_settings.h"
#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"
#include "smtp_settings.h"
#include "smtp_transport.h"

namespace guestflow::smtp {
namespace {

using sdk::StepResult;

nlohmann::json SettingsObject(std::string_view json_text) {
  std::optional<nlohmann::json> j =
      json_text.empty() ? nlohmann::json::object() : plugins::ParseObject(json_text);
  if (!j.has_value()) throw std::invalid_argument("smtp_notifier settings: not a JSON object");
  return *j;
}

const char* SecurityName(Security s) {
  switch (s) {
    case Security::kStartTls:
      return "STARTTLS";
    case Security::kImplicitTls:
      return "implicit TLS";
    case Security::kNone:
      return "no TLS";
  }
  return "?";
}

class SmtpNotifier : public sdk::Plugin {
 public:
  SmtpNotifier(const sdk::Host& host, std::string_view config_json)
      : SmtpNotifier(SettingsObject(config_json)) {}

  explicit SmtpNotifier(const nlohmann::json& settings)
      : settings_(ParseSmtpSettings(settings)), template_(settings, "smtp_notifier") {}

  StepResult RunStep(sdk::Call& call, std::string_view step, std::string_view input_json) override {
    if (step != "notify") {
      return StepResult::Failed("smtp_notifier runs the step notify, not '" + std::string(step) +
                                "'");
    }
    const plugins::StepInput in = plugins::ParseStepInput(input_json);
    if (in.PreviousOutput("mail_sent") == "true") {
      call.Log(GF_LOG_INFO, "notify: mail " + in.PreviousOutput("message_id") + " already sent");
      return StepResult::Succeeded();
    }
    const plugins::Fields fields = plugins::FieldsFrom(in);
    if (!plugins::IsValidAddress(fields.email)) {
      return StepResult::Failed("smtp_notifier: the guest's email \"" + fields.email +
                                "\" is not an ASCII address this notifier can send to");
    }
    if (fields.instance_url.empty()) {
      return StepResult::Failed(
          "smtp_notifier: the tenant has no Dynamics instance URL (dynamics.instance_url) to "
          "tell the guest");
    }
    if (fields.onboarding.empty()) return StepResult::Failed("smtp_notifier: no onboarding id");

    std::string date = in.PreviousOutput("date");
    if (date.empty()) date = plugins::Rfc5322Date(call.NowUnixMs());
    const plugins::RenderedMessage rendered = template_.Render(fields);
    plugins::MailMessage message;
    message.from = settings_.from;
    message.to = {fields.guest_name == fields.email ? "" : fields.guest_name, fields.email};
    message.subject = rendered.subject;
    message.date = date;
    message.message_id = "<" + plugins::EscapeId(fields.onboarding) + ".notify@" +
                         plugins::DomainOf(settings_.from.address) + ">";
    message.body = rendered.text;
    message.html_body = rendered.html;
    // Kept before sending: a retry rebuilds the same bytes.
    call.SetOutput("date", date);
    call.SetOutput("message_id", message.message_id);

    const SendResult sent = SendMail(settings_, fields.email, plugins::BuildMessage(message));
    switch (sent.kind) {
      case SendResult::Kind::kSent:
        call.SetOutput("mail_sent", "true");
        call.SetOutput("smtp_server", settings_.Url());
        call.Log(GF_LOG_INFO, "notify: " + settings_.Url() + " accepted " + message.message_id);
        return StepResult::Succeeded();
      case SendResult::Kind::kTransient:
        return StepResult::Retry(sent.error);
      case SendResult::Kind::kPermanent:
        return StepResult::Failed(sent.error);
    }
    return StepResult::Failed("smtp_notifier: unknown send result");
  }

  StepResult Check(sdk::Call& call) override {
    const SendResult connected = CheckConnection(settings_);
    const std::string how =
        settings_.Url() + " with " + SecurityName(settings_.security) +
        (settings_.username.empty() ? ", no AUTH" : ", AUTH as " + settings_.username);
    call.AddCheck("smtp server", connected.kind == SendResult::Kind::kSent,
                  connected.kind == SendResult::Kind::kSent ? how : connected.error);
    call.AddCheck("sender", true, settings_.from.address);
    return StepResult::Succeeded();
  }

 private:
  const SmtpSettings settings_;
  const plugins::MessageTemplate template_;
};

}  // namespace
}  // namespace guestflow::smtp

GUESTFLOW_PLUGIN(guestflow::smtp::SmtpNotifier, "smtp_notifier", GF_PLUGIN_KIND_NOTIFIER, "1.0.0")
