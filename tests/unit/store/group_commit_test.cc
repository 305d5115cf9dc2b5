#include "server/store/group_commit.h"

#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

// A stand-in for the SQLite transaction: runs every body, then "commits"
// (sleeps `commit_time`, as an fsync would, then records what it made
// durable).
class FakeLog {
 public:
  explicit FakeLog(absl::Duration commit_time) : commit_time_(commit_time) {}

  void Commit(const std::vector<GroupCommit::Member*>& group) {
    for (GroupCommit::Member* member : group) member->status = member->body();
    absl::SleepFor(commit_time_);
    absl::MutexLock lock(&mu_);
    group_sizes_.push_back(static_cast<int>(group.size()));
    for (const std::string& pending : pending_) durable_.insert(pending);
    pending_.clear();
  }

  // What a body writes (not durable until its group commits).
  absl::Status Write(const std::string& value) {
    absl::MutexLock lock(&mu_);
    pending_.push_back(value);
    return absl::OkStatus();
  }
  bool Durable(const std::string& value) {
    absl::MutexLock lock(&mu_);
    return durable_.count(value) > 0;
  }
  std::vector<int> group_sizes() {
    absl::MutexLock lock(&mu_);
    return group_sizes_;
  }

 private:
  const absl::Duration commit_time_;
  absl::Mutex mu_;
  std::vector<std::string> pending_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> durable_ ABSL_GUARDED_BY(mu_);
  std::vector<int> group_sizes_ ABSL_GUARDED_BY(mu_);
};

TEST(GroupCommitTest, AWriterAloneCommitsAloneAndGetsItsBodysStatus) {
  FakeLog log(absl::ZeroDuration());
  GroupCommit group([&](const auto& g) { log.Commit(g); }, 8);
  EXPECT_TRUE(group.Run([&] { return log.Write("a"); }).ok());
  EXPECT_EQ(group.Run([] { return absl::NotFoundError("no such row"); }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(log.Durable("a"));
  EXPECT_EQ(log.group_sizes(), (std::vector<int>{1, 1}));
  EXPECT_EQ(group.counts().groups, 2);
  EXPECT_EQ(group.counts().members, 2);
}

// 32 writers arrive while a 50 ms commit runs: they share a few commits, and
// each returns only once what it wrote is durable.
TEST(GroupCommitTest, ConcurrentWritersShareCommitsAndReturnOnlyWhenDurable) {
  constexpr int kWriters = 32;
  FakeLog log(absl::Milliseconds(50));
  GroupCommit group([&](const auto& g) { log.Commit(g); }, 128);
  std::vector<absl::Status> statuses(kWriters, absl::UnknownError("not run"));
  std::vector<bool> durable_on_return(kWriters, false);
  std::latch start(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      const std::string value = absl::StrCat("w", i);
      start.arrive_and_wait();
      statuses[i] = group.Run([&] { return log.Write(value); });
      durable_on_return[i] = log.Durable(value);
    });
  }
  for (std::thread& t : writers) t.join();
  for (int i = 0; i < kWriters; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i];
    EXPECT_TRUE(durable_on_return[i]) << "writer " << i << " returned before its commit";
  }
  EXPECT_EQ(group.counts().members, kWriters);
  // One at a time would be 32 commits; the first leader's commit gathers
  // everyone else behind it.
  EXPECT_LE(group.counts().groups, kWriters / 4) << "group sizes: " << log.group_sizes().size();
}

TEST(GroupCommitTest, AGroupTakesAtMostMaxGroupBodies) {
  constexpr int kWriters = 20;
  FakeLog log(absl::Milliseconds(20));
  GroupCommit group([&](const auto& g) { log.Commit(g); }, 4);
  std::latch start(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      start.arrive_and_wait();
      EXPECT_TRUE(group.Run([&] { return log.Write(absl::StrCat("w", i)); }).ok());
    });
  }
  for (std::thread& t : writers) t.join();
  int total = 0;
  for (int size : log.group_sizes()) {
    EXPECT_LE(size, 4);
    total += size;
  }
  EXPECT_EQ(total, kWriters);
  for (int i = 0; i < kWriters; ++i) EXPECT_TRUE(log.Durable(absl::StrCat("w", i))) << i;
}

// The commit function decides each member's status; a member left OK by a
// failed transaction must not be reported as stored. GroupCommit hands back
// exactly what the commit function set.
TEST(GroupCommitTest, EachWriterGetsTheStatusTheCommitSetForIt) {
  GroupCommit group(
      [](const std::vector<GroupCommit::Member*>& g) {
        for (GroupCommit::Member* member : g) member->status = absl::UnavailableError("disk full");
      },
      8);
  EXPECT_EQ(group.Run([] { return absl::OkStatus(); }).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace guestflow
