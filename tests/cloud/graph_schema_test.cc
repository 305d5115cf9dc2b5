// Every JSON property the Graph plugins send and every property the emulator's
// Graph answers with, checked against Microsoft Graph's own v1.0 OData schema
// (CSDL, /work/shared/reference/graph-v1.0-metadata.xml): the property must
// exist on the right entity, complex type or action, with a compatible type.
// A typo ("invitedUserEmail") or a wrong shape (a GUID that is not one, a
// string where Graph wants a collection) fails here before it fails against
// the real cloud.
//
// The schema is read in place (it is not copied into the repository): from
// GUESTFLOW_GRAPH_METADATA if the build defines it, else from
// <project>/../shared/reference/. The test is skipped when the file is absent.
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/cloud/cloud_test_env.h"

namespace guestflow::cloudtest {
namespace {

using nlohmann::json;

std::string MetadataPath() {
#ifdef GUESTFLOW_GRAPH_METADATA
  return GUESTFLOW_GRAPH_METADATA;
#else
  // GUESTFLOW_DEMO_FIXTURE is <project>/emulator/fixtures/demo.yaml.
  std::string project = GUESTFLOW_DEMO_FIXTURE;
  project = project.substr(0, project.rfind("/emulator/"));
  return project + "/../shared/reference/graph-v1.0-metadata.xml";
#endif
}

// ---------------------------------------------------------------------------
// A small reader for the part of OData CSDL (XML) this test needs: schemas
// with their aliases, entity/complex/enum types, their properties, bound
// actions with their parameters, and entity sets.

struct CsdlProperty {
  std::string type;  // "Edm.String", "graph.user", "Collection(graph.recipient)"
  bool nullable = true;
  bool navigation = false;
};

struct CsdlType {
  std::string base;  // qualified, "" for none
  bool abstract = false;
  std::map<std::string, CsdlProperty> properties;
};

struct CsdlAction {
  std::string binding_type;                        // qualified type of bindingParameter
  std::map<std::string, CsdlProperty> parameters;  // without bindingParameter
};

struct Csdl {
  std::map<std::string, CsdlType> types;               // qualified name
  std::map<std::string, std::set<std::string>> enums;  // qualified name -> members
  std::multimap<std::string, CsdlAction> actions;      // qualified name
  std::map<std::string, std::string> entity_sets;      // name -> qualified type
  std::map<std::string, std::string> aliases;          // alias -> namespace

  // "graph.user" → "microsoft.graph.user"; collections keep their wrapper.
  std::string Qualify(const std::string& name) const {
    if (name.rfind("Collection(", 0) == 0) {
      return "Collection(" + Qualify(name.substr(11, name.size() - 12)) + ")";
    }
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos) return name;
    auto alias = aliases.find(name.substr(0, dot));
    return alias == aliases.end() ? name : alias->second + name.substr(dot);
  }

  // The property `name` of `type` or of one of its base types.
  const CsdlProperty* FindProperty(const std::string& type, const std::string& name) const {
    for (std::string t = type; !t.empty();) {
      auto it = types.find(t);
      if (it == types.end()) return nullptr;
      auto p = it->second.properties.find(name);
      if (p != it->second.properties.end()) return &p->second;
      t = it->second.base;
    }
    return nullptr;
  }

  bool DerivesFrom(std::string type, const std::string& base) const {
    while (!type.empty()) {
      if (type == base) return true;
      auto it = types.find(type);
      if (it == types.end()) return false;
      type = it->second.base;
    }
    return false;
  }

  // The action `name` bound to `binding_type`, or null.
  const CsdlAction* FindBoundAction(const std::string& name,
                                    const std::string& binding_type) const {
    auto [first, last] = actions.equal_range(name);
    for (auto it = first; it != last; ++it) {
      if (it->second.binding_type == binding_type) return &it->second;
    }
    return nullptr;
  }
};

std::string DecodeEntities(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    const size_t end = s.find(';', i);
    if (end == std::string::npos) {
      out.push_back(s[i]);
      continue;
    }
    const std::string entity = s.substr(i + 1, end - i - 1);
    if (entity == "amp") {
      out.push_back('&');
    } else if (entity == "lt") {
      out.push_back('<');
    } else if (entity == "gt") {
      out.push_back('>');
    } else if (entity == "quot") {
      out.push_back('"');
    } else if (entity == "apos") {
      out.push_back('\'');
    } else if (!entity.empty() && entity[0] == '#') {
      const int64_t code = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X')
                               ? std::strtoll(entity.c_str() + 2, nullptr, 16)
                               : std::strtoll(entity.c_str() + 1, nullptr, 10);
      if (code > 0 && code < 128) out.push_back(static_cast<char>(code));
    } else {
      out += "&" + entity + ";";
    }
    i = end;
  }
  return out;
}

struct XmlTag {
  std::string name;  // without a namespace prefix
  std::map<std::string, std::string> attributes;
  bool closing = false;       // </name>
  bool self_closing = false;  // <name ... />
};

// Reads one tag starting at text[pos] == '<'; false on malformed input.
bool ReadTag(const std::string& text, size_t& pos, XmlTag* tag) {
  size_t i = pos + 1;
  tag->closing = i < text.size() && text[i] == '/';
  if (tag->closing) ++i;
  const size_t name_start = i;
  while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) && text[i] != '>' &&
         text[i] != '/') {
    ++i;
  }
  tag->name = text.substr(name_start, i - name_start);
  if (const size_t colon = tag->name.find(':'); colon != std::string::npos) {
    tag->name = tag->name.substr(colon + 1);
  }
  tag->attributes.clear();
  tag->self_closing = false;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) return false;
    if (text[i] == '>') {
      pos = i + 1;
      return true;
    }
    if (text[i] == '/' && i + 1 < text.size() && text[i + 1] == '>') {
      tag->self_closing = true;
      pos = i + 2;
      return true;
    }
    const size_t eq = text.find('=', i);
    if (eq == std::string::npos || eq + 1 >= text.size()) return false;
    std::string key = text.substr(i, eq - i);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    size_t q = eq + 1;
    while (q < text.size() && std::isspace(static_cast<unsigned char>(text[q]))) ++q;
    if (q >= text.size() || (text[q] != '"' && text[q] != '\'')) return false;
    const size_t close = text.find(text[q], q + 1);
    if (close == std::string::npos) return false;
    tag->attributes[key] = DecodeEntities(text.substr(q + 1, close - q - 1));
    i = close + 1;
  }
  return false;
}

// Parses the CSDL; an error string on malformed XML.
std::string ParseCsdl(const std::string& text, Csdl* csdl) {
  std::string ns;            // current Schema namespace
  std::string current_type;  // qualified, inside EntityType/ComplexType
  std::string current_enum;  // qualified, inside EnumType
  CsdlAction* current_action = nullptr;
  std::string current_action_name;
  CsdlAction action;
  size_t pos = 0;
  while ((pos = text.find('<', pos)) != std::string::npos) {
    if (text.compare(pos, 4, "<!--") == 0) {
      const size_t end = text.find("-->", pos);
      if (end == std::string::npos) return "unterminated comment";
      pos = end + 3;
      continue;
    }
    if (text.compare(pos, 2, "<?") == 0 || text.compare(pos, 2, "<!") == 0) {
      const size_t end = text.find('>', pos);
      if (end == std::string::npos) return "unterminated declaration";
      pos = end + 1;
      continue;
    }
    XmlTag tag;
    const size_t at = pos;
    if (!ReadTag(text, pos, &tag)) return "malformed tag at byte " + std::to_string(at);
    const auto attr = [&](const char* key) {
      auto it = tag.attributes.find(key);
      return it == tag.attributes.end() ? std::string() : it->second;
    };
    if (tag.closing) {
      if (tag.name == "EntityType" || tag.name == "ComplexType") current_type.clear();
      if (tag.name == "EnumType") current_enum.clear();
      if (tag.name == "Action" && current_action != nullptr) {
        csdl->actions.emplace(current_action_name, *current_action);
        current_action = nullptr;
      }
      continue;
    }
    if (tag.name == "Schema") {
      ns = attr("Namespace");
      if (!attr("Alias").empty()) csdl->aliases[attr("Alias")] = ns;
    } else if (tag.name == "EntityType" || tag.name == "ComplexType") {
      current_type = ns + "." + attr("Name");
      CsdlType& type = csdl->types[current_type];
      type.base = attr("BaseType");  // qualified below, once every alias is known
      type.abstract = attr("Abstract") == "true";
      if (tag.self_closing) current_type.clear();
    } else if (tag.name == "EnumType") {
      current_enum = ns + "." + attr("Name");
      csdl->enums[current_enum];
      if (tag.self_closing) current_enum.clear();
    } else if (tag.name == "Member" && !current_enum.empty()) {
      csdl->enums[current_enum].insert(attr("Name"));
    } else if ((tag.name == "Property" || tag.name == "NavigationProperty") &&
               !current_type.empty()) {
      csdl->types[current_type].properties[attr("Name")] =
          CsdlProperty{attr("Type"), attr("Nullable") != "false", tag.name == "NavigationProperty"};
    } else if (tag.name == "Action") {
      action = CsdlAction{};
      current_action = &action;
      current_action_name = ns + "." + attr("Name");
      if (tag.self_closing) {
        csdl->actions.emplace(current_action_name, action);
        current_action = nullptr;
      }
    } else if (tag.name == "Parameter" && current_action != nullptr) {
      if (attr("Name") == "bindingParameter") {
        current_action->binding_type = attr("Type");
      } else {
        current_action->parameters[attr("Name")] =
            CsdlProperty{attr("Type"), attr("Nullable") != "false", false};
      }
    } else if (tag.name == "EntitySet") {
      csdl->entity_sets[attr("Name")] = attr("EntityType");
    }
  }
  // Aliases are known now: qualify every type reference.
  for (auto& [name, type] : csdl->types) {
    type.base = csdl->Qualify(type.base);
    for (auto& [p, prop] : type.properties) prop.type = csdl->Qualify(prop.type);
  }
  std::multimap<std::string, CsdlAction> actions;
  for (auto& [name, a] : csdl->actions) {
    a.binding_type = csdl->Qualify(a.binding_type);
    for (auto& [p, prop] : a.parameters) prop.type = csdl->Qualify(prop.type);
    actions.emplace(name, a);
  }
  csdl->actions = std::move(actions);
  for (auto& [name, type] : csdl->entity_sets) type = csdl->Qualify(type);
  return "";
}

bool IsGuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Checks JSON values against CSDL types, collecting every mismatch. Unknown
// properties are mismatches even on OpenType entities (user, group): an open
// type would take a misspelt property as a dynamic one, which is exactly the
// mistake this test is for.
class SchemaChecker {
 public:
  explicit SchemaChecker(const Csdl& csdl) : csdl_(csdl) {}

  void Value(const json& value, const std::string& type, bool nullable, const std::string& where) {
    if (value.is_null()) {
      if (!nullable) Error(where, "is null but " + type + " is not nullable");
      return;
    }
    if (type.rfind("Collection(", 0) == 0) {
      if (!value.is_array()) return Error(where, "must be a collection (" + type + ")");
      const std::string element = type.substr(11, type.size() - 12);
      for (size_t i = 0; i < value.size(); ++i) {
        Value(value[i], element, nullable, where + "[" + std::to_string(i) + "]");
      }
      return;
    }
    if (type.rfind("Edm.", 0) == 0) return Primitive(value, type, where);
    if (auto e = csdl_.enums.find(type); e != csdl_.enums.end()) {
      if (!value.is_string()) return Error(where, "must be a " + type + " member name");
      bool known = false;
      for (const std::string& m : e->second) known = known || EqualsIgnoreCase(m, value);
      if (!known) Error(where, "'" + value.get<std::string>() + "' is not a " + type + " member");
      return;
    }
    if (csdl_.types.count(type) == 0) return Error(where, "unknown type " + type);
    Object(value, type, where);
  }

  // An object of structured `type`: every property declared, every value
  // of the declared type.
  void Object(const json& value, const std::string& type, const std::string& where) {
    if (!value.is_object()) return Error(where, "must be an object of type " + type);
    for (const auto& [key, v] : value.items()) {
      if (key.find('@') != std::string::npos) continue;  // @odata.* annotations
      const CsdlProperty* p = csdl_.FindProperty(type, key);
      if (p == nullptr) {
        Error(absl::StrCat(where, ".", key), absl::StrCat("is not a property of ", type));
        continue;
      }
      Value(v, p->type, p->nullable, absl::StrCat(where, ".", key));
    }
  }

  // The parameters of action `name` bound to `binding_type`; parameter names
  // match case-insensitively (the service does), and every non-nullable
  // parameter must be there.
  void ActionBody(const json& body, const std::string& name, const std::string& binding_type,
                  const std::string& where) {
    const CsdlAction* action = csdl_.FindBoundAction(name, binding_type);
    if (action == nullptr) {
      return Error(where, absl::StrCat("no action ", name, " bound to ", binding_type));
    }
    if (!body.is_object()) return Error(where, "must be an object");
    for (const auto& [key, v] : body.items()) {
      const CsdlProperty* p = nullptr;
      for (const auto& [pname, prop] : action->parameters) {
        if (EqualsIgnoreCase(pname, key)) p = &prop;
      }
      if (p == nullptr) {
        Error(absl::StrCat(where, ".", key), absl::StrCat("is not a parameter of ", name));
        continue;
      }
      Value(v, p->type, p->nullable, absl::StrCat(where, ".", key));
    }
    for (const auto& [pname, prop] : action->parameters) {
      bool present = false;
      for (const auto& [key, v] : body.items()) present = present || EqualsIgnoreCase(pname, key);
      if (!prop.nullable && !present) Error(where, "misses the required parameter " + pname);
    }
  }

  // $select=a,b: each a property of `type`.
  void Select(const std::string& path, const std::string& type) {
    const size_t at = path.find("$select=");
    if (at == std::string::npos) return;
    std::string list = path.substr(at + 8);
    list = list.substr(0, list.find('&'));
    std::stringstream names(list);
    for (std::string name; std::getline(names, name, ',');) {
      if (csdl_.FindProperty(type, name) == nullptr) {
        Error(path, absl::StrCat("$select names ", name, ", not a property of ", type));
      }
    }
  }

  void Error(const std::string& where, const std::string& what) {
    errors_.push_back(where + " " + what);
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  void Primitive(const json& value, const std::string& type, const std::string& where) {
    bool ok = true;
    if (type == "Edm.String" || type == "Edm.Binary" || type == "Edm.Date" ||
        type == "Edm.TimeOfDay" || type == "Edm.Duration") {
      ok = value.is_string();
    } else if (type == "Edm.Boolean") {
      ok = value.is_boolean();
    } else if (type == "Edm.Guid") {
      ok = value.is_string() && IsGuid(value.get<std::string>());
    } else if (type == "Edm.Int32" || type == "Edm.Int64" || type == "Edm.Int16" ||
               type == "Edm.Byte" || type == "Edm.SByte") {
      ok = value.is_number_integer();
    } else if (type == "Edm.Double" || type == "Edm.Single" || type == "Edm.Decimal") {
      ok = value.is_number();
    } else if (type == "Edm.DateTimeOffset") {
      const std::string s = value.is_string() ? value.get<std::string>() : "";
      ok = s.size() >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T';
    }
    if (!ok) Error(where, "value " + value.dump() + " is not an " + type);
  }

  const Csdl& csdl_;
  std::vector<std::string> errors_;
};

// ---------------------------------------------------------------------------

class GraphSchemaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(MetadataPath(), std::ios::binary);
    if (!in) return;
    std::stringstream text;
    text << in.rdbuf();
    csdl_ = new Csdl();
    parse_error_ = new std::string(ParseCsdl(text.str(), csdl_));
  }
  static void TearDownTestSuite() {
    delete csdl_;
    delete parse_error_;
    csdl_ = nullptr;
    parse_error_ = nullptr;
  }

  void SetUp() override {
    if (csdl_ == nullptr) {
      GTEST_SKIP() << "Microsoft Graph's v1.0 CSDL is not at " << MetadataPath()
                   << "; this test needs that file (shared/reference/graph-v1.0-metadata.xml "
                      "beside the repository, or GUESTFLOW_GRAPH_METADATA)";
    }
    ASSERT_EQ(*parse_error_, "");
  }

  static Csdl* csdl_;
  static std::string* parse_error_;
};

Csdl* GraphSchemaTest::csdl_ = nullptr;
std::string* GraphSchemaTest::parse_error_ = nullptr;

TEST_F(GraphSchemaTest, TheReaderFindsWhatTheReferenceNames) {
  const Csdl& csdl = *csdl_;
  EXPECT_GT(csdl.types.size(), 1000u);
  EXPECT_EQ(csdl.aliases.at("graph"), "microsoft.graph");
  const CsdlProperty* email =
      csdl.FindProperty("microsoft.graph.invitation", "invitedUserEmailAddress");
  ASSERT_NE(email, nullptr);
  EXPECT_EQ(email->type, "Edm.String");
  EXPECT_FALSE(email->nullable);
  // Inherited through directoryObject from entity.
  ASSERT_NE(csdl.FindProperty("microsoft.graph.user", "id"), nullptr);
  EXPECT_EQ(csdl.FindProperty("microsoft.graph.user", "assignedLicenses")->type,
            "Collection(microsoft.graph.assignedLicense)");
  const CsdlProperty* members = csdl.FindProperty("microsoft.graph.group", "members");
  ASSERT_NE(members, nullptr);
  EXPECT_TRUE(members->navigation);
  EXPECT_EQ(members->type, "Collection(microsoft.graph.directoryObject)");
  const CsdlAction* assign =
      csdl.FindBoundAction("microsoft.graph.assignLicense", "microsoft.graph.user");
  ASSERT_NE(assign, nullptr);
  EXPECT_EQ(assign->parameters.at("removeLicenses").type, "Collection(Edm.Guid)");
  EXPECT_EQ(csdl.entity_sets.at("directoryObjects"), "microsoft.graph.directoryObject");
  EXPECT_EQ(csdl.entity_sets.at("invitations"), "microsoft.graph.invitation");
  // The security namespace's own `user` (alias self) does not replace Graph's.
  EXPECT_EQ(csdl.FindProperty("microsoft.graph.user", "usageLocation")->type, "Edm.String");

  SchemaChecker checker(csdl);
  checker.Object({{"invitedUserEmail", "x@y.com"}}, "microsoft.graph.invitation", "probe");
  checker.Object({{"sendInvitationMessage", "yes"}}, "microsoft.graph.invitation", "probe");
  checker.Object({{"assignedLicenses", {{{"skuId", "not-a-guid"}}}}}, "microsoft.graph.user",
                 "probe");
  EXPECT_EQ(checker.errors().size(), 3u) << ::testing::PrintToString(checker.errors());
}

// What the plugins put on the wire, through the real PluginHost: an invite
// with a custom message, a cc and a security group, the profile, the license.
TEST_F(GraphSchemaTest, WhatThePluginsSendMatchesTheSchema) {
  CloudTestEnv env;
  TenantConfig tenant = env.ContosoTenant(
      {{"invite", PluginBinding{"azure_ad_invite", json({{"security_group_id", kContosoGroup},
                                                         {"cc_email", "sponsor@contoso.com"}})
                                                       .dump()}},
       {"license", PluginBinding{"graph_license", R"({"sku":"DYN365_ENTERPRISE_PLAN1"})"}}});
  tenant.invitation_message = "Welcome to Contoso Sales";
  std::unique_ptr<PluginHost> host =
      env.MakeHost({"azure_ad_invite.so", "graph_license.so"}, {tenant});
  ASSERT_NE(host, nullptr);
  Onboarding o = CloudTestEnv::NewOnboarding("contoso", "schema@fabrikam.com", "GB");
  for (StepKind step : {StepKind::kInvite, StepKind::kProfile, StepKind::kLicense}) {
    StepOutcome outcome = CloudTestEnv::RunStep(*host, o, step);
    ASSERT_EQ(outcome.kind, StepOutcome::Kind::kSucceeded) << outcome.error;
  }

  // The journal gets a request after its answer: wait for the last one.
  json journal;
  for (int i = 0; i < 200; ++i) {
    journal = env.GetJson("/_emulator/journal");
    bool assigned = false;
    for (const json& e : journal) {
      assigned =
          assigned || e["path"].get<std::string>().find("/assignLicense") != std::string::npos;
    }
    if (assigned) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  SchemaChecker checker(*csdl_);
  std::set<std::string> seen;
  for (const json& e : journal) {
    if (e["service"] != "graph") continue;
    const std::string method = e["method"];
    const std::string path = e["path"];
    const json body = json::parse(e["body"].get<std::string>(), nullptr, false);
    const std::string where = absl::StrCat(method, " ", path);
    if (method == "POST" && path == "/v1.0/invitations") {
      checker.Object(body, "microsoft.graph.invitation", where);
      EXPECT_TRUE(body.contains("invitedUserMessageInfo"));
      seen.insert("invitation");
    } else if (method == "PATCH" && path.rfind("/v1.0/users/", 0) == 0) {
      checker.Object(body, "microsoft.graph.user", where);
      seen.insert("user patch");
    } else if (method == "POST" && path.find("/assignLicense") != std::string::npos) {
      checker.ActionBody(body, "microsoft.graph.assignLicense", "microsoft.graph.user", where);
      seen.insert("assignLicense");
    } else if (method == "POST" && path.find("/members/$ref") != std::string::npos) {
      // {"@odata.id": ".../directoryObjects/{id}"}: a reference into the
      // directoryObjects entity set, which group.members may hold.
      const std::string ref = body.value("@odata.id", "");
      const size_t at = ref.rfind("/v1.0/directoryObjects/");
      EXPECT_NE(at, std::string::npos) << ref;
      if (at != std::string::npos) {
        EXPECT_TRUE(IsGuid(ref.substr(at + 23))) << ref;
      }
      EXPECT_EQ(body.size(), 1u) << body;
      EXPECT_TRUE(csdl_->DerivesFrom(csdl_->entity_sets.at("directoryObjects"),
                                     "microsoft.graph.directoryObject"));
      EXPECT_TRUE(csdl_->DerivesFrom("microsoft.graph.user", "microsoft.graph.directoryObject"));
      seen.insert("members ref");
    } else if (method == "GET" && path.rfind("/v1.0/users", 0) == 0) {
      checker.Select(path, "microsoft.graph.user");
      // $filter names only user properties (mail, otherMails).
      for (const char* property : {"mail", "otherMails"}) {
        if (path.find(property) != std::string::npos) {
          EXPECT_NE(csdl_->FindProperty("microsoft.graph.user", property), nullptr);
        }
      }
      seen.insert("user get");
    } else if (method == "GET" && path.rfind("/v1.0/subscribedSkus", 0) == 0) {
      checker.Select(path, "microsoft.graph.subscribedSku");
      seen.insert("skus");
    }
  }
  EXPECT_THAT(seen, ::testing::IsSupersetOf({"invitation", "user patch", "assignLicense",
                                             "members ref", "user get", "skus"}));
  EXPECT_THAT(checker.errors(), ::testing::IsEmpty());
  EXPECT_NE(csdl_->FindProperty("microsoft.graph.user", "otherMails"), nullptr);
}

// What the emulator answers with, straight over HTTP.
TEST_F(GraphSchemaTest, WhatTheEmulatorAnswersMatchesTheSchema) {
  CloudTestEnv env;
  httplib::Client client(env.base_url());
  httplib::Params form = {{"grant_type", "client_credentials"},
                          {"client_id", kContosoClientId},
                          {"client_secret", kContosoSecret},
                          {"scope", "https://graph.microsoft.com/.default"}};
  auto token_res =
      client.Post((std::string("/") + kContosoDirectory + "/oauth2/v2.0/token").c_str(), form);
  ASSERT_TRUE(token_res && token_res->status == 200);
  const httplib::Headers auth = {
      {"Authorization",
       "Bearer " + json::parse(token_res->body)["access_token"].get<std::string>()}};
  auto call = [&](const std::string& method, const std::string& path, const json& body) {
    httplib::Result res = method == "GET" ? client.Get(path.c_str(), auth)
                          : method == "PATCH"
                              ? client.Patch(path.c_str(), auth, body.dump(), "application/json")
                              : client.Post(path.c_str(), auth, body.dump(), "application/json");
    EXPECT_TRUE(res) << method << " " << path;
    return res ? std::make_pair(res->status, json::parse(res->body, nullptr, false))
               : std::make_pair(0, json());
  };

  SchemaChecker checker(*csdl_);
  auto [status, invitation] =
      call("POST", "/v1.0/invitations",
           {{"invitedUserEmailAddress", "answers@fabrikam.com"},
            {"inviteRedirectUrl", "https://contoso.crm.dynamics.com"},
            {"invitedUserMessageInfo",
             {{"customizedMessageBody", "Hi"},
              {"ccRecipients", {{{"emailAddress", {{"address", "sponsor@contoso.com"}}}}}}}}});
  ASSERT_EQ(status, 201);
  checker.Object(invitation, "microsoft.graph.invitation", "invitation");
  // The documented example's placeholder cc recipient too.
  auto [status2, bare] = call("POST", "/v1.0/invitations",
                              {{"invitedUserEmailAddress", "bare@fabrikam.com"},
                               {"inviteRedirectUrl", "https://contoso.crm.dynamics.com"}});
  ASSERT_EQ(status2, 201);
  checker.Object(bare, "microsoft.graph.invitation", "bare invitation");

  const std::string id = invitation["invitedUser"]["id"];
  ASSERT_EQ(call("PATCH", "/v1.0/users/" + id,
                 {{"givenName", "An"}, {"surname", "Swers"}, {"usageLocation", "GB"}})
                .first,
            204);
  // Every property the emulator keeps, selected by name.
  const std::string all =
      "id,accountEnabled,assignedLicenses,businessPhones,createdDateTime,displayName,"
      "externalUserState,givenName,jobTitle,mail,mobilePhone,officeLocation,otherMails,"
      "preferredLanguage,surname,usageLocation,userPrincipalName,userType";
  auto [s3, user] = call("GET", "/v1.0/users/" + id + "?$select=" + all, json());
  ASSERT_EQ(s3, 200);
  EXPECT_EQ(user.size(), 19u);  // 18 properties and @odata.context
  checker.Object(user, "microsoft.graph.user", "user");
  auto [s4, default_user] = call("GET", "/v1.0/users/" + id, json());
  ASSERT_EQ(s4, 200);
  checker.Object(default_user, "microsoft.graph.user", "default user");
  auto [s5, list] = call("GET", "/v1.0/users", json());
  ASSERT_EQ(s5, 200);
  checker.Value(list["value"], "Collection(microsoft.graph.user)", false, "users");

  auto [s6, skus] = call("GET", "/v1.0/subscribedSkus", json());
  ASSERT_EQ(s6, 200);
  ASSERT_FALSE(skus["value"].empty());
  checker.Value(skus["value"], "Collection(microsoft.graph.subscribedSku)", false,
                "subscribedSkus");

  auto [s7, licensed] = call(
      "POST", "/v1.0/users/" + id + "/assignLicense",
      {{"addLicenses",
        {{{"disabledPlans", json::array()}, {"skuId", "ea126fc5-a19e-42e2-a731-da9d437bffcf"}}}},
       {"removeLicenses", json::array()}});
  ASSERT_EQ(s7, 200);
  checker.Object(licensed, "microsoft.graph.user", "assignLicense answer");
  EXPECT_EQ(licensed["assignedLicenses"].size(), 1u);

  auto [s8, group] = call("GET", std::string("/v1.0/groups/") + kContosoGroup, json());
  ASSERT_EQ(s8, 200);
  checker.Object(group, "microsoft.graph.group", "group");

  // A sendMail body the emulator accepts is a valid action call.
  const json mail = {
      {"message",
       {{"subject", "Welcome"},
        {"body", {{"contentType", "Text"}, {"content", "https://contoso.crm.dynamics.com"}}},
        {"toRecipients", {{{"emailAddress", {{"address", "answers@fabrikam.com"}}}}}}}},
      {"saveToSentItems", false}};
  ASSERT_EQ(call("POST", "/v1.0/users/admin@contoso.onmicrosoft.com/sendMail", mail).first, 202);
  checker.ActionBody(mail, "microsoft.graph.sendMail", "microsoft.graph.user", "sendMail");

  EXPECT_THAT(checker.errors(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace guestflow::cloudtest
