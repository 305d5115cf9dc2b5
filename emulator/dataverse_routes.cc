// /orgs/{org}/api/data/v9.2/...: the Dataverse Web API of the environment
// whose org is {org}, as reference/microsoft-apis.md section F documents it:
//   GET    WhoAmI
//   GET    systemusers | roles | businessunits  ($select, $filter, $top; $expand
//          of systemuserroles_association on systemusers)
//   GET    {set}(<id>)
//   GET    systemusers(<id>)/systemuserroles_association[/$ref]
//   POST   systemusers(<id>)/systemuserroles_association/$ref   associate a role
//   DELETE systemusers(<id>)/systemuserroles_association/$ref?$id=<role url>
//   PATCH  systemusers(<id>) with If-Match (internalemailaddress, names)
// Every answer carries OData-Version: 4.0. The caller's app must have an
// application user in the environment (403 0x80072560 otherwise). System
// users that the admin addUser created are invisible until their
// SystemUser::visible_at (the dataverse_sync_delay_ms knob).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "emulator/http_util.h"
#include "emulator/odata_query.h"
#include "emulator/routes.h"

namespace guestflow::emulator {
namespace {

constexpr char kRoute[] = R"(/orgs/([^/]+)/api/data/v9\.2/(.*))";
constexpr char kODataJson[] = "application/json; odata.metadata=minimal";
constexpr size_t kInternalEmailMaxLength = 100;  // systemuser reference: MaxLength 100
constexpr size_t kNameMaxLength = 256;

// Web API error codes (reference section F and G).
constexpr char kNotMember[] = "0x80072560";
constexpr char kQueryError[] = "0x80060888";
constexpr char kDoesNotExist[] = "0x80040217";
constexpr char kUserDisabled[] = "0x80040225";
constexpr char kDuplicateKey[] = "0x80040237";
constexpr char kVersionMismatch[] = "0x80060882";
constexpr char kValidation[] = "0x80044331";

void SendOData(httplib::Response& res, int status, const nlohmann::json& body) {
  res.set_header("OData-Version", "4.0");
  SendJson(res, status, body, kODataJson);
}

void SendNoContent(httplib::Response& res) {
  res.set_header("OData-Version", "4.0");
  res.status = 204;
}

// A stable GUID derived from `seed`, for ids the fixture does not name (the
// application user, the organization).
std::string DerivedGuid(absl::string_view seed) {
  uint64_t a = 14695981039346656037ULL;
  uint64_t b = 1469598103934665603ULL;
  for (char c : seed) {
    a = (a ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    b = (b ^ static_cast<unsigned char>(c)) * 1099511628211ULL + 7;
  }
  return absl::StrFormat(
      "%08x-%04x-4%03x-%04x-%012x", static_cast<uint32_t>(a >> 32),
      static_cast<uint32_t>((a >> 16) & 0xFFFF), static_cast<uint32_t>(a & 0x0FFF),
      static_cast<uint32_t>(0x8000 | ((b >> 48) & 0x3FFF)), b & 0xFFFFFFFFFFFFULL);
}

nlohmann::json SystemUserRow(const SystemUser& u) {
  return {{"systemuserid", u.id},
          {"azureactivedirectoryobjectid", u.aad_object_id},
          {"_businessunitid_value", u.business_unit_id},
          {"internalemailaddress", u.internal_email},
          {"domainname", u.domain_name},
          {"firstname", u.first_name},
          {"lastname", u.last_name},
          {"fullname",
           std::string(absl::StripAsciiWhitespace(absl::StrCat(u.first_name, " ", u.last_name)))},
          {"isdisabled", u.disabled},
          {"accessmode", u.access_mode}};
}

nlohmann::json RoleRow(const Role& r) {
  return {{"roleid", r.id},
          {"name", r.name},
          {"_businessunitid_value", r.business_unit_id},
          {"ismanaged", false}};
}

nlohmann::json BusinessUnitRow(const BusinessUnit& b) {
  return {{"businessunitid", b.id},
          {"name", b.name},
          {"_parentbusinessunitid_value",
           b.parent_id.empty() ? nlohmann::json() : nlohmann::json(b.parent_id)}};
}

// One request, resolved: the environment it targets and where its answers
// point to.
struct Target {
  Environment* env = nullptr;
  std::string base;  // http://HOST/orgs/{org}/api/data/v9.2/
  absl::Time now;
  httplib::Params params;  // the query options, see ODataParams
};

// The resource path after v9.2/: `set`, `set(<id>)`, `set(<id>)/nav`,
// `set(<id>)/nav/$ref`, or `WhoAmI`.
struct ResourcePath {
  std::string entity_set;
  std::optional<std::string> key;
  std::string navigation;
  bool ref = false;
};

// 0 on success; otherwise the status of the error it answered.
int ParseResourcePath(const std::string& resource, httplib::Response& res, ResourcePath& out) {
  std::vector<std::string> segments = absl::StrSplit(resource, '/');
  if (segments.empty() || segments[0].empty() || segments.size() > 3) {
    SendDataverseError(res, 404, kQueryError,
                       absl::StrCat("Resource not found for the segment '", resource, "'."));
    return 404;
  }
  absl::string_view first = segments[0];
  if (first == "WhoAmI" || first == "WhoAmI()") {
    if (segments.size() > 1) {
      SendDataverseError(res, 404, kQueryError,
                         absl::StrCat("Resource not found for the segment '", segments[1], "'."));
      return 404;
    }
    out.entity_set = "WhoAmI";
    return 0;
  }
  const size_t paren = first.find('(');
  if (paren != absl::string_view::npos) {
    if (first.back() != ')') {
      SendDataverseError(res, 400, kQueryError, "Bad Request - Error in query syntax.");
      return 400;
    }
    std::string key(first.substr(paren + 1, first.size() - paren - 2));
    if (!IsGuid(key)) {
      SendDataverseError(
          res, 400, kQueryError,
          absl::StrCat("Unrecognized 'Edm.Guid' literal '", key, "' at '0' in '", key, "'."));
      return 400;
    }
    out.key = std::move(key);
    first = first.substr(0, paren);
  }
  const EntitySchema* schema = SchemaOf(first);
  if (schema == nullptr) {
    SendDataverseError(res, 404, kQueryError,
                       absl::StrCat("Resource not found for the segment '", first, "'."));
    return 404;
  }
  out.entity_set = std::string(first);
  if (segments.size() >= 2) {
    if (!out.key.has_value() || schema->navigation.count(segments[1]) == 0) {
      SendDataverseError(res, 404, kQueryError,
                         absl::StrCat("Resource not found for the segment '", segments[1], "'."));
      return 404;
    }
    out.navigation = segments[1];
  }
  if (segments.size() == 3) {
    if (segments[2] != "$ref") {
      SendDataverseError(res, 404, kQueryError,
                         absl::StrCat("Resource not found for the segment '", segments[2], "'."));
      return 404;
    }
    out.ref = true;
  }
  return 0;
}

SystemUser* FindVisibleSystemUser(Environment& env, absl::string_view id, absl::Time now) {
  for (SystemUser& u : env.system_users) {
    if (absl::EqualsIgnoreCase(u.id, id)) return u.visible_at <= now ? &u : nullptr;
  }
  return nullptr;
}

Role* FindRole(Environment& env, absl::string_view id) {
  for (Role& r : env.roles) {
    if (absl::EqualsIgnoreCase(r.id, id)) return &r;
  }
  return nullptr;
}

void SendDoesNotExist(httplib::Response& res, absl::string_view logical_name,
                      absl::string_view id) {
  SendDataverseError(res, 404, kDoesNotExist,
                     absl::StrCat(logical_name, " With Id = ", id, " Does Not Exist"));
}

// Whether `u` may satisfy `filter`, judged on the columns a system user holds
// as plain strings (its ids, email and domain name) before its row is built:
// one this rules out fails Matches too. Like the database's indexes, it
// spares building a JSON row per user for every look-up by id or email, which
// made each such request cost O(users).
bool MayMatch(const SystemUser& u, const std::vector<Comparison>& filter) {
  for (const Comparison& c : filter) {
    if (c.kind != Comparison::Kind::kGuid && c.kind != Comparison::Kind::kString) continue;
    const std::string* field = c.column == "systemuserid"                   ? &u.id
                               : c.column == "azureactivedirectoryobjectid" ? &u.aad_object_id
                               : c.column == "internalemailaddress"         ? &u.internal_email
                               : c.column == "domainname"                   ? &u.domain_name
                                                                            : nullptr;
    if (field != nullptr && !absl::EqualsIgnoreCase(*field, c.text)) return false;
  }
  return true;
}

// The rows of `set` that exist (and, for system users, are visible); those
// of system users only when they may satisfy `filter` (the caller still
// checks Matches).
std::vector<nlohmann::json> RowsOf(const Target& t, absl::string_view set,
                                   const std::vector<Comparison>& filter) {
  std::vector<nlohmann::json> rows;
  if (set == "systemusers") {
    for (const SystemUser& u : t.env->system_users) {
      if (u.visible_at <= t.now && MayMatch(u, filter)) rows.push_back(SystemUserRow(u));
    }
  } else if (set == "roles") {
    for (const Role& r : t.env->roles) rows.push_back(RoleRow(r));
  } else if (set == "businessunits") {
    for (const BusinessUnit& b : t.env->business_units) rows.push_back(BusinessUnitRow(b));
  }
  return rows;
}

nlohmann::json RolesOfUser(const Target& t, const SystemUser& u) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Role& r : t.env->roles) {
    if (u.role_ids.count(r.id) != 0) rows.push_back(RoleRow(r));
  }
  return rows;
}

// Adds the $expand-ed navigation properties of a systemuser row.
void ExpandSystemUser(const Target& t, const Query& query, const nlohmann::json& row,
                      nlohmann::json& out) {
  for (const ExpandItem& item : query.expand) {
    nlohmann::json related = nlohmann::json::array();
    const std::string id = row.value("systemuserid", "");
    for (const SystemUser& u : t.env->system_users) {
      if (u.id != id) continue;
      for (const nlohmann::json& role : RolesOfUser(t, u)) {
        related.push_back(Project(role, item.select, RoleSchema()));
      }
    }
    out[item.navigation] = std::move(related);
  }
}

void SendQueryError(httplib::Response& res, const absl::Status& status) {
  SendDataverseError(res, 400, kQueryError, status.message());
}

void GetWhoAmI(const Target& t, const Grant& grant, const httplib::Request& req,
               httplib::Response& res) {
  if (!t.params.empty()) {
    SendDataverseError(res, 400, kQueryError, "The WhoAmI function takes no query options.");
    return;
  }
  std::string root;
  for (const BusinessUnit& b : t.env->business_units) {
    if (b.parent_id.empty()) root = b.id;
  }
  SendOData(
      res, 200,
      {{"@odata.context", absl::StrCat(t.base, "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")},
       {"BusinessUnitId", root},
       {"UserId", DerivedGuid(absl::StrCat("appuser:", t.env->id, ":",
                                           absl::AsciiStrToLower(grant.client_id)))},
       {"OrganizationId", DerivedGuid(absl::StrCat("org:", t.env->id))}});
}

void GetCollection(const Target& t, const ResourcePath& path, const httplib::Request& req,
                   httplib::Response& res) {
  const EntitySchema& schema = *SchemaOf(path.entity_set);
  const bool users = path.entity_set == "systemusers";
  auto query =
      ParseQuery(t.params, schema, kSelect | kFilter | kTop | (users ? unsigned{kExpand} : 0u));
  if (!query.ok()) return SendQueryError(res, query.status());
  nlohmann::json value = nlohmann::json::array();
  for (const nlohmann::json& row : RowsOf(t, path.entity_set, query->filter)) {
    if (!Matches(row, query->filter)) continue;
    nlohmann::json out = Project(row, query->select, schema);
    if (users) ExpandSystemUser(t, *query, row, out);
    value.push_back(std::move(out));
    if (query->top.has_value() && static_cast<int>(value.size()) >= *query->top) break;
  }
  SendOData(res, 200,
            {{"@odata.context", ContextUrl(t.base, path.entity_set, query->select)},
             {"value", std::move(value)}});
}

void GetEntity(const Target& t, const ResourcePath& path, const httplib::Request& req,
               httplib::Response& res) {
  const EntitySchema& schema = *SchemaOf(path.entity_set);
  const bool users = path.entity_set == "systemusers";
  auto query = ParseQuery(t.params, schema, kSelect | (users ? unsigned{kExpand} : 0u));
  if (!query.ok()) return SendQueryError(res, query.status());
  const std::vector<Comparison> by_key = {
      Comparison{schema.key, Comparison::Kind::kGuid, std::string(*path.key)}};
  for (const nlohmann::json& row : RowsOf(t, path.entity_set, by_key)) {
    if (!absl::EqualsIgnoreCase(row.value(schema.key, ""), *path.key)) continue;
    nlohmann::json out = Project(row, query->select, schema);
    if (users) ExpandSystemUser(t, *query, row, out);
    out["@odata.context"] =
        absl::StrCat(ContextUrl(t.base, path.entity_set, query->select), "/$entity");
    SendOData(res, 200, out);
    return;
  }
  SendDoesNotExist(res, schema.logical_name, *path.key);
}

void GetUserRoles(const Target& t, const ResourcePath& path, const httplib::Request& req,
                  httplib::Response& res) {
  SystemUser* user = FindVisibleSystemUser(*t.env, *path.key, t.now);
  if (user == nullptr) return SendDoesNotExist(res, "systemuser", *path.key);
  if (path.ref) {
    if (!t.params.empty()) {
      SendDataverseError(res, 400, kQueryError, "The emulator takes no query options on $ref.");
      return;
    }
    nlohmann::json value = nlohmann::json::array();
    for (const nlohmann::json& role : RolesOfUser(t, *user)) {
      value.push_back(
          {{"@odata.id", absl::StrCat(t.base, "roles(", role["roleid"].get<std::string>(), ")")}});
    }
    SendOData(res, 200,
              {{"@odata.context", absl::StrCat(t.base, "$metadata#Collection($ref)")},
               {"value", std::move(value)}});
    return;
  }
  auto query = ParseQuery(t.params, RoleSchema(), kSelect | kFilter | kTop);
  if (!query.ok()) return SendQueryError(res, query.status());
  nlohmann::json value = nlohmann::json::array();
  for (const nlohmann::json& row : RolesOfUser(t, *user)) {
    if (!Matches(row, query->filter)) continue;
    value.push_back(Project(row, query->select, RoleSchema()));
    if (query->top.has_value() && static_cast<int>(value.size()) >= *query->top) break;
  }
  SendOData(res, 200,
            {{"@odata.context", ContextUrl(t.base, "roles", query->select)},
             {"value", std::move(value)}});
}

// The role id at the end of an entity reference `<any base>/roles(<id>)`.
std::optional<std::string> RoleIdOfReference(absl::string_view url) {
  if (!absl::ConsumeSuffix(&url, ")")) return std::nullopt;
  const size_t open = url.rfind("roles(");
  if (open == absl::string_view::npos) return std::nullopt;
  if (open > 0 && url[open - 1] != '/') return std::nullopt;
  const absl::string_view id = url.substr(open + 6);
  if (!IsGuid(id)) return std::nullopt;
  return std::string(id);
}

void Associate(CloudState& s, const Target& t, const ResourcePath& path,
               const httplib::Request& req, httplib::Response& res) {
  if (!t.params.empty()) {
    SendDataverseError(res, 400, kQueryError, "The emulator takes no query options here.");
    return;
  }
  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  std::optional<std::string> role_id;
  if (body.is_object() && body.contains("@odata.id") && body["@odata.id"].is_string()) {
    role_id = RoleIdOfReference(body["@odata.id"].get<std::string>());
  }
  if (!role_id.has_value()) {
    SendDataverseError(res, 400, kQueryError,
                       "The request body must be an entity reference of a role: "
                       "{\"@odata.id\":\"<service root>/roles(<roleid>)\"}.");
    return;
  }
  SystemUser* user = FindVisibleSystemUser(*t.env, *path.key, t.now);
  if (user == nullptr) return SendDoesNotExist(res, "systemuser", *path.key);
  const Role* role = FindRole(*t.env, *role_id);
  if (role == nullptr) {
    // Microsoft's Terraform provider maps 0x80060888 on this call to "role
    // with id '...' is not valid" (reference F).
    SendDataverseError(res, 404, kQueryError,
                       absl::StrCat("role With Id = ", *role_id, " Does Not Exist"));
    return;
  }
  if (user->disabled) {
    SendDataverseError(res, 400, kUserDisabled,
                       absl::StrCat("The specified user (Id = ", user->id,
                                    ") is disabled. Consider enabling this user. Security roles "
                                    "cannot be assigned to disabled users."));
    return;
  }
  if (!absl::EqualsIgnoreCase(role->business_unit_id, user->business_unit_id)) {
    // The code Dataverse uses here is not documented; it often leaves `code`
    // empty, so the emulator does too rather than invent one.
    SendDataverseError(res, 400, "",
                       absl::StrCat("The role ", role->id, " belongs to business unit ",
                                    role->business_unit_id, " but the user ", user->id,
                                    " belongs to business unit ", user->business_unit_id,
                                    ": a security role can only be assigned to users of its "
                                    "own business unit."));
    return;
  }
  if (user->role_ids.count(role->id) != 0) {
    // The status for re-associating is unconfirmed (reference F): the SDK
    // says "Cannot insert duplicate key.", the Web API's duplicate-key code
    // 0x80040237 has been seen with 412, and 412 is the status the Web API
    // documents for DuplicateRecord. Clients must look before associating.
    SendDataverseError(res, 412, kDuplicateKey, "Cannot insert duplicate key.");
    return;
  }
  user->role_ids.insert(role->id);
  ++s.counters.role_associations[absl::StrCat(user->id, "|", role->id)];
  SendNoContent(res);
}

void Disassociate(const Target& t, const ResourcePath& path, const httplib::Request& req,
                  httplib::Response& res) {
  std::optional<std::string> role_id;
  if (t.params.size() == 1 && t.params.count("$id") != 0) {
    role_id = RoleIdOfReference(t.params.find("$id")->second);
  }
  if (!role_id.has_value()) {
    SendDataverseError(res, 400, kQueryError,
                       "DELETE of a $ref needs exactly one query option $id=<service "
                       "root>/roles(<roleid>).");
    return;
  }
  SystemUser* user = FindVisibleSystemUser(*t.env, *path.key, t.now);
  if (user == nullptr) return SendDoesNotExist(res, "systemuser", *path.key);
  const Role* role = FindRole(*t.env, *role_id);
  if (role == nullptr) {
    SendDataverseError(res, 404, kQueryError,
                       absl::StrCat("role With Id = ", *role_id, " Does Not Exist"));
    return;
  }
  user->role_ids.erase(role->id);
  SendNoContent(res);
}

void PatchSystemUser(const Target& t, const ResourcePath& path, const httplib::Request& req,
                     httplib::Response& res) {
  if (!t.params.empty()) {
    SendDataverseError(res, 400, kQueryError, "The emulator takes no query options on PATCH.");
    return;
  }
  const std::string if_match(absl::StripAsciiWhitespace(req.get_header_value("If-Match")));
  const bool create_only = absl::StripAsciiWhitespace(req.get_header_value("If-None-Match")) == "*";
  if (if_match.empty() || create_only) {
    // Without If-Match a PATCH is an upsert that may create the row
    // (reference F); creating system users that way is what addUser is for,
    // so the emulator refuses instead of pretending.
    SendDataverseError(res, 400, kQueryError,
                       "The emulator supports PATCH of systemusers only with 'If-Match: *' (or "
                       "the row's ETag): without it Dataverse would upsert, which the emulator "
                       "does not support; system users are created by the admin addUser.");
    return;
  }
  SystemUser* user = FindVisibleSystemUser(*t.env, *path.key, t.now);
  if (user == nullptr) return SendDoesNotExist(res, "systemuser", *path.key);
  if (if_match != "*" && if_match != ETagOf(SystemUserRow(*user))) {
    SendDataverseError(res, 412, kVersionMismatch,
                       "The version of the existing record doesn't match the RowVersion property "
                       "provided.");
    return;
  }
  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (!body.is_object()) {
    SendDataverseError(res, 400, kQueryError, "The request body must be a JSON object.");
    return;
  }
  SystemUser updated = *user;
  for (const auto& [key, value] : body.items()) {
    std::string* column = nullptr;
    size_t max_length = kNameMaxLength;
    if (key == "internalemailaddress") {
      column = &updated.internal_email;
      max_length = kInternalEmailMaxLength;
    } else if (key == "firstname") {
      column = &updated.first_name;
    } else if (key == "lastname") {
      column = &updated.last_name;
    } else if (SystemUserSchema().columns.count(key) != 0) {
      SendDataverseError(
          res, 400, kQueryError,
          absl::StrCat("The emulator does not support updating '", key,
                       "' of systemuser (only internalemailaddress, firstname, lastname)."));
      return;
    } else {
      SendDataverseError(
          res, 400, kQueryError,
          absl::StrCat("The property '", key,
                       "' does not exist on type 'Microsoft.Dynamics.CRM.systemuser'. Make sure "
                       "to only use property names that are defined by the type."));
      return;
    }
    if (!value.is_string()) {
      SendDataverseError(res, 400, kQueryError,
                         absl::StrCat("Cannot convert the literal '", value.dump(),
                                      "' to the expected type 'Edm.String'."));
      return;
    }
    const std::string text = value.get<std::string>();
    if (text.size() > max_length) {
      SendDataverseError(res, 400, kValidation,
                         absl::StrCat("A validation error occurred. The length of the '", key,
                                      "' attribute of the 'systemuser' entity exceeded the "
                                      "maximum allowed length of '",
                                      max_length, "'."));
      return;
    }
    *column = text;
  }
  *user = updated;
  if (absl::StrContains(req.get_header_value("Prefer"), "return=representation")) {
    nlohmann::json out = Project(SystemUserRow(*user), {}, SystemUserSchema());
    out["@odata.context"] = absl::StrCat(ContextUrl(t.base, "systemusers", {}), "/$entity");
    SendOData(res, 200, out);
    return;
  }
  SendNoContent(res);
}

void Handle(EmulatorContext& ctx, const httplib::Request& req, httplib::Response& res) {
  res.set_header("OData-Version", "4.0");
  const std::string org_in_path = req.matches[1];
  const std::string org = absl::AsciiStrToLower(org_in_path);
  const std::string resource = req.matches[2];
  const bool known = ctx.state->Locked(
      [&](CloudState& s) { return s.FindEnvironmentByOrg(org, nullptr) != nullptr; });
  if (!known) {
    // A real unknown org has no DNS name at all; 404 is the closest answer.
    SendDataverseError(
        res, 404, kQueryError,
        absl::StrCat("The emulator serves no Dataverse environment '", org_in_path, "'."));
    return;
  }
  std::optional<Grant> grant = Authorize(req, res, *ctx.state, absl::StrCat("dataverse:", org));
  if (!grant.has_value()) return;

  std::string host = req.get_header_value("Host");
  if (host.empty()) host = "localhost";
  ctx.state->Locked([&](CloudState& s) {
    Target t;
    t.env = s.FindEnvironmentByOrg(org, nullptr);
    t.base = absl::StrCat("http://", host, "/orgs/", org_in_path, "/api/data/v9.2/");
    t.now = absl::Now();
    t.params = ODataParams(req.target);
    bool member = false;
    for (const std::string& app : t.env->application_users) {
      member = member || absl::EqualsIgnoreCase(app, grant->client_id);
    }
    if (!member) {
      SendDataverseError(res, 403, kNotMember, "The user is not a member of the organization.");
      return 0;
    }
    ResourcePath path;
    if (ParseResourcePath(resource, res, path) != 0) return 0;

    auto not_allowed = [&] {
      SendDataverseError(
          res, 405, kQueryError,
          absl::StrCat("The emulator does not support ", req.method, " on '", resource, "'."));
    };
    if (req.method == "GET") {
      if (path.entity_set == "WhoAmI") {
        GetWhoAmI(t, *grant, req, res);
      } else if (!path.navigation.empty()) {
        GetUserRoles(t, path, req, res);
      } else if (path.key.has_value()) {
        GetEntity(t, path, req, res);
      } else {
        GetCollection(t, path, req, res);
      }
    } else if (req.method == "POST" && path.ref) {
      Associate(s, t, path, req, res);
    } else if (req.method == "DELETE" && path.ref) {
      Disassociate(t, path, req, res);
    } else if (req.method == "PATCH" && path.entity_set == "systemusers" && path.key &&
               path.navigation.empty()) {
      PatchSystemUser(t, path, req, res);
    } else {
      not_allowed();
    }
    return 0;
  });
}

}  // namespace

void RegisterDataverseRoutes(httplib::Server& server, EmulatorContext& ctx) {
  auto handler = [&ctx](const httplib::Request& req, httplib::Response& res) {
    Handle(ctx, req, res);
  };
  server.Get(kRoute, handler);
  server.Post(kRoute, handler);
  server.Patch(kRoute, handler);
  server.Delete(kRoute, handler);
}

}  // namespace guestflow::emulator
