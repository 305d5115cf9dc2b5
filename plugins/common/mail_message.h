// An RFC 5322 Internet message with a UTF-8 text/plain body and, when there
// is one, a text/html alternative (RFC 2046 multipart/alternative), built so
// that whatever the fields hold no header can be injected: header texts lose
// their control characters, addresses must be plain ASCII addr-specs,
// non-ASCII phrases become RFC 2047 encoded-words, every line ends in CRLF and
// none is longer than 998 octets. Standard library only. Shared by the
// outbox and SMTP notifiers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace guestflow::plugins {

struct Mailbox {
  std::string display_name;  // any UTF-8; may be empty
  std::string address;       // an ASCII addr-spec (local@domain)
};

struct MailMessage {
  Mailbox from;
  Mailbox to;
  std::string subject;     // any UTF-8
  std::string date;        // an RFC 5322 date-time, see Rfc5322Date
  std::string message_id;  // with its angle brackets: <left@right>
  std::string body;        // UTF-8 text; any line ending
  std::string html_body;   // UTF-8 HTML; empty: a text/plain message only
};

// True for an ASCII addr-spec without spaces, controls, quotes or brackets:
// exactly one '@', a non-empty local part and a domain with a dot or
// "localhost".
bool IsValidAddress(std::string_view address);

// "Thu, 01 Jan 2026 00:00:00 +0000" for a Unix time in milliseconds (UTC).
// Locale-independent.
std::string Rfc5322Date(int64_t unix_ms);

// `text` with every CR, LF and other control character replaced by a space
// and runs of spaces collapsed, trimmed: what a header can safely carry.
std::string SingleLine(std::string_view text);

// `id` spelled with only letters, digits, '-', '_' and '.', every other byte
// written as "=XX" (upper-case hex): injective, so two onboarding ids never
// share a spelling. A '.' that starts or ends the id or follows another '.'
// is escaped too: no hidden file, no "..", and a valid Message-ID dot-atom.
std::string EscapeId(std::string_view id);

// The whole message, CRLF line endings. Each part is sent 8bit when every line
// fits in 998 octets, quoted-printable otherwise. With an HTML body the
// message is multipart/alternative, text first; the boundary is derived from
// the Message-ID and checked against both parts, so the same message is the
// same bytes every time it is built.
std::string BuildMessage(const MailMessage& message);

// The addr-spec's domain ("contoso.com" for "a@contoso.com"), or "".
std::string DomainOf(std::string_view address);

// Parses "Name <addr>" or a bare "addr". nullopt when the address is invalid
// or the text has control characters.
std::optional<Mailbox> ParseMailbox(std::string_view text);

}  // namespace guestflow::plugins
