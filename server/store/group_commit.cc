#include "server/store/group_commit.h"

#include <algorithm>
#include <utility>

namespace guestflow {

GroupCommit::GroupCommit(CommitFn commit, int max_group)
    : commit_(std::move(commit)), max_group_(std::max(1, max_group)) {}

absl::Status GroupCommit::Run(absl::FunctionRef<absl::Status()> body) {
  Member me(body);
  absl::MutexLock lock(&mu_);
  queue_.push_back(&me);
  auto done_or_free = [this, &me]()
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return me.done || !leading_; };
  while (true) {
    mu_.Await(absl::Condition(&done_or_free));
    if (me.done) return me.status;
    // Lead: take the queue's head. With more than max_group_ queued, that
    // may not reach this writer's body; it then leads (or waits) again.
    leading_ = true;
    const size_t n = std::min(queue_.size(), static_cast<size_t>(max_group_));
    std::vector<Member*> group(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    mu_.Unlock();
    commit_(group);
    mu_.Lock();
    for (Member* member : group) member->done = true;
    counts_.groups += 1;
    counts_.members += static_cast<int64_t>(group.size());
    leading_ = false;
  }
}

GroupCommit::Counts GroupCommit::counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

}  // namespace guestflow
