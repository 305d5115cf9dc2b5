#include "server/config/config_loader.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSource[] = "guestflowd.yaml";
constexpr char kBaseDir[] = "/etc/guestflow";

// The smallest valid configuration. Tests change one line of it with
// Replace() so that each one shows exactly what it breaks.
constexpr char kValid[] = R"(tenants:
  - id: contoso
    azure:
      tenant_id: contoso.onmicrosoft.com
      client_id: 11111111-2222-3333-4444-555555555555
      client_secret: {env: CONTOSO_SECRET}
    dynamics:
      instance_url: https://contoso.crm.dynamics.com
    plugins:
      invite: {name: azure_ad_invite}
      license: {name: graph_license, settings: {sku: DYN365_ENTERPRISE_PLAN1}}
      role: {name: dataverse_role}
      notifier: {name: outbox_notifier, settings: {dir: ./outbox}}
)";

std::string Replace(absl::string_view from, absl::string_view to) {
  const std::string text(kValid);
  EXPECT_TRUE(absl::StrContains(text, from)) << "fixture has no " << from;
  return absl::StrReplaceAll(text, {{from, to}});
}

absl::StatusOr<Config> Parse(absl::string_view yaml) {
  return ParseConfig(yaml, kSource, kBaseDir);
}

// The whole error message of a configuration that must be refused.
std::string ErrorOf(absl::string_view yaml) {
  absl::StatusOr<Config> config = Parse(yaml);
  EXPECT_FALSE(config.ok()) << "accepted:\n" << yaml;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrCat(config.status().message());
}

Config MustParse(absl::string_view yaml) {
  absl::StatusOr<Config> config = Parse(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : Config();
}

// `server:` block prepended to the valid tenant list.
std::string WithServer(absl::string_view server) {
  return absl::StrCat("server:\n", server, "\n", kValid);
}
std::string WithEngine(absl::string_view engine) {
  return absl::StrCat("engine:\n", engine, "\n", kValid);
}
std::string WithHttp(absl::string_view http) { return absl::StrCat("http:\n", http, "\n", kValid); }

std::string Testdata(absl::string_view name) {
  return absl::StrCat(GUESTFLOW_CONFIG_TESTDATA, "/", name);
}

// --- Whole files ------------------------------------------------------------

TEST(ConfigLoaderTest, FullFileRoundTripsEveryKey) {
  const std::string path = Testdata("full.yaml");
  absl::StatusOr<Config> loaded = LoadConfigFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Config& c = *loaded;
  const std::string dir = GUESTFLOW_CONFIG_TESTDATA;

  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.base_dir, dir);
  EXPECT_EQ(c.server.listen, "0.0.0.0:6000");
  EXPECT_EQ(c.server.plugin_dir, dir + "/plugins");
  EXPECT_THAT(c.server.plugins, ElementsAre("fake_invite.so", "outbox_notifier.so"));
  EXPECT_EQ(c.server.shutdown_grace, absl::Seconds(45));
  EXPECT_EQ(c.store.sqlite_path, dir + "/state/guestflow.db");
  EXPECT_EQ(c.engine.workers, 16);
  EXPECT_EQ(c.engine.max_attempts, 5);
  EXPECT_EQ(c.engine.backoff_initial, absl::Milliseconds(500));
  EXPECT_EQ(c.engine.backoff_max, absl::Minutes(2));
  EXPECT_DOUBLE_EQ(c.engine.backoff_multiplier, 1.5);
  EXPECT_EQ(c.engine.max_step_wait, absl::Minutes(90));
  EXPECT_EQ(c.engine.lease, absl::Seconds(90));
  EXPECT_EQ(c.http.connect_timeout, absl::Seconds(5));
  EXPECT_EQ(c.http.request_timeout, absl::Minutes(2));
  EXPECT_EQ(c.http.ca_file, dir + "/certs/ca.pem");
  EXPECT_EQ(c.http.max_response_bytes, 1048576u);

  ASSERT_EQ(c.tenants.size(), 2u);
  const TenantConfig& t = c.tenants[0];
  EXPECT_EQ(t.id, "contoso");
  EXPECT_EQ(t.display_name, "Contoso Ltd");
  EXPECT_EQ(t.support_contact, "helpdesk@contoso.example");
  EXPECT_EQ(t.directory, "contoso.onmicrosoft.com");
  EXPECT_EQ(t.client_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(t.client_secret.source, SecretRef::Source::kEnv);
  EXPECT_EQ(t.client_secret.name, "CONTOSO_SECRET");
  EXPECT_EQ(t.authority_url, "http://127.0.0.1:8443/login");  // trailing "/" dropped
  EXPECT_EQ(t.graph_url, "http://localhost:8443/graph");
  EXPECT_EQ(t.instance_url, "https://contoso.crm4.dynamics.com");
  EXPECT_EQ(t.admin_url, "http://[::1]:8443/bap");
  EXPECT_EQ(t.environment_id, "Default-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  EXPECT_THAT(t.default_roles, ElementsAre("Salesperson", "Sales Manager"));
  EXPECT_FALSE(t.send_invitation_message);
  EXPECT_EQ(t.invitation_message, "Welcome to Contoso.\nYour account is ready.");
  EXPECT_TRUE(t.update_dynamics_email);

  ASSERT_EQ(t.plugins.size(), 4u);
  EXPECT_EQ(t.plugins.at("invite").plugin, "azure_ad_invite");
  EXPECT_EQ(nlohmann::json::parse(t.plugins.at("invite").settings_json), nlohmann::json::parse(R"({
              "security_group_id": "99999999-0000-0000-0000-000000000000",
              "retries": 3, "ratio": 0.25, "enabled": true, "nothing": null,
              "quoted_number": "42", "list": ["a", 1, false],
              "nested": {"deep": {"deeper": "yes"}}})"));
  EXPECT_EQ(t.plugins.at("license").plugin, "graph_license");
  EXPECT_EQ(t.plugins.at("license").settings_json, R"({"sku":"DYN365_ENTERPRISE_PLAN1"})");
  EXPECT_EQ(t.plugins.at("role").plugin, "dataverse_role");
  EXPECT_EQ(t.plugins.at("role").settings_json, "{}");
  EXPECT_EQ(t.plugins.at("notifier").settings_json, R"({"dir":"./outbox"})");

  const TenantConfig& f = c.tenants[1];
  EXPECT_EQ(f.id, "fabrikam-2");
  EXPECT_EQ(f.directory, "0f0f0f0f-1111-2222-3333-444444444444");
  EXPECT_EQ(f.client_secret.source, SecretRef::Source::kFile);
  EXPECT_EQ(f.client_secret.name, dir + "/secrets/fabrikam.txt");
  EXPECT_EQ(f.plugins.at("notifier").plugin, "smtp_notifier");
  EXPECT_EQ(f.plugins.at("notifier_fallback").plugin, "outbox_notifier");
  EXPECT_EQ(f.support_contact, "");

  EXPECT_EQ(c.FindTenant("fabrikam-2"), &c.tenants[1]);
}

TEST(ConfigLoaderTest, MinimalFileTakesTheDefaultsOfConfigH) {
  absl::StatusOr<Config> loaded = LoadConfigFile(Testdata("minimal.yaml"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Config& c = *loaded;
  const ServerConfig server;
  const EngineConfig engine;
  const HttpConfig http;
  const TenantConfig tenant;

  EXPECT_EQ(c.server.listen, server.listen);
  EXPECT_EQ(c.server.plugin_dir, "");
  EXPECT_TRUE(c.server.plugins.empty());
  EXPECT_EQ(c.server.shutdown_grace, server.shutdown_grace);
  EXPECT_EQ(c.store.sqlite_path, absl::StrCat(GUESTFLOW_CONFIG_TESTDATA, "/guestflow.db"));
  EXPECT_EQ(c.engine.workers, engine.workers);
  EXPECT_EQ(c.engine.max_attempts, engine.max_attempts);
  EXPECT_EQ(c.engine.backoff_initial, engine.backoff_initial);
  EXPECT_EQ(c.engine.backoff_max, engine.backoff_max);
  EXPECT_EQ(c.engine.backoff_multiplier, engine.backoff_multiplier);
  EXPECT_EQ(c.engine.max_step_wait, engine.max_step_wait);
  EXPECT_EQ(c.engine.lease, engine.lease);
  EXPECT_EQ(c.engine.max_unfinished, 100000);
  EXPECT_EQ(c.http.connect_timeout, http.connect_timeout);
  EXPECT_EQ(c.http.request_timeout, http.request_timeout);
  EXPECT_EQ(c.http.ca_file, "");
  EXPECT_EQ(c.http.max_response_bytes, http.max_response_bytes);

  ASSERT_EQ(c.tenants.size(), 1u);
  const TenantConfig& t = c.tenants[0];
  EXPECT_EQ(t.display_name, "");
  EXPECT_EQ(t.authority_url, "https://login.microsoftonline.com");
  EXPECT_EQ(t.graph_url, "https://graph.microsoft.com");
  EXPECT_EQ(t.admin_url, "https://api.bap.microsoft.com");
  EXPECT_EQ(t.environment_id, "");
  EXPECT_TRUE(t.default_roles.empty());
  EXPECT_EQ(t.send_invitation_message, tenant.send_invitation_message);
  EXPECT_EQ(t.invitation_message, "");
  EXPECT_EQ(t.update_dynamics_email, tenant.update_dynamics_email);
  for (const char* kind : {"invite", "license", "role", "notifier"}) {
    EXPECT_EQ(t.plugins.at(kind).settings_json, "{}") << kind;
  }
}

TEST(ConfigLoaderTest, MissingFileIsNotFoundAndNamesTheFile) {
  absl::StatusOr<Config> loaded = LoadConfigFile("/nonexistent/guestflowd.yaml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("/nonexistent/guestflowd.yaml"));
}

TEST(ConfigLoaderTest, FolderIsRefused) {
  absl::StatusOr<Config> loaded = LoadConfigFile(GUESTFLOW_CONFIG_TESTDATA);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("is a folder"));
}

TEST(ConfigLoaderTest, SyntaxErrorInFileNamesFileLineAndColumn) {
  const std::string path = Testdata("syntax_error.yaml");
  absl::StatusOr<Config> loaded = LoadConfigFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  // The flow list opened on line 3 is never closed; yaml-cpp notices on line 4.
  EXPECT_THAT(std::string(loaded.status().message()),
              AllOf(testing::StartsWith(path + ":4:"), HasSubstr("YAML syntax error")));
}

TEST(ConfigLoaderTest, LiteralSecretInFileIsRefusedWithoutEchoingIt) {
  const std::string path = Testdata("secret_literal.yaml");
  absl::StatusOr<Config> loaded = LoadConfigFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(std::string(loaded.status().message()),
            path +
                ":6:22: tenants[0].azure.client_secret: expected {env: NAME} or "
                "{file: PATH}; secrets are never written in the config file");
  EXPECT_THAT(std::string(loaded.status().message()), Not(HasSubstr("s3cr3t")));
}

TEST(ConfigLoaderTest, RelativeFilePathIsMadeAbsolute) {
  const fs::path old_cwd = fs::current_path();
  fs::current_path(GUESTFLOW_CONFIG_TESTDATA);
  absl::StatusOr<Config> loaded = LoadConfigFile("minimal.yaml");
  fs::current_path(old_cwd);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->source, Testdata("minimal.yaml"));
  EXPECT_EQ(loaded->base_dir, GUESTFLOW_CONFIG_TESTDATA);
}

TEST(ConfigLoaderTest, OversizedFileIsRefused) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("gf_config_", getpid());
  fs::create_directories(dir);
  const fs::path file = dir / "big.yaml";
  {
    std::ofstream out(file);
    out << "# " << std::string(5 << 20, 'x') << "\n";
  }
  absl::StatusOr<Config> loaded = LoadConfigFile(file.string());
  fs::remove_all(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("larger than 4 MiB"));
}

// --- Document shape ---------------------------------------------------------

TEST(ConfigLoaderTest, EmptyDocumentIsRefused) {
  EXPECT_EQ(ErrorOf(""),
            "guestflowd.yaml: the configuration is empty; expected a map with keys server, "
            "store, engine, http and tenants");
  EXPECT_THAT(ErrorOf("# only a comment\n"), HasSubstr("the configuration is empty"));
}

TEST(ConfigLoaderTest, SeveralDocumentsAreRefused) {
  EXPECT_THAT(ErrorOf(absl::StrCat(kValid, "---\n", kValid)),
              HasSubstr("expected one YAML document, found 2"));
}

TEST(ConfigLoaderTest, TopLevelMustBeAMap) {
  EXPECT_EQ(ErrorOf("- a\n- b\n"), "guestflowd.yaml:1:1: expected a map, got a list");
}

TEST(ConfigLoaderTest, SyntaxErrorHasLineAndColumn) {
  EXPECT_THAT(ErrorOf("server:\n  listen: [1, 2\n"),
              testing::MatchesRegex("guestflowd.yaml:[0-9]+:[0-9]+: YAML syntax error: .+"));
  EXPECT_THAT(ErrorOf("server:\n  listen: 1\n bad: 2\n"),
              testing::StartsWith("guestflowd.yaml:3:"));
}

TEST(ConfigLoaderTest, ZeroTenantsIsValid) {
  const Config c = MustParse("server: {listen: 127.0.0.1:0}\n");
  EXPECT_TRUE(c.tenants.empty());
  EXPECT_EQ(c.source, kSource);
  EXPECT_EQ(c.base_dir, kBaseDir);
}

// --- Keys -------------------------------------------------------------------

TEST(ConfigLoaderTest, UnknownKeyWithCloseMatchSuggestsIt) {
  EXPECT_EQ(ErrorOf(WithServer("  listn: 127.0.0.1:1")),
            "guestflowd.yaml:2:3: server.listn: unknown key \"listn\"; did you mean \"listen\"?");
  EXPECT_EQ(ErrorOf(absl::StrCat("tenant: []\n", kValid)),
            "guestflowd.yaml:1:1: tenant: unknown key \"tenant\"; did you mean \"tenants\"?");
  EXPECT_THAT(ErrorOf(Replace("notifier:", "notify:")),
              AllOf(HasSubstr("tenants[0].plugins.notify: unknown key \"notify\"; did you mean "
                              "\"notifier\"?"),
                    HasSubstr("tenants[0].plugins.notifier: required")));
  EXPECT_THAT(ErrorOf(Replace("client_secret:", "clientsecret:")),
              HasSubstr("did you mean \"client_secret\"?"));
}

TEST(ConfigLoaderTest, UnknownKeyWithoutCloseMatchListsTheKeys) {
  EXPECT_EQ(ErrorOf(absl::StrCat("metrics: {}\n", kValid)),
            "guestflowd.yaml:1:1: metrics: unknown key \"metrics\"; expected one of: server, "
            "store, engine, http, limits, tenants, callers");
}

TEST(ConfigLoaderTest, DuplicateKeyIsRefused) {
  EXPECT_EQ(ErrorOf(WithServer("  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2")),
            "guestflowd.yaml:3:3: server.listen: duplicate key");
}

TEST(ConfigLoaderTest, KeyWithoutValueCountsAsAbsent) {
  const Config c = MustParse(WithServer("  listen:\n  shutdown_grace: ~"));
  EXPECT_EQ(c.server.listen, ServerConfig().listen);
  EXPECT_EQ(c.server.shutdown_grace, ServerConfig().shutdown_grace);
}

TEST(ConfigLoaderTest, MissingRequiredKeysAreNamed) {
  EXPECT_EQ(ErrorOf(Replace("      instance_url: https://contoso.crm.dynamics.com\n",
                            "      admin_url: https://api.bap.microsoft.com\n")),
            "guestflowd.yaml:8:7: tenants[0].dynamics.instance_url: required (the Dynamics 365 "
            "instance URL, such as https://contoso.crm.dynamics.com)");
  EXPECT_THAT(ErrorOf(Replace("  - id: contoso\n", "  - display_name: X\n")),
              HasSubstr("tenants[0].id: required"));
  EXPECT_THAT(ErrorOf(Replace("      client_id: 11111111-2222-3333-4444-555555555555\n", "")),
              HasSubstr("tenants[0].azure.client_id: required"));
  EXPECT_THAT(ErrorOf(Replace("      tenant_id: contoso.onmicrosoft.com\n", "")),
              HasSubstr("tenants[0].azure.tenant_id: required"));
  EXPECT_THAT(ErrorOf(Replace("      client_secret: {env: CONTOSO_SECRET}\n", "")),
              HasSubstr("tenants[0].azure.client_secret: required (expected {env: NAME} or "
                        "{file: PATH}"));
}

TEST(ConfigLoaderTest, MissingSectionsAreNamed) {
  const std::string no_azure =
      "tenants:\n  - id: x\n    dynamics: {instance_url: https://x.crm.dynamics.com}\n"
      "    plugins: {invite: {name: a}, license: {name: b}, role: {name: c}, "
      "notifier: {name: d}}\n";
  EXPECT_EQ(ErrorOf(no_azure),
            "guestflowd.yaml:2:5: tenants[0].azure: required (tenant_id, client_id and "
            "client_secret)");
  const std::string only_id = "tenants:\n  - id: x\n";
  const std::string message = ErrorOf(only_id);
  EXPECT_THAT(message, HasSubstr("tenants[0].azure: required"));
  EXPECT_THAT(message, HasSubstr("tenants[0].dynamics: required"));
  EXPECT_THAT(message, HasSubstr("tenants[0].plugins: required"));
}

TEST(ConfigLoaderTest, EveryProblemIsReportedOneLinePerProblem) {
  const std::string message =
      ErrorOf(absl::StrCat("server: {listen: nope, shutdown_grace: 30}\n"
                           "engine: {workers: 0}\n",
                           Replace("- id: contoso", "- id: Contoso")));
  const std::vector<std::string> lines = absl::StrSplit(message, '\n');
  ASSERT_EQ(lines.size(), 4u) << message;
  EXPECT_THAT(lines[0], HasSubstr("server.listen:"));
  EXPECT_THAT(lines[1], HasSubstr("server.shutdown_grace:"));
  EXPECT_THAT(lines[2], HasSubstr("engine.workers:"));
  EXPECT_THAT(lines[3], HasSubstr("tenants[0].id:"));
}

TEST(ConfigLoaderTest, ErrorListIsCapped) {
  std::string yaml = "server:\n";
  for (int i = 0; i < 60; ++i) absl::StrAppend(&yaml, "  unknown", i, ": 1\n");
  const std::string message = ErrorOf(yaml);
  const std::vector<std::string> lines = absl::StrSplit(message, '\n');
  ASSERT_EQ(lines.size(), 51u);
  EXPECT_EQ(lines.back(), "(10 more errors not shown)");
}

// --- Types ------------------------------------------------------------------

TEST(ConfigLoaderTest, WrongTypesAreRefused) {
  EXPECT_EQ(ErrorOf(absl::StrCat("server: [a]\n", kValid)),
            "guestflowd.yaml:1:9: server: expected a map, got a list");
  EXPECT_EQ(ErrorOf("tenants: {id: x}\n"),
            "guestflowd.yaml:1:10: tenants: expected a list of tenants (\"- id: ...\"), got a "
            "map");
  EXPECT_EQ(ErrorOf("tenants: [x]\n"),
            "guestflowd.yaml:1:11: tenants[0]: expected a map, got a scalar");
  EXPECT_EQ(ErrorOf(WithServer("  plugin_dir: /p\n  plugins: [a.so, {b: c}]")),
            "guestflowd.yaml:3:19: server.plugins[1]: expected a string, got a map");
  EXPECT_EQ(ErrorOf(WithServer("  plugins: a.so")),
            "guestflowd.yaml:2:12: server.plugins: expected a list, got a scalar");
  EXPECT_EQ(ErrorOf(Replace("- id: contoso", "- id: [contoso]")),
            "guestflowd.yaml:2:9: tenants[0].id: expected a string, got a list");
}

TEST(ConfigLoaderTest, NumbersMustBeUnquotedWholeNumbers) {
  EXPECT_EQ(ErrorOf(WithEngine("  workers: \"4\"")),
            "guestflowd.yaml:2:12: engine.workers: expected a whole number from 1 to 256, got "
            "\"4\"");
  EXPECT_THAT(ErrorOf(WithEngine("  workers: four")), HasSubstr("got \"four\""));
  EXPECT_THAT(ErrorOf(WithEngine("  workers: 4.5")), HasSubstr("engine.workers: expected"));
  EXPECT_THAT(ErrorOf(WithEngine("  backoff_multiplier: \"2\"")),
              HasSubstr("engine.backoff_multiplier: expected a number from 1 to 100"));
  EXPECT_THAT(ErrorOf(WithEngine("  backoff_multiplier: .nan")),
              HasSubstr("engine.backoff_multiplier: expected a number"));
  EXPECT_DOUBLE_EQ(MustParse(WithEngine("  backoff_multiplier: 3")).engine.backoff_multiplier, 3);
}

TEST(ConfigLoaderTest, WorkersMustBeFrom1To256) {
  EXPECT_EQ(ErrorOf(WithEngine("  workers: 0")),
            "guestflowd.yaml:2:12: engine.workers: expected a whole number from 1 to 256, got 0");
  EXPECT_THAT(ErrorOf(WithEngine("  workers: 257")), HasSubstr("got 257"));
  EXPECT_THAT(ErrorOf(WithEngine("  workers: -3")), HasSubstr("got -3"));
  EXPECT_EQ(MustParse(WithEngine("  workers: 1")).engine.workers, 1);
  EXPECT_EQ(MustParse(WithEngine("  workers: 256")).engine.workers, 256);
}

TEST(ConfigLoaderTest, OtherNumericBounds) {
  EXPECT_THAT(ErrorOf(WithEngine("  max_attempts: 0")),
              HasSubstr("engine.max_attempts: expected a whole number from 1 to 1000"));
  EXPECT_THAT(ErrorOf(WithEngine("  backoff_multiplier: 0.5")),
              HasSubstr("engine.backoff_multiplier: expected a number from 1 to 100, got 0.5"));
  EXPECT_THAT(ErrorOf(WithHttp("  max_response_bytes: 100")),
              HasSubstr("http.max_response_bytes: expected a whole number from 1024 to "
                        "1073741824, got 100"));
  EXPECT_EQ(MustParse(WithHttp("  max_response_bytes: 1024")).http.max_response_bytes, 1024u);
}

TEST(ConfigLoaderTest, BooleansAreTrueOrFalseOnly) {
  const std::string yes =
      Replace("    plugins:\n", "    onboarding: {send_invitation_message: yes}\n    plugins:\n");
  EXPECT_EQ(ErrorOf(yes),
            "guestflowd.yaml:9:43: tenants[0].onboarding.send_invitation_message: expected true "
            "or false, got \"yes\"");
  EXPECT_THAT(ErrorOf(Replace("    plugins:\n",
                              "    onboarding: {update_dynamics_email: \"true\"}\n    plugins:\n")),
              HasSubstr("tenants[0].onboarding.update_dynamics_email: expected true or false"));
  const Config c = MustParse(
      Replace("    plugins:\n",
              "    onboarding: {send_invitation_message: False, update_dynamics_email: TRUE}\n"
              "    plugins:\n"));
  EXPECT_FALSE(c.tenants[0].send_invitation_message);
  EXPECT_TRUE(c.tenants[0].update_dynamics_email);
}

TEST(ConfigLoaderTest, MaxUnfinishedIsReadAndBounded) {
  EXPECT_EQ(MustParse(WithEngine("  max_unfinished: 250")).engine.max_unfinished, 250);
  EXPECT_EQ(MustParse(WithEngine("  max_unfinished: 0")).engine.max_unfinished, 0);  // no bound
  EXPECT_THAT(ErrorOf(WithEngine("  max_unfinished: -1")),
              HasSubstr("engine.max_unfinished: expected a whole number from 0 to 100000000"));
}

// --- Durations --------------------------------------------------------------

TEST(ConfigLoaderTest, DurationsTakeAUnit) {
  const Config c = MustParse(
      WithEngine("  backoff_initial: 500ms\n  backoff_max: 5m\n  max_step_wait: 1h\n  lease: 30s"));
  EXPECT_EQ(c.engine.backoff_initial, absl::Milliseconds(500));
  EXPECT_EQ(c.engine.backoff_max, absl::Minutes(5));
  EXPECT_EQ(c.engine.max_step_wait, absl::Hours(1));
  EXPECT_EQ(c.engine.lease, absl::Seconds(30));
  EXPECT_EQ(MustParse(WithServer("  shutdown_grace: \"1m30s\"")).server.shutdown_grace,
            absl::Seconds(90));
}

TEST(ConfigLoaderTest, BadDurationsAreRefused) {
  EXPECT_EQ(ErrorOf(WithServer("  shutdown_grace: 30")),
            "guestflowd.yaml:2:19: server.shutdown_grace: expected a positive duration with a "
            "unit, such as 500ms, 30s, 5m or 1h, got \"30\"");
  for (const char* bad : {"0", "0s", "-5s", "inf", "5 minutes", "[1s]"}) {
    EXPECT_THAT(ErrorOf(WithEngine(absl::StrCat("  lease: ", bad))),
                HasSubstr("engine.lease: expected a positive duration"))
        << bad;
  }
}

TEST(ConfigLoaderTest, BackoffInitialMustNotExceedBackoffMax) {
  EXPECT_EQ(ErrorOf(WithEngine("  backoff_initial: 10m\n  backoff_max: 5m")),
            "guestflowd.yaml:2:3: engine.backoff_initial: 10m is longer than engine.backoff_max "
            "(5m)");
  EXPECT_THAT(ErrorOf(WithEngine("  backoff_initial: 6m")),
              HasSubstr("6m is longer than engine.backoff_max (5m)"));
}

TEST(ConfigLoaderTest, ConnectTimeoutMustNotExceedRequestTimeout) {
  EXPECT_EQ(ErrorOf(WithHttp("  connect_timeout: 2m\n  request_timeout: 1m")),
            "guestflowd.yaml:2:3: http.connect_timeout: 2m is longer than http.request_timeout "
            "(1m)");
}

// --- Listen address ---------------------------------------------------------

TEST(ConfigLoaderTest, ListenIsHostColonPort) {
  for (const char* good : {"127.0.0.1:50051", "0.0.0.0:0", "[::]:443", "[::1]:65535",
                           "localhost:8080", "grpc.internal:9000"}) {
    EXPECT_EQ(MustParse(WithServer(absl::StrCat("  listen: \"", good, "\""))).server.listen, good);
  }
  EXPECT_EQ(ErrorOf(WithServer("  listen: 127.0.0.1")),
            "guestflowd.yaml:2:11: server.listen: \"127.0.0.1\": the port is missing; expected "
            "host:port such as 127.0.0.1:50051 or [::]:50051");
  EXPECT_THAT(ErrorOf(WithServer("  listen: localhost:65536")),
              HasSubstr("expected a port from 0 to 65535 after the host, got \":65536\""));
  EXPECT_THAT(ErrorOf(WithServer("  listen: \":50051\"")), HasSubstr("the host is missing"));
  EXPECT_THAT(ErrorOf(WithServer("  listen: \"::1:50051\"")),
              HasSubstr("an IPv6 address must be written in brackets"));
  EXPECT_THAT(ErrorOf(WithServer("  listen: \"[::1\"")),
              HasSubstr("an IPv6 address must end with \"]\""));
  EXPECT_THAT(ErrorOf(WithServer("  listen: \"host:port\"")), HasSubstr("expected a port"));
  EXPECT_THAT(ErrorOf(WithServer("  listen: \"host:+80\"")), HasSubstr("expected a port"));
}

// --- URLs -------------------------------------------------------------------

std::string WithGraphUrl(absl::string_view url) {
  return Replace(
      "      client_secret: {env: CONTOSO_SECRET}\n",
      absl::StrCat("      client_secret: {env: CONTOSO_SECRET}\n      graph_url: \"", url, "\"\n"));
}

TEST(ConfigLoaderTest, UrlsMustBeAbsoluteHttps) {
  EXPECT_EQ(MustParse(WithGraphUrl("https://graph.microsoft.com/")).tenants[0].graph_url,
            "https://graph.microsoft.com");
  EXPECT_EQ(MustParse(WithGraphUrl("HTTPS://graph.example.com:8443/v1//")).tenants[0].graph_url,
            "https://graph.example.com:8443/v1");
  EXPECT_EQ(ErrorOf(WithGraphUrl("http://graph.microsoft.com")),
            "guestflowd.yaml:7:18: tenants[0].azure.graph_url: \"http://graph.microsoft.com\": "
            "plain http is allowed only for loopback hosts (127.0.0.1, localhost, [::1]); use "
            "https");
  EXPECT_THAT(ErrorOf(WithGraphUrl("graph.microsoft.com")),
              HasSubstr("tenants[0].azure.graph_url: expected an absolute http(s) URL such as "
                        "https://example.com, got \"graph.microsoft.com\""));
  EXPECT_THAT(ErrorOf(WithGraphUrl("/v1.0")), HasSubstr("expected an absolute http(s) URL"));
  EXPECT_THAT(ErrorOf(WithGraphUrl("ftp://graph.microsoft.com")),
              HasSubstr("expected an absolute http(s) URL"));
  EXPECT_THAT(ErrorOf(WithGraphUrl("https://")), HasSubstr("the host is missing"));
  EXPECT_THAT(ErrorOf(WithGraphUrl("https://graph.microsoft.com:0")),
              HasSubstr("expected a port from 1 to 65535"));
  EXPECT_THAT(ErrorOf(WithGraphUrl("https://graph.microsoft.com?x=1")),
              HasSubstr("must not have a query (?) or fragment (#)"));
  EXPECT_THAT(ErrorOf(WithGraphUrl("https://graph.microsoft.com/a b")),
              HasSubstr("contains a space"));
}

TEST(ConfigLoaderTest, UrlsRefuseCredentialsWithoutEchoingThem) {
  const std::string message = ErrorOf(WithGraphUrl("https://user:hunter2@graph.microsoft.com"));
  EXPECT_THAT(message, HasSubstr("tenants[0].azure.graph_url: a URL must not contain a user name "
                                 "or password; secrets are never written in the config file"));
  EXPECT_THAT(message, Not(HasSubstr("hunter2")));
}

TEST(ConfigLoaderTest, PlainHttpIsAllowedForLoopbackOnly) {
  for (const char* good : {"http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:1/x",
                           "http://LOCALHOST", "http://[::1]:9000"}) {
    EXPECT_TRUE(Parse(WithGraphUrl(good)).ok()) << good;
  }
  for (const char* bad : {"http://128.0.0.1", "http://127.0.0.1.example.com",
                          "http://localhost.example.com", "http://[::2]", "http://10.0.0.1"}) {
    EXPECT_THAT(ErrorOf(WithGraphUrl(bad)), HasSubstr("plain http is allowed only for loopback"))
        << bad;
  }
}

TEST(ConfigLoaderTest, EveryEndpointKeyIsChecked) {
  EXPECT_THAT(
      ErrorOf(Replace("https://contoso.crm.dynamics.com", "http://contoso.crm.dynamics.com")),
      HasSubstr("tenants[0].dynamics.instance_url: \"http://contoso.crm.dynamics.com\": "
                "plain http"));
  EXPECT_THAT(ErrorOf(Replace("      instance_url:", "      admin_url: nope\n      instance_url:")),
              HasSubstr("tenants[0].dynamics.admin_url: expected an absolute http(s) URL"));
  EXPECT_THAT(ErrorOf(Replace("      client_secret: {env: CONTOSO_SECRET}\n",
                              "      client_secret: {env: CONTOSO_SECRET}\n"
                              "      authority_url: login\n")),
              HasSubstr("tenants[0].azure.authority_url: expected an absolute http(s) URL"));
}

// --- Tenants ----------------------------------------------------------------

TEST(ConfigLoaderTest, TenantIdCharset) {
  EXPECT_EQ(ErrorOf(Replace("- id: contoso", "- id: Contoso")),
            "guestflowd.yaml:2:9: tenants[0].id: \"Contoso\" must be 1 to 63 lower-case "
            "letters, digits or \"-\"");
  for (const char* bad : {"a_b", "a.b", "a b", "\"\"", "ü"}) {
    EXPECT_THAT(ErrorOf(Replace("- id: contoso", absl::StrCat("- id: ", bad))),
                HasSubstr("must be 1 to 63 lower-case letters"))
        << bad;
  }
  EXPECT_THAT(ErrorOf(Replace("- id: contoso", absl::StrCat("- id: ", std::string(64, 'a')))),
              HasSubstr("must be 1 to 63"));
  const std::string longest(63, 'a');
  EXPECT_EQ(MustParse(Replace("- id: contoso", absl::StrCat("- id: ", longest))).tenants[0].id,
            longest);
  EXPECT_EQ(MustParse(Replace("- id: contoso", "- id: 0-contoso-9")).tenants[0].id, "0-contoso-9");
}

TEST(ConfigLoaderTest, DuplicateTenantIdsAreRefused) {
  const std::string second(absl::string_view(kValid).substr(sizeof("tenants:\n") - 1));
  EXPECT_EQ(ErrorOf(absl::StrCat(kValid, second)),
            "guestflowd.yaml:14:5: tenants[1].id: \"contoso\" is already used by tenants[0]; "
            "tenant ids must be unique");
  const Config c = MustParse(
      absl::StrCat(kValid, absl::StrReplaceAll(second, {{"- id: contoso", "- id: other"}})));
  ASSERT_EQ(c.tenants.size(), 2u);
  EXPECT_EQ(c.tenants[1].id, "other");
}

TEST(ConfigLoaderTest, AzureTenantIdIsAGuidOrDomain) {
  EXPECT_EQ(MustParse(Replace("contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db47"))
                .tenants[0]
                .directory,
            "72f988bf-86f1-41af-91ab-2d7cd011db47");
  EXPECT_THAT(ErrorOf(Replace("contoso.onmicrosoft.com", "\"contoso/../x\"")),
              HasSubstr("tenants[0].azure.tenant_id: \"contoso/../x\" is neither a GUID nor a "
                        "domain name"));
}

TEST(ConfigLoaderTest, EnvironmentIdCharset) {
  EXPECT_THAT(
      ErrorOf(Replace("      instance_url:", "      environment_id: \"a/b\"\n      instance_url:")),
      HasSubstr("tenants[0].dynamics.environment_id: \"a/b\" is not a Power Platform "
                "environment id"));
}

// --- Secrets ----------------------------------------------------------------

std::string WithSecret(absl::string_view secret) {
  return Replace("{env: CONTOSO_SECRET}", secret);
}

TEST(ConfigLoaderTest, LiteralSecretIsRefused) {
  const std::string message = ErrorOf(WithSecret("hunter2-literal"));
  EXPECT_EQ(message,
            "guestflowd.yaml:6:22: tenants[0].azure.client_secret: expected {env: NAME} or "
            "{file: PATH}; secrets are never written in the config file");
  EXPECT_THAT(message, Not(HasSubstr("hunter2")));
  EXPECT_THAT(ErrorOf(WithSecret("\"quoted-literal\"")),
              AllOf(HasSubstr("secrets are never written"), Not(HasSubstr("quoted-literal"))));
  EXPECT_THAT(ErrorOf(WithSecret("[a, b]")), HasSubstr("secrets are never written"));
}

TEST(ConfigLoaderTest, SecretMapMustHaveExactlyOneSource) {
  EXPECT_EQ(ErrorOf(WithSecret("{}")),
            "guestflowd.yaml:6:22: tenants[0].azure.client_secret: expected {env: NAME} or "
            "{file: PATH}; secrets are never written in the config file");
  EXPECT_THAT(ErrorOf(WithSecret("{env: A, file: /b}")),
              HasSubstr("tenants[0].azure.client_secret: give only one of env and file"));
  const std::string value = ErrorOf(WithSecret("{value: hunter2}"));
  EXPECT_THAT(value, HasSubstr("tenants[0].azure.client_secret.value: unknown key \"value\""));
  EXPECT_THAT(value, Not(HasSubstr("hunter2")));
}

TEST(ConfigLoaderTest, SecretEnvNameIsChecked) {
  EXPECT_EQ(ErrorOf(WithSecret("{env: 1BAD-NAME}")),
            "guestflowd.yaml:6:28: tenants[0].azure.client_secret.env: \"1BAD-NAME\" is not an "
            "environment variable name; expected letters, digits and \"_\", not starting with a "
            "digit");
  const Config c = MustParse(WithSecret("{env: _Contoso_Secret_2}"));
  EXPECT_EQ(c.tenants[0].client_secret.source, SecretRef::Source::kEnv);
  EXPECT_EQ(c.tenants[0].client_secret.name, "_Contoso_Secret_2");
}

TEST(ConfigLoaderTest, SecretFileIsResolvedAgainstTheConfigFolder) {
  Config c = MustParse(WithSecret("{file: ./secrets/contoso}"));
  EXPECT_EQ(c.tenants[0].client_secret.source, SecretRef::Source::kFile);
  EXPECT_EQ(c.tenants[0].client_secret.name, "/etc/guestflow/secrets/contoso");
  c = MustParse(WithSecret("{file: /run/secrets/contoso}"));
  EXPECT_EQ(c.tenants[0].client_secret.name, "/run/secrets/contoso");
  EXPECT_THAT(ErrorOf(WithSecret("{file: \"\"}")),
              HasSubstr("tenants[0].azure.client_secret.file: must not be empty"));
}

// --- Paths ------------------------------------------------------------------

TEST(ConfigLoaderTest, RelativePathsResolveAgainstTheConfigFolder) {
  const Config c =
      MustParse(absl::StrCat("server: {plugin_dir: ./plugins/, plugins: [a.so]}\n"
                             "store: {sqlite: {path: ../var/lib/guestflow/gf.db}}\n"
                             "http: {ca_file: certs/./ca.pem}\n",
                             kValid));
  EXPECT_EQ(c.server.plugin_dir, "/etc/guestflow/plugins");
  EXPECT_EQ(c.store.sqlite_path, "/etc/var/lib/guestflow/gf.db");
  EXPECT_EQ(c.http.ca_file, "/etc/guestflow/certs/ca.pem");
}

TEST(ConfigLoaderTest, AbsolutePathsAreKept) {
  const Config c =
      MustParse(absl::StrCat("server: {plugin_dir: /usr/lib/guestflow/plugins/}\n"
                             "store: {sqlite: {path: /var/lib/guestflow/gf.db}}\n"
                             "http: {ca_file: /etc/ssl/certs/ca-certificates.crt}\n",
                             kValid));
  EXPECT_EQ(c.server.plugin_dir, "/usr/lib/guestflow/plugins");
  EXPECT_EQ(c.store.sqlite_path, "/var/lib/guestflow/gf.db");
  EXPECT_EQ(c.http.ca_file, "/etc/ssl/certs/ca-certificates.crt");
}

TEST(ConfigLoaderTest, SpecialAndEmptyPaths) {
  EXPECT_EQ(
      MustParse(absl::StrCat("store: {sqlite: {path: \":memory:\"}}\n", kValid)).store.sqlite_path,
      ":memory:");
  EXPECT_EQ(MustParse(absl::StrCat("http: {ca_file: \"\"}\n", kValid)).http.ca_file, "");
  EXPECT_THAT(ErrorOf(absl::StrCat("store: {sqlite: {path: \"\"}}\n", kValid)),
              HasSubstr("store.sqlite.path: must not be empty"));
}

TEST(ConfigLoaderTest, PostgresStoreNamesItsDsnByEnvironmentVariable) {
  const Config c = MustParse(absl::StrCat(
      "store: {postgres: {dsn_env: GF_PG_DSN, pool_size: 12, statement_timeout: 3s}}\n", kValid));
  ASSERT_TRUE(c.store.postgres.has_value());
  EXPECT_EQ(c.store.postgres->dsn_env, "GF_PG_DSN");
  EXPECT_EQ(c.store.postgres->pool_size, 12);
  EXPECT_EQ(c.store.postgres->statement_timeout, absl::Seconds(3));
  // Defaults, and no postgres section means SQLite.
  const Config d = MustParse(absl::StrCat("store: {postgres: {dsn_env: GF_PG_DSN}}\n", kValid));
  EXPECT_EQ(d.store.postgres->pool_size, 8);
  EXPECT_EQ(d.store.postgres->statement_timeout, absl::Seconds(10));
  EXPECT_FALSE(MustParse(kValid).store.postgres.has_value());
}

TEST(ConfigLoaderTest, PluginDigestsAreAnAllowlistOfEveryPlugin) {
  const std::string digest(64, 'A');  // hex, any case
  const Config c = MustParse(absl::StrCat(
      "server: {plugin_dir: /opt/gf/plugins, plugins: [a.so, b.so], plugin_sha256: {a.so: ", digest,
      ", b.so: ", std::string(64, 'b'), "}}\n", kValid));
  EXPECT_EQ(c.server.plugin_sha256.at("a.so"), std::string(64, 'a'));
  EXPECT_EQ(c.server.plugin_sha256.at("b.so"), std::string(64, 'b'));
  EXPECT_TRUE(MustParse(kValid).server.plugin_sha256.empty());
  // With an allowlist, a plugin without a digest is an error naming it.
  EXPECT_THAT(ErrorOf(absl::StrCat("server: {plugin_dir: /p, plugins: [a.so, b.so], "
                                   "plugin_sha256: {a.so: ",
                                   digest, "}}\n", kValid)),
              HasSubstr("\"b.so\" is in server.plugins but has no digest here"));
  EXPECT_THAT(ErrorOf(absl::StrCat("server: {plugin_dir: /p, plugins: [a.so], "
                                   "plugin_sha256: {a.so: abc123}}\n",
                                   kValid)),
              HasSubstr("server.plugin_sha256.a.so: expected the 64 hex digits"));
}

TEST(ConfigLoaderTest, PostgresStoreMistakesAreNamed) {
  EXPECT_THAT(ErrorOf(absl::StrCat("store: {postgres: {}}\n", kValid)),
              HasSubstr("store.postgres: dsn_env is required"));
  // The DSN itself (with its password) is never accepted in the file.
  EXPECT_THAT(ErrorOf(absl::StrCat("store: {postgres: {dsn: \"host=db password=x\"}}\n", kValid)),
              HasSubstr("store.postgres.dsn: unknown key"));
  EXPECT_THAT(ErrorOf(absl::StrCat("store: {postgres: {dsn_env: \"host=db\"}}\n", kValid)),
              HasSubstr("is not an environment variable name"));
  EXPECT_THAT(ErrorOf(absl::StrCat("store: {postgres: {dsn_env: X, pool_size: 0}}\n", kValid)),
              HasSubstr("store.postgres.pool_size"));
  EXPECT_THAT(
      ErrorOf(absl::StrCat("store: {sqlite: {path: a.db}, postgres: {dsn_env: X}}\n", kValid)),
      HasSubstr("give only one of sqlite and postgres"));
}

TEST(ConfigLoaderTest, RelativeBaseDirIsMadeAbsolute) {
  absl::StatusOr<Config> c = ParseConfig(kValid, kSource, "conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->base_dir, (fs::current_path() / "conf").string());
  EXPECT_EQ(c->store.sqlite_path, (fs::current_path() / "conf" / "guestflow.db").string());
  c = ParseConfig(kValid, kSource, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->base_dir, fs::current_path().string());
}

TEST(ConfigLoaderTest, PluginLibrariesAreFileNamesInsidePluginDir) {
  EXPECT_EQ(ErrorOf(WithServer("  plugins: [a.so]")),
            "guestflowd.yaml:2:3: server.plugin_dir: required when server.plugins lists "
            "libraries (the folder that holds them)");
  EXPECT_EQ(ErrorOf(WithServer("  plugin_dir: /p\n  plugins: [a.so, ../evil.so]")),
            "guestflowd.yaml:3:19: server.plugins[1]: \"../evil.so\" must be a library file "
            "name inside server.plugin_dir, without a folder");
  EXPECT_THAT(ErrorOf(WithServer("  plugin_dir: /p\n  plugins: [/abs/a.so]")),
              HasSubstr("server.plugins[0]: \"/abs/a.so\" must be a library file name"));
  EXPECT_THAT(ErrorOf(WithServer("  plugin_dir: /p\n  plugins: [\"..\"]")),
              HasSubstr("server.plugins[0]: \"..\" must be a library file name"));
  EXPECT_THAT(ErrorOf(WithServer("  plugin_dir: /p\n  plugins: [a.so, a.so]")),
              HasSubstr("server.plugins[1]: \"a.so\" is listed twice"));
  EXPECT_THAT(ErrorOf(WithServer("  plugin_dir: \"\"")),
              HasSubstr("server.plugin_dir: must not be empty"));
}

// --- Plugins ----------------------------------------------------------------

TEST(ConfigLoaderTest, AllFourPluginKindsAreRequired) {
  for (const char* kind : {"invite", "license", "role", "notifier"}) {
    std::string yaml(kValid);
    const size_t start = yaml.find(absl::StrCat("      ", kind, ":"));
    ASSERT_NE(start, std::string::npos);
    yaml.erase(start, yaml.find('\n', start) + 1 - start);
    EXPECT_THAT(ErrorOf(yaml),
                HasSubstr(absl::StrCat("tenants[0].plugins.", kind,
                                       ": required ({name: PLUGIN} for the ", kind, " steps)")))
        << kind;
  }
}

TEST(ConfigLoaderTest, PluginBindingNeedsAValidName) {
  EXPECT_EQ(ErrorOf(Replace("{name: dataverse_role}", "{settings: {}}")),
            "guestflowd.yaml:12:13: tenants[0].plugins.role.name: required (the plugin's name, "
            "such as azure_ad_invite)");
  EXPECT_THAT(ErrorOf(Replace("{name: dataverse_role}", "{name: \"../x\"}")),
              HasSubstr("tenants[0].plugins.role.name: \"../x\" is not a plugin name"));
  EXPECT_THAT(ErrorOf(Replace("{name: dataverse_role}", "dataverse_role")),
              HasSubstr("tenants[0].plugins.role: expected a map, got a scalar"));
  EXPECT_THAT(ErrorOf(Replace("{name: dataverse_role}", "{name: dataverse_role, setings: {}}")),
              HasSubstr("tenants[0].plugins.role.setings: unknown key \"setings\"; did you mean "
                        "\"settings\"?"));
}

TEST(ConfigLoaderTest, PluginSettingsMustBeAMap) {
  EXPECT_EQ(ErrorOf(Replace("{dir: ./outbox}", "[./outbox]")),
            "guestflowd.yaml:13:51: tenants[0].plugins.notifier.settings: expected a map (it is "
            "handed to the plugin as a JSON object), got a list");
  EXPECT_THAT(ErrorOf(Replace("{dir: ./outbox}", "./outbox")),
              HasSubstr("tenants[0].plugins.notifier.settings: expected a map"));
  const Config c = MustParse(Replace("{dir: ./outbox}", "~"));
  EXPECT_EQ(c.tenants[0].plugins.at("notifier").settings_json, "{}");
}

TEST(ConfigLoaderTest, PluginSettingsBecomeJson) {
  const Config c = MustParse(Replace(
      "{dir: ./outbox}",
      "{s: text, q: \"true\", i: -12, big: 18446744073709551615, huge: "
      "123456789012345678901234567890, f: 1.5e3, t: true, n: null, e: , "
      "l: [1, [2]], m: {k: v}, yes_is_text: yes, tagged: !!str 5, url: \"http://a/b?c=d\"}"));
  EXPECT_EQ(nlohmann::json::parse(c.tenants[0].plugins.at("notifier").settings_json),
            nlohmann::json::parse(R"({"s": "text", "q": "true", "i": -12,
              "big": 18446744073709551615, "huge": 1.2345678901234568e29, "f": 1500.0,
              "t": true, "n": null, "e": null, "l": [1, [2]], "m": {"k": "v"},
              "yes_is_text": "yes", "tagged": "5", "url": "http://a/b?c=d"})"));
}

TEST(ConfigLoaderTest, PluginSettingsProblemsAreNamed) {
  EXPECT_THAT(ErrorOf(Replace("{dir: ./outbox}", "{a: {b: 1, b: 2}}")),
              HasSubstr("tenants[0].plugins.notifier.settings.a.b: duplicate key"));
  EXPECT_THAT(ErrorOf(Replace("{dir: ./outbox}", "{a: !!binary aGk=}")),
              HasSubstr("tenants[0].plugins.notifier.settings.a: the YAML tag "
                        "\"tag:yaml.org,2002:binary\" is not supported"));
  EXPECT_THAT(ErrorOf(Replace("{dir: ./outbox}", "{a: [1, 1e999]}")),
              HasSubstr("tenants[0].plugins.notifier.settings.a[1]: \"1e999\" is too large"));
  EXPECT_THAT(ErrorOf(Replace("{dir: ./outbox}", "{[a]: 1}")),
              HasSubstr("tenants[0].plugins.notifier.settings: a settings key must be a string"));
  EXPECT_THAT(ErrorOf(Replace("{dir: ./outbox}", "&loop {self: *loop}")),
              HasSubstr("levels deep (does a YAML alias refer to itself?)"));
}

// --- Onboarding defaults ----------------------------------------------------

std::string WithOnboarding(absl::string_view onboarding) {
  return Replace("    plugins:\n",
                 absl::StrCat("    onboarding: ", onboarding, "\n    plugins:\n"));
}

TEST(ConfigLoaderTest, DefaultRolesFollowTheRequestRules) {
  EXPECT_THAT(MustParse(WithOnboarding("{default_roles: [Salesperson, Basic User]}"))
                  .tenants[0]
                  .default_roles,
              ElementsAre("Salesperson", "Basic User"));
  EXPECT_EQ(ErrorOf(WithOnboarding("{default_roles: [Salesperson, salesperson]}")),
            "guestflowd.yaml:9:33: tenants[0].onboarding.default_roles[1]: \"salesperson\" is "
            "listed twice (also tenants[0].onboarding.default_roles[0]); role names are compared "
            "ignoring case");
  EXPECT_THAT(ErrorOf(WithOnboarding("{default_roles: [\"\"]}")),
              HasSubstr("tenants[0].onboarding.default_roles[0]: required"));
  EXPECT_THAT(ErrorOf(WithOnboarding("{default_roles: Salesperson}")),
              HasSubstr("tenants[0].onboarding.default_roles: expected a list, got a scalar"));
}

TEST(ConfigLoaderTest, InvitationMessageIsLimited) {
  const std::string ok(2000, 'x');
  EXPECT_EQ(MustParse(WithOnboarding(absl::StrCat("{invitation_message: ", ok, "}")))
                .tenants[0]
                .invitation_message,
            ok);
  EXPECT_THAT(ErrorOf(WithOnboarding(absl::StrCat("{invitation_message: ", ok, "y}"))),
              HasSubstr("tenants[0].onboarding.invitation_message: \"xxxx"));
  EXPECT_THAT(ErrorOf(WithOnboarding(absl::StrCat("{invitation_message: ", ok, "y}"))),
              HasSubstr("is 2001 characters long; at most 2000 are allowed"));
}

// --- Rate limits ------------------------------------------------------------

std::string WithLimits(absl::string_view limits) {
  return absl::StrCat("limits:\n", limits, "\n", kValid);
}

TEST(ConfigLoaderTest, LimitsDefaultToMicrosoftsDocumentedOnes) {
  const Config c = MustParse(kValid);
  EXPECT_EQ(c.limits.graph_writes.requests, 3000);
  EXPECT_EQ(c.limits.graph_writes.per, absl::Seconds(150));
  EXPECT_EQ(c.limits.graph_writes.concurrent, 0);
  EXPECT_EQ(c.limits.dataverse.requests, 6000);
  EXPECT_EQ(c.limits.dataverse.per, absl::Seconds(300));
  EXPECT_EQ(c.limits.dataverse.concurrent, 52);
  EXPECT_EQ(c.limits.admin.requests, 100);
  EXPECT_EQ(c.limits.admin.per, absl::Seconds(60));
  EXPECT_EQ(c.limits.max_wait, absl::Seconds(30));
  // An empty section is the same.
  const Config empty = MustParse(WithLimits("  graph_writes:\n  dataverse: {}"));
  EXPECT_EQ(empty.limits.graph_writes.requests, 3000);
  EXPECT_EQ(empty.limits.dataverse.concurrent, 52);
}

TEST(ConfigLoaderTest, LimitsAreRead) {
  const Config c =
      MustParse(WithLimits("  graph_writes: {requests: 1500, per: 75s}\n"
                           "  dataverse: {requests: 0, per: 5m, concurrent: 10}\n"
                           "  admin: {requests: 40, per: 30s}\n"
                           "  max_wait: 12s"));
  EXPECT_EQ(c.limits.admin.requests, 40);
  EXPECT_EQ(c.limits.admin.per, absl::Seconds(30));
  EXPECT_EQ(c.limits.graph_writes.requests, 1500);
  EXPECT_EQ(c.limits.graph_writes.per, absl::Seconds(75));
  EXPECT_EQ(c.limits.dataverse.requests, 0);  // off
  EXPECT_EQ(c.limits.dataverse.per, absl::Minutes(5));
  EXPECT_EQ(c.limits.dataverse.concurrent, 10);
  EXPECT_EQ(c.limits.max_wait, absl::Seconds(12));
}

TEST(ConfigLoaderTest, LimitKeysLeftOutKeepTheirDefaults) {
  const Config c =
      MustParse(WithLimits("  graph_writes: {requests: 0}\n  dataverse: {concurrent: 0}"));
  EXPECT_EQ(c.limits.graph_writes.requests, 0);
  EXPECT_EQ(c.limits.graph_writes.per, absl::Seconds(150));
  EXPECT_EQ(c.limits.dataverse.requests, 6000);
  EXPECT_EQ(c.limits.dataverse.concurrent, 0);
}

TEST(ConfigLoaderTest, BadLimitsAreRefusedWithTheirPlace) {
  EXPECT_EQ(ErrorOf(WithLimits("  graph_writes: {requests: -1, per: 150s}")),
            "guestflowd.yaml:2:28: limits.graph_writes.requests: expected a whole number from 0 "
            "to 1000000, got -1");
  EXPECT_EQ(ErrorOf(WithLimits("  dataverse: {requests: 6000, per: 300, concurrent: 52}")),
            "guestflowd.yaml:2:36: limits.dataverse.per: expected a positive duration with a unit, "
            "such as 500ms, 30s, 5m or 1h, got \"300\"");
  EXPECT_EQ(ErrorOf(WithLimits("  dataverse: {concurrent: -3}")),
            "guestflowd.yaml:2:27: limits.dataverse.concurrent: expected a whole number from 0 to "
            "10000, got -3");
  EXPECT_EQ(ErrorOf(WithLimits("  graph_writes: {requests: 3000, per: 2d}")),
            "guestflowd.yaml:2:39: limits.graph_writes.per: expected a positive duration with a "
            "unit, such as 500ms, 30s, 5m or 1h, got \"2d\"");
  EXPECT_EQ(ErrorOf(WithLimits("  graph_writes: {requests: 3000, per: 25h}")),
            "guestflowd.yaml:2:39: limits.graph_writes.per: expected at most 24h, got \"25h\"");
  EXPECT_EQ(ErrorOf(WithLimits("  max_wait: 0s")),
            "guestflowd.yaml:2:13: limits.max_wait: expected a positive duration with a unit, "
            "such as 500ms, 30s, 5m or 1h, got \"0s\"");
  EXPECT_EQ(ErrorOf(WithLimits("  graph_writes: {requests: \"3000\"}")),
            "guestflowd.yaml:2:28: limits.graph_writes.requests: expected a whole number from 0 "
            "to 1000000, got \"3000\"");
  EXPECT_EQ(ErrorOf(WithLimits("  dataverse: 6000")),
            "guestflowd.yaml:2:14: limits.dataverse: expected a map, got a scalar");
}

TEST(ConfigLoaderTest, UnknownLimitKeysAreRefused) {
  // Graph writes have no documented concurrency cap.
  EXPECT_THAT(ErrorOf(WithLimits("  graph_writes: {requests: 3000, concurrent: 5}")),
              HasSubstr("guestflowd.yaml:2:34: limits.graph_writes.concurrent: unknown key "
                        "\"concurrent\""));
  EXPECT_EQ(ErrorOf(WithLimits("  max_wiat: 5s")),
            "guestflowd.yaml:2:3: limits.max_wiat: unknown key \"max_wiat\"; did you mean "
            "\"max_wait\"?");
  EXPECT_THAT(ErrorOf(WithLimits("  admin: {requests: 100, concurrent: 5}")),
              HasSubstr("limits.admin.concurrent: unknown key \"concurrent\""));
  EXPECT_THAT(ErrorOf(WithLimits("  login: {requests: 5}")),
              HasSubstr("limits.login: unknown key \"login\""));
}

TEST(ConfigLoaderTest, MaxWaitMayNotOutlastTheLease) {
  EXPECT_EQ(MustParse(WithLimits("  max_wait: 60s")).limits.max_wait, absl::Seconds(60));
  EXPECT_EQ(ErrorOf(WithLimits("  max_wait: 61s")),
            "guestflowd.yaml:2:13: limits.max_wait: 1m1s is longer than engine.lease (1m)");
  EXPECT_EQ(MustParse(absl::StrCat("engine:\n  lease: 5m\n", WithLimits("  max_wait: 2m")))
                .limits.max_wait,
            absl::Minutes(2));
}

TEST(ConfigLoaderTest, MaxWaitDefaultsToTheLeaseWhenTheLeaseIsShorter) {
  // limits.max_wait not set: its default (30s) yields to a shorter lease.
  EXPECT_EQ(MustParse(absl::StrCat("engine:\n  lease: 20s\n", kValid)).limits.max_wait,
            absl::Seconds(20));
  EXPECT_EQ(MustParse(absl::StrCat("engine:\n  lease: 30s\n", kValid)).limits.max_wait,
            absl::Seconds(30));
  EXPECT_EQ(MustParse(absl::StrCat("engine:\n  lease: 5m\n", kValid)).limits.max_wait,
            absl::Seconds(30));
  // Set, it is checked against the lease as ever.
  EXPECT_EQ(MustParse(absl::StrCat("engine:\n  lease: 20s\n", WithLimits("  max_wait: 5s")))
                .limits.max_wait,
            absl::Seconds(5));
  EXPECT_EQ(ErrorOf(absl::StrCat("engine:\n  lease: 20s\n", WithLimits("  max_wait: 30s"))),
            "guestflowd.yaml:4:13: limits.max_wait: 30s is longer than engine.lease (20s)");
}

TEST(ConfigLoaderTest, LimitErrorsInAFileNameFileLineAndColumn) {
  const std::string path = Testdata("limits_errors.yaml");
  absl::StatusOr<Config> loaded = LoadConfigFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(std::string(loaded.status().message()),
            absl::StrCat(path,
                         ":3:28: limits.graph_writes.requests: expected a whole number from 0 to "
                         "1000000, got -5\n",
                         path,
                         ":8:5: limits.dataverse.burst: unknown key \"burst\"; expected one of: "
                         "requests, per, concurrent\n",
                         path,
                         ":6:10: limits.dataverse.per: expected a positive duration with a unit, "
                         "such as 500ms, 30s, 5m or 1h, got \"300\""));
}

// ---- transport and callers --------------------------------------------------

constexpr char kHash[] =
    "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f9:"
    "cfe21e0f2f40af5232debd777ec3dea3957d336afe70a07bb1c484fa208487c1";

std::string WithCallers(absl::string_view callers) {
  return absl::StrCat(kValid, "callers:\n", callers, "\n");
}

TEST(ConfigLoaderTest, TlsFilesResolveAgainstTheConfigFolder) {
  const Config c = MustParse(WithServer(
      "  tls: {cert_file: tls/server.crt, key_file: /keys/server.key, client_ca_file: ca.crt, "
      "require_client_cert: true, reload_interval: 5s}"));
  ASSERT_TRUE(c.server.tls.has_value());
  EXPECT_EQ(c.server.tls->cert_file, "/etc/guestflow/tls/server.crt");
  EXPECT_EQ(c.server.tls->key_file, "/keys/server.key");
  EXPECT_EQ(c.server.tls->client_ca_file, "/etc/guestflow/ca.crt");
  EXPECT_TRUE(c.server.tls->require_client_cert);
  EXPECT_EQ(c.server.tls->reload_interval, absl::Seconds(5));
  EXPECT_FALSE(c.server.plaintext);
  const Config defaults = MustParse(WithServer("  tls: {cert_file: a.crt, key_file: a.key}"));
  EXPECT_EQ(defaults.server.tls->reload_interval, absl::Seconds(60));
  EXPECT_EQ(defaults.server.tls->client_ca_file, "");
  EXPECT_FALSE(defaults.server.tls->require_client_cert);
  EXPECT_TRUE(MustParse(WithServer("  plaintext: true")).server.plaintext);
}

TEST(ConfigLoaderTest, MetricsListenIsAnAddressOrAbsent) {
  EXPECT_EQ(MustParse(kValid).server.metrics_listen, "");
  EXPECT_EQ(MustParse(WithServer("  metrics_listen: 0.0.0.0:9464")).server.metrics_listen,
            "0.0.0.0:9464");
  EXPECT_THAT(ErrorOf(WithServer("  metrics_listen: 9464")),
              HasSubstr("server.metrics_listen: \"9464\""));
}

TEST(ConfigLoaderTest, TlsMistakesAreNamed) {
  EXPECT_THAT(ErrorOf(WithServer("  tls: {cert_file: a.crt}")),
              HasSubstr("server.tls.key_file: required (the PEM private key of cert_file)"));
  EXPECT_THAT(ErrorOf(WithServer("  tls: {cert_file: a.crt, key_file: a.key}\n  plaintext: true")),
              HasSubstr("give only one of tls and plaintext: true"));
  EXPECT_THAT(ErrorOf(WithServer("  tls: {cert_file: a.crt, key_file: a.key, "
                                 "require_client_cert: true}")),
              HasSubstr("server.tls.require_client_cert: needs client_ca_file"));
  EXPECT_THAT(ErrorOf(WithServer("  tls: {cert_file: a.crt, key_file: a.key, "
                                 "reload_interval: 200ms}")),
              HasSubstr("server.tls.reload_interval: expected at least 1s, got 200ms"));
  EXPECT_THAT(ErrorOf(WithServer("  plaintext: yes")),
              HasSubstr("server.plaintext: expected true or false"));
}

TEST(ConfigLoaderTest, CallersAreReadWithTheirRolesTenantsAndCredentials) {
  const Config c = MustParse(WithCallers(absl::StrCat(
      "  - {name: ops, role: admin, tenants: [\"*\"], token_hash: ", kHash, "}\n",
      "  - {name: hr-portal, role: operator, tenants: [contoso, contoso], client_cert_names: "
      "[hr.contoso.example]}\n",
      "  - {name: dash.board_1, role: reader, tenants: [contoso], token_hash: ", kHash,
      ", client_cert_names: [spiffe://x/dash]}")));
  ASSERT_EQ(c.callers.size(), 3u);
  EXPECT_EQ(c.callers[0].name, "ops");
  EXPECT_EQ(c.callers[0].role, CallerRole::kAdmin);
  EXPECT_TRUE(c.callers[0].all_tenants);
  EXPECT_EQ(c.callers[0].token_salt_hex, "0a1b2c3d4e5f60718293a4b5c6d7e8f9");
  EXPECT_EQ(c.callers[0].token_digest_hex,
            "cfe21e0f2f40af5232debd777ec3dea3957d336afe70a07bb1c484fa208487c1");
  EXPECT_EQ(c.callers[1].role, CallerRole::kOperator);
  EXPECT_FALSE(c.callers[1].all_tenants);
  EXPECT_EQ(c.callers[1].tenants, std::vector<std::string>{"contoso"});
  EXPECT_TRUE(c.callers[1].token_digest_hex.empty());
  EXPECT_EQ(c.callers[1].client_cert_names, std::vector<std::string>{"hr.contoso.example"});
  EXPECT_EQ(c.callers[2].role, CallerRole::kReader);
  EXPECT_EQ(c.callers[2].client_cert_names, std::vector<std::string>{"spiffe://x/dash"});
  EXPECT_TRUE(MustParse(kValid).callers.empty());
}

TEST(ConfigLoaderTest, CallerMistakesAreNamedWithoutEchoingTheHash) {
  const auto error = [](absl::string_view caller) {
    return ErrorOf(WithCallers(absl::StrCat("  - ", caller)));
  };
  EXPECT_THAT(error("{name: x, role: root, tenants: [contoso], token_hash: h}"),
              HasSubstr("callers[0].role: \"root\": expected reader, operator or admin"));
  EXPECT_THAT(error("{name: x, role: reader, tenants: [northwind], client_cert_names: [a]}"),
              HasSubstr("callers[0].tenants[0]: \"northwind\" is not a tenant of this "
                        "configuration"));
  EXPECT_THAT(error("{name: x, role: reader, tenants: [], client_cert_names: [a]}"),
              HasSubstr("callers[0].tenants: must not be empty"));
  EXPECT_THAT(error("{name: x, role: reader, tenants: [\"*\", contoso], client_cert_names: [a]}"),
              HasSubstr("list no other tenant beside it"));
  EXPECT_THAT(error("{name: x, role: reader, tenants: [contoso]}"),
              HasSubstr("callers[0]: give token_hash, client_cert_names or both"));
  EXPECT_THAT(error("{name: \"a b\", role: reader, tenants: [contoso], client_cert_names: [a]}"),
              HasSubstr("callers[0].name: \"a b\" must be 1 to 63 letters"));
  EXPECT_THAT(error("{role: reader, tenants: [contoso], client_cert_names: [a]}"),
              HasSubstr("callers[0].name: required"));
  // A token pasted where its hash goes: refused, and not repeated.
  const std::string pasted =
      error("{name: x, role: reader, tenants: [contoso], token_hash: gft_the-token-itself}");
  EXPECT_THAT(pasted, HasSubstr("callers[0].token_hash: expected sha256:<salt hex>:<digest hex> "
                                "as printed by guestflowd hash-token"));
  EXPECT_THAT(pasted, Not(HasSubstr("gft_the-token-itself")));
  EXPECT_THAT(error(absl::StrCat("{name: x, role: reader, tenants: [contoso], token_hash: ",
                                 "sha256:ABCD0123ABCD0123:", std::string(64, 'a'), "}")),
              HasSubstr("callers[0].token_hash: expected sha256:"));
  EXPECT_THAT(ErrorOf(WithCallers(
                  "  - {name: x, role: reader, tenants: [contoso], client_cert_names: [a]}\n"
                  "  - {name: x, role: reader, tenants: [contoso], client_cert_names: [a]}")),
              AllOf(HasSubstr("callers[1].name: \"x\" is already used by callers[0]"),
                    HasSubstr("\"a\" also names callers[0]")));
  EXPECT_THAT(ErrorOf(absl::StrCat(kValid, "callers: {name: x}\n")),
              HasSubstr("callers: expected a list of callers"));
}

TEST(ConfigLoaderTest, ServingNeedsATransportAndACaller) {
  const std::string caller = absl::StrCat(
      "callers:\n  - {name: ops, role: admin, tenants: [\"*\"], token_hash: ", kHash, "}\n");
  const auto servable = [&](absl::string_view server) {
    return CheckServable(MustParse(absl::StrCat("server:\n", server, "\n", kValid, caller)));
  };
  EXPECT_TRUE(servable("  plaintext: true").ok());
  EXPECT_TRUE(servable("  listen: \"[::1]:7000\"\n  plaintext: true").ok());
  EXPECT_TRUE(servable("  listen: localhost:7000\n  plaintext: true").ok());
  EXPECT_TRUE(servable("  listen: 0.0.0.0:7000\n  tls: {cert_file: a, key_file: b}").ok());
  const absl::Status neither = servable("  listen: 127.0.0.1:7000");
  EXPECT_EQ(neither.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(neither.message(),
              HasSubstr("server.tls: required (cert_file and key_file), or server.plaintext: "
                        "true"));
  EXPECT_THAT(servable("  listen: 0.0.0.0:7000\n  plaintext: true").message(),
              HasSubstr("plain text is allowed only on a loopback address (127.0.0.1, [::1], "
                        "localhost), not on 0.0.0.0:7000"));
  EXPECT_THAT(servable("  listen: 10.1.2.3:7000\n  plaintext: true").message(),
              HasSubstr("not on 10.1.2.3:7000"));
  const absl::Status no_callers =
      CheckServable(MustParse(absl::StrCat("server:\n  plaintext: true\n", kValid)));
  EXPECT_THAT(no_callers.message(), HasSubstr("callers: none configured"));
  EXPECT_THAT(no_callers.message(), HasSubstr("guestflowd new-token"));
}

}  // namespace
}  // namespace guestflow
