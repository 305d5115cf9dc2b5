// The pieces of a webhook delivery that do not need the host: the URL rules,
// the three body shapes (generic, Teams MessageCard, Slack Block Kit), the
// Slack length limits and the request signature. webhook_notifier.cc puts
// them together; see its header comment for the contract.
//
// Thread-safe: free functions without state. Nothing here throws except
// where said.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/message_template.h"
#include "nlohmann/json.hpp"

namespace guestflow::webhook {

enum class Format { kGeneric, kTeams, kSlack };

// "generic" | "teams" | "slack" → the format; anything else → nullopt.
std::optional<Format> ParseFormat(std::string_view name);
const char* FormatName(Format format);

// A webhook URL taken apart far enough to decide whether it may be used and
// what of it may be shown.
struct WebhookUrl {
  std::string scheme;     // "https" or "http", lower case
  std::string host;       // "hooks.slack.com", "127.0.0.1", "::1" (no brackets)
  std::string authority;  // host[:port] as written, brackets kept
  bool has_path = false;  // anything after the authority (path or query)
};

// Parses `url`: http(s) only, a host, no userinfo, no whitespace or control
// characters, and http:// only for a loopback host (127.0.0.1, [::1],
// localhost). On refusal returns nullopt and sets `*why` to a message that
// shows at most scheme://host/… (the path of a Slack or Teams URL is its
// secret).
std::optional<WebhookUrl> ParseWebhookUrl(std::string_view url, std::string* why);

// scheme://authority/… (or scheme://authority when there is no path): the
// only form of the URL that goes into a log line, an error or a check.
std::string RedactedUrl(const WebhookUrl& url);

// `text` cut to at most `max_chars` Unicode characters, on a character
// boundary; a cut text ends in "…" (which counts as one). Text that fits is
// returned unchanged.
std::string TruncateUtf8(std::string_view text, size_t max_chars);

// Slack's Block Kit limits (characters).
inline constexpr size_t kSlackHeaderMaxChars = 150;
inline constexpr size_t kSlackSectionMaxChars = 3000;

// "<onboarding id>.notify": the same on every attempt of one onboarding's
// notify step, so a receiver can de-duplicate retried deliveries.
std::string DeliveryId(const plugins::Fields& fields);

// The JSON body of `format` for one notification (see webhook_notifier.cc),
// its keys in the documented order. Slack's mrkdwn section has &, < and >
// escaped (Slack reads <...> as a link or a mention) before it is cut to
// Slack's limit; the header is plain text and only cut.
nlohmann::ordered_json BuildPayload(Format format, const plugins::Fields& fields,
                                    const plugins::RenderedMessage& message);

// "v1=" + lower-case hex HMAC-SHA256(secret, timestamp + "." + body).
std::string Signature(std::string_view secret, std::string_view timestamp, std::string_view body);

}  // namespace guestflow::webhook
