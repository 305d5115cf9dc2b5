#include "webhook_notifier/webhook_payload.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <stdexcept>

#include "common/graph_client.h"

namespace guestflow::webhook {
namespace {

using nlohmann::ordered_json;

constexpr char kEllipsis[] = "\xE2\x80\xA6";  // U+2026, one character

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

size_t CountChars(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += IsContinuationByte(c) ? 0 : 1;
  return n;
}

// Slack mrkdwn: these three must be entities, or Slack reads <...> as a
// link, a mention or a channel reference.
std::string EscapeMrkdwn(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// TruncateUtf8 over escaped mrkdwn, without leaving half an entity ("&am…").
std::string TruncateMrkdwn(const std::string& escaped, size_t max_chars) {
  std::string out = TruncateUtf8(escaped, max_chars);
  if (out.size() == escaped.size()) return out;
  const size_t body_end = out.size() - (sizeof(kEllipsis) - 1);
  const size_t amp = out.rfind('&', body_end == 0 ? 0 : body_end - 1);
  if (amp != std::string::npos && out.find(';', amp) == std::string::npos) {
    out.erase(amp, body_end - amp);
  }
  return out;
}

ordered_json OpenUri(const char* name, const std::string& uri) {
  return {{"@type", "OpenUri"},
          {"name", name},
          {"targets", ordered_json::array({{{"os", "default"}, {"uri", uri}}})}};
}

ordered_json SlackButton(const char* label, const std::string& url) {
  return {{"type", "button"}, {"text", {{"type", "plain_text"}, {"text", label}}}, {"url", url}};
}

ordered_json Generic(const plugins::Fields& f, const plugins::RenderedMessage& m) {
  ordered_json body = {
      {"type", "guestflow.guest.notify"},
      {"id", DeliveryId(f)},
      {"onboarding", "onboardings/" + f.onboarding},
      {"tenant", f.tenant},
      {"guest",
       {{"email", f.email},
        {"name", f.guest_name},
        {"first_name", f.first_name},
        {"last_name", f.last_name},
        {"display_name", f.display_name}}},
      {"instance_url", f.instance_url},
  };
  if (!f.redeem_url.empty()) body["redeem_url"] = f.redeem_url;
  ordered_json organization = {{"name", f.organization_name}};
  if (!f.support_contact.empty()) organization["support_contact"] = f.support_contact;
  body["organization"] = std::move(organization);
  ordered_json message = {{"subject", m.subject}, {"text", m.text}};
  if (!m.html.empty()) message["html"] = m.html;
  body["message"] = std::move(message);
  return body;
}

ordered_json Teams(const plugins::Fields& f, const plugins::RenderedMessage& m) {
  ordered_json actions = ordered_json::array();
  if (!f.redeem_url.empty()) actions.push_back(OpenUri("Accept the invitation", f.redeem_url));
  actions.push_back(OpenUri("Open Dynamics 365", f.instance_url));
  return {{"@type", "MessageCard"},
          {"@context", "https://schema.org/extensions"},
          {"summary", m.subject},
          {"themeColor", "0078D7"},
          {"title", m.subject},
          {"text", m.text},
          {"potentialAction", std::move(actions)}};
}

ordered_json Slack(const plugins::Fields& f, const plugins::RenderedMessage& m) {
  ordered_json buttons = ordered_json::array();
  if (!f.redeem_url.empty()) buttons.push_back(SlackButton("Accept the invitation", f.redeem_url));
  buttons.push_back(SlackButton("Open Dynamics 365", f.instance_url));
  ordered_json blocks = ordered_json::array();
  blocks.push_back(
      {{"type", "header"},
       {"text",
        {{"type", "plain_text"}, {"text", TruncateUtf8(m.subject, kSlackHeaderMaxChars)}}}});
  blocks.push_back({{"type", "section"},
                    {"text",
                     {{"type", "mrkdwn"},
                      {"text", TruncateMrkdwn(EscapeMrkdwn(m.text), kSlackSectionMaxChars)}}}});
  blocks.push_back({{"type", "actions"}, {"elements", std::move(buttons)}});
  // The top-level text is what a notification or a client without blocks
  // shows.
  return {{"text", m.subject}, {"blocks", std::move(blocks)}};
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "generic") return Format::kGeneric;
  if (name == "teams") return Format::kTeams;
  if (name == "slack") return Format::kSlack;
  return std::nullopt;
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::kGeneric:
      return "generic";
    case Format::kTeams:
      return "teams";
    case Format::kSlack:
      return "slack";
  }
  return "generic";
}

std::optional<WebhookUrl> ParseWebhookUrl(std::string_view url, std::string* why) {
  auto refuse = [why](std::string message) -> std::optional<WebhookUrl> {
    *why = std::move(message);
    return std::nullopt;
  };
  if (url.empty()) return refuse("'url' is required (the https:// address to POST to)");
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return refuse("'url' must be an absolute https:// URL");
  }
  WebhookUrl parsed;
  parsed.scheme = Lower(url.substr(0, scheme_end));
  if (parsed.scheme != "https" && parsed.scheme != "http") {
    return refuse("'url' must be an https:// URL, not " + parsed.scheme + "://");
  }
  const std::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  parsed.authority = std::string(authority);
  parsed.has_path = authority_end != std::string_view::npos &&
                    rest.substr(authority_end) != std::string_view("/");
  // Only what is known to be harmless may go into the messages below.
  for (char c : authority) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return refuse("'url' contains a space or control character in its host");
    }
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return refuse("'url' " + RedactedUrl(parsed) + " contains a space or control character");
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return refuse(
        "'url' must not contain user:password@ (a signing key goes into 'secret'; a credential in "
        "the URL would be logged)");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return refuse("'url' has an unclosed [ in its host");
    parsed.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return refuse("'url' " + RedactedUrl(parsed) + " has a malformed host");
    }
    if (!after.empty()) port = after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (parsed.host.empty()) return refuse("'url' has no host");
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return refuse("'url' " + RedactedUrl(parsed) + " has a port that is not a number");
    }
  }
  const bool loopback = parsed.host == "127.0.0.1" || parsed.host == "::1" ||
                        plugins::EqualsIgnoreCase(parsed.host, "localhost");
  if (parsed.scheme == "http" && !loopback) {
    return refuse("'url' must be https:// (" + RedactedUrl(parsed) +
                  " would send the guest's details and the signature in clear; http:// is "
                  "accepted only for a loopback host: 127.0.0.1, [::1] or localhost)");
  }
  return parsed;
}

std::string RedactedUrl(const WebhookUrl& url) {
  return url.scheme + "://" + url.authority + (url.has_path ? "/\xE2\x80\xA6" : "");
}

std::string TruncateUtf8(std::string_view text, size_t max_chars) {
  if (CountChars(text) <= max_chars) return std::string(text);
  if (max_chars == 0) return {};
  // Keep max_chars - 1 characters: the byte where character number
  // max_chars - 1 starts is the cut.
  size_t chars = 0;
  size_t cut = 0;
  for (; cut < text.size(); ++cut) {
    if (IsContinuationByte(text[cut])) continue;
    if (chars == max_chars - 1) break;
    ++chars;
  }
  std::string out(text.substr(0, cut));
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out + kEllipsis;
}

std::string DeliveryId(const plugins::Fields& fields) { return fields.onboarding + ".notify"; }

ordered_json BuildPayload(Format format, const plugins::Fields& fields,
                          const plugins::RenderedMessage& message) {
  switch (format) {
    case Format::kTeams:
      return Teams(fields, message);
    case Format::kSlack:
      return Slack(fields, message);
    case Format::kGeneric:
      break;
  }
  return Generic(fields, message);
}

std::string Signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + 1 + body.size());
  signed_text.append(timestamp).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
           &mac_len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed in libcrypto");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "v1=";
  for (unsigned int i = 0; i < mac_len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xF]);
  }
  return out;
}

}  // namespace guestflow::webhook
