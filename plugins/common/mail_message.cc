#include "common/mail_message.h"

#include <algorithm>
#include <ctime>
#include <vector>

namespace guestflow::plugins {
namespace {

constexpr size_t kMaxLine = 998;   // RFC 5322 2.1.1: MUST
constexpr size_t kFoldWidth = 76;  // RFC 2047 section 2: lines with encoded-words
constexpr char kCrlf[] = "\r\n";
constexpr char kHex[] = "0123456789ABCDEF";

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool IsAlnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext (besides letters and digits).
bool IsAtext(unsigned char c) {
  return IsAlnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
                           std::string_view::npos;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Where the UTF-8 character that contains byte `i` starts.
size_t CharStart(std::string_view s, size_t i) {
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

// RFC 2047 "B" encoded-words for `text`, each holding whole UTF-8
// characters (2047 section 5), joined by `separator`. 30 bytes make a
// 52-character word, so that "Subject: " and a word, or a folded line of
// words, stay within the 76 characters a line with encoded-words may have.
std::string EncodedWords(std::string_view text, std::string_view separator) {
  constexpr size_t kChunk = 30;
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.size(), pos + kChunk);
    if (end < text.size()) {
      const size_t start = CharStart(text, end);
      if (start > pos) end = start;  // never split a character, unless it is malformed
    }
    if (!out.empty()) out += separator;
    out += "=?UTF-8?B?";
    out += Base64(text.substr(pos, end - pos));
    out += "?=";
    pos = end;
  }
  return out;
}

// A header field "Name: value" folded at spaces to 76 columns. `value`
// is one line of ASCII; words longer than a line are left whole (they are
// below 998 octets: callers encode anything longer).
std::string FoldedHeader(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ":";
  size_t column = out.size();
  size_t pos = 0;
  while (pos < value.size()) {
    size_t end = value.find(' ', pos);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view word = value.substr(pos, end - pos);
    if (column + 1 + word.size() > kFoldWidth && column > name.size() + 1) {
      out += kCrlf;
      column = 0;
    }
    out += ' ';
    out += word;
    column += 1 + word.size();
    pos = end + 1;
  }
  out += kCrlf;
  return out;
}

// An unstructured header text (Subject): plain when it is ASCII with short
// words, encoded-words otherwise.
std::string UnstructuredHeader(std::string_view name, std::string_view text) {
  const std::string clean = SingleLine(text);
  bool plain = IsAscii(clean);
  size_t word = 0;
  for (char c : clean) {
    word = c == ' ' ? 0 : word + 1;
    if (word > kMaxLine / 2) plain = false;
  }
  // A literal "=?" could be read back as an encoded-word: encode it instead.
  if (clean.find("=?") != std::string::npos) plain = false;
  if (plain) return FoldedHeader(name, clean);
  return FoldedHeader(name, EncodedWords(clean, " "));
}

// A display-name phrase: atoms as they are, other ASCII quoted, anything
// else encoded-words.
std::string Phrase(std::string_view raw) {
  std::string name = SingleLine(raw);
  if (!IsAscii(name) || name.size() > kMaxLine / 2 || name.find("=?") != std::string::npos) {
    return EncodedWords(name, " ");
  }
  const bool atoms = std::all_of(name.begin(), name.end(), [](char c) {
    return c == ' ' || IsAtext(static_cast<unsigned char>(c));
  });
  if (atoms) return name;
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string MailboxText(const Mailbox& m) {
  const std::string phrase = Phrase(m.display_name);
  if (phrase.empty()) return m.address;
  return phrase + " <" + m.address + ">";
}

// The body's lines, without their endings; CR, LF and CRLF all end a line.
std::vector<std::string> Lines(std::string_view body) {
  std::vector<std::string> lines;
  std::string line;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\r' || c == '\n') {
      lines.push_back(std::move(line));
      line.clear();
      if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

// RFC 2045 6.7 quoted-printable of one line, soft-broken at 76 characters.
std::string QuotedPrintableLine(std::string_view line) {
  std::string out;
  size_t column = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    std::string piece;
    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
      piece = std::string(1, static_cast<char>(c));
    } else {
      piece = {'=', kHex[c >> 4], kHex[c & 15]};
    }
    if (column + piece.size() > 75) {  // room for the soft break's '='
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  }
  return out;
}

// One MIME entity: its Content-Type and Content-Transfer-Encoding headers, a
// blank line, and the body, 8bit when every line fits in 998 octets and
// quoted-printable otherwise; CRLF line endings.
std::string Part(std::string_view type, std::string_view body) {
  std::vector<std::string> lines = Lines(body);
  const bool eight_bit = std::all_of(lines.begin(), lines.end(),
                                     [](const std::string& l) { return l.size() <= kMaxLine; });
  std::string out = "Content-Type: " + std::string(type) + "; charset=UTF-8\r\n";
  out += eight_bit ? "Content-Transfer-Encoding: 8bit\r\n"
                   : "Content-Transfer-Encoding: quoted-printable\r\n";
  out += kCrlf;
  for (const std::string& line : lines) {
    out += eight_bit ? line : QuotedPrintableLine(line);
    out += kCrlf;
  }
  return out;
}

// FNV-1a: a stable hash for the boundary (not for security).
uint64_t Fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 14695981039346656037ULL ^ seed;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// A multipart boundary derived from the Message-ID, that occurs in neither
// part (RFC 2046 5.1.1): the same message always gets the same boundary.
std::string Boundary(const MailMessage& message) {
  for (uint64_t seed = 0;; ++seed) {
    const uint64_t h = Fnv1a(message.message_id, seed);
    std::string boundary = "=_guestflow_";
    for (int shift = 60; shift >= 0; shift -= 4) boundary += kHex[(h >> shift) & 15];
    if (message.body.find(boundary) == std::string::npos &&
        message.html_body.find(boundary) == std::string::npos) {
      return boundary;
    }
  }
}

}  // namespace

bool IsValidAddress(std::string_view address) {
  const size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= address.size() ||
      address.find('@', at + 1) != std::string_view::npos || address.size() > 254) {
    return false;
  }
  for (char ch : address) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!(IsAtext(c) || c == '.' || c == '@')) return false;
  }
  const std::string_view domain = address.substr(at + 1);
  if (domain.front() == '.' || domain.back() == '.' || address.front() == '.' ||
      address[at - 1] == '.' || address.find("..") != std::string_view::npos) {
    return false;
  }
  return domain.find('.') != std::string_view::npos || domain == "localhost";
}

std::string Rfc5322Date(int64_t unix_ms) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const time_t seconds =
      static_cast<time_t>(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buffer;
}

std::string SingleLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    const bool space = c < 0x20 || c == 0x7f || c == ' ';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string EscapeId(std::string_view id) {
  std::string out;
  for (size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    // A dot may neither start nor end the id, nor follow another: the
    // result is a file name that is never hidden or "..", and a dot-atom.
    const bool plain_dot = c == '.' && i > 0 && i + 1 < id.size() && id[i - 1] != '.';
    if (IsAlnum(c) || c == '-' || c == '_' || plain_dot) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<Mailbox> ParseMailbox(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  }
  Mailbox m;
  const size_t open = text.rfind('<');
  if (open != std::string_view::npos) {
    if (text.empty() || text.back() != '>') return std::nullopt;
    m.address = std::string(text.substr(open + 1, text.size() - open - 2));
    std::string name = SingleLine(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    m.display_name = name;
  } else {
    m.address = SingleLine(text);
  }
  if (!IsValidAddress(m.address)) return std::nullopt;
  return m;
}

std::string DomainOf(std::string_view address) {
  const size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

std::string BuildMessage(const MailMessage& message) {
  std::string out;
  out += FoldedHeader("From", MailboxText(message.from));
  out += FoldedHeader("To", MailboxText(message.to));
  out += UnstructuredHeader("Subject", message.subject);
  out += FoldedHeader("Date", SingleLine(message.date));
  out += FoldedHeader("Message-ID", SingleLine(message.message_id));
  out += "MIME-Version: 1.0\r\n";
  if (message.html_body.empty()) {
    out += Part("text/plain", message.body);
    return out;
  }
  const std::string boundary = Boundary(message);
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n";
  out += kCrlf;
  out += "This is a multi-part message in MIME format.\r\n";
  out += "\r\n--" + boundary + "\r\n";
  out += Part("text/plain", message.body);
  out += "\r\n--" + boundary + "\r\n";
  out += Part("text/html", message.html_body);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace guestflow::plugins
