// CloudTestEnv: an in-process emulator on a loopback port and a PluginHost
// whose tenant points every Microsoft endpoint at it, with the real libcurl
// client and OAuth2 token provider. Plugin tests run steps through it exactly
// as guestflowd does, and read the emulator's counters and journal.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "emulator/emulator_server.h"
#include "nlohmann/json.hpp"
#include "server/config/config.h"
#include "server/http/curl_http_client.h"
#include "server/http/oauth2_token_provider.h"
#include "server/model/onboarding.h"
#include "server/plugin_host/plugin_host.h"

namespace guestflow::cloudtest {

// The fixture tenant "contoso" of emulator/fixtures/demo.yaml.
inline constexpr char kContosoDirectory[] = "6f0c1b1e-3b7a-4c55-9a53-2d1f6f6e0c01";
inline constexpr char kContosoClientId[] = "0b8f4c8e-7f4a-4f0f-9b1a-5c3d2e1f0a01";
inline constexpr char kContosoSecret[] = "contoso-emulator-secret";
inline constexpr char kContosoEnvironment[] = "5d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f01";
inline constexpr char kContosoGroup[] = "3c1a9d4e-5b6f-4a7b-8c9d-0e1f2a3b4c01";

class CloudTestEnv {
 public:
  // Starts the emulator with `fixture_path` (default: the demo fixture), with
  // every lag knob set to 0 unless `keep_lags`.
  explicit CloudTestEnv(const std::string& fixture_path = GUESTFLOW_DEMO_FIXTURE,
                        bool keep_lags = false);
  ~CloudTestEnv();

  // http://127.0.0.1:PORT
  const std::string& base_url() const { return base_url_; }
  emulator::EmulatorServer& emulator() { return *emulator_; }

  // A tenant config for contoso pointing at the emulator; `plugins` maps a
  // plugin kind to {plugin name, settings JSON}.
  TenantConfig ContosoTenant(const std::map<std::string, PluginBinding>& plugins) const;

  // Loads `plugin_files` (names inside the plugin folder) and builds the host
  // for `tenants`. Fails the test on error and returns null.
  std::unique_ptr<PluginHost> MakeHost(const std::vector<std::string>& plugin_files,
                                       const std::vector<TenantConfig>& tenants);

  // A fresh onboarding of `email` for tenant `tenant`, with all steps pending.
  static Onboarding NewOnboarding(const std::string& tenant, const std::string& email,
                                  const std::string& usage_location = "GB");

  // Runs `step` as the engine would, merging the outputs into `onboarding`
  // and marking the step succeeded when it did.
  static StepOutcome RunStep(PluginHost& host, Onboarding& onboarding, StepKind step);

  // GET base_url + path, parsed as JSON (fails the test otherwise).
  nlohmann::json GetJson(const std::string& path) const;
  // POST /_emulator/knobs.
  void SetKnobs(const nlohmann::json& knobs) const;

 private:
  std::unique_ptr<emulator::EmulatorServer> emulator_;
  std::thread serving_;
  std::string base_url_;
  std::unique_ptr<CurlHttpClient> http_;
  std::unique_ptr<OAuth2TokenProvider> tokens_;
};

}  // namespace guestflow::cloudtest
