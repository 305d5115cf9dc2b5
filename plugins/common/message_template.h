// The message a notifier sends a guest, written by each organization as
// Mustache templates (https://mustache.github.io/mustache.5.html, rendered by
// Debian's kainjow-mustache) with a default that reads well in English.
//
// Settings (the notifier's `template` object; every key optional):
//   subject     one line, e.g. "Welcome to {{organization.name}}"
//   text        the plain-text body
//   html        the HTML body ({{x}} is HTML-escaped, {{{x}}} is not)
//   text_file   read the text body from this file instead
//   html_file   read the HTML body from this file instead
// Relative files resolve against the host's base_dir (the config's folder).
// A body that is not given falls back to the default; `html: ""` turns the
// HTML part off.
//
// The fields a template may use (Fields below; absent ones are false, so
// {{#redeem_url}}...{{/redeem_url}} shows a block only when there is one):
//   guest.name guest.first_name guest.last_name guest.display_name guest.email
//   instance_url  redeem_url  organization.name  organization.support_contact
//   onboarding  tenant
//
// Every template is parsed and rendered against sample data (once with every
// field set, once with every optional field absent) when the plugin is
// created, i.e. when guestflowd loads its config: a syntax error or a name
// outside the list above is a create() error naming the template and the
// field, never a surprise while a guest waits.
//
// Thread-safe after construction (rendering keeps no state).
#pragma once

#include <string>
#include <string_view>

#include "common/step_input.h"
#include "nlohmann/json.hpp"

namespace guestflow::plugins {

// What a notification may say. Empty strings are absent fields.
struct Fields {
  std::string guest_name;  // display name, else "first last", else the email
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::string email;
  std::string instance_url;
  std::string redeem_url;
  std::string organization_name;  // the tenant's display_name, else its id
  std::string support_contact;
  std::string onboarding;  // the onboarding id
  std::string tenant;      // the tenant id
};

// The fields of the step input: the guest, the tenant's instance URL, name
// and support contact, and the invite step's redeem URL.
Fields FieldsFrom(const StepInput& in);

// The rendered message.
struct RenderedMessage {
  std::string subject;  // one line
  std::string text;
  std::string html;  // "" when the HTML part is turned off
};

class MessageTemplate {
 public:
  // From the notifier's settings (a JSON object; `template` and `base_dir`
  // are read from it). Throws std::invalid_argument, prefixed with `plugin`,
  // on a bad key, an unreadable file, a syntax error or an unknown field.
  MessageTemplate(const nlohmann::json& settings, const std::string& plugin);

  // Never throws: the templates were proven at construction.
  RenderedMessage Render(const Fields& fields) const;

  // The field names a template may use, comma-separated (for messages).
  static std::string KnownFields();

 private:
  std::string subject_;
  std::string text_;
  std::string html_;
};

}  // namespace guestflow::plugins
