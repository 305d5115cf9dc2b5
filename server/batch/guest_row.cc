#include "server/batch/guest_row.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/model/guest_validation.h"

namespace guestflow {
namespace {

enum Column {
  kEmail,
  kFirstName,
  kLastName,
  kDisplayName,
  kUsageLocation,
  kRoles,
  kTenant,
  kRedirectUrl,
  kSendEmail,
  kMessage,
  kNumColumns,
};

struct KnownName {
  absl::string_view name;
  Column column;
};
constexpr KnownName kKnownNames[] = {
    {"Email", kEmail},
    {"InvitedUserEmailAddress", kEmail},
    {"inviteeEmail", kEmail},
    {"FirstName", kFirstName},
    {"LastName", kLastName},
    {"DisplayName", kDisplayName},
    {"Name", kDisplayName},
    {"UsageLocation", kUsageLocation},
    {"Roles", kRoles},
    {"Tenant", kTenant},
    {"inviteRedirectURL", kRedirectUrl},
    {"sendEmail", kSendEmail},
    {"customizedMessageBody", kMessage},
};

// What a column holds, for "a second ... column".
constexpr absl::string_view kWhat[kNumColumns] = {
    "email", "first name", "last name",    "display name", "usage location",
    "roles", "tenant",     "redirect URL", "send-email",   "invitation message",
};

constexpr absl::string_view kKnownColumns =
    "Email (or InvitedUserEmailAddress, inviteeEmail), FirstName, LastName, DisplayName (or "
    "Name), UsageLocation, Roles, Tenant, inviteRedirectURL, sendEmail, customizedMessageBody "
    "(names ignore case)";

absl::string_view Trim(absl::string_view s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == absl::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// A header or value as it can be shown in a message: quoted, control bytes
// escaped, long text cut at a character boundary.
std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  size_t end = std::min(s.size(), kMaxShown);
  while (end < s.size() && end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  for (char c : s.substr(0, end)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7F) {
      absl::StrAppend(&out, absl::StrFormat("\\x%02X", u));
    } else {
      out.push_back(c);
    }
  }
  if (end < s.size()) out += "...";
  out += "\"";
  return out;
}

// The column a header names: the first bracketed name of a portal template
// header (`Email address to invite [inviteeEmail] Required`), else the whole
// header.
absl::string_view ColumnName(absl::string_view header) {
  const size_t open = header.find('[');
  if (open != absl::string_view::npos) {
    const size_t close = header.find(']', open + 1);
    if (close != absl::string_view::npos) return Trim(header.substr(open + 1, close - open - 1));
  }
  return Trim(header);
}

std::optional<Column> FindColumn(absl::string_view name) {
  for (const KnownName& known : kKnownNames) {
    if (absl::EqualsIgnoreCase(known.name, name)) return known.column;
  }
  return std::nullopt;
}

// The validators' messages are "<field>: <reason>", one per line; a row
// error names the column apart, so the field goes.
std::string WithoutField(absl::string_view line, absl::string_view field) {
  const std::string prefix = absl::StrCat(field, ": ");
  if (absl::StartsWith(line, prefix)) line.remove_prefix(prefix.size());
  return std::string(line);
}

// Graph takes inviteRedirectUrl as a plain string; the portal insists on an
// absolute URL, and anything else would only fail later, at invitation time,
// after the guest's row was accepted.
std::optional<std::string> CheckRedirectUrl(absl::string_view url) {
  constexpr absl::string_view kExpected =
      "expected an absolute http(s) URL such as https://myapps.microsoft.com";
  for (char c : url) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return absl::StrCat(Quote(url),
                          " contains a space, a control character or a non-ASCII character "
                          "(percent-encode it); ",
                          kExpected);
    }
  }
  const size_t scheme_end = url.find("://");
  const absl::string_view scheme =
      scheme_end == absl::string_view::npos ? absl::string_view() : url.substr(0, scheme_end);
  if (!absl::EqualsIgnoreCase(scheme, "http") && !absl::EqualsIgnoreCase(scheme, "https")) {
    return absl::StrCat(Quote(url), " is not an http(s) URL; ", kExpected);
  }
  const absl::string_view rest = url.substr(scheme_end + 3);
  const absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return absl::StrCat(Quote(url), " has no host; ", kExpected);
  if (absl::StrContains(authority, '@')) {
    return absl::StrCat(Quote(url), " contains a user name or password; ", kExpected);
  }
  return std::nullopt;
}

}  // namespace

std::string RowError::ToString() const {
  if (column.empty()) return absl::StrCat("line ", line, ": ", reason);
  return absl::StrCat("line ", line, ", column ", column, ": ", reason);
}

absl::StatusOr<GuestRowMapper> GuestRowMapper::FromHeader(const CsvRecord& header) {
  static_assert(kColumnCount == kNumColumns);
  GuestRowMapper mapper;
  mapper.index_.fill(kAbsent);
  std::vector<std::string> problems;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    const std::string written(Trim(header.fields[i]));
    mapper.headers_.push_back(written);
    const std::string where =
        absl::StrCat("line ", header.line, ", column ", i + 1, " ", Quote(written), ": ");
    const absl::string_view name = ColumnName(written);
    if (name.empty()) {
      problems.push_back(absl::StrCat(where, "the column has no name; remove it or name it (",
                                      kKnownColumns, ")"));
      continue;
    }
    const std::optional<Column> column = FindColumn(name);
    if (!column) {
      problems.push_back(
          absl::StrCat(where, "unknown column; the known columns are ", kKnownColumns));
      continue;
    }
    const int first = mapper.index_[*column];
    if (first != kAbsent) {
      problems.push_back(absl::StrCat(where, "a second ", kWhat[*column], " column (column ",
                                      first + 1, " ", Quote(mapper.headers_[first]),
                                      " is one already); keep one"));
      continue;
    }
    mapper.index_[*column] = static_cast<int>(i);
  }
  if (mapper.index_[kEmail] == kAbsent) {
    problems.push_back(absl::StrCat("line ", header.line,
                                    ": no email column; name one Email, InvitedUserEmailAddress or "
                                    "inviteeEmail"));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return mapper;
}

bool GuestRowMapper::IsPortalVersionLine(const CsvRecord& record) {
  if (record.fields.empty() || !absl::EqualsIgnoreCase(Trim(record.fields[0]), "version:v1.0")) {
    return false;
  }
  return std::all_of(record.fields.begin() + 1, record.fields.end(),
                     [](const std::string& f) { return Trim(f).empty(); });
}

bool GuestRowMapper::IsBlankRecord(const CsvRecord& record) {
  return std::all_of(record.fields.begin(), record.fields.end(),
                     [](const std::string& f) { return Trim(f).empty(); });
}

std::variant<GuestRow, std::vector<RowError>> GuestRowMapper::Map(const CsvRecord& record) const {
  if (record.fields.size() != headers_.size()) {
    return std::vector<RowError>{
        RowError{record.line, "",
                 absl::StrCat("expected ", headers_.size(), " fields, got ", record.fields.size(),
                              record.fields.size() > headers_.size()
                                  ? " (a value that holds a comma must be in quotes)"
                                  : "")}};
  }
  const auto has = [&](Column c) { return index_[c] != kAbsent; };
  const auto value = [&](Column c) {
    return has(c) ? std::string(Trim(record.fields[index_[c]])) : std::string();
  };
  const auto header = [&](Column c) { return has(c) ? headers_[index_[c]] : std::string(); };

  // Problems sort by field; those of absent columns come after every field,
  // in the guest's field order.
  struct Problem {
    size_t order;
    RowError error;
  };
  std::vector<Problem> problems;
  const auto report = [&](Column c, std::string reason) {
    problems.push_back(Problem{has(c) ? static_cast<size_t>(index_[c]) : headers_.size() + c,
                               RowError{record.line, header(c), std::move(reason)}});
  };

  GuestRow row;
  row.line = record.line;
  Guest& guest = row.guest;
  guest.email = value(kEmail);
  guest.display_name = value(kDisplayName);
  guest.usage_location = value(kUsageLocation);
  if (guest.usage_location.empty()) guest.usage_location = default_usage_location_;
  // A name column the file lacks is taken from the display name (see the
  // header); the problems of a name taken so go to the display name's column.
  const bool derive_first = !has(kFirstName) && has(kDisplayName);
  const bool derive_last = !has(kLastName) && has(kDisplayName);
  if (derive_first || derive_last) {
    const absl::string_view display = guest.display_name;
    const size_t space = display.rfind(' ');
    const absl::string_view first =
        space == absl::string_view::npos ? display : Trim(display.substr(0, space));
    const absl::string_view last =
        space == absl::string_view::npos ? display : display.substr(space + 1);
    guest.first_name = derive_first ? std::string(first) : value(kFirstName);
    guest.last_name = derive_last ? std::string(last) : value(kLastName);
  } else {
    guest.first_name = value(kFirstName);
    guest.last_name = value(kLastName);
  }

  std::string display_problem;
  std::string first_problem;
  std::string last_problem;
  if (absl::Status s = ValidateGuest(guest); !s.ok()) {
    for (absl::string_view line : absl::StrSplit(s.message(), '\n')) {
      if (absl::StartsWith(line, "guest.email: ")) {
        report(kEmail, WithoutField(line, "guest.email"));
      } else if (absl::StartsWith(line, "guest.first_name: ")) {
        first_problem = WithoutField(line, "guest.first_name");
      } else if (absl::StartsWith(line, "guest.last_name: ")) {
        last_problem = WithoutField(line, "guest.last_name");
      } else if (absl::StartsWith(line, "guest.display_name: ")) {
        display_problem = WithoutField(line, "guest.display_name");
      } else if (absl::StartsWith(line, "guest.usage_location: ")) {
        std::string reason = WithoutField(line, "guest.usage_location");
        if (!has(kUsageLocation)) {
          reason = absl::StrCat(
              "the file has no UsageLocation column (add one, or give the batch a "
              "default usage location); ",
              reason);
        }
        report(kUsageLocation, std::move(reason));
      } else {
        problems.push_back(
            Problem{headers_.size() + kNumColumns, RowError{record.line, "", std::string(line)}});
      }
    }
  }
  const bool display_is_bad = !display_problem.empty();
  if (display_is_bad) report(kDisplayName, std::move(display_problem));
  if (guest.display_name.empty() && (derive_first || derive_last)) {
    // One problem, not one per derived name.
    report(kDisplayName, absl::StrCat("required (the guest's name; ",
                                      derive_first && derive_last ? "first and last names are"
                                      : derive_first              ? "the first name is"
                                                                  : "the last name is",
                                      " taken from it)"));
    if (derive_first) first_problem.clear();
    if (derive_last) last_problem.clear();
  }
  const auto report_name = [&](Column column, bool derived, absl::string_view what,
                               std::string problem) {
    if (problem.empty()) return;
    if (!derived) {
      if (!has(column)) {
        problem =
            absl::StrCat("the file has no ", column == kFirstName ? "FirstName" : "LastName",
                         " column (nor a Name or DisplayName column to take it from); ", problem);
      }
      report(column, std::move(problem));
    } else if (!display_is_bad) {
      // A bad display name already explains its parts.
      report(kDisplayName, absl::StrCat("the ", what, " taken from it: ", problem));
    }
  };
  report_name(kFirstName, derive_first, "first name", std::move(first_problem));
  report_name(kLastName, derive_last, "last name", std::move(last_problem));

  for (absl::string_view role : absl::StrSplit(value(kRoles), ';')) {
    role = Trim(role);
    if (!role.empty()) row.roles.emplace_back(role);
  }
  if (absl::Status s = ValidateRoleNames(row.roles, header(kRoles)); !s.ok()) {
    std::vector<std::string> reasons;
    for (absl::string_view line : absl::StrSplit(s.message(), '\n')) {
      reasons.push_back(WithoutField(line, header(kRoles)));
    }
    report(kRoles, absl::StrJoin(reasons, "; "));
  }

  row.tenant = value(kTenant);

  row.redirect_url = value(kRedirectUrl);
  if (!row.redirect_url.empty()) {
    if (std::optional<std::string> problem = CheckRedirectUrl(row.redirect_url)) {
      report(kRedirectUrl, *std::move(problem));
    }
  }

  if (const std::string send = value(kSendEmail); !send.empty()) {
    if (absl::EqualsIgnoreCase(send, "true")) {
      row.send_invitation_message = true;
    } else if (absl::EqualsIgnoreCase(send, "false")) {
      row.send_invitation_message = false;
    } else {
      report(kSendEmail, absl::StrCat(Quote(send), " is neither true nor false"));
    }
  }

  row.invitation_message = value(kMessage);
  if (absl::Status s = ValidateInvitationMessage(row.invitation_message, header(kMessage));
      !s.ok()) {
    report(kMessage, WithoutField(s.message(), header(kMessage)));
  }

  if (problems.empty()) return row;
  std::stable_sort(problems.begin(), problems.end(),
                   [](const Problem& a, const Problem& b) { return a.order < b.order; });
  std::vector<RowError> errors;
  errors.reserve(problems.size());
  for (Problem& p : problems) errors.push_back(std::move(p.error));
  return errors;
}

std::string GuestRowMapper::EmailOf(const CsvRecord& record) const {
  const int index = index_[kEmail];
  if (index == kAbsent || static_cast<size_t>(index) >= record.fields.size()) return "";
  return std::string(Trim(record.fields[index]));
}

}  // namespace guestflow
