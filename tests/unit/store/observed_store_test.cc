// ObservedStore over a real SQLite store: every write of an onboarding is
// reported after it returns, whatever it returned; reads and the writes that
// are not part of an onboarding as read (leases without a change, the audit
// trail) are not; everything is forwarded.
#include "server/store/observed_store.h"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_store.h"
#include "tests/unit/store/store_test_util.h"

namespace guestflow {
namespace {

using ::guestflow::testing::kT0;
using ::guestflow::testing::NewEvent;
using ::guestflow::testing::NewOnboarding;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ObservedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() /
        absl::StrCat("gf_observed_store_test_", getpid(), "_", reinterpret_cast<uintptr_t>(this));
    std::filesystem::create_directories(dir_);
    absl::StatusOr<std::unique_ptr<SqliteStore>> sqlite =
        SqliteStore::Open((dir_ / "gf.db").string());
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    inner_ = sqlite->get();
    store_ = std::make_unique<ObservedStore>(*std::move(sqlite), [this](absl::string_view id) {
      // The write is over when the observer hears of it: the store shows it.
      absl::StatusOr<Onboarding> now = inner_->GetOnboarding(id);
      written_.push_back(now.ok() ? absl::StrCat(id, "@", now->version) : std::string(id));
    });
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  Store* inner_ = nullptr;
  std::unique_ptr<ObservedStore> store_;
  std::vector<std::string> written_;
};

TEST_F(ObservedStoreTest, EveryWriteOfAnOnboardingIsReportedAfterItReturns) {
  GF_ASSERT_OK_AND_ASSIGN(CreateResult created,
                          store_->CreateOnboarding(NewOnboarding("o-1"), NewEvent("created")));
  EXPECT_TRUE(created.created);
  EXPECT_THAT(written_, ElementsAre("o-1@1"));

  Onboarding changed = created.onboarding;
  changed.state = OnboardingState::kRunning;
  GF_ASSERT_OK_AND_ASSIGN(Onboarding updated,
                          store_->UpdateOnboarding(changed, {NewEvent("started")}));
  EXPECT_EQ(updated.version, 2);
  EXPECT_THAT(written_, ElementsAre("o-1@1", "o-1@2"));

  // A stale write (ABORTED) is reported too: someone else wrote meanwhile.
  absl::StatusOr<Onboarding> stale = store_->UpdateOnboarding(changed, {});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(written_, ElementsAre("o-1@1", "o-1@2", "o-1@2"));

  // So is a create that found its request_id taken (nothing written).
  Onboarding first = NewOnboarding("o-2");
  first.request_id = "req-1";
  ASSERT_TRUE(store_->CreateOnboarding(first, NewEvent("created")).ok());
  Onboarding again = NewOnboarding("o-3");
  again.request_id = "req-1";
  GF_ASSERT_OK_AND_ASSIGN(CreateResult repeated,
                          store_->CreateOnboarding(again, NewEvent("created")));
  EXPECT_FALSE(repeated.created);
  EXPECT_EQ(repeated.onboarding.id, "o-2");
  EXPECT_EQ(written_.size(), 5u);
}

TEST_F(ObservedStoreTest, ReadsLeasesAndTheAuditTrailAreForwardedUnreported) {
  ASSERT_TRUE(store_->CreateOnboarding(NewOnboarding("o-1"), NewEvent("created")).ok());
  written_.clear();

  GF_ASSERT_OK_AND_ASSIGN(Onboarding got, store_->GetOnboarding("o-1"));
  EXPECT_EQ(got.id, "o-1");
  EXPECT_EQ(store_->GetOnboarding("nope").status().code(), absl::StatusCode::kNotFound);
  ListOnboardingsQuery query;
  GF_ASSERT_OK_AND_ASSIGN(OnboardingPage page, store_->ListOnboardings(query));
  EXPECT_EQ(page.onboardings.size(), 1u);
  GF_ASSERT_OK_AND_ASSIGN(int64_t unfinished, store_->CountUnfinished());
  EXPECT_EQ(unfinished, 1);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<Onboarding> leased,
                          store_->LeaseDue("me", kT0 + absl::Seconds(1), absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);
  GF_ASSERT_OK_AND_ASSIGN(bool renewed, store_->RenewLease("o-1", "me", kT0 + absl::Minutes(2)));
  EXPECT_TRUE(renewed);
  GF_ASSERT_OK(store_->ReleaseLease("o-1", "me"));
  GF_ASSERT_OK(store_->ReleaseAllLeases());
  GF_ASSERT_OK_AND_ASSIGN(std::optional<absl::Time> due, store_->NextDueTime());
  EXPECT_EQ(due, kT0);
  CloudCall call;
  call.onboarding_id = "o-1";
  call.tenant = "contoso";
  call.step = "invite";
  call.time = kT0;
  GF_ASSERT_OK(store_->AppendCloudCalls({call}));
  CloudCallQuery calls_query;
  calls_query.onboarding_id = "o-1";
  GF_ASSERT_OK_AND_ASSIGN(CloudCallPage calls, store_->ListCloudCalls(calls_query));
  EXPECT_EQ(calls.calls.size(), 1u);
  GF_ASSERT_OK_AND_ASSIGN(std::vector<OnboardingEvent> events, store_->ListEvents("o-1", 0, 10));
  EXPECT_EQ(events.size(), 1u);
  GF_ASSERT_OK_AND_ASSIGN(std::optional<Onboarding> found,
                          store_->FindByRequestId("contoso", "no-such-request"));
  EXPECT_FALSE(found.has_value());
  GF_ASSERT_OK_AND_ASSIGN(OnboardingStats stats, store_->Stats(kT0));
  EXPECT_EQ(stats.due, 1);

  EXPECT_THAT(written_, IsEmpty());
}

// A lease that changes the onboardings it leases (the scheduler's, which marks
// the first step RUNNING) is a write of them: reported, after the change is
// stored.
TEST_F(ObservedStoreTest, ALeaseWithAChangeReportsWhatItChanged) {
  ASSERT_TRUE(store_->CreateOnboarding(NewOnboarding("o-1"), NewEvent("created")).ok());
  ASSERT_TRUE(store_->CreateOnboarding(NewOnboarding("o-2"), NewEvent("created")).ok());
  written_.clear();
  GF_ASSERT_OK_AND_ASSIGN(
      std::vector<Onboarding> leased,
      store_->LeaseDue("me", kT0 + absl::Seconds(1), absl::Minutes(1), 10,
                       [](Onboarding& o) -> absl::StatusOr<std::vector<OnboardingEvent>> {
                         if (o.id == "o-2") return absl::FailedPreconditionError("not this one");
                         o.state = OnboardingState::kRunning;
                         return std::vector<OnboardingEvent>{NewEvent("step_started")};
                       }));
  ASSERT_EQ(leased.size(), 2u);
  // o-2 was leased as it was: nothing a reader sees changed.
  EXPECT_THAT(written_, ElementsAre("o-1@2"));
}

}  // namespace
}  // namespace guestflow
