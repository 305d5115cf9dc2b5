// OnboardingService's GetOnboarding and its read cache, through a real gRPC
// server on loopback over the engine, the scheduler (a scripted StepRunner
// and a fake clock) and a real SQLite store wrapped as guestflowd wraps it
// (ObservedStore invalidating the cache): what a write changes is what the
// next Get answers, a repeated Get is answered from the cache, and the
// access rules are the same on a hit as on a miss.
#include "server/api/onboarding_service.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "server/api/rpc_metrics.h"
#include "server/auth/caller_token.h"
#include "server/engine/scheduler.h"
#include "server/metrics/metrics.h"
#include "server/store/observed_store.h"
#include "server/store/sqlite_store.h"
#include "tests/unit/engine/mock_step_runner.h"

namespace guestflow {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::guestflow::testing::MockStepRunner;
using ::testing::_;
using ::testing::Return;
using ::testing::StrictMock;

constexpr char kOperatorToken[] = "gft_service-test-operator";  // every tenant
constexpr char kContosoReaderToken[] = "gft_service-test-contoso-reader";
constexpr char kFabrikamReaderToken[] = "gft_service-test-fabrikam-reader";

class TwoTenants : public TenantCatalog {
 public:
  absl::StatusOr<TenantInfo> FindTenant(absl::string_view id) const override {
    if (id != "contoso" && id != "fabrikam") {
      return absl::NotFoundError(absl::StrCat("tenant \"", id, "\" is not configured"));
    }
    return TenantInfo{std::string(id), absl::StrCat("https://", id, ".crm.dynamics.com")};
  }
};

CallerConfig WithToken(std::string name, CallerRole role, std::vector<std::string> tenants,
                       absl::string_view token) {
  CallerConfig c;
  c.name = std::move(name);
  c.role = role;
  c.all_tenants = tenants.empty();
  c.tenants = std::move(tenants);
  const std::vector<std::string> parts =
      absl::StrSplit(HashCallerToken(token).value_or("sha256::"), ':');
  c.token_salt_hex = parts[1];
  c.token_digest_hex = parts[2];
  return c;
}

// guestflow_rpc_requests_total for GetOnboarding answered `code`, as the
// metrics interceptor counted it (0 before the first).
double GetOnboardingCount(const std::string& code) {
  const std::string text = metrics::Registry::Default().Render();
  const std::string prefix = absl::StrCat(
      "guestflow_rpc_requests_total{method=\"OnboardingService/GetOnboarding\",code=\"", code,
      "\"} ");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, prefix)) {
      double value = 0;
      return absl::SimpleAtod(line, &value) ? value : -1;
    }
  }
  return 0;
}

class OnboardingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("gf_onboarding_service_test_",
                                                                 getpid(), "_",
                                                                 reinterpret_cast<uintptr_t>(this));
    std::filesystem::create_directories(dir_);
    absl::StatusOr<std::unique_ptr<SqliteStore>> sqlite =
        SqliteStore::Open((dir_ / "gf.db").string());
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    store_ = std::make_unique<ObservedStore>(
        *std::move(sqlite), [this](absl::string_view id) { cache_.Invalidate(id); });
    ON_CALL(runner_, PluginFor(_, _)).WillByDefault(Return(absl::StatusOr<std::string>("fake")));
    EXPECT_CALL(runner_, PluginFor(_, _)).Times(::testing::AnyNumber());
    SchedulerOptions options;
    options.owner = "test";
    scheduler_ = std::make_unique<Scheduler>(store_.get(), &runner_, &clock_, &feed_, options);
    engine_ = std::make_unique<Engine>(store_.get(), &runner_, &tenants_, &clock_, &feed_,
                                       scheduler_.get());
    SetCallers(
        {WithToken("operator", CallerRole::kOperator, {}, kOperatorToken),
         WithToken("contoso-reader", CallerRole::kReader, {"contoso"}, kContosoReaderToken),
         WithToken("fabrikam-reader", CallerRole::kReader, {"fabrikam"}, kFabrikamReaderToken)});
    access_ = std::make_unique<Access>([this] {
      absl::MutexLock lock(&config_mu_);
      return config_;
    });
    service_ =
        std::make_unique<OnboardingServiceImpl>(engine_.get(), &pool_, access_.get(), &cache_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> metrics;
    metrics.push_back(NewRpcMetricsInterceptor());
    builder.experimental().SetInterceptorCreators(std::move(metrics));
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    stub_ = v1::OnboardingService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    pool_.Shutdown();
    std::filesystem::remove_all(dir_);
  }

  // What a reload does: a new Config.
  void SetCallers(std::vector<CallerConfig> callers) {
    auto config = std::make_shared<Config>();
    config->callers = std::move(callers);
    absl::MutexLock lock(&config_mu_);
    config_ = std::move(config);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(absl::string_view token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    return ctx;
  }

  v1::Onboarding Start(const std::string& tenant) {
    v1::StartOnboardingRequest r;
    r.set_tenant(tenant);
    r.mutable_guest()->set_email("ada@fabrikam.com");
    r.mutable_guest()->set_first_name("Ada");
    r.mutable_guest()->set_last_name("Lovelace");
    r.mutable_guest()->set_usage_location("GB");
    v1::Onboarding o;
    const grpc::Status s = stub_->StartOnboarding(Ctx(kOperatorToken).get(), r, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  grpc::Status Get(const std::string& name, v1::Onboarding* out,
                   absl::string_view token = kOperatorToken) {
    v1::GetOnboardingRequest r;
    r.set_name(name);
    return stub_->GetOnboarding(Ctx(token).get(), r, out);
  }

  v1::Onboarding MustGet(const std::string& name) {
    v1::Onboarding o;
    const grpc::Status s = Get(name, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  std::filesystem::path dir_;
  OnboardingCache cache_;
  FakeClock clock_;
  ChangeFeed feed_;
  TwoTenants tenants_;
  StrictMock<MockStepRunner> runner_;
  std::unique_ptr<ObservedStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Engine> engine_;
  absl::Mutex config_mu_;
  std::shared_ptr<const Config> config_ ABSL_GUARDED_BY(config_mu_);
  std::unique_ptr<Access> access_;
  WorkerPool pool_{"api-test", 4, 64};
  std::unique_ptr<OnboardingServiceImpl> service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OnboardingService::Stub> stub_;
};

// Every method has its callback handler (GetOnboarding its raw one): none is
// left to the synchronous default (UNIMPLEMENTED), as one added to the proto
// and not to OnboardingServiceBase would be.
TEST_F(OnboardingServiceTest, EveryMethodIsServedByACallback) {
  EXPECT_FALSE(service_->has_synchronous_methods());
  EXPECT_FALSE(service_->has_async_methods());
  EXPECT_TRUE(service_->has_callback_methods());
}

TEST_F(OnboardingServiceTest, ARepeatedGetIsACacheHitAndACancelShowsAtOnce) {
  const v1::Onboarding started = Start("contoso");
  ASSERT_FALSE(started.name().empty());
  const double ok_before = GetOnboardingCount("OK");

  const v1::Onboarding first = MustGet(started.name());
  EXPECT_EQ(first.state(), v1::ONBOARDING_STATE_QUEUED);
  EXPECT_EQ(cache_.stats().misses, 1u);
  EXPECT_EQ(cache_.stats().inserted, 1u);
  const v1::Onboarding second = MustGet(started.name());
  EXPECT_EQ(cache_.stats().hits, 1u) << "the second Get is answered from the cache";
  EXPECT_TRUE(MessageDifferencer::Equals(second, first));
  EXPECT_EQ(second.version(), started.version());

  v1::CancelOnboardingRequest cancel;
  cancel.set_name(started.name());
  v1::Onboarding cancelled;
  const grpc::Status s = stub_->CancelOnboarding(Ctx(kOperatorToken).get(), cancel, &cancelled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(cancelled.state(), v1::ONBOARDING_STATE_CANCELLED);

  const v1::Onboarding after = MustGet(started.name());
  EXPECT_EQ(after.state(), v1::ONBOARDING_STATE_CANCELLED);
  EXPECT_EQ(after.version(), cancelled.version());
  EXPECT_TRUE(MessageDifferencer::Equals(after, cancelled));
  EXPECT_EQ(MustGet(started.name()).state(), v1::ONBOARDING_STATE_CANCELLED);
  EXPECT_EQ(cache_.stats().hits, 2u);
  // The metrics interceptor counts every Get, hits included.
  EXPECT_EQ(GetOnboardingCount("OK") - ok_before, 4);
}

TEST_F(OnboardingServiceTest, AStepTheSchedulerStoresShowsInTheNextGet) {
  const v1::Onboarding started = Start("contoso");
  ASSERT_EQ(MustGet(started.name()).steps(0).state(), v1::STEP_STATE_PENDING);
  ASSERT_EQ(MustGet(started.name()).steps(0).state(), v1::STEP_STATE_PENDING);  // cached
  ASSERT_EQ(cache_.stats().hits, 1u);

  StepOutcome invited;
  invited.outputs = {{"invited_user_id", "u-1"}};
  EXPECT_CALL(runner_, Run(_, StepKind::kInvite)).WillOnce(Return(invited));
  absl::StatusOr<int> ran = scheduler_->RunDueNow();
  ASSERT_TRUE(ran.ok()) << ran.status();
  ASSERT_EQ(*ran, 1);

  const v1::Onboarding after = MustGet(started.name());
  EXPECT_EQ(after.steps(0).state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_EQ(after.steps(0).outputs().at("invited_user_id"), "u-1");
  EXPECT_GT(after.version(), started.version());
  EXPECT_TRUE(MessageDifferencer::Equals(MustGet(started.name()), after));
}

TEST_F(OnboardingServiceTest, AnotherTenantsOnboardingIsNotFoundAsIfItDidNotExistHitOrMiss) {
  const v1::Onboarding contoso = Start("contoso");
  const std::string id = contoso.name().substr(std::string("onboardings/").size());
  v1::Onboarding o;

  // Not cached yet: read from the store.
  grpc::Status miss = Get(contoso.name(), &o, kFabrikamReaderToken);
  EXPECT_EQ(miss.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(miss.error_message(), absl::StrCat("onboarding ", id, " not found"));
  // Cached now, by a read of a caller who may see it.
  ASSERT_TRUE(Get(contoso.name(), &o, kContosoReaderToken).ok());
  ASSERT_GE(cache_.stats().entries, 1u);
  const uint64_t hits = cache_.stats().hits;
  grpc::Status hit = Get(contoso.name(), &o, kFabrikamReaderToken);
  EXPECT_EQ(cache_.stats().hits, hits + 1);
  EXPECT_EQ(hit.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(hit.error_message(), miss.error_message());

  // Word for word what an id that does not exist answers.
  grpc::Status unknown = Get("onboardings/no-such-id", &o, kFabrikamReaderToken);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.error_message(), "onboarding no-such-id not found");
}

TEST_F(OnboardingServiceTest, BadNamesAndCredentialsAreRefusedBeforeTheCache) {
  const v1::Onboarding started = Start("contoso");
  MustGet(started.name());
  MustGet(started.name());  // cached
  v1::Onboarding o;
  for (const char* name : {"not-a-name", "onboardings/", "onboardings/a/b", ""}) {
    grpc::Status s = Get(name, &o);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("name: expected")) << name;
  }
  EXPECT_EQ(Get(started.name(), &o, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Get(started.name(), &o, "gft_nobody").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Credentials are checked before the name.
  EXPECT_EQ(Get("not-a-name", &o, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // A request that does not parse is refused as gRPC refuses it for a typed
  // method.
  grpc::GenericStub generic(channel_);
  const std::string garbage = "\xff\xff\xff";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  auto ctx = Ctx(kOperatorToken);
  absl::Notification done;
  grpc::Status status;
  generic.UnaryCall(ctx.get(), "/guestflow.v1.OnboardingService/GetOnboarding", {}, &request,
                    &response, [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
}

TEST_F(OnboardingServiceTest, AReloadThatRemovesACallerRefusesItsTokenOnACachedOnboarding) {
  const v1::Onboarding started = Start("contoso");
  v1::Onboarding o;
  ASSERT_TRUE(Get(started.name(), &o, kContosoReaderToken).ok());
  ASSERT_TRUE(Get(started.name(), &o, kContosoReaderToken).ok());
  SetCallers({WithToken("operator", CallerRole::kOperator, {}, kOperatorToken)});
  EXPECT_EQ(Get(started.name(), &o, kContosoReaderToken).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Get(started.name(), &o, kOperatorToken).ok());
}

}  // namespace
}  // namespace guestflow
