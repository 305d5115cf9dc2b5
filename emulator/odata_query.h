// The OData query options of the emulated Dataverse Web API: the subset of
// $select, $filter, $top and $expand that Dataverse clients send, checked
// against each entity set's columns the way Dataverse checks them (unknown
// column, Guid compared with a string literal...), so that a plugin bug shows
// up in tests instead of against a real environment.
//
// Rows are JSON objects holding every column of the entity under its Web API
// name (lookups as `_x_value`); filtering and projection work on them.
//
// Errors are absl::InvalidArgumentError with the message Dataverse would give;
// the routes answer them as 400 with code 0x80060888 (the Web API's code for
// query and URL parsing errors).
//
// Thread-safety: everything here is a pure function or immutable data.
//
// Header-only: emulator/CMakeLists.txt compiles a fixed list of route files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace guestflow::emulator {

enum class ColumnType { kGuid, kString, kBool, kInt };

struct EntitySchema {
  std::string entity_set;    // "systemusers"
  std::string logical_name;  // "systemuser"
  std::string key;           // "systemuserid"
  std::map<std::string, ColumnType> columns;
  // Collection-valued navigation properties: name -> entity set of the target.
  std::map<std::string, std::string> navigation;
};

// The entity sets the emulator serves. Static, immutable.
const EntitySchema& SystemUserSchema();
const EntitySchema& RoleSchema();
const EntitySchema& BusinessUnitSchema();
// By entity set name, or null.
const EntitySchema* SchemaOf(absl::string_view entity_set);

// One `column eq literal` comparison.
struct Comparison {
  enum class Kind { kNull, kString, kGuid, kBool, kInt };
  std::string column;
  Kind kind = Kind::kNull;
  std::string text;  // the literal, unescaped ("" for null)
};

struct ExpandItem {
  std::string navigation;
  std::vector<std::string> select;  // empty: every column
};

struct Query {
  std::vector<std::string> select;  // empty: every column
  std::vector<Comparison> filter;   // all must hold (`and`); empty: every row
  std::optional<int> top;
  std::vector<ExpandItem> expand;
};

// Which options a resource accepts.
enum QueryOption : unsigned {
  kSelect = 1,
  kFilter = 2,
  kTop = 4,
  kExpand = 8,
};

// The query options of a request target ("/path?a=b&c=d"), percent-decoded.
// cpp-httplib's own req.params splits `key=value` at the LAST '=', which
// breaks `$expand=nav($select=a,b)`; this splits at the first.
httplib::Params ODataParams(const std::string& target);

// Parses the request's query options against `schema`. Any option outside
// `allowed`, any custom query option (no `$`: real Dataverse ignores it, which
// would hide a client's missing `$`), a repeated option, or a malformed value
// is an error.
absl::StatusOr<Query> ParseQuery(const httplib::Params& params, const EntitySchema& schema,
                                 unsigned allowed);

// Parses a $filter value alone (exposed for tests).
absl::StatusOr<std::vector<Comparison>> ParseFilter(absl::string_view filter,
                                                    const EntitySchema& schema);

// Whether `row` satisfies every comparison. Guids and strings compare
// case-insensitively, like Dataverse's SQL collation.
bool Matches(const nlohmann::json& row, const std::vector<Comparison>& filter);

// `row` reduced to `select` (all columns when empty) plus the key, which
// Dataverse always returns, with "@odata.etag" first.
nlohmann::json Project(const nlohmann::json& row, const std::vector<std::string>& select,
                       const EntitySchema& schema);

// W/"<number>": a weak ETag that changes whenever a column changes.
std::string ETagOf(const nlohmann::json& row);

// "{base}$metadata#{entity_set}" with "(col,...)" when selecting.
std::string ContextUrl(absl::string_view base, absl::string_view entity_set,
                       const std::vector<std::string>& select);

// Whether `text` is a GUID (8-4-4-4-12 hex digits).
bool IsGuid(absl::string_view text);

// ---- Implementation ----

namespace odata_internal {

inline EntitySchema MakeSystemUserSchema() {
  EntitySchema s;
  s.entity_set = "systemusers";
  s.logical_name = "systemuser";
  s.key = "systemuserid";
  s.columns = {{"systemuserid", ColumnType::kGuid},
               {"azureactivedirectoryobjectid", ColumnType::kGuid},
               {"_businessunitid_value", ColumnType::kGuid},
               {"internalemailaddress", ColumnType::kString},
               {"domainname", ColumnType::kString},
               {"firstname", ColumnType::kString},
               {"lastname", ColumnType::kString},
               {"fullname", ColumnType::kString},
               {"isdisabled", ColumnType::kBool},
               {"accessmode", ColumnType::kInt}};
  s.navigation = {{"systemuserroles_association", "roles"}};
  return s;
}

inline EntitySchema MakeRoleSchema() {
  EntitySchema s;
  s.entity_set = "roles";
  s.logical_name = "role";
  s.key = "roleid";
  s.columns = {{"roleid", ColumnType::kGuid},
               {"name", ColumnType::kString},
               {"_businessunitid_value", ColumnType::kGuid},
               {"ismanaged", ColumnType::kBool}};
  return s;
}

inline EntitySchema MakeBusinessUnitSchema() {
  EntitySchema s;
  s.entity_set = "businessunits";
  s.logical_name = "businessunit";
  s.key = "businessunitid";
  s.columns = {{"businessunitid", ColumnType::kGuid},
               {"name", ColumnType::kString},
               {"_parentbusinessunitid_value", ColumnType::kGuid}};
  return s;
}

inline absl::Status NoSuchProperty(absl::string_view name, const EntitySchema& schema) {
  return absl::InvalidArgumentError(absl::StrCat("Could not find a property named '", name,
                                                 "' on type 'Microsoft.Dynamics.CRM.",
                                                 schema.logical_name, "'."));
}

inline const char* EdmName(ColumnType type) {
  switch (type) {
    case ColumnType::kGuid:
      return "Edm.Guid";
    case ColumnType::kString:
      return "Edm.String";
    case ColumnType::kBool:
      return "Edm.Boolean";
    case ColumnType::kInt:
      return "Edm.Int32";
  }
  return "Edm.String";
}

inline const char* EdmName(Comparison::Kind kind) {
  switch (kind) {
    case Comparison::Kind::kGuid:
      return "Edm.Guid";
    case Comparison::Kind::kString:
      return "Edm.String";
    case Comparison::Kind::kBool:
      return "Edm.Boolean";
    case Comparison::Kind::kInt:
      return "Edm.Int32";
    case Comparison::Kind::kNull:
      return "null";
  }
  return "null";
}

inline bool Compatible(ColumnType column, Comparison::Kind literal) {
  if (literal == Comparison::Kind::kNull) return true;
  switch (column) {
    case ColumnType::kGuid:
      return literal == Comparison::Kind::kGuid;
    case ColumnType::kString:
      return literal == Comparison::Kind::kString;
    case ColumnType::kBool:
      return literal == Comparison::Kind::kBool;
    case ColumnType::kInt:
      return literal == Comparison::Kind::kInt;
  }
  return false;
}

inline bool IsIdentifierChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// A recursive-descent parser for `expr := term ('and' term)*`,
// `term := '(' expr ')' | column 'eq' literal`. Only `and` is needed by the
// clients this emulator serves; anything else is refused by name so that a
// test shows what is missing rather than silently matching too much.
class FilterParser {
 public:
  FilterParser(absl::string_view text, const EntitySchema& schema) : text_(text), schema_(schema) {}

  absl::StatusOr<std::vector<Comparison>> Parse() {
    std::vector<Comparison> out;
    absl::Status status = ParseExpr(out, 0);
    if (!status.ok()) return status;
    SkipSpaces();
    if (pos_ != text_.size()) return SyntaxError();
    if (out.empty()) return SyntaxError();
    return out;
  }

 private:
  absl::Status ParseExpr(std::vector<Comparison>& out, int depth) {
    if (depth > 8) return SyntaxError();
    while (true) {
      absl::Status status = ParseTerm(out, depth);
      if (!status.ok()) return status;
      SkipSpaces();
      const size_t save = pos_;
      const std::string word = Word();
      if (word == "and") {
        if (!SkipRequiredSpace()) return SyntaxError();
        continue;
      }
      if (word == "or" || word == "not") {
        return absl::InvalidArgumentError(
            absl::StrCat("The emulator supports only 'eq' comparisons joined by 'and' in $filter; "
                         "found '",
                         word, "' at position ", save, " in '", text_, "'."));
      }
      pos_ = save;
      return absl::OkStatus();
    }
  }

  absl::Status ParseTerm(std::vector<Comparison>& out, int depth) {
    SkipSpaces();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      ++pos_;
      absl::Status status = ParseExpr(out, depth + 1);
      if (!status.ok()) return status;
      SkipSpaces();
      if (pos_ >= text_.size() || text_[pos_] != ')') return SyntaxError();
      ++pos_;
      return absl::OkStatus();
    }
    const std::string column = Word();
    if (column.empty()) return SyntaxError();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      return absl::InvalidArgumentError(
          absl::StrCat("The emulator does not support the function '", column,
                       "' in $filter (only 'eq' comparisons joined by 'and')."));
    }
    auto type = schema_.columns.find(column);
    if (type == schema_.columns.end()) return NoSuchProperty(column, schema_);
    if (!SkipRequiredSpace()) return SyntaxError();
    const std::string op = Word();
    if (op != "eq") {
      if (op == "ne" || op == "gt" || op == "ge" || op == "lt" || op == "le") {
        return absl::InvalidArgumentError(absl::StrCat(
            "The emulator supports only 'eq' comparisons in $filter; found '", op, "'."));
      }
      return SyntaxError();
    }
    if (!SkipRequiredSpace()) return SyntaxError();
    Comparison c;
    c.column = column;
    absl::Status literal = ParseLiteral(c);
    if (!literal.ok()) return literal;
    if (!Compatible(type->second, c.kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "A binary operator with incompatible types was detected. Found operand types '",
          EdmName(type->second), "' and '", EdmName(c.kind), "' for operator kind 'Equal'."));
    }
    out.push_back(std::move(c));
    return absl::OkStatus();
  }

  absl::Status ParseLiteral(Comparison& c) {
    if (pos_ >= text_.size()) return SyntaxError();
    if (text_[pos_] == '\'') {
      std::string value;
      for (++pos_; pos_ < text_.size(); ++pos_) {
        if (text_[pos_] == '\'') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\'') {
            value.push_back('\'');
            ++pos_;
            continue;
          }
          ++pos_;
          c.kind = Comparison::Kind::kString;
          c.text = std::move(value);
          return absl::OkStatus();
        }
        value.push_back(text_[pos_]);
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "There is an unterminated string literal at position ", pos_, " in '", text_, "'."));
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ' ' && text_[pos_] != ')') ++pos_;
    const std::string token(text_.substr(start, pos_ - start));
    int64_t number = 0;
    if (token == "null") {
      c.kind = Comparison::Kind::kNull;
    } else if (token == "true" || token == "false") {
      c.kind = Comparison::Kind::kBool;
      c.text = token;
    } else if (IsGuid(token)) {
      c.kind = Comparison::Kind::kGuid;
      c.text = token;
    } else if (absl::SimpleAtoi(token, &number)) {
      c.kind = Comparison::Kind::kInt;
      c.text = token;
    } else {
      pos_ = start;
      return SyntaxError();
    }
    return absl::OkStatus();
  }

  std::string Word() {
    const size_t start = pos_;
    while (pos_ < text_.size() && IsIdentifierChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }

  bool SkipRequiredSpace() {
    if (pos_ >= text_.size() || text_[pos_] != ' ') return false;
    SkipSpaces();
    return true;
  }

  absl::Status SyntaxError() const {
    return absl::InvalidArgumentError(
        absl::StrCat("Syntax error at position ", pos_, " in '", text_, "'."));
  }

  absl::string_view text_;
  const EntitySchema& schema_;
  size_t pos_ = 0;
};

inline absl::StatusOr<std::vector<std::string>> ParseSelect(absl::string_view value,
                                                            const EntitySchema& schema) {
  std::vector<std::string> columns;
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("Syntax error in $select '", value, "'."));
    }
    if (schema.columns.count(std::string(item)) == 0) return NoSuchProperty(item, schema);
    columns.emplace_back(item);
  }
  return columns;
}

// Splits at commas outside parentheses.
inline std::vector<std::string> SplitTopLevel(absl::string_view value) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string current;
  for (char c : value) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  parts.push_back(current);
  return parts;
}

inline absl::StatusOr<std::vector<ExpandItem>> ParseExpand(absl::string_view value,
                                                           const EntitySchema& schema) {
  std::vector<ExpandItem> items;
  for (const std::string& raw : SplitTopLevel(value)) {
    absl::string_view part = absl::StripAsciiWhitespace(raw);
    ExpandItem item;
    absl::string_view options;
    const size_t paren = part.find('(');
    if (paren != absl::string_view::npos) {
      if (part.back() != ')') {
        return absl::InvalidArgumentError(absl::StrCat("Syntax error in $expand '", value, "'."));
      }
      options = part.substr(paren + 1, part.size() - paren - 2);
      part = part.substr(0, paren);
    }
    item.navigation = std::string(part);
    auto nav = schema.navigation.find(item.navigation);
    if (nav == schema.navigation.end()) return NoSuchProperty(item.navigation, schema);
    const EntitySchema* target = SchemaOf(nav->second);
    for (absl::string_view option : absl::StrSplit(options, ';', absl::SkipEmpty())) {
      if (!absl::ConsumePrefix(&option, "$select=")) {
        return absl::InvalidArgumentError(absl::StrCat(
            "The emulator supports only $select inside $expand; found '", option, "'."));
      }
      auto select = ParseSelect(option, *target);
      if (!select.ok()) return select.status();
      item.select = *std::move(select);
    }
    items.push_back(std::move(item));
  }
  return items;
}

inline uint64_t Fnv1a(absl::string_view text) {
  uint64_t hash = 14695981039346656037ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX and '+' (a space in query strings) decoded; a malformed escape stays.
inline std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace odata_internal

inline httplib::Params ODataParams(const std::string& target) {
  httplib::Params params;
  const size_t question = target.find('?');
  if (question == std::string::npos) return params;
  for (absl::string_view pair :
       absl::StrSplit(absl::string_view(target).substr(question + 1), '&', absl::SkipEmpty())) {
    const size_t equals = pair.find('=');
    const absl::string_view key = pair.substr(0, equals);
    const absl::string_view value =
        equals == absl::string_view::npos ? absl::string_view() : pair.substr(equals + 1);
    params.emplace(odata_internal::PercentDecode(key), odata_internal::PercentDecode(value));
  }
  return params;
}

inline const EntitySchema& SystemUserSchema() {
  static const EntitySchema* schema = new EntitySchema(odata_internal::MakeSystemUserSchema());
  return *schema;
}

inline const EntitySchema& RoleSchema() {
  static const EntitySchema* schema = new EntitySchema(odata_internal::MakeRoleSchema());
  return *schema;
}

inline const EntitySchema& BusinessUnitSchema() {
  static const EntitySchema* schema = new EntitySchema(odata_internal::MakeBusinessUnitSchema());
  return *schema;
}

inline const EntitySchema* SchemaOf(absl::string_view entity_set) {
  for (const EntitySchema* s : {&SystemUserSchema(), &RoleSchema(), &BusinessUnitSchema()}) {
    if (s->entity_set == entity_set) return s;
  }
  return nullptr;
}

inline bool IsGuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

inline absl::StatusOr<std::vector<Comparison>> ParseFilter(absl::string_view filter,
                                                           const EntitySchema& schema) {
  return odata_internal::FilterParser(filter, schema).Parse();
}

inline absl::StatusOr<Query> ParseQuery(const httplib::Params& params, const EntitySchema& schema,
                                        unsigned allowed) {
  Query query;
  std::set<std::string> seen;
  for (const auto& [key, value] : params) {
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Query option '", key,
                       "' was specified more than once, but it must be specified at "
                       "most once."));
    }
    if (!absl::StartsWith(key, "$")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The query parameter '", key,
          "' is not supported (the emulator refuses custom query options: real Dataverse "
          "ignores them, which hides a missing '$')."));
    }
    if (key == "$select" && (allowed & kSelect) != 0) {
      auto select = odata_internal::ParseSelect(value, schema);
      if (!select.ok()) return select.status();
      query.select = *std::move(select);
    } else if (key == "$filter" && (allowed & kFilter) != 0) {
      auto filter = ParseFilter(value, schema);
      if (!filter.ok()) return filter.status();
      query.filter = *std::move(filter);
    } else if (key == "$top" && (allowed & kTop) != 0) {
      int top = 0;
      if (!absl::SimpleAtoi(value, &top) || top <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("Invalid value '", value, "' for $top query option found."));
      }
      query.top = top;
    } else if (key == "$expand" && (allowed & kExpand) != 0) {
      auto expand = odata_internal::ParseExpand(value, schema);
      if (!expand.ok()) return expand.status();
      query.expand = *std::move(expand);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("The query parameter '", key, "' is not supported."));
    }
  }
  return query;
}

inline bool Matches(const nlohmann::json& row, const std::vector<Comparison>& filter) {
  for (const Comparison& c : filter) {
    auto it = row.find(c.column);
    const bool is_null = it == row.end() || it->is_null();
    if (c.kind == Comparison::Kind::kNull) {
      if (!is_null) return false;
      continue;
    }
    if (is_null) return false;
    switch (c.kind) {
      case Comparison::Kind::kGuid:
      case Comparison::Kind::kString:
        if (!it->is_string() || !absl::EqualsIgnoreCase(it->get<std::string>(), c.text)) {
          return false;
        }
        break;
      case Comparison::Kind::kBool:
        if (!it->is_boolean() || it->get<bool>() != (c.text == "true")) return false;
        break;
      case Comparison::Kind::kInt: {
        int64_t wanted = 0;
        if (!it->is_number_integer() || !absl::SimpleAtoi(c.text, &wanted) ||
            it->get<int64_t>() != wanted) {
          return false;
        }
        break;
      }
      case Comparison::Kind::kNull:
        break;
    }
  }
  return true;
}

inline nlohmann::json Project(const nlohmann::json& row, const std::vector<std::string>& select,
                              const EntitySchema& schema) {
  nlohmann::json out = nlohmann::json::object();
  out["@odata.etag"] = ETagOf(row);
  if (select.empty()) {
    for (const auto& [key, value] : row.items()) out[key] = value;
    return out;
  }
  for (const std::string& column : select) {
    auto it = row.find(column);
    out[column] = it == row.end() ? nlohmann::json() : *it;
  }
  if (auto key = row.find(schema.key); key != row.end()) out[schema.key] = *key;
  return out;
}

inline std::string ETagOf(const nlohmann::json& row) {
  return absl::StrCat("W/\"", odata_internal::Fnv1a(row.dump()) % 10000000000ULL, "\"");
}

inline std::string ContextUrl(absl::string_view base, absl::string_view entity_set,
                              const std::vector<std::string>& select) {
  std::string url = absl::StrCat(base, "$metadata#", entity_set);
  if (!select.empty()) absl::StrAppend(&url, "(", absl::StrJoin(select, ","), ")");
  return url;
}

}  // namespace guestflow::emulator
