// OnboardingCache: GetOnboarding's answers, kept as the serialized bytes of
// their v1::Onboarding, so that reading an onboarding again touches neither
// the store nor the proto code. Bounded (entries and bytes), least recently
// read out first.
//
// Coherence is the writers' side of a contract with the readers:
// - A writer of an onboarding calls Invalidate(id) after its store write
//   returns, whatever it returned (ObservedStore does it for every write of
//   the one Store object of a process: server/store/observed_store.h).
// - A reader that misses takes Generation(id) BEFORE it reads the store, and
//   offers what it read with InsertIfUnchanged(id, generation, ...), which
//   keeps it only if no Invalidate of that id's stripe came in between. A read
//   that raced a write is therefore never kept: either the write's Invalidate
//   came before the insert (refused: the generation moved) or after it (the
//   entry is erased).
// So once a write has returned, no reader is answered from before it. The
// cache only sees writes made in this process: it is for a store that one
// process owns (SQLite), not for replicas sharing a database.
//
// Thread-safe: the entries are split into shards by id, each behind its own
// mutex; Generation reads an atomic. An entry's bytes are a grpc::Slice
// (reference counted): an answer shares them, nothing is copied.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/slice.h"

namespace guestflow {

class OnboardingCache {
 public:
  static constexpr size_t kDefaultMaxEntries = 100'000;
  static constexpr size_t kDefaultMaxBytes = size_t{64} << 20;
  static constexpr int kDefaultShards = 16;
  // Generation counters per shard: ids that share one are invalidated
  // together (a reader's insert is refused a little more often than needed,
  // never less).
  static constexpr int kStripesPerShard = 64;
  // What an entry costs beyond its id, tenant and bytes (list node, index
  // slot, strings, slice), counted against max_bytes.
  static constexpr size_t kEntryOverhead = 160;

  struct Entry {
    std::string tenant;  // whose onboarding: the caller's grants decide
    grpc::Slice bytes;   // the serialized v1::Onboarding
  };

  struct Stats {
    size_t entries = 0;
    size_t bytes = 0;          // as counted against max_bytes
    uint64_t hits = 0;         // Lookup found it
    uint64_t misses = 0;       // Lookup did not
    uint64_t inserted = 0;     // InsertIfUnchanged kept it
    uint64_t refused = 0;      // InsertIfUnchanged: the generation had moved
    uint64_t evicted = 0;      // pushed out by the bounds
    uint64_t invalidated = 0;  // Invalidate erased an entry
  };

  // At most `max_entries` entries and `max_bytes` bytes in all; each shard
  // holds its share of both (rounded up), and an entry bigger than a shard's
  // share of bytes is not kept. `shards` >= 1.
  explicit OnboardingCache(size_t max_entries = kDefaultMaxEntries,
                           size_t max_bytes = kDefaultMaxBytes, int shards = kDefaultShards);
  OnboardingCache(const OnboardingCache&) = delete;
  OnboardingCache& operator=(const OnboardingCache&) = delete;
  ~OnboardingCache();

  // The entry of `id`, now the most recently read of its shard; nullopt when
  // there is none.
  std::optional<Entry> Lookup(absl::string_view id);

  // The generation of `id`'s stripe; take it before reading the store.
  uint64_t Generation(absl::string_view id) const;

  // Keeps `bytes` as `id`'s entry (replacing any), evicting the least
  // recently read entries of its shard to stay within bounds, unless the
  // stripe's generation is no longer `generation` or the entry is too big.
  // Whether it was kept.
  bool InsertIfUnchanged(absl::string_view id, uint64_t generation, absl::string_view tenant,
                         grpc::Slice bytes);

  // Moves `id`'s stripe to a new generation and erases its entry. Call after
  // every write of the onboarding, whatever the write returned.
  void Invalidate(absl::string_view id);

  Stats stats() const;

 private:
  struct Shard;
  Shard& ShardOf(size_t hash) const;
  static size_t StripeOf(size_t hash, size_t shards);

  const size_t max_entries_per_shard_;
  const size_t max_bytes_per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace guestflow
