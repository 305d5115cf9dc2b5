#include "smtp_settings.h"

#include <filesystem>
#include <optional>
#include <stdexcept>

#include "common/plugin_settings.h"
#include "common/secret_setting.h"

namespace guestflow::smtp {

std::string SmtpSettings::Url() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return std::string(security == Security::kImplicitTls ? "smtps://" : "smtp://") +
         (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

SmtpSettings ParseSmtpSettings(const nlohmann::json& settings) {
  plugins::SettingsReader reader(settings.dump(), "smtp_notifier");
  reader.RejectUnknown({"host", "port", "security", "from", "username", "password", "ca_file",
                        "timeout_ms", "template"});
  SmtpSettings s;
  s.host = reader.String("host");
  if (s.host.empty()) reader.Fail("'host' is required (the SMTP submission server)");
  if (s.host.find_first_of(" /@\r\n\t") != std::string::npos) {
    reader.Fail("'host' must be a host name or address, got '" + s.host + "'");
  }
  if (s.host.size() > 2 && s.host.front() == '[' && s.host.back() == ']') {
    s.host = s.host.substr(1, s.host.size() - 2);
  }

  const std::string security = reader.String("security", "starttls");
  if (security == "starttls") {
    s.security = Security::kStartTls;
  } else if (security == "tls") {
    s.security = Security::kImplicitTls;
  } else if (security == "none") {
    s.security = Security::kNone;
  } else {
    reader.Fail("'security' must be starttls, tls or none, got '" + security + "'");
  }
  const int64_t default_port = s.security == Security::kImplicitTls ? 465
                               : s.security == Security::kNone      ? 25
                                                                    : 587;
  s.port = reader.Int("port", default_port, 1, 65535);

  const std::string from = reader.String("from");
  if (from.empty()) reader.Fail("'from' is required, e.g. \"Contoso IT <it@contoso.com>\"");
  std::optional<plugins::Mailbox> mailbox = plugins::ParseMailbox(from);
  if (!mailbox.has_value()) {
    reader.Fail("'from' (\"" + plugins::SingleLine(from) +
                "\") is not an address like name@example.com or \"Name <name@example.com>\"");
  }
  s.from = *mailbox;

  s.username = reader.String("username");
  s.password = plugins::ReadSecretSetting(settings, "password", "smtp_notifier");
  if (!s.username.empty() && s.password.empty()) {
    reader.Fail("'username' needs 'password' ({env: NAME} or {file: PATH})");
  }
  if (s.username.empty() && !s.password.empty()) reader.Fail("'password' needs 'username'");
  if (!s.username.empty() && s.security == Security::kNone) {
    reader.Fail(
        "AUTH over an unencrypted connection is refused: set 'security' to starttls or "
        "tls");
  }

  s.ca_file = reader.String("ca_file");
  if (!s.ca_file.empty()) {
    std::filesystem::path path(s.ca_file);
    if (path.is_relative()) {
      const std::string base = reader.String("base_dir");
      if (base.empty()) reader.Fail("'ca_file' is relative and there is no base_dir");
      path = std::filesystem::path(base) / path;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      reader.Fail("'ca_file' " + path.string() + " is not a readable file");
    }
    s.ca_file = path.lexically_normal().string();
  }
  s.timeout_ms = reader.Int("timeout_ms", 30000, 1000, 300000);
  return s;
}

}  // namespace guestflow::smtp
