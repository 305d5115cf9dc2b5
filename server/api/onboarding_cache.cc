#include "server/api/onboarding_cache.h"

#include <array>
#include <utility>

#include "absl/hash/hash.h"

namespace guestflow {

struct OnboardingCache::Shard {
  struct Node {
    std::string id;
    std::string tenant;
    grpc::Slice bytes;
    size_t cost = 0;
  };

  // Read without the mutex (Generation); moved only with it held, so that an
  // insert that saw the old value under the mutex finished before the
  // Invalidate that moves it erases what it inserted.
  std::array<std::atomic<uint64_t>, kStripesPerShard> generations{};

  mutable absl::Mutex mu;
  std::list<Node> lru ABSL_GUARDED_BY(mu);  // front: the most recently read
  // Keys view the ids of the nodes, which std::list never moves.
  absl::flat_hash_map<absl::string_view, std::list<Node>::iterator> index ABSL_GUARDED_BY(mu);
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
  Stats counts ABSL_GUARDED_BY(mu);  // entries and bytes unused

  void Erase(std::list<Node>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    bytes -= it->cost;
    index.erase(absl::string_view(it->id));
    lru.erase(it);
  }
};

namespace {

size_t DivideRoundingUp(size_t total, size_t parts) { return (total + parts - 1) / parts; }

}  // namespace

OnboardingCache::OnboardingCache(size_t max_entries, size_t max_bytes, int shards)
    : max_entries_per_shard_(DivideRoundingUp(max_entries, static_cast<size_t>(shards))),
      max_bytes_per_shard_(DivideRoundingUp(max_bytes, static_cast<size_t>(shards))) {
  shards_.reserve(static_cast<size_t>(shards));
  for (int i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

OnboardingCache::~OnboardingCache() = default;

// Shards and stripes take the hash's high bits: the index of a shard hashes
// the same ids again and uses the low ones.
OnboardingCache::Shard& OnboardingCache::ShardOf(size_t hash) const {
  return *shards_[(hash >> 32) % shards_.size()];
}

size_t OnboardingCache::StripeOf(size_t hash, size_t shards) {
  return ((hash >> 32) / shards) % kStripesPerShard;
}

std::optional<OnboardingCache::Entry> OnboardingCache::Lookup(absl::string_view id) {
  Shard& shard = ShardOf(absl::HashOf(id));
  absl::MutexLock lock(&shard.mu);
  auto found = shard.index.find(id);
  if (found == shard.index.end()) {
    ++shard.counts.misses;
    return std::nullopt;
  }
  ++shard.counts.hits;
  shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
  return Entry{found->second->tenant, found->second->bytes};
}

uint64_t OnboardingCache::Generation(absl::string_view id) const {
  const size_t hash = absl::HashOf(id);
  return ShardOf(hash).generations[StripeOf(hash, shards_.size())].load();
}

bool OnboardingCache::InsertIfUnchanged(absl::string_view id, uint64_t generation,
                                        absl::string_view tenant, grpc::Slice bytes) {
  const size_t hash = absl::HashOf(id);
  Shard& shard = ShardOf(hash);
  const size_t cost = kEntryOverhead + id.size() + tenant.size() + bytes.size();
  absl::MutexLock lock(&shard.mu);
  if (shard.generations[StripeOf(hash, shards_.size())].load() != generation) {
    ++shard.counts.refused;
    return false;
  }
  if (auto found = shard.index.find(id); found != shard.index.end()) shard.Erase(found->second);
  if (cost > max_bytes_per_shard_ || max_entries_per_shard_ == 0) return false;
  while (!shard.lru.empty() && (shard.lru.size() >= max_entries_per_shard_ ||
                                shard.bytes + cost > max_bytes_per_shard_)) {
    shard.Erase(std::prev(shard.lru.end()));
    ++shard.counts.evicted;
  }
  shard.lru.push_front(Shard::Node{std::string(id), std::string(tenant), std::move(bytes), cost});
  shard.index.emplace(absl::string_view(shard.lru.front().id), shard.lru.begin());
  shard.bytes += cost;
  ++shard.counts.inserted;
  return true;
}

void OnboardingCache::Invalidate(absl::string_view id) {
  const size_t hash = absl::HashOf(id);
  Shard& shard = ShardOf(hash);
  absl::MutexLock lock(&shard.mu);
  shard.generations[StripeOf(hash, shards_.size())].fetch_add(1);
  if (auto found = shard.index.find(id); found != shard.index.end()) {
    shard.Erase(found->second);
    ++shard.counts.invalidated;
  }
}

OnboardingCache::Stats OnboardingCache::stats() const {
  Stats out;
  for (const std::unique_ptr<Shard>& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    out.entries += shard->lru.size();
    out.bytes += shard->bytes;
    out.hits += shard->counts.hits;
    out.misses += shard->counts.misses;
    out.inserted += shard->counts.inserted;
    out.refused += shard->counts.refused;
    out.evicted += shard->counts.evicted;
    out.invalidated += shard->counts.invalidated;
  }
  return out;
}

}  // namespace guestflow
