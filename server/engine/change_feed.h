// ChangeFeed: tells in-process watchers that an onboarding changed, so that
// WatchOnboarding streams without polling the store in a loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace guestflow {

// The key announced whenever an onboarding of batch `batch_id` changes
// (besides the onboarding's own id), for WatchBatch.
std::string BatchFeedKey(absl::string_view batch_id);

// Thread-safe. Callbacks run on the publisher's thread while no lock of the
// feed is held; they must be quick and must not block (post work elsewhere).
class ChangeFeed {
 public:
  using Callback = std::function<void()>;

  // Calls `callback` after every Publish(id) until Unsubscribe(token). A
  // callback must not call Unsubscribe.
  int64_t Subscribe(absl::string_view id, Callback callback);
  // After it returns, the callback is not running and will not run again.
  void Unsubscribe(int64_t token);
  void Publish(absl::string_view id);

 private:
  struct Subscription {
    std::string id;
    Callback callback;
  };
  absl::Mutex mu_;
  int64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Subscription> subs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> index_ ABSL_GUARDED_BY(mu_);  // id -> count
  // Held while callbacks run, so that Unsubscribe can wait for them.
  absl::Mutex delivering_;
};

}  // namespace guestflow
