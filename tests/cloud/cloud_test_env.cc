#include "tests/cloud/cloud_test_env.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "server/common/clock.h"
#include "server/engine/state_machine.h"

namespace guestflow::cloudtest {

CloudTestEnv::CloudTestEnv(const std::string& fixture_path, bool keep_lags) {
  auto fixture = emulator::LoadFixtureFile(fixture_path);
  if (!fixture.ok()) {
    ADD_FAILURE() << fixture.status();
    std::abort();
  }
  if (!keep_lags) {
    fixture->knobs.replication_lag_ms = 0;
    fixture->knobs.usage_location_lag_ms = 0;
    fixture->knobs.license_propagation_ms = 0;
    fixture->knobs.dataverse_sync_delay_ms = 0;
  }
  emulator_ = emulator::EmulatorServer::Create(*std::move(fixture), 16);
  auto port = emulator_->Bind("127.0.0.1", 0);
  if (!port.ok()) {
    ADD_FAILURE() << port.status();
    std::abort();
  }
  base_url_ = absl::StrCat("http://127.0.0.1:", *port);
  serving_ = std::thread([this] { emulator_->Run(); });
  // cpp-httplib ignores stop() until the accept loop runs: wait for it.
  httplib::Client probe(base_url_);
  for (int i = 0; i < 500; ++i) {
    auto res = probe.Get("/_emulator/health");
    if (res && res->status == 200) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  setenv("GF_CLOUDTEST_CONTOSO_SECRET", kContosoSecret, 1);
  HttpConfig http_config;
  http_config.request_timeout = absl::Seconds(10);
  http_ = *CurlHttpClient::Create(http_config);
  tokens_ = std::make_unique<OAuth2TokenProvider>(http_.get(), Clock::Real());
}

CloudTestEnv::~CloudTestEnv() {
  // Close the client's kept-alive connections first, or the emulator's
  // workers wait out their keep-alive timeout.
  tokens_.reset();
  http_.reset();
  emulator_->Stop();
  serving_.join();
}

TenantConfig CloudTestEnv::ContosoTenant(
    const std::map<std::string, PluginBinding>& plugins) const {
  TenantConfig t;
  t.id = "contoso";
  t.display_name = "Contoso Ltd";
  t.directory = kContosoDirectory;
  t.client_id = kContosoClientId;
  t.client_secret = SecretRef{SecretRef::Source::kEnv, "GF_CLOUDTEST_CONTOSO_SECRET"};
  t.authority_url = base_url_;
  t.graph_url = base_url_;
  t.admin_url = base_url_;
  t.instance_url = absl::StrCat(base_url_, "/orgs/contoso");
  t.environment_id = kContosoEnvironment;
  t.default_roles = {"Salesperson"};
  t.plugins = plugins;
  return t;
}

std::unique_ptr<PluginHost> CloudTestEnv::MakeHost(const std::vector<std::string>& plugin_files,
                                                   const std::vector<TenantConfig>& tenants) {
  Config config;
  config.server.plugin_dir = GUESTFLOW_PLUGIN_DIR;
  config.server.plugins = plugin_files;
  config.tenants = tenants;
  auto host = PluginHost::Create(config, HostServices{Clock::Real(), http_.get(), tokens_.get()});
  if (!host.ok()) {
    ADD_FAILURE() << host.status();
    return nullptr;
  }
  return *std::move(host);
}

Onboarding CloudTestEnv::NewOnboarding(const std::string& tenant, const std::string& email,
                                       const std::string& usage_location) {
  const size_t at = email.find('@');
  Guest guest{email, "Ada", email.substr(0, at), "", usage_location};
  guest.display_name = absl::StrCat(guest.first_name, " ", guest.last_name);
  Onboarding o = guestflow::NewOnboarding(absl::StrCat("test-", email), tenant, guest, {}, {},
                                          absl::Now(), nullptr);
  o.instance_url = "";
  return o;
}

StepOutcome CloudTestEnv::RunStep(PluginHost& host, Onboarding& onboarding, StepKind step) {
  StepOutcome outcome = host.Run(onboarding, step);
  Step* s = onboarding.FindStep(step);
  for (const auto& [k, v] : outcome.outputs) s->outputs[k] = v;
  if (outcome.kind == StepOutcome::Kind::kSucceeded) {
    s->state = StepState::kSucceeded;
    ++s->attempts;
  } else if (outcome.kind != StepOutcome::Kind::kWait &&
             outcome.kind != StepOutcome::Kind::kThrottled) {
    ++s->attempts;
  }
  return outcome;
}

nlohmann::json CloudTestEnv::GetJson(const std::string& path) const {
  httplib::Client client(base_url_);
  auto res = client.Get(path.c_str());
  if (!res || res->status != 200) {
    ADD_FAILURE() << "GET " << path << " failed";
    return nlohmann::json();
  }
  return nlohmann::json::parse(res->body);
}

void CloudTestEnv::SetKnobs(const nlohmann::json& knobs) const {
  httplib::Client client(base_url_);
  auto res = client.Post("/_emulator/knobs", knobs.dump(), "application/json");
  if (!res || res->status != 200) ADD_FAILURE() << "POST /_emulator/knobs failed";
}

}  // namespace guestflow::cloudtest
