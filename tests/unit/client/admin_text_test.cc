#include "client/admin_text.h"

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

template <typename T>
T Parse(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message));
  return message;
}

TEST(RenderTenantTableTest, IdNameDirectoryInstance) {
  const auto response = Parse<v1::ListTenantsResponse>(R"pb(
    tenants {
      id: "contoso"
      display_name: "Contoso Ltd"
      directory: "contoso.onmicrosoft.com"
      instance_url: "https://contoso.crm.dynamics.com"
    }
    tenants { id: "x" }
  )pb");
  EXPECT_EQ(RenderTenantTable(response),
            "ID       NAME         DIRECTORY                INSTANCE-URL\n"
            "contoso  Contoso Ltd  contoso.onmicrosoft.com  https://contoso.crm.dynamics.com\n"
            "x        -            -                        -\n");
}

TEST(RenderPluginTableTest, TenantsJoinedByCommas) {
  const auto response = Parse<v1::ListPluginsResponse>(R"pb(
    plugins {
      name: "graph_invite"
      kind: "invite"
      version: "1.2.0"
      abi_version: "1.0"
      file: "/usr/lib/guestflow/plugins/libgraph_invite.so"
      tenants: "contoso"
      tenants: "fabrikam"
    }
  )pb");
  EXPECT_EQ(RenderPluginTable(response),
            "NAME          KIND    VERSION  ABI  FILE                                           "
            "TENANTS\n"
            "graph_invite  invite  1.2.0    1.0  /usr/lib/guestflow/plugins/libgraph_invite.so  "
            "contoso,fabrikam\n");
}

const char kOneFailed[] = R"pb(
  checks { name: "plugin invite" ok: true detail: "graph_invite 1.2.0" }
  checks { name: "license seats" ok: false detail: "0 of 25 free" }
  checks { name: "token" ok: true }
)pb";

TEST(RenderTenantChecksTest, PlainWordsOffTerminal) {
  EXPECT_EQ(RenderTenantChecks("contoso", Parse<v1::CheckTenantResponse>(kOneFailed), false),
            "ok   plugin invite: graph_invite 1.2.0\n"
            "FAIL license seats: 0 of 25 free\n"
            "ok   token\n"
            "contoso: 1 of 3 checks failed\n");
}

TEST(RenderTenantChecksTest, MarksOnTerminal) {
  auto response = Parse<v1::CheckTenantResponse>(R"pb(
    checks { name: "plugin invite" ok: true detail: "loaded" }
    ok: true
  )pb");
  EXPECT_EQ(RenderTenantChecks("contoso", response, true),
            "✔ plugin invite: loaded\ncontoso: all 1 checks passed\n");
  response.mutable_checks(0)->set_ok(false);
  response.set_ok(false);
  EXPECT_EQ(RenderTenantChecks("contoso", response, true),
            "✘ plugin invite: loaded\ncontoso: 1 of 1 checks failed\n");
}

TEST(AllChecksPassedTest, NeedsTheServerAndEveryCheckToAgree) {
  EXPECT_TRUE(AllChecksPassed(Parse<v1::CheckTenantResponse>("ok: true checks { ok: true }")));
  EXPECT_TRUE(AllChecksPassed(Parse<v1::CheckTenantResponse>("ok: true")));
  EXPECT_FALSE(AllChecksPassed(Parse<v1::CheckTenantResponse>("ok: false checks { ok: true }")));
  EXPECT_FALSE(AllChecksPassed(Parse<v1::CheckTenantResponse>("ok: true checks { ok: false }")));
  EXPECT_FALSE(AllChecksPassed(Parse<v1::CheckTenantResponse>(kOneFailed)));
}

}  // namespace
}  // namespace guestflow::cli
