#include "server/engine/change_feed.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace guestflow {

std::string BatchFeedKey(absl::string_view batch_id) { return absl::StrCat("batches/", batch_id); }

int64_t ChangeFeed::Subscribe(absl::string_view id, Callback callback) {
  absl::MutexLock lock(&mu_);
  const int64_t token = next_token_++;
  subs_[token] = Subscription{std::string(id), std::move(callback)};
  ++index_[std::string(id)];
  return token;
}

void ChangeFeed::Unsubscribe(int64_t token) {
  // Taking `delivering_` waits for a delivery in progress to end.
  absl::MutexLock delivering(&delivering_);
  absl::MutexLock lock(&mu_);
  auto it = subs_.find(token);
  if (it == subs_.end()) return;
  auto idx = index_.find(it->second.id);
  if (idx != index_.end() && --idx->second == 0) index_.erase(idx);
  subs_.erase(it);
}

void ChangeFeed::Publish(absl::string_view id) {
  absl::MutexLock delivering(&delivering_);
  std::vector<Callback> callbacks;
  {
    absl::MutexLock lock(&mu_);
    if (!index_.contains(std::string(id))) return;
    for (const auto& [token, sub] : subs_) {
      if (sub.id == id) callbacks.push_back(sub.callback);
    }
  }
  for (const Callback& cb : callbacks) cb();
}

}  // namespace guestflow
