#include "server/model/guest_validation.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/model/iso3166.h"

namespace guestflow {
namespace {

constexpr char32_t kInvalidUtf8 = 0xFFFFFFFF;

// Decodes the code point at `*pos` and advances past it. Malformed input
// (overlong forms, surrogates, truncation, > U+10FFFF) yields kInvalidUtf8 and
// advances one byte, so callers can both detect and display bad bytes.
char32_t NextCodePoint(absl::string_view s, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(*pos);
  size_t len;
  char32_t cp;
  char32_t min;
  if (b0 < 0x80) {
    ++*pos;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++*pos;
    return kInvalidUtf8;
  }
  if (*pos + len > s.size()) {
    ++*pos;
    return kInvalidUtf8;
  }
  for (size_t i = 1; i < len; ++i) {
    const unsigned char b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) {
      ++*pos;
      return kInvalidUtf8;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*pos;
    return kInvalidUtf8;
  }
  *pos += len;
  return cp;
}

// Characters that change how text is read without being visible: C0/C1
// controls, DEL, the Unicode line/paragraph separators and the bidirectional
// overrides (which can make a name display as something else).
bool IsControl(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string Hex(uint32_t v, int digits) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out(digits, '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[i] = kDigits[v & 0xF];
  return out;
}

std::string CodePointName(char32_t cp) { return absl::StrCat("U+", Hex(cp, 4)); }

// The value as it can be shown in a message: quoted, with control characters
// and bad bytes escaped and long values cut, so that a message never carries
// a line break or a 2,000-character paste.
std::string Quote(absl::string_view value) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  size_t pos = 0;
  size_t shown = 0;
  while (pos < value.size()) {
    if (shown == kMaxShown) {
      out += "...";
      break;
    }
    const size_t start = pos;
    const char32_t cp = NextCodePoint(value, &pos);
    ++shown;
    if (cp == kInvalidUtf8) {
      absl::StrAppend(&out, "\\x", Hex(static_cast<unsigned char>(value[start]), 2));
    } else if (cp == '"' || cp == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, static_cast<char>(cp)));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (IsControl(cp)) {
      absl::StrAppend(&out, "\\u", Hex(cp, 4));
    } else {
      out.append(value.data() + start, pos - start);
    }
  }
  out += "\"";
  return out;
}

std::string Field(absl::string_view field, absl::string_view message) {
  return absl::StrCat(field, ": ", message);
}

struct TextRule {
  size_t max_chars;
  bool required;
  bool allow_line_breaks;
  bool allow_outer_spaces;
  absl::string_view what;  // for "required" messages: "the guest's given name"
};

// The problem with a free-text field, or nullopt.
std::optional<std::string> CheckText(absl::string_view value, absl::string_view field,
                                     const TextRule& rule) {
  if (value.empty()) {
    if (!rule.required) return std::nullopt;
    return Field(field, absl::StrCat("required (", rule.what, ")"));
  }
  size_t chars = 0;
  bool blank = true;
  size_t pos = 0;
  while (pos < value.size()) {
    const char32_t cp = NextCodePoint(value, &pos);
    ++chars;
    if (cp == kInvalidUtf8) {
      return Field(field, absl::StrCat(Quote(value), " is not valid UTF-8 (bad byte at position ",
                                       pos, ")"));
    }
    const bool line_break = cp == '\n' || cp == '\r' || cp == '\t';
    if (IsControl(cp) && !(rule.allow_line_breaks && line_break)) {
      return Field(field, absl::StrCat(Quote(value), " contains the control character ",
                                       CodePointName(cp), " at character ", chars, "; remove it"));
    }
    if (cp != ' ' && !line_break) blank = false;
  }
  if (blank && rule.required) {
    return Field(field, absl::StrCat("is blank; ", rule.what, " is required"));
  }
  if (chars > rule.max_chars) {
    return Field(field, absl::StrCat(Quote(value), " is ", chars, " characters long; at most ",
                                     rule.max_chars, " are allowed"));
  }
  if (!rule.allow_outer_spaces &&
      (absl::ascii_isspace(value.front()) || absl::ascii_isspace(value.back()))) {
    return Field(field, absl::StrCat(Quote(value), " has leading or trailing spaces"));
  }
  return std::nullopt;
}

absl::Status Collect(const std::vector<std::string>& problems) {
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

// Graph's list of characters not permitted in invitedUserEmailAddress
// (microsoft-apis.md, section B).
constexpr absl::string_view kEmailForbidden = "~!#$%^&*()+=[]{}\\/|;:\"<>?,";

std::optional<std::string> CheckDomain(absl::string_view email, absl::string_view domain,
                                       absl::string_view field) {
  const auto bad = [&](absl::string_view why) {
    return Field(field, absl::StrCat(Quote(email), ": ", why,
                                     "; expected an address like name@example.com"));
  };
  if (domain.empty()) return bad("the domain after \"@\" is missing");
  if (domain.size() > kMaxEmailDomainLength) {
    return bad(absl::StrCat("the domain is ", domain.size(), " characters long; at most ",
                            kMaxEmailDomainLength, " are allowed"));
  }
  if (!absl::StrContains(domain, '.')) {
    return bad(absl::StrCat("the domain ", Quote(domain), " has no dot"));
  }
  absl::string_view last_label;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == absl::string_view::npos) end = domain.size();
    const absl::string_view label = domain.substr(start, end - start);
    if (label.empty()) {
      return bad(absl::StrCat("the domain ", Quote(domain),
                              " has an empty part (a leading, trailing or doubled dot)"));
    }
    if (label.size() > 63) {
      return bad(absl::StrCat("the domain part ", Quote(label), " is ", label.size(),
                              " characters long; at most 63 are allowed"));
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-') {
        return bad(absl::StrCat("the domain ", Quote(domain), " contains ",
                                Quote(absl::string_view(&c, 1)),
                                "; only letters, digits, \"-\" and \".\" are allowed"));
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad(absl::StrCat("the domain part ", Quote(label), " starts or ends with \"-\""));
    }
    last_label = label;
    start = end + 1;
  }
  bool all_digits = true;
  for (char c : last_label) all_digits = all_digits && absl::ascii_isdigit(c);
  if (all_digits) return bad("the domain must be a name, not an IP address");
  return std::nullopt;
}

std::optional<std::string> CheckEmail(absl::string_view email, absl::string_view field) {
  if (email.empty()) {
    return Field(field, "required; expected an address like name@example.com");
  }
  if (email.size() > kMaxEmailLength) {
    return Field(field,
                 absl::StrCat(Quote(email), " is ", email.size(), " characters long; at most ",
                              kMaxEmailLength, " are allowed"));
  }
  for (size_t i = 0; i < email.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(email[i]);
    if (c == ' ') {
      return Field(field, absl::StrCat(Quote(email), " contains a space"));
    }
    if (c < 0x20 || c == 0x7F) {
      return Field(field, absl::StrCat(Quote(email), " contains the control character ",
                                       CodePointName(c), "; remove it"));
    }
    if (c >= 0x80) {
      return Field(field, absl::StrCat(Quote(email),
                                       " contains a non-ASCII character; only ASCII addresses "
                                       "are accepted (write an internationalized domain in its "
                                       "xn-- form)"));
    }
  }
  const size_t at = email.rfind('@');
  if (at == absl::string_view::npos) {
    return Field(field, absl::StrCat(Quote(email),
                                     " has no \"@\"; expected an address like name@example.com"));
  }
  const absl::string_view local = email.substr(0, at);
  const absl::string_view domain = email.substr(at + 1);
  if (absl::StrContains(local, '@')) {
    return Field(field, absl::StrCat(Quote(email), " contains more than one \"@\""));
  }
  if (local.empty()) {
    return Field(field, absl::StrCat(Quote(email), " has nothing before \"@\""));
  }
  if (local.size() > kMaxEmailLocalPartLength) {
    return Field(field, absl::StrCat(Quote(email), ": the part before \"@\" is ", local.size(),
                                     " characters long; at most ", kMaxEmailLocalPartLength,
                                     " are allowed"));
  }
  for (char c : local) {
    if (absl::StrContains(kEmailForbidden, c)) {
      return Field(field, absl::StrCat(Quote(email), " contains ", Quote(absl::string_view(&c, 1)),
                                       " before \"@\", which Microsoft Graph does not accept in "
                                       "an invitation (not allowed: ~ ! # $ % ^ & * ( ) + = [ ] "
                                       "{ } \\ / | ; : \" < > ? ,)"));
    }
  }
  for (char c : {'.', '-'}) {
    if (local.front() == c || local.back() == c) {
      return Field(field, absl::StrCat(Quote(email), ": the part before \"@\" starts or ends with ",
                                       Quote(absl::string_view(&c, 1)),
                                       ", which Microsoft Graph does not accept"));
    }
  }
  if (absl::StrContains(local, "..")) {
    return Field(field, absl::StrCat(Quote(email), " has two dots in a row before \"@\""));
  }
  return CheckDomain(email, domain, field);
}

// Unassigned codes people often write for a country. Assigned codes that are
// commonly confused (GE Georgia for Germany) cannot be second-guessed, so
// only unassigned ones are listed.
struct Hint {
  absl::string_view code;
  absl::string_view text;
};
constexpr Hint kHints[] = {
    {"UK", "the United Kingdom is \"GB\""},
    {"EL", "Greece is \"GR\" (\"EL\" is the European Union's own abbreviation)"},
    {"EU", "the European Union is not a country; use the member state's code, such as \"DE\""},
    {"EN", "\"EN\" is the language code for English; use the country, such as \"GB\" or \"US\""},
    {"JA", "\"JA\" is the language code for Japanese; Japan is \"JP\""},
    {"ZH", "\"ZH\" is the language code for Chinese; China is \"CN\", Taiwan \"TW\""},
    {"KO", "\"KO\" is the language code for Korean; South Korea is \"KR\""},
    {"DA", "\"DA\" is the language code for Danish; Denmark is \"DK\""},
    {"CS", "Czechia is \"CZ\""},
    {"SP", "Spain is \"ES\""},
    {"SW", "Sweden is \"SE\", Switzerland \"CH\""},
};

constexpr absl::string_view kUsageLocationExpected =
    "expected two upper-case letters such as \"US\", \"GB\" or \"JP\"";

std::optional<std::string> CheckUsageLocation(absl::string_view code, absl::string_view field) {
  if (code.empty()) {
    return Field(
        field, absl::StrCat("required; an ISO 3166-1 alpha-2 country code (",
                            kUsageLocationExpected, "); a license cannot be assigned without it"));
  }
  if (FindIso3166Alpha2(code) != nullptr) return std::nullopt;
  const std::string upper = absl::AsciiStrToUpper(code);
  if (const Iso3166Country* c = FindIso3166Alpha2(upper); c != nullptr) {
    return Field(field, absl::StrCat(Quote(code), " must be upper case: \"", c->alpha2, "\" (",
                                     c->name, ")"));
  }
  for (const Hint& hint : kHints) {
    if (hint.code == upper) {
      return Field(field,
                   absl::StrCat(Quote(code), " is not an ISO 3166-1 alpha-2 code; ", hint.text));
    }
  }
  if (const Iso3166Country* c = FindIso3166Alpha3(upper); c != nullptr) {
    return Field(field, absl::StrCat(Quote(code),
                                     " is an ISO 3166-1 alpha-3 code; expected the alpha-2 code \"",
                                     c->alpha2, "\" (", c->name, ")"));
  }
  for (const Iso3166Country& c : Iso3166Countries()) {
    if (absl::EqualsIgnoreCase(c.name, code)) {
      return Field(field, absl::StrCat(Quote(code),
                                       " is a country name; expected its ISO 3166-1 alpha-2 "
                                       "code \"",
                                       c.alpha2, "\""));
    }
  }
  return Field(field, absl::StrCat(Quote(code), " is not an ISO 3166-1 alpha-2 country code; ",
                                   kUsageLocationExpected));
}

void CheckRoles(const std::vector<std::string>& roles, absl::string_view field,
                std::vector<std::string>* problems) {
  if (roles.size() > kMaxRoles) {
    problems->push_back(Field(
        field, absl::StrCat(roles.size(), " roles given; at most ", kMaxRoles, " are allowed")));
    return;
  }
  constexpr TextRule kRoleRule{kMaxRoleNameLength, /*required=*/true,
                               /*allow_line_breaks=*/false, /*allow_outer_spaces=*/false,
                               "a security role name"};
  absl::flat_hash_map<std::string, size_t> seen;  // lower-cased name -> index
  for (size_t i = 0; i < roles.size(); ++i) {
    const std::string element = absl::StrCat(field, "[", i, "]");
    if (std::optional<std::string> problem = CheckText(roles[i], element, kRoleRule)) {
      problems->push_back(*std::move(problem));
      continue;
    }
    auto [it, inserted] = seen.emplace(absl::AsciiStrToLower(roles[i]), i);
    if (!inserted) {
      problems->push_back(
          Field(element, absl::StrCat(Quote(roles[i]), " is listed twice (also ", field, "[",
                                      it->second, "]); role names are compared ignoring case")));
    }
  }
}

}  // namespace

bool IsIso3166Alpha2(absl::string_view code) { return FindIso3166Alpha2(code) != nullptr; }

absl::Status ValidateEmail(absl::string_view email, absl::string_view field) {
  std::optional<std::string> problem = CheckEmail(email, field);
  return problem ? absl::InvalidArgumentError(*problem) : absl::OkStatus();
}

absl::Status ValidateUsageLocation(absl::string_view code, absl::string_view field) {
  std::optional<std::string> problem = CheckUsageLocation(code, field);
  return problem ? absl::InvalidArgumentError(*problem) : absl::OkStatus();
}

absl::Status ValidateRoleNames(const std::vector<std::string>& roles, absl::string_view field) {
  std::vector<std::string> problems;
  CheckRoles(roles, field, &problems);
  return Collect(problems);
}

absl::Status ValidateInvitationMessage(absl::string_view message, absl::string_view field) {
  constexpr TextRule kRule{kMaxInvitationMessageLength, /*required=*/false,
                           /*allow_line_breaks=*/true, /*allow_outer_spaces=*/true, ""};
  std::optional<std::string> problem = CheckText(message, field, kRule);
  return problem ? absl::InvalidArgumentError(*problem) : absl::OkStatus();
}

absl::Status ValidateGuest(const Guest& guest) {
  constexpr TextRule kFirstName{kMaxNameLength, true, false, true, "the guest's first name"};
  constexpr TextRule kLastName{kMaxNameLength, true, false, true, "the guest's last name"};
  constexpr TextRule kDisplayName{kMaxDisplayNameLength, false, false, true, ""};
  std::vector<std::string> problems;
  for (std::optional<std::string> problem :
       {CheckEmail(guest.email, "guest.email"),
        CheckText(guest.first_name, "guest.first_name", kFirstName),
        CheckText(guest.last_name, "guest.last_name", kLastName),
        CheckText(guest.display_name, "guest.display_name", kDisplayName),
        CheckUsageLocation(guest.usage_location, "guest.usage_location")}) {
    if (problem) problems.push_back(*std::move(problem));
  }
  return Collect(problems);
}

absl::Status ValidateOptions(const OnboardingOptions& options) {
  std::vector<std::string> problems;
  CheckRoles(options.roles, "options.roles", &problems);
  if (absl::Status s = ValidateInvitationMessage(options.invitation_message); !s.ok()) {
    problems.emplace_back(s.message());
  }
  return Collect(problems);
}

}  // namespace guestflow
