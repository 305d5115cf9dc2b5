// Fuzz target: what guestflow makes of the answers of Microsoft's clouds.
// One fuzzed HTTP answer is given, through a fake host behind the plugin C
// ABI, to every request of the cloud plugins' steps and check, which parse
// it as Graph, Dataverse or Power Platform admin JSON:
// - azure_ad_invite: the invite and profile steps (users lookup, invitation,
//   group membership, profile PATCH);
// - graph_license: the license step, and the SKU list (ParseSubscribedSkus);
// - dataverse_role: the role step and the tenant check (systemusers, roles,
//   business units, WhoAmI, the admin API's environment and addUser);
// - the shared helpers: Graph's error envelope and the retry classification
//   (plugins/common/graph_client.h, guestflow/cloud_errors.h), Dataverse's
//   ApiResult;
// and to the host's OAuth2 client as the token endpoint's answer
// (server/http/oauth2_token_provider.h).
//
// Input: an HTTP answer, as text:
//   <status>[ <Retry-After value>]\n<body>
// A first line that does not start with a status code (1 to 3 digits) stands
// for a transport failure (no answer at all).
//
// Invariants checked:
// - Nothing throws out of a step, a check or a helper (in guestflowd the SDK
//   would turn it into a plugin error, not a step outcome).
// - A step's outcome is SUCCEEDED, RETRY, WAIT or FAILED; RETRY and FAILED
//   say why; a retry delay is -1 (the host decides) or at most a day.
// - Failures are classified as documented: transient statuses retry,
//   other 4xx fail; the message names the call.
// - The token provider answers a token, or PERMISSION_DENIED,
//   FAILED_PRECONDITION or UNAVAILABLE with a message that does not give
//   the client secret away.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "azure_ad_invite/invite_settings.h"
#include "azure_ad_invite/invite_step.h"
#include "azure_ad_invite/profile_step.h"
#include "common/graph_client.h"
#include "common/step_input.h"
#include "dataverse_role/role_settings.h"
#include "dataverse_role/role_step.h"
#include "dataverse_role/tenant_check.h"
#include "dataverse_role/web_api.h"
#include "graph_license/license_settings.h"
#include "graph_license/license_step.h"
#include "graph_license/sku_catalog.h"
#include "guestflow/cloud_errors.h"
#include "guestflow/plugin_abi.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"
#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/http/http_client.h"
#include "server/http/oauth2_token_provider.h"
#include "tests/fuzz/fuzz_target.h"

namespace guestflow {
namespace {

constexpr char kInstanceUrl[] = "https://contoso.crm.dynamics.com";
constexpr char kAdminUrl[] = "https://api.bap.microsoft.com";
constexpr char kEnvironmentId[] = "6a1b2c3d-0000-4000-8000-00000000e001";
constexpr char kUserId[] = "4f1c2d3e-1111-4222-8333-944455566677";
constexpr char kGroupId[] = "0b7c8d9e-2222-4333-8444-a55566677788";
// Requests a step or check may send for one run; more means a loop.
constexpr int kMaxRequests = 64;

// The fuzzed answer.
struct CloudAnswer {
  int32_t status = 0;  // 0: no answer
  std::string retry_after;
  std::string body;
};

CloudAnswer ParseAnswer(std::string_view input) {
  CloudAnswer answer;
  const size_t eol = input.find('\n');
  std::string_view first = input.substr(0, eol);
  answer.body = eol == std::string_view::npos ? "" : std::string(input.substr(eol + 1));
  const size_t space = first.find(' ');
  const std::string_view code = first.substr(0, space);
  int32_t status = 0;
  const auto [end, error] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (error != std::errc() || end != code.data() + code.size() || code.size() > 3) return answer;
  answer.status = status;
  if (space != std::string_view::npos) answer.retry_after = std::string(first.substr(space + 1));
  return answer;
}

// The host's side of the plugin ABI: answers every request with `answer`,
// hands out a token, and checks what the plugin sends and records.
class FakeHost {
 public:
  explicit FakeHost(const CloudAnswer& answer) : answer_(answer) {
    retry_after_ = {sdk::ToGf("Retry-After"), sdk::ToGf(answer_.retry_after)};
    api_.struct_size = sizeof(api_);
    api_.abi_version = GF_PLUGIN_ABI_VERSION;
    api_.log = [](gf_call*, gf_log_level, gf_str) {};
    api_.now_unix_ms = [](gf_call*) -> int64_t { return 1767225600000; };
    api_.http = &FakeHost::Http;
    api_.get_token = [](gf_call*, gf_str, gf_str* token, gf_str*, int32_t*) -> int32_t {
      *token = sdk::ToGf("fuzz-token");
      return 0;
    };
    api_.set_output = [](gf_call*, gf_str key, gf_str) {
      GF_FUZZ_CHECK(key.len > 0, "an output without a key");
    };
    api_.set_error = [](gf_call*, gf_str) {};
    api_.set_retry_after_ms = [](gf_call*, int64_t) {};
    api_.add_check = [](gf_call*, gf_str name, int32_t, gf_str) {
      GF_FUZZ_CHECK(name.len > 0, "a check without a name");
    };
  }

  sdk::Call call() {
    requests_ = 0;
    return sdk::Call(&api_, reinterpret_cast<gf_call*>(this));
  }

 private:
  static int32_t Http(gf_call* call, const gf_http_request* request, gf_http_response* response) {
    FakeHost& self = *reinterpret_cast<FakeHost*>(call);
    GF_FUZZ_CHECK(++self.requests_ <= kMaxRequests, sdk::FromGf(request->url));
    const std::string_view url = sdk::FromGf(request->url);
    GF_FUZZ_CHECK(url.starts_with("https://"), url);
    response->status = self.answer_.status;
    if (self.answer_.status == 0) {
      response->transport_error = sdk::ToGf("connection reset by peer");
      return 0;
    }
    response->body = sdk::ToGf(self.answer_.body);
    if (!self.answer_.retry_after.empty()) {
      response->headers = &self.retry_after_;
      response->header_count = 1;
    }
    return 0;
  }

  const CloudAnswer& answer_;
  gf_host_api api_{};
  gf_http_header retry_after_{};
  int requests_ = 0;
};

sdk::HttpResponse ToSdkResponse(const CloudAnswer& answer) {
  sdk::HttpResponse response;
  response.status = answer.status;
  response.body = answer.body;
  if (!answer.retry_after.empty()) response.headers.push_back({"Retry-After", answer.retry_after});
  if (answer.status == 0) response.transport_error = "connection reset by peer";
  return response;
}

void CheckOutcome(const sdk::StepResult& r, std::string_view step) {
  GF_FUZZ_CHECK(r.outcome == GF_STEP_SUCCEEDED || r.outcome == GF_STEP_RETRY ||
                    r.outcome == GF_STEP_WAIT || r.outcome == GF_STEP_FAILED,
                step);
  if (r.outcome == GF_STEP_RETRY || r.outcome == GF_STEP_FAILED) {
    GF_FUZZ_CHECK(!r.error.empty(), step);
  }
  GF_FUZZ_CHECK(r.retry_after_ms >= -1 && r.retry_after_ms <= int64_t{86400} * 1000, r.error);
}

// sdk::ClassifyFailure, through either plugin family's message extraction.
void CheckFailure(const sdk::StepResult& r, const sdk::HttpResponse& response,
                  std::string_view what) {
  CheckOutcome(r, what);
  GF_FUZZ_CHECK(r.error.starts_with(what), r.error);
  if (sdk::IsTransientStatus(response.status)) {
    GF_FUZZ_CHECK(r.outcome == GF_STEP_RETRY, r.error);
  } else {
    GF_FUZZ_CHECK(r.outcome == GF_STEP_FAILED && r.retry_after_ms == -1, r.error);
  }
}

void CheckHelpers(const CloudAnswer& answer) {
  const sdk::HttpResponse response = ToSdkResponse(answer);

  // Graph.
  const plugins::GraphError error = plugins::ParseGraphError(response.body);
  const std::string message = plugins::CloudMessage(response);
  if (error.message.empty() && error.code.empty()) {
    GF_FUZZ_CHECK(message.size() <= 200 && response.body.starts_with(message), message);
  }
  CheckFailure(plugins::GraphFailure(response, "POST /invitations"), response, "POST /invitations");
  if (std::optional<std::vector<graph_license::SubscribedSku>> skus =
          graph_license::ParseSubscribedSkus(response.body)) {
    for (const graph_license::SubscribedSku& sku : *skus) {
      GF_FUZZ_CHECK(!sku.sku_id.empty(), "a SKU without a skuId");
      GF_FUZZ_CHECK(graph_license::FindSku(*skus, sku.sku_id) != nullptr, sku.sku_id);
    }
    GF_FUZZ_CHECK(!graph_license::DescribeSkus(*skus).empty(), "no SKU description");
  }

  // Dataverse and the admin API.
  const dataverse_role::ApiResult result = dataverse_role::ToApiResult(response);
  GF_FUZZ_CHECK(result.Rows().is_array(), "Rows() is not an array");
  GF_FUZZ_CHECK(result.body.is_null() || !result.body.is_discarded(), "a discarded body");
  CheckFailure(dataverse_role::Failure(result, "POST addUser"), response, "POST addUser");
}

void RunSteps(const CloudAnswer& answer) {
  FakeHost host(answer);

  plugins::StepInput guest;
  guest.onboarding = "onboardings/0190f0c0a1b2c3d4e5f60718";
  guest.tenant = "contoso";
  guest.email = "ada@fabrikam.com";
  guest.first_name = "Ada";
  guest.last_name = "Lovelace";
  guest.display_name = "Ada Lovelace";
  guest.usage_location = "GB";
  guest.send_invitation_message = true;
  guest.invitation_message = "Welcome to Contoso";
  guest.instance_url = kInstanceUrl;
  guest.outputs = {{"invite", {{"invited_user_id", kUserId}}}};

  {
    azure_ad_invite::InviteSettings settings;
    settings.security_group_id = kGroupId;
    plugins::StepInput invite = guest;
    invite.step = "invite";
    invite.outputs = nlohmann::json::object();
    sdk::Call call = host.call();
    CheckOutcome(azure_ad_invite::RunInviteStep(call, settings, invite), "invite");
    plugins::StepInput profile = guest;
    profile.step = "profile";
    call = host.call();
    CheckOutcome(azure_ad_invite::RunProfileStep(call, settings, profile), "profile");
  }
  {
    graph_license::LicenseSettings settings;
    settings.sku = "DYN365_ENTERPRISE_PLAN1";
    graph_license::SkuCatalog catalog(settings.sku_cache_ms);
    plugins::StepInput license = guest;
    license.step = "license";
    sdk::Call call = host.call();
    CheckOutcome(graph_license::RunLicenseStep(call, settings, catalog, license), "license");
  }
  {
    const dataverse_role::TenantEndpoints endpoints{kInstanceUrl, kAdminUrl, kEnvironmentId};
    dataverse_role::RoleSettings settings;
    settings.check_endpoints_known = true;
    settings.check_endpoints = endpoints;
    settings.default_roles = {"Salesperson"};
    dataverse_role::RoleStepInput role;
    role.endpoints = endpoints;
    role.user_object_id = kUserId;
    role.guest_email = guest.email;
    role.roles = {"Salesperson", "Customer Service Representative"};
    role.update_dynamics_email = true;
    // One cache for both runs: the second may take its roles from it.
    dataverse_role::RoleCache roles(settings.role_cache_ms);
    sdk::Call call = host.call();
    CheckOutcome(dataverse_role::RunRoleStep(call, settings, roles, role), "role");
    role.sync_requested = true;
    call = host.call();
    CheckOutcome(dataverse_role::RunRoleStep(call, settings, roles, role), "role (sync requested)");
    call = host.call();
    const sdk::StepResult checked = dataverse_role::CheckTenant(call, settings);
    GF_FUZZ_CHECK(checked.outcome == GF_STEP_SUCCEEDED, checked.error);
  }
}

// The token endpoint's answer, to the host's OAuth2 client.
class OneAnswerHttpClient : public HttpClient {
 public:
  explicit OneAnswerHttpClient(const CloudAnswer& answer) : answer_(answer) {}

  absl::StatusOr<HttpResponse> Send(const HttpRequest&) override {
    if (answer_.status == 0) return absl::UnavailableError("connection reset by peer");
    HttpResponse response;
    response.status = answer_.status;
    response.body = answer_.body;
    if (!answer_.retry_after.empty())
      response.headers.push_back({"Retry-After", answer_.retry_after});
    return response;
  }

 private:
  const CloudAnswer& answer_;
};

void CheckTokenAnswer(const CloudAnswer& answer) {
  OneAnswerHttpClient http(answer);
  FakeClock clock;
  OAuth2TokenProvider tokens(&http, &clock);
  TokenRequest request;
  request.authority_url = "https://login.microsoftonline.com";
  request.directory = "contoso.onmicrosoft.com";
  request.client_id = "00000000-0000-0000-0000-000000000001";
  request.client_secret = "fuzz-secret";
  request.scope = "https://graph.microsoft.com/.default";
  for (int i = 0; i < 2; ++i) {  // the second from the cache, or after Retry-After
    const absl::StatusOr<std::string> token = tokens.GetToken(request);
    if (token.ok()) {
      GF_FUZZ_CHECK(!token->empty(), "an empty token");
      continue;
    }
    const absl::StatusCode code = token.status().code();
    GF_FUZZ_CHECK(code == absl::StatusCode::kPermissionDenied ||
                      code == absl::StatusCode::kFailedPrecondition ||
                      code == absl::StatusCode::kUnavailable,
                  token.status().ToString());
    GF_FUZZ_CHECK(!token.status().message().empty(), "an error without a message");
    // The secret is never in a message, unless the authority wrote it there.
    GF_FUZZ_CHECK(!absl::StrContains(token.status().message(), request.client_secret) ||
                      absl::StrContains(answer.body, request.client_secret),
                  token.status().message());
  }
}

}  // namespace

namespace fuzz {

void FuzzOne(std::string_view input) {
  static const bool quiet = [] {
    InitLogging(LogLevel::kError, "text");  // the token provider warns on every failure
    return true;
  }();
  (void)quiet;
  const CloudAnswer answer = ParseAnswer(input);
  CheckHelpers(answer);
  RunSteps(answer);
  CheckTokenAnswer(answer);
}

}  // namespace fuzz
}  // namespace guestflow
