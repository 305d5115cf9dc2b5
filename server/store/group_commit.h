// GroupCommit: lets concurrent writers share one transaction, so that one
// durable commit (one fsync of SQLite's WAL under synchronous=FULL) covers
// all of them instead of each paying its own.
//
// A writer calls Run() with its body. If no group is being committed, it
// becomes the leader: it takes every body queued so far (its own included)
// and hands them to the commit function, which runs them in one transaction
// and sets each one's status. Writers that arrive meanwhile queue; when the
// leader is done, the next of them leads the next group. Every Run() returns
// only after the transaction its body ran in has committed (or failed), so
// an OK answer means the write is on disk.
//
// The commit function isolates the bodies from each other (a body that
// fails is rolled back alone; the others commit), and fails every body whose
// status it has not set when the transaction itself fails.
//
// Thread-safe. Bodies run on the leader's thread, in the order their
// writers queued, one at a time.
#pragma once

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace guestflow {

class GroupCommit {
 public:
  // One queued body and, once its group is done, its status.
  struct Member {
    explicit Member(absl::FunctionRef<absl::Status()> body) : body(body) {}
    absl::FunctionRef<absl::Status()> body;
    absl::Status status;
    bool done = false;
  };

  // Runs `group` (never empty) in one transaction; sets every member's
  // status.
  using CommitFn = absl::AnyInvocable<void(const std::vector<Member*>& group)>;

  // `max_group`: the most bodies one transaction takes (> 0); more queued
  // wait for the next.
  GroupCommit(CommitFn commit, int max_group);

  // Runs `body` in a shared transaction; returns its status once that
  // transaction has committed or failed.
  absl::Status Run(absl::FunctionRef<absl::Status()> body);

  // Groups committed so far and the bodies they held (for tests and
  // metrics).
  struct Counts {
    int64_t groups = 0;
    int64_t members = 0;
  };
  Counts counts() const;

 private:
  CommitFn commit_;
  const int max_group_;

  mutable absl::Mutex mu_;
  std::vector<Member*> queue_ ABSL_GUARDED_BY(mu_);
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  Counts counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace guestflow
