// The smtp_notifier's settings (the tenant's `plugins.notifier.settings`),
// read strictly: unknown keys, wrong types and unsafe combinations fail
// create(), i.e. the config load, with a message naming the key.
//
//   host        required: the submission server, e.g. smtp.office365.com
//   port        default 587 for starttls, 465 for tls, 25 for none
//   security    "starttls" (default: upgrade, and fail if the server cannot),
//               "tls" (implicit TLS, "smtps") or "none"
//   from        required: "addr" or "Name <addr>", the envelope and From
//   username    optional AUTH user; needs `password`
//   password    {env: NAME} or {file: PATH}: never the password itself
//   ca_file     optional PEM bundle to trust instead of the system's
//   timeout_ms  whole-send limit, 1000..300000, default 30000
//   template    the message (plugins/common/message_template.h)
// AUTH with security "none" is refused: the password would cross the
// network in the clear.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/mail_message.h"
#include "nlohmann/json.hpp"

namespace guestflow::smtp {

enum class Security { kStartTls, kImplicitTls, kNone };

struct SmtpSettings {
  std::string host;
  int64_t port = 587;
  Security security = Security::kStartTls;
  plugins::Mailbox from;
  std::string username;
  std::string password;  // resolved from env or file
  std::string ca_file;   // absolute, or "" for the system CAs
  int64_t timeout_ms = 30000;

  // smtp://host:port or smtps://host:port (an IPv6 host in brackets).
  std::string Url() const;
};

// Throws std::invalid_argument "smtp_notifier settings: ...".
SmtpSettings ParseSmtpSettings(const nlohmann::json& settings);

}  // namespace guestflow::smtp
