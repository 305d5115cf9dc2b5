// dataverse_role's step against a scripted cloud, for answers the emulator
// does not give: a systemuser row without its expanded roles (the step then
// asks for them apart), a remembered roleid that Dataverse no longer knows
// after another role was associated in the same attempt, and failures that
// must not make the cache forget. The rest of the step is tested against the
// emulator (tests/cloud).
#include "role_step.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "guestflow/plugin_abi.h"
#include "guestflow/plugin_sdk.h"
#include "role_cache.h"
#include "role_settings.h"

namespace guestflow::dataverse_role {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOrg[] = "https://contoso.crm.dynamics.com";
constexpr char kUser[] = "4f1c2d3e-1111-4222-8333-944455566677";
constexpr char kSystemUser[] = "0a1b2c3d-1111-4222-8333-944455566601";
constexpr char kBu[] = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2901";
constexpr char kSalesperson[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01";
constexpr char kSalesManager[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02";
constexpr char kDeletedRole[] = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4cdd";

// One answer per request, chosen by the first rule whose method, URL part and
// request body part match; every request is recorded as "METHOD url".
struct Rule {
  std::string method;
  std::string url_part;
  int32_t status;
  std::string body;
  std::string request_body_part;  // empty: any body
};

class ScriptedHost {
 public:
  explicit ScriptedHost(std::vector<Rule> rules) : rules_(std::move(rules)) {
    api_.struct_size = sizeof(api_);
    api_.abi_version = GF_PLUGIN_ABI_VERSION;
    api_.log = [](gf_call*, gf_log_level, gf_str) {};
    api_.now_unix_ms = [](gf_call*) -> int64_t { return 1767225600000; };
    api_.http = &ScriptedHost::Http;
    api_.get_token = [](gf_call*, gf_str, gf_str* token, gf_str*, int32_t*) -> int32_t {
      *token = sdk::ToGf("token");
      return 0;
    };
    api_.set_output = [](gf_call* call, gf_str key, gf_str value) {
      Self(call).outputs[std::string(sdk::FromGf(key))] = std::string(sdk::FromGf(value));
    };
    api_.set_error = [](gf_call*, gf_str) {};
    api_.set_retry_after_ms = [](gf_call*, int64_t) {};
    api_.add_check = [](gf_call*, gf_str, int32_t, gf_str) {};
  }

  sdk::Call call() { return sdk::Call(&api_, reinterpret_cast<gf_call*>(this)); }

  std::vector<std::string> requests;
  std::map<std::string, std::string> outputs;

 private:
  static ScriptedHost& Self(gf_call* call) { return *reinterpret_cast<ScriptedHost*>(call); }

  static int32_t Http(gf_call* call, const gf_http_request* request, gf_http_response* response) {
    ScriptedHost& self = Self(call);
    const std::string method(sdk::FromGf(request->method));
    const std::string url(sdk::FromGf(request->url));
    const std::string body(sdk::FromGf(request->body));
    self.requests.push_back(method + " " + url);
    for (const Rule& rule : self.rules_) {
      if (rule.method == method && url.find(rule.url_part) != std::string::npos &&
          body.find(rule.request_body_part) != std::string::npos) {
        response->status = rule.status;
        response->body = sdk::ToGf(rule.body);
        return 0;
      }
    }
    ADD_FAILURE() << "no answer scripted for " << method << " " << url;
    response->status = 500;
    return 0;
  }

  std::vector<Rule> rules_;
  gf_host_api api_{};
};

// A systemusers answer of one row; `roles_json` empty: without the expanded
// systemuserroles_association.
std::string SystemUserRow(const std::string& roles_json) {
  std::string row = std::string(R"({"value":[{"systemuserid":")") + kSystemUser +
                    R"(","isdisabled":false,"_businessunitid_value":")" + kBu +
                    R"(","internalemailaddress":"ada@fabrikam.com")";
  if (!roles_json.empty()) row += R"(,"systemuserroles_association":)" + roles_json;
  return row + "}]}";
}

std::string RoleRow(const std::string& id, const std::string& name) {
  return R"({"value":[{"roleid":")" + id + R"(","name":")" + name + R"("}]})";
}

RoleStepInput Input(std::vector<std::string> roles) {
  RoleStepInput input;
  input.endpoints = {kOrg, "https://api.bap.microsoft.com", "env"};
  input.user_object_id = kUser;
  input.roles = std::move(roles);
  return input;
}

int CountRequests(const ScriptedHost& host, std::string_view part) {
  int n = 0;
  for (const std::string& r : host.requests) n += r.find(part) != std::string::npos ? 1 : 0;
  return n;
}

TEST(RoleStepTest, ARowWithoutItsExpandedRolesHasThemAskedForApart) {
  ScriptedHost host({
      {"GET", "/systemusers?", 200, SystemUserRow("")},
      {"GET", "/roles?", 200, RoleRow(kSalesperson, "Salesperson")},
      {"GET", "/systemuserroles_association?", 200,
       std::string(R"({"value":[{"roleid":")") + kSalesperson + R"(","name":"Salesperson"}]})"},
  });
  RoleCache cache(300000);
  sdk::Call call = host.call();
  const sdk::StepResult result = RunRoleStep(call, RoleSettings(), cache, Input({"Salesperson"}));
  ASSERT_EQ(result.outcome, GF_STEP_SUCCEEDED) << result.error;
  EXPECT_EQ(CountRequests(host, "$expand=systemuserroles_association"), 1);
  EXPECT_EQ(CountRequests(host, "/systemuserroles_association?"), 1);
  EXPECT_EQ(CountRequests(host, "POST"), 0) << "the user has the role already";
  EXPECT_EQ(host.outputs.at("roles_added"), "0");
}

TEST(RoleStepTest, TheExpandedRolesSpareTheSeparateLook) {
  ScriptedHost host({
      {"GET", "/systemusers?", 200,
       SystemUserRow(std::string(R"([{"roleid":")") + kSalesperson + R"("}])")},
      {"GET", "/roles?", 200, RoleRow(kSalesperson, "Salesperson")},
  });
  RoleCache cache(300000);
  sdk::Call call = host.call();
  const sdk::StepResult result = RunRoleStep(call, RoleSettings(), cache, Input({"Salesperson"}));
  ASSERT_EQ(result.outcome, GF_STEP_SUCCEEDED) << result.error;
  EXPECT_EQ(host.requests.size(), 2u);
  EXPECT_EQ(CountRequests(host, "POST"), 0);
}

TEST(RoleStepTest, ARememberedRoleDataverseNoLongerKnowsIsLookedUpAgainAfterTheOthers) {
  // Sales Manager is remembered with a roleid since deleted; Salesperson is
  // looked up now, and associated before the other is refused.
  RoleCache cache(300000);
  const int64_t now = 1767225600000;
  cache.Put(kOrg, kBu, "Sales Manager", {kDeletedRole, "Sales Manager"}, now - 1000);
  ScriptedHost host({
      {"GET", "/systemusers?", 200, SystemUserRow("[]")},
      {"GET", "/roles?", 200, RoleRow(kSalesperson, "Salesperson")},
      {"POST", "/systemuserroles_association/$ref", 204, "", kSalesperson},
      {"POST", "/systemuserroles_association/$ref", 404,
       std::string(R"({"error":{"code":"0x80060888","message":"role With Id = )") + kDeletedRole +
           R"( Does Not Exist"}})",
       kDeletedRole},
  });
  sdk::Call call = host.call();
  const sdk::StepResult result =
      RunRoleStep(call, RoleSettings(), cache, Input({"Salesperson", "Sales Manager"}));
  ASSERT_EQ(result.outcome, GF_STEP_RETRY) << result.error;
  EXPECT_EQ(result.retry_after_ms, -1) << "the host's back-off";
  EXPECT_THAT(result.error, HasSubstr("roleid " + std::string(kDeletedRole)));
  EXPECT_THAT(result.error, HasSubstr("Does Not Exist"));
  // The association made before it is counted for the next attempt.
  EXPECT_EQ(host.outputs.at("roles_added"), "1");
  // Both roles of the attempt are looked up again next time.
  EXPECT_FALSE(cache.Find(kOrg, kBu, "Sales Manager", now).has_value());
  EXPECT_FALSE(cache.Find(kOrg, kBu, "Salesperson", now).has_value());
}

TEST(RoleStepTest, AFreshRoleDataverseRefusesFailsAsTheCloudSaysAndIsNotKept) {
  RoleCache cache(300000);
  ScriptedHost host({
      {"GET", "/systemusers?", 200, SystemUserRow("[]")},
      {"GET", "/roles?", 200, RoleRow(kSalesManager, "Sales Manager")},
      {"POST", "/systemuserroles_association/$ref", 404,
       R"({"error":{"code":"0x80060888","message":"role Does Not Exist"}})"},
  });
  sdk::Call call = host.call();
  const sdk::StepResult result = RunRoleStep(call, RoleSettings(), cache, Input({"Sales Manager"}));
  EXPECT_EQ(result.outcome, GF_STEP_FAILED) << result.error;
  EXPECT_THAT(result.error, HasSubstr("POST systemuserroles_association/$ref of role"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(RoleStepTest, AnAssociationAnsweredServiceUnavailableKeepsTheRememberedRole) {
  RoleCache cache(300000);
  const int64_t now = 1767225600000;
  cache.Put(kOrg, kBu, "Salesperson", {kSalesperson, "Salesperson"}, now - 1000);
  ScriptedHost host({
      {"GET", "/systemusers?", 200, SystemUserRow("[]")},
      {"POST", "/systemuserroles_association/$ref", 503, R"({"error":{"message":"busy"}})"},
  });
  sdk::Call call = host.call();
  const sdk::StepResult result = RunRoleStep(call, RoleSettings(), cache, Input({"Salesperson"}));
  EXPECT_EQ(result.outcome, GF_STEP_RETRY) << result.error;
  EXPECT_THAT(result.error, Not(HasSubstr("looked up again")));
  EXPECT_TRUE(cache.Find(kOrg, kBu, "Salesperson", now).has_value());
  EXPECT_THAT(host.requests, ElementsAre(HasSubstr("GET "), HasSubstr("POST ")));
}

}  // namespace
}  // namespace guestflow::dataverse_role
