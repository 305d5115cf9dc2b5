// The emulated Microsoft Graph v1.0 directory (graph.microsoft.com), as
// /work/shared/reference/microsoft-apis.md sections B, C, E and G describe it:
//   POST  /v1.0/invitations
//   GET   /v1.0/users?$filter=...&$select=...
//   GET   /v1.0/users/{id | userPrincipalName}?$select=...
//   PATCH /v1.0/users/{id | userPrincipalName}
//   GET   /v1.0/groups/{id}
//   POST  /v1.0/groups/{id}/members/$ref
//   POST  /v1.0/users/{id | userPrincipalName}/sendMail
//   GET   /_emulator/mail          the messages sendMail accepted (tests)
// plus the license routes of graph_license_routes.cc. Every Graph route wants
// a bearer token of audience "graph"; the tenant is the token's.
#include <algorithm>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "emulator/graph_license_routes.h"
#include "emulator/http_util.h"
#include "emulator/odata_query.h"
#include "emulator/routes.h"

namespace guestflow::emulator {
namespace {

using nlohmann::json;

// ISO 3166-1 alpha-2, every officially assigned code: what Graph accepts as
// a usageLocation.
constexpr absl::string_view kCountryCodes =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR "
    "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ "
    "EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW "
    "GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY "
    "KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV "
    "MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
    "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG "
    "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM "
    "ZW";

bool IsCountryCode(absl::string_view code) {
  if (code.size() != 2) return false;
  const std::string upper = absl::AsciiStrToUpper(code);
  for (absl::string_view known : absl::StrSplit(kCountryCodes, ' ')) {
    if (known == upper) return true;
  }
  return false;
}

// What the learn.microsoft.com invitation resource page lists as not
// permitted in invitedUserEmailAddress.
constexpr absl::string_view kForbiddenEmailCharacters = "~!#$%^&*()+=[]{}\\/|;:\"<>?,";

bool IsValidInvitationEmail(absl::string_view email) {
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || email.find('@', at + 1) != absl::string_view::npos) {
    return false;
  }
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
    if (kForbiddenEmailCharacters.find(c) != absl::string_view::npos) return false;
  }
  const absl::string_view local = email.substr(0, at);
  const absl::string_view domain = email.substr(at + 1);
  if (local.empty() || domain.empty()) return false;
  // `.` and `-` are fine inside the user name, not at its ends.
  for (char end : {local.front(), local.back()}) {
    if (end == '.' || end == '-') return false;
  }
  if (domain.find('.') == absl::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || absl::StrContains(domain, "..")) {
    return false;
  }
  return true;
}

// Percent-encoding with lower-case hex, as the redeem URLs Graph returns.
std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02x", c);
    }
  }
  return out;
}

std::string FormatDateTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

bool HasEmail(const User& user, absl::string_view email) {
  if (absl::EqualsIgnoreCase(user.mail, email)) return true;
  return std::any_of(user.other_mails.begin(), user.other_mails.end(),
                     [&](const std::string& m) { return absl::EqualsIgnoreCase(m, email); });
}

// The directory tenant of a grant. Tokens are only issued for existing
// tenants and tenants are never removed, so this is never null in practice.
Tenant* TenantOf(CloudState& s, const Grant& grant) { return s.FindTenant(grant.tenant_id); }

// ---------------------------------------------------------------------------
// $filter on /users: `clause (or clause)*`, where a clause is
// `property eq 'value'`, `collection/any(x:x eq 'value')` or a parenthesised
// filter. That is what clients of this emulator send (the Entra onboarding
// guidance's `otherMails/any(id:id eq '...')`); anything else is refused the
// way Graph refuses an unsupported query.

struct FilterClause {
  bool any = false;      // collection/any(x:x eq value)
  std::string property;  // as written
  std::string value;
};

class UserFilterParser {
 public:
  explicit UserFilterParser(std::string text) : text_(std::move(text)) {}

  bool Parse(std::vector<FilterClause>* out) {
    if (!Or(out)) return false;
    SkipSpace();
    if (pos_ != text_.size()) {
      return Fail(absl::StrCat("unexpected '", text_.substr(pos_), "'"));
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Or(std::vector<FilterClause>* out) {
    do {
      if (!Primary(out)) return false;
    } while (Keyword("or"));
    return true;
  }

  bool Primary(std::vector<FilterClause>* out) {
    if (Consume('(')) {
      if (!Or(out)) return false;
      return Consume(')') || Fail("missing ')'");
    }
    FilterClause clause;
    clause.property = Identifier();
    if (clause.property.empty()) return Fail("expected a property name");
    if (Consume('/')) {
      if (!absl::EqualsIgnoreCase(Identifier(), "any") || !Consume('(')) {
        return Fail("only the any() lambda is supported");
      }
      const std::string variable = Identifier();
      if (variable.empty() || !Consume(':') || Identifier() != variable) {
        return Fail("malformed lambda expression");
      }
      clause.any = true;
    }
    if (!Keyword("eq")) return Fail("only 'eq' comparisons are supported");
    if (!Literal(&clause.value)) return false;
    if (clause.any && !Consume(')')) return Fail("missing ')' after the lambda");
    out->push_back(std::move(clause));
    return true;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::string Identifier() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           (absl::ascii_isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  bool Keyword(absl::string_view word) {
    SkipSpace();
    const size_t saved = pos_;
    if (Identifier().size() == word.size() &&
        absl::EqualsIgnoreCase(absl::string_view(text_).substr(saved, word.size()), word)) {
      return true;
    }
    pos_ = saved;
    return false;
  }

  bool Literal(std::string* value) {
    if (!Consume('\'')) return Fail("expected a quoted string");
    value->clear();
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c != '\'') {
        value->push_back(c);
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '\'') {  // '' is a quote
        value->push_back('\'');
        ++pos_;
        continue;
      }
      return true;
    }
    return Fail("unterminated string literal");
  }

  bool Fail(absl::string_view why) {
    if (error_.empty()) error_ = std::string(why);
    return false;
  }

  const std::string text_;
  size_t pos_ = 0;
  std::string error_;
};

// The user field an `eq` clause compares, or null for a property this
// emulator cannot filter on.
const std::string* EqField(const User& user, absl::string_view property) {
  if (absl::EqualsIgnoreCase(property, "mail")) return &user.mail;
  if (absl::EqualsIgnoreCase(property, "userPrincipalName")) return &user.user_principal_name;
  if (absl::EqualsIgnoreCase(property, "id")) return &user.id;
  if (absl::EqualsIgnoreCase(property, "userType")) return &user.user_type;
  if (absl::EqualsIgnoreCase(property, "displayName")) return &user.display_name;
  if (absl::EqualsIgnoreCase(property, "givenName")) return &user.given_name;
  if (absl::EqualsIgnoreCase(property, "surname")) return &user.surname;
  return nullptr;
}

bool Supported(const FilterClause& clause) {
  static const User kProbe;
  return clause.any ? absl::EqualsIgnoreCase(clause.property, "otherMails")
                    : EqField(kProbe, clause.property) != nullptr;
}

// Directory string comparisons are case-insensitive.
bool Matches(const User& user, const std::vector<FilterClause>& clauses) {
  for (const FilterClause& clause : clauses) {
    if (clause.any) {
      if (std::any_of(user.other_mails.begin(), user.other_mails.end(), [&](const std::string& m) {
            return absl::EqualsIgnoreCase(m, clause.value);
          })) {
        return true;
      }
    } else if (absl::EqualsIgnoreCase(*EqField(user, clause.property), clause.value)) {
      return true;
    }
  }
  return false;
}

// The properties GET /users returns without $select (Graph's default set).
constexpr const char* kDefaultUserProperties[] = {
    "businessPhones", "displayName",       "givenName", "jobTitle",          "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname",   "userPrincipalName", "id"};

json DefaultUserProjection(const User& user) {
  const json full = UserJson(user);
  json out = json::object();
  for (const char* name : kDefaultUserProperties) out[name] = full.at(name);
  return out;
}

// The user (or list) answer with $select applied; false after answering 400.
bool ProjectUser(const httplib::Request& req, httplib::Response& res, const User& user, json* out) {
  if (!req.has_param("$select")) {
    *out = DefaultUserProjection(user);
    return true;
  }
  std::string unknown;
  std::optional<json> selected =
      SelectProperties(UserJson(user), req.get_param_value("$select"), &unknown);
  if (!selected.has_value()) {
    SendGraphError(req, res, 400, "Request_BadRequest",
                   absl::StrCat("Could not find a property named '", unknown,
                                "' on type 'microsoft.graph.user'."));
    return false;
  }
  *out = *std::move(selected);
  return true;
}

std::string UsersContext(const httplib::Request& req, bool entity) {
  std::string context = absl::StrCat(kGraphMetadataUrl, "#users");
  if (req.has_param("$select")) absl::StrAppend(&context, "(", req.get_param_value("$select"), ")");
  if (entity) absl::StrAppend(&context, "/$entity");
  return context;
}

// ---------------------------------------------------------------------------
// POST /v1.0/invitations

// The properties of microsoft.graph.invitation a client may send.
const std::set<std::string>& InvitationProperties() {
  static const auto* properties =
      new std::set<std::string>{"invitedUserDisplayName", "invitedUserEmailAddress",
                                "invitedUserMessageInfo", "invitedUserType",
                                "inviteRedirectUrl",      "resetRedemption",
                                "sendInvitationMessage",  "invitedUser",
                                "invitedUserSponsors"};
  return *properties;
}

// Checks the body's shape; answers 400 and returns false if it is wrong.
bool ValidateInvitation(const httplib::Request& req, httplib::Response& res, const json& body) {
  auto bad = [&](const std::string& message) {
    SendGraphError(req, res, 400, "Request_BadRequest", message);
    return false;
  };
  for (const auto& [key, value] : body.items()) {
    if (absl::StartsWith(key, "@odata.")) continue;
    if (InvitationProperties().count(key) == 0) {
      return bad(absl::StrCat("The property '", key,
                              "' does not exist on type 'microsoft.graph.invitation'. Make sure "
                              "to only use property names that are defined by the type."));
    }
  }
  auto string_or_null = [&](const char* key) {
    return !body.contains(key) || body[key].is_string() || body[key].is_null();
  };
  auto bool_or_null = [&](const char* key) {
    return !body.contains(key) || body[key].is_boolean() || body[key].is_null();
  };
  const json email = body.value("invitedUserEmailAddress", json());
  if (!email.is_string() || email.get<std::string>().empty()) {
    return bad("Missing required property 'invitedUserEmailAddress' of type 'Edm.String'.");
  }
  if (!IsValidInvitationEmail(email.get<std::string>())) {
    return bad(absl::StrCat("The invitedUserEmailAddress '", email.get<std::string>(),
                            "' is not a valid email address."));
  }
  const json redirect = body.value("inviteRedirectUrl", json());
  if (!redirect.is_string() || redirect.get<std::string>().empty()) {
    return bad("Missing required property 'inviteRedirectUrl' of type 'Edm.String'.");
  }
  const std::string redirect_url = redirect.get<std::string>();
  if (!absl::StartsWithIgnoreCase(redirect_url, "https://") &&
      !absl::StartsWithIgnoreCase(redirect_url, "http://")) {
    return bad(absl::StrCat("The inviteRedirectUrl '", redirect_url, "' is not a valid URL."));
  }
  if (!string_or_null("invitedUserDisplayName") || !string_or_null("invitedUserType")) {
    return bad("invitedUserDisplayName and invitedUserType must be strings.");
  }
  if (!bool_or_null("sendInvitationMessage") || !bool_or_null("resetRedemption")) {
    return bad("sendInvitationMessage and resetRedemption must be booleans.");
  }
  const std::string type = body.value("invitedUserType", json()).is_string()
                               ? body["invitedUserType"].get<std::string>()
                               : "Guest";
  if (type != "Guest" && type != "Member") {
    return bad(absl::StrCat("Invalid value '", type, "' for invitedUserType."));
  }
  if (body.contains("invitedUserMessageInfo") && !body["invitedUserMessageInfo"].is_null()) {
    const json& info = body["invitedUserMessageInfo"];
    if (!info.is_object()) return bad("invitedUserMessageInfo must be an object.");
    for (const auto& [key, value] : info.items()) {
      if (key != "ccRecipients" && key != "customizedMessageBody" && key != "messageLanguage") {
        return bad(
            absl::StrCat("The property '", key,
                         "' does not exist on type 'microsoft.graph.invitedUserMessageInfo'."));
      }
      if (key != "ccRecipients" && !value.is_string() && !value.is_null()) {
        return bad(absl::StrCat(key, " must be a string."));
      }
    }
    if (info.contains("ccRecipients") && !info["ccRecipients"].is_null()) {
      const json& cc = info["ccRecipients"];
      if (!cc.is_array()) return bad("ccRecipients must be a collection of recipients.");
      if (cc.size() > 1) return bad("Currently only 1 additional recipient is supported.");
      for (const json& r : cc) {
        const json address = r.is_object() && r.value("emailAddress", json()).is_object()
                                 ? r["emailAddress"].value("address", json())
                                 : json();
        if (!address.is_string() || !IsValidInvitationEmail(address.get<std::string>())) {
          return bad("ccRecipients must hold recipients with a valid emailAddress.address.");
        }
      }
    }
  }
  return true;
}

json InvitationJson(const Tenant& tenant, const json& body, const std::string& invitation_id,
                    const std::string& user_id) {
  const std::string redeem =
      absl::StrCat("https://invitations.microsoft.com/redeem/?tenant=", tenant.id,
                   "&user=", user_id, "&ticket=", UrlEncode(NewGuid()), "&ver=2.0");
  json info = {{"messageLanguage", nullptr},
               {"customizedMessageBody", nullptr},
               {"ccRecipients",
                json::array({{{"emailAddress", {{"name", nullptr}, {"address", nullptr}}}}})}};
  if (body.contains("invitedUserMessageInfo") && body["invitedUserMessageInfo"].is_object()) {
    for (const auto& [key, value] : body["invitedUserMessageInfo"].items()) {
      if (!value.is_null()) info[key] = value;
    }
  }
  return {
      {"@odata.context", absl::StrCat(kGraphMetadataUrl, "#invitations/$entity")},
      {"id", invitation_id},
      {"inviteRedeemUrl",
       absl::StrCat("https://login.microsoftonline.com/redeem?rd=", UrlEncode(redeem))},
      {"invitedUserDisplayName", body.value("invitedUserDisplayName", json())},
      {"invitedUserType",
       body.value("invitedUserType", json()).is_string() ? body["invitedUserType"] : json("Guest")},
      {"invitedUserEmailAddress", body["invitedUserEmailAddress"]},
      {"sendInvitationMessage", body.value("sendInvitationMessage", json()).is_boolean()
                                    ? body["sendInvitationMessage"]
                                    : json(false)},
      {"resetRedemption",
       body.value("resetRedemption", json()).is_boolean() ? body["resetRedemption"] : json(false)},
      {"inviteRedirectUrl", body["inviteRedirectUrl"]},
      {"status", "PendingAcceptance"},
      {"invitedUserMessageInfo", info},
      {"invitedUser", {{"id", user_id}}}};
}

void PostInvitation(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  std::optional<json> body = ParseJsonBody(req, res);
  if (!body.has_value()) return;
  ctx.state->Locked([&](CloudState& s) {
    if (body->contains("invitedUserEmailAddress") &&
        (*body)["invitedUserEmailAddress"].is_string()) {
      ++s.counters.invitations_by_email[absl::AsciiStrToLower(
          (*body)["invitedUserEmailAddress"].get<std::string>())];
    }
    if (!ValidateInvitation(req, res, *body)) return;
    Tenant* tenant = TenantOf(s, *grant);
    if (!tenant->invitations_allowed) {
      SendGraphError(req, res, 403, "Authorization_RequestDenied",
                     "Guest invitations not allowed for your company. Contact your company "
                     "administrator for more details.");
      return;
    }
    const std::string email = (*body)["invitedUserEmailAddress"].get<std::string>();
    // An email that already belongs to a user gets that user back: no second
    // guest object (what Graph does for a re-invitation).
    const User* existing = nullptr;
    for (const User& u : tenant->users) {
      if (HasEmail(u, email)) {
        existing = &u;
        break;
      }
    }
    std::string user_id;
    if (existing != nullptr) {
      user_id = existing->id;
    } else {
      const absl::Time now = absl::Now();
      User guest;
      guest.id = NewGuid();
      std::string upn_local = email;
      std::replace(upn_local.begin(), upn_local.end(), '@', '_');
      guest.user_principal_name = absl::StrCat(upn_local, "#EXT#@", tenant->domain);
      guest.mail = email;
      guest.other_mails = {email};
      const json name = body->value("invitedUserDisplayName", json());
      guest.display_name = name.is_string() && !name.get<std::string>().empty()
                               ? name.get<std::string>()
                               : email.substr(0, email.find('@'));
      const json type = body->value("invitedUserType", json());
      guest.user_type = type.is_string() ? type.get<std::string>() : "Guest";
      guest.external_user_state = "PendingAcceptance";
      guest.created = now;
      guest.visible_at = now + absl::Milliseconds(s.knobs.replication_lag_ms);
      user_id = guest.id;
      tenant->users.push_back(std::move(guest));
      ++s.counters.guests_created_by_email[absl::AsciiStrToLower(email)];
    }
    SendJson(res, 201, InvitationJson(*tenant, *body, NewGuid(), user_id));
  });
}

// ---------------------------------------------------------------------------
// /v1.0/users

void ListUsers(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  std::vector<FilterClause> clauses;
  if (req.has_param("$filter")) {
    UserFilterParser parser(req.get_param_value("$filter"));
    if (!parser.Parse(&clauses)) {
      SendGraphError(req, res, 400, "BadRequest",
                     absl::StrCat("Invalid filter clause: ", parser.error()));
      return;
    }
    for (const FilterClause& clause : clauses) {
      if (!Supported(clause)) {
        SendGraphError(req, res, 400, "Request_UnsupportedQuery",
                       absl::StrCat("Unsupported or invalid query filter clause specified for "
                                    "property '",
                                    clause.property, "' of resource 'User'."));
        return;
      }
    }
  }
  if (req.has_param("$select")) {
    std::string unknown;
    if (!SelectProperties(UserJson(User{}), req.get_param_value("$select"), &unknown)) {
      SendGraphError(req, res, 400, "Request_BadRequest",
                     absl::StrCat("Could not find a property named '", unknown,
                                  "' on type 'microsoft.graph.user'."));
      return;
    }
  }
  ctx.state->Locked([&](CloudState& s) {
    const absl::Time now = absl::Now();
    json value = json::array();
    for (const User& user : TenantOf(s, *grant)->users) {
      // A replica that has not caught up does not know the new guest yet.
      if (user.visible_at > now) continue;
      if (!clauses.empty() && !Matches(user, clauses)) continue;
      json projected;
      if (!ProjectUser(req, res, user, &projected)) return;
      value.push_back(std::move(projected));
    }
    SendJson(res, 200, {{"@odata.context", UsersContext(req, false)}, {"value", value}});
  });
}

void GetUser(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  const std::string id = req.matches[1];
  ctx.state->Locked([&](CloudState& s) {
    const User* user = FindVisibleUser(*TenantOf(s, *grant), id, absl::Now());
    if (user == nullptr) {
      SendResourceNotFound(req, res, id);
      return;
    }
    json projected;
    if (!ProjectUser(req, res, *user, &projected)) return;
    projected["@odata.context"] = UsersContext(req, true);
    SendJson(res, 200, projected);
  });
}

void PatchUser(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  const std::string id = req.matches[1];
  std::optional<json> body = ParseJsonBody(req, res);
  if (!body.has_value()) return;
  ctx.state->Locked([&](CloudState& s) {
    User* user = FindVisibleUser(*TenantOf(s, *grant), id, absl::Now());
    if (user == nullptr) {
      SendResourceNotFound(req, res, id);
      return;
    }
    auto bad = [&](const std::string& message) {
      SendGraphError(req, res, 400, "Request_BadRequest", message);
    };
    static const std::set<std::string> kWritable = {"givenName", "surname", "displayName",
                                                    "usageLocation"};
    const json full = UserJson(*user);
    // Validate everything before changing anything: Graph applies a PATCH
    // whole or not at all.
    for (const auto& [key, value] : body->items()) {
      if (absl::StartsWith(key, "@odata.")) continue;
      if (kWritable.count(key) == 0) {
        if (full.contains(key)) {
          bad(absl::StrCat("Property '", key, "' is read-only and cannot be set."));
        } else {
          bad(absl::StrCat("Property '", key,
                           "' does not exist as a declared property or "
                           "extension property."));
        }
        return;
      }
      if (key == "usageLocation") {
        if (!value.is_string() || !IsCountryCode(value.get<std::string>())) {
          bad("Property usageLocation is invalid.");
          return;
        }
      } else if (key == "displayName") {
        if (!value.is_string() || value.get<std::string>().empty()) {
          bad("Invalid value specified for property 'displayName' of resource 'User'.");
          return;
        }
      } else if (!value.is_string() && !value.is_null()) {
        bad(absl::StrCat("Invalid value specified for property '", key, "' of resource 'User'."));
        return;
      }
    }
    for (const auto& [key, value] : body->items()) {
      const std::string text = value.is_string() ? value.get<std::string>() : "";
      if (key == "givenName") user->given_name = text;
      if (key == "surname") user->surname = text;
      if (key == "displayName") user->display_name = text;
      if (key == "usageLocation") {
        const std::string code = absl::AsciiStrToUpper(text);
        if (code != user->usage_location) {
          user->usage_location = code;
          user->usage_location_effective_at =
              absl::Now() + absl::Milliseconds(s.knobs.usage_location_lag_ms);
        }
      }
    }
    res.status = 204;
  });
}

// ---------------------------------------------------------------------------
// /v1.0/groups

json GroupJson(const Group& group) {
  return {{"id", group.id},         {"displayName", group.display_name},
          {"description", nullptr}, {"groupTypes", json::array()},
          {"mailEnabled", false},   {"securityEnabled", true}};
}

void GetGroup(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  const std::string id = req.matches[1];
  ctx.state->Locked([&](CloudState& s) {
    const Group* group = TenantOf(s, *grant)->FindGroup(id);
    if (group == nullptr) {
      SendResourceNotFound(req, res, id);
      return;
    }
    json out = GroupJson(*group);
    if (req.has_param("$select")) {
      std::string unknown;
      std::optional<json> selected =
          SelectProperties(out, req.get_param_value("$select"), &unknown);
      if (!selected.has_value()) {
        SendGraphError(req, res, 400, "Request_BadRequest",
                       absl::StrCat("Could not find a property named '", unknown,
                                    "' on type 'microsoft.graph.group'."));
        return;
      }
      out = *std::move(selected);
    }
    out["@odata.context"] = absl::StrCat(kGraphMetadataUrl, "#groups/$entity");
    SendJson(res, 200, out);
  });
}

void AddGroupMember(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  const std::string group_id = req.matches[1];
  std::optional<json> body = ParseJsonBody(req, res);
  if (!body.has_value()) return;
  ctx.state->Locked([&](CloudState& s) {
    Tenant* tenant = TenantOf(s, *grant);
    Group* group = tenant->FindGroup(group_id);
    if (group == nullptr) {
      SendResourceNotFound(req, res, group_id);
      return;
    }
    const json ref = body->value("@odata.id", json());
    const std::string reference = ref.is_string() ? ref.get<std::string>() : "";
    // The object id is the last segment of .../directoryObjects/{id} (or
    // .../users/{id}).
    std::string object_id;
    for (absl::string_view collection : {"/directoryObjects/", "/users/"}) {
      const size_t at = reference.rfind(std::string(collection));
      if (at != std::string::npos) {
        object_id = reference.substr(at + collection.size());
        break;
      }
    }
    if (!IsGuid(object_id)) {
      SendGraphError(req, res, 400, "Request_BadRequest",
                     absl::StrCat("Invalid object identifier '",
                                  object_id.empty() ? reference : object_id, "'."));
      return;
    }
    const User* user = FindVisibleUser(*tenant, object_id, absl::Now());
    if (user == nullptr) {
      SendResourceNotFound(req, res, object_id);
      return;
    }
    if (group->members.count(user->id) > 0) {
      SendGraphError(req, res, 400, "Request_BadRequest",
                     "One or more added object references already exist for the following "
                     "modified properties: 'members'.");
      return;
    }
    group->members.insert(user->id);
    ++s.counters.group_member_adds[absl::StrCat(group->id, "|", user->id)];
    res.status = 204;
  });
}

// ---------------------------------------------------------------------------
// POST /v1.0/users/{id}/sendMail, GET /_emulator/mail

// The messages sendMail accepted, for tests to read. Thread-safe.
class MailOutbox {
 public:
  void Add(json mail) {
    absl::MutexLock lock(&mu_);
    mails_.push_back(std::move(mail));
  }
  json All() const {
    absl::MutexLock lock(&mu_);
    return mails_;
  }

 private:
  mutable absl::Mutex mu_;
  json mails_ = json::array();
};

// A JSON member by name, case-insensitively (action parameters are declared
// `Message`/`SaveToSentItems` in the CSDL, documented in camelCase).
const json* MemberIgnoreCase(const json& object, absl::string_view name) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (absl::EqualsIgnoreCase(it.key(), name)) return &it.value();
  }
  return nullptr;
}

// Empty when `message` is a sendable microsoft.graph.message, else why not.
std::string MailProblem(const json* message) {
  if (message == nullptr || !message->is_object()) return "The message parameter is required.";
  const json subject = message->value("subject", json(""));
  if (!subject.is_string()) return "subject must be a string.";
  const json body = message->value("body", json());
  if (!body.is_object() || !body.value("content", json()).is_string()) {
    return "body must be an itemBody with a content string.";
  }
  const json type = body.value("contentType", json("text"));
  if (!type.is_string() || (!absl::EqualsIgnoreCase(type.get<std::string>(), "text") &&
                            !absl::EqualsIgnoreCase(type.get<std::string>(), "html"))) {
    return "body.contentType must be Text or HTML.";
  }
  const json to = message->value("toRecipients", json());
  if (!to.is_array() || to.empty()) return "At least one recipient is required.";
  for (const char* list : {"toRecipients", "ccRecipients", "bccRecipients"}) {
    const json recipients = message->value(list, json::array());
    if (!recipients.is_array()) return absl::StrCat(list, " must be a collection of recipients.");
    for (const json& r : recipients) {
      const json address = r.is_object() && r.value("emailAddress", json()).is_object()
                               ? r["emailAddress"].value("address", json())
                               : json();
      if (!address.is_string() || !IsValidInvitationEmail(address.get<std::string>())) {
        return "At least one recipient isn't valid.";
      }
    }
  }
  return "";
}

void SendMail(EmulatorContext& ctx, MailOutbox& outbox, const httplib::Request& req,
              httplib::Response& res) {
  const std::optional<Grant> grant = Authorize(req, res, *ctx.state, "graph");
  if (!grant.has_value()) return;
  const std::string sender = req.matches[1];
  std::optional<json> body = ParseJsonBody(req, res);
  if (!body.has_value()) return;
  const json* message = MemberIgnoreCase(*body, "message");
  const std::string problem = MailProblem(message);
  if (!problem.empty()) {
    SendGraphError(req, res, 400,
                   problem == "At least one recipient isn't valid." ? "ErrorInvalidRecipients"
                                                                    : "ErrorInvalidParameter",
                   problem);
    return;
  }
  const json* save = MemberIgnoreCase(*body, "saveToSentItems");
  if (save != nullptr && !save->is_boolean()) {
    SendGraphError(req, res, 400, "ErrorInvalidParameter", "saveToSentItems must be a boolean.");
    return;
  }
  const bool found = ctx.state->Locked([&](CloudState& s) {
    if (FindVisibleUser(*TenantOf(s, *grant), sender, absl::Now()) == nullptr) return false;
    ++s.counters.mails_sent[absl::AsciiStrToLower(sender)];
    return true;
  });
  if (!found) {
    SendResourceNotFound(req, res, sender);
    return;
  }
  outbox.Add({{"sender", absl::AsciiStrToLower(sender)},
              {"tenant", grant->tenant_id},
              {"saveToSentItems", save != nullptr ? *save : json(true)},
              {"sentDateTime", FormatDateTime(absl::Now())},
              {"message", *message}});
  res.status = 202;
}

}  // namespace

// ---------------------------------------------------------------------------
// Helpers shared with graph_license_routes.cc (see graph_license_routes.h).

User* FindVisibleUser(Tenant& tenant, absl::string_view id_or_upn, absl::Time now) {
  for (User& user : tenant.users) {
    if (absl::EqualsIgnoreCase(user.id, id_or_upn) ||
        absl::EqualsIgnoreCase(user.user_principal_name, id_or_upn)) {
      return user.visible_at <= now ? &user : nullptr;
    }
  }
  return nullptr;
}

void SendResourceNotFound(const httplib::Request& req, httplib::Response& res,
                          absl::string_view id) {
  SendGraphError(req, res, 404, "Request_ResourceNotFound",
                 absl::StrCat("Resource '", id,
                              "' does not exist or one of its queried reference-property objects "
                              "are not present."));
}

json UserJson(const User& user) {
  json licenses = json::array();
  for (const std::string& sku : user.assigned_sku_ids) {
    licenses.push_back({{"disabledPlans", json::array()}, {"skuId", sku}});
  }
  return {
      {"id", user.id},
      {"accountEnabled", user.account_enabled},
      {"assignedLicenses", licenses},
      {"businessPhones", json::array()},
      {"createdDateTime",
       user.created == absl::InfinitePast() ? json(nullptr) : json(FormatDateTime(user.created))},
      {"displayName", NullIfEmpty(user.display_name)},
      {"externalUserState", NullIfEmpty(user.external_user_state)},
      {"givenName", NullIfEmpty(user.given_name)},
      {"jobTitle", nullptr},
      {"mail", NullIfEmpty(user.mail)},
      {"mobilePhone", nullptr},
      {"officeLocation", nullptr},
      {"otherMails", user.other_mails},
      {"preferredLanguage", nullptr},
      {"surname", NullIfEmpty(user.surname)},
      {"usageLocation", NullIfEmpty(user.usage_location)},
      {"userPrincipalName", user.user_principal_name},
      {"userType", user.user_type}};
}

std::optional<json> ParseJsonBody(const httplib::Request& req, httplib::Response& res) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    SendGraphError(req, res, 400, "BadRequest",
                   "Unable to read JSON request payload. Please ensure Content-Type header is set "
                   "and payload is of valid JSON format.");
    return std::nullopt;
  }
  return body;
}

std::optional<json> SelectProperties(const json& entity, const std::string& select,
                                     std::string* unknown) {
  json out = json::object();
  for (absl::string_view name : absl::StrSplit(select, ',', absl::SkipWhitespace())) {
    name = absl::StripAsciiWhitespace(name);
    bool found = false;
    for (auto it = entity.begin(); it != entity.end(); ++it) {
      if (absl::EqualsIgnoreCase(it.key(), name)) {
        out[it.key()] = it.value();
        found = true;
        break;
      }
    }
    if (!found) {
      if (unknown != nullptr) *unknown = std::string(name);
      return std::nullopt;
    }
  }
  return out;
}

void RegisterGraphRoutes(httplib::Server& server, EmulatorContext& ctx) {
  server.Post(R"(/v1\.0/invitations)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    PostInvitation(ctx, req, res);
  });
  server.Get(R"(/v1\.0/users)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    ListUsers(ctx, req, res);
  });
  server.Get(R"(/v1\.0/users/([^/]+))", [&ctx](const httplib::Request& req,
                                               httplib::Response& res) { GetUser(ctx, req, res); });
  server.Patch(
      R"(/v1\.0/users/([^/]+))",
      [&ctx](const httplib::Request& req, httplib::Response& res) { PatchUser(ctx, req, res); });
  server.Get(
      R"(/v1\.0/groups/([^/]+))",
      [&ctx](const httplib::Request& req, httplib::Response& res) { GetGroup(ctx, req, res); });
  server.Post(R"(/v1\.0/groups/([^/]+)/members/\$ref)",
              [&ctx](const httplib::Request& req, httplib::Response& res) {
                AddGroupMember(ctx, req, res);
              });

  // The outbox lives as long as the handlers that hold it.
  auto outbox = std::make_shared<MailOutbox>();
  server.Post(R"(/v1\.0/users/([^/]+)/sendMail)",
              [&ctx, outbox](const httplib::Request& req, httplib::Response& res) {
                SendMail(ctx, *outbox, req, res);
              });
  server.Get("/_emulator/mail", [outbox](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"value", outbox->All()}});
  });

  RegisterGraphLicenseRoutes(server, ctx);
}

}  // namespace guestflow::emulator
