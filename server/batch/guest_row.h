// The mapping of bulk-import CSV records (csv_reader.h) to guests.
//
// Columns. Header names are compared ignoring ASCII case and surrounding
// spaces. When a header holds a bracketed name, as the Azure portal's
// template does (`Email address to invite [inviteeEmail] Required`), the
// name in the first pair of brackets is the column's name. Known columns:
//   email                 Email, InvitedUserEmailAddress (Microsoft's
//                         PowerShell sample) or inviteeEmail (the portal
//                         template); exactly one of them is required
//   display name          DisplayName or Name (the PowerShell sample); at
//                         most one of them
//   FirstName, LastName   the guest's names. A missing column is taken from
//                         the display name, split at its last space: "Mary
//                         Ann Smith" gives first name "Mary Ann" and last
//                         name "Smith"; a single word is both names. Only a
//                         missing column is derived: an empty cell in a
//                         present FirstName column is an error.
//   UsageLocation         ISO 3166-1 alpha-2 code; required for every row
//                         (a file without the column fails every row)
//   Roles                 security role names separated by ";"; empty items
//                         are dropped ("Sales;;Support;" is two roles); no
//                         roles means the batch's default roles
//   Tenant                the tenant's id; empty means the batch's tenant.
//                         Not checked here: the caller knows the tenants
//   inviteRedirectURL     an absolute http(s) URL; optional
//   sendEmail             true or false (any case); empty means unset
//   customizedMessageBody the invitation message
// Any other column, an unnamed one, or a column given twice (under the same
// name or two of its aliases) is refused by FromHeader().
//
// Values. Spaces and tabs around every value are removed, whether the value
// was quoted or not (no column's value means anything with them, and
// hand-written files often have `a@b.com, GB`); line breaks are kept. Each
// row is then checked with the API's own validators (guest_validation.h), so
// a row is refused for the same reasons, in the same words, as a
// StartOnboarding request would be.
//
// Thread safety: a GuestRowMapper is immutable after FromHeader(); Map() is
// safe to call from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "server/batch/csv_reader.h"
#include "server/model/onboarding.h"

namespace guestflow {

// One valid data row.
struct GuestRow {
  int64_t line = 0;                // the record's first line in the file
  Guest guest;                     // email, first_name, last_name, display_name, usage_location
  std::string tenant;              // "" = the batch's default tenant
  std::vector<std::string> roles;  // "" items dropped; empty = the defaults
  std::optional<bool> send_invitation_message;  // portal sendEmail
  std::string invitation_message;               // portal customizedMessageBody
  std::string redirect_url;                     // portal inviteRedirectURL, "" when absent
};

// One problem with one field of a data row.
struct RowError {
  int64_t line = 0;
  std::string column;  // the header as written (trimmed), or "" for the whole row
                       // or for a required column the file lacks
  std::string reason;

  // "line 12, column UsageLocation: \"UK\" is not an ISO 3166-1 alpha-2 code;
  // the United Kingdom is \"GB\"", or "line 12: <reason>" without a column.
  std::string ToString() const;

  friend bool operator==(const RowError&, const RowError&) = default;
};

class GuestRowMapper {
 public:
  // From the header record. Errors: INVALID_ARGUMENT listing every problem,
  // one per line ("\n"-separated), each naming the header line, the column
  // number and the header as written: no email column, an unknown or unnamed
  // column (the message lists the known ones), a column given twice.
  static absl::StatusOr<GuestRowMapper> FromHeader(const CsvRecord& header);

  // True when `record` is the Azure portal template's first line
  // "version:v1.0" (empty trailing fields allowed, as spreadsheets pad the
  // line with commas). The caller skips it and reads the header next.
  static bool IsPortalVersionLine(const CsvRecord& record);

  // True when every field is empty or only spaces and tabs, as in the ",,,"
  // lines spreadsheets leave below the data. The caller may skip them rather
  // than report a row without an email.
  static bool IsBlankRecord(const CsvRecord& record);

  // A data record: the row, or every problem of the row, one RowError per bad
  // field, in column order (problems of required columns the file lacks come
  // last). A record with another number of fields than the header gives one
  // RowError, "expected N fields, got M", without a column.
  std::variant<GuestRow, std::vector<RowError>> Map(const CsvRecord& record) const;

  // The usage location of rows whose UsageLocation is empty, or of every row
  // when the file has no such column (Microsoft's PowerShell sample has
  // none). "" (the default): such rows are refused.
  void set_default_usage_location(std::string code) { default_usage_location_ = std::move(code); }

  // The record's email field, trimmed, as written (valid or not), or "" when
  // the record is too short to have one: what a report names a refused row
  // by.
  std::string EmailOf(const CsvRecord& record) const;

  // The number of fields every data record must have.
  size_t field_count() const { return headers_.size(); }

 private:
  // Columns are numbered by an enum private to guest_row.cc.
  static constexpr size_t kColumnCount = 10;
  static constexpr int kAbsent = -1;

  GuestRowMapper() = default;

  std::vector<std::string> headers_;  // as written, trimmed
  std::string default_usage_location_;
  std::array<int, kColumnCount> index_{};  // each column's field index, or kAbsent
};

}  // namespace guestflow
