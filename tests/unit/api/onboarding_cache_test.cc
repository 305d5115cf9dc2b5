// OnboardingCache: its bounds, its LRU order, invalidation, and the rule that
// keeps a read that raced a write out of it.
#include "server/api/onboarding_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace guestflow {
namespace {

constexpr size_t kUnbounded = size_t{1} << 40;

grpc::Slice Bytes(absl::string_view text) { return grpc::Slice(std::string(text)); }

std::string Text(const grpc::Slice& slice) {
  return std::string(reinterpret_cast<const char*>(slice.begin()), slice.size());
}

// Inserts `bytes` as `id`'s entry at the current generation.
bool Put(OnboardingCache& cache, absl::string_view id, absl::string_view bytes,
         absl::string_view tenant = "contoso") {
  return cache.InsertIfUnchanged(id, cache.Generation(id), tenant, Bytes(bytes));
}

// What an entry costs against max_bytes (OnboardingCache's own accounting).
size_t Cost(absl::string_view id, absl::string_view tenant, size_t bytes) {
  return OnboardingCache::kEntryOverhead + id.size() + tenant.size() + bytes;
}

TEST(OnboardingCacheTest, AnInsertedEntryIsFoundWithItsTenantAndSharesItsBytes) {
  OnboardingCache cache;
  EXPECT_FALSE(cache.Lookup("a").has_value());
  grpc::Slice bytes = Bytes(std::string(1500, 'x'));
  ASSERT_TRUE(cache.InsertIfUnchanged("a", cache.Generation("a"), "fabrikam", bytes));
  std::optional<OnboardingCache::Entry> hit = cache.Lookup("a");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->tenant, "fabrikam");
  EXPECT_EQ(Text(hit->bytes), std::string(1500, 'x'));
  EXPECT_EQ(hit->bytes.begin(), bytes.begin()) << "a hit refers to the cached bytes, no copy";
  EXPECT_FALSE(cache.Lookup("b").has_value());
  const OnboardingCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.bytes, Cost("a", "fabrikam", 1500));
}

TEST(OnboardingCacheTest, InsertingAnIdAgainReplacesItsEntry) {
  OnboardingCache cache;
  ASSERT_TRUE(Put(cache, "a", "version 1"));
  ASSERT_TRUE(Put(cache, "a", "version 2, longer"));
  EXPECT_EQ(Text(cache.Lookup("a")->bytes), "version 2, longer");
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().bytes, Cost("a", "contoso", 17));
}

TEST(OnboardingCacheTest, TheLeastRecentlyReadEntryGoesFirstWhenEntriesRunOut) {
  OnboardingCache cache(/*max_entries=*/3, kUnbounded, /*shards=*/1);
  ASSERT_TRUE(Put(cache, "a", "A"));
  ASSERT_TRUE(Put(cache, "b", "B"));
  ASSERT_TRUE(Put(cache, "c", "C"));
  ASSERT_TRUE(cache.Lookup("a").has_value());  // a is now the most recent; b the least
  ASSERT_TRUE(Put(cache, "d", "D"));
  EXPECT_FALSE(cache.Lookup("b").has_value());
  EXPECT_TRUE(cache.Lookup("a").has_value());
  EXPECT_TRUE(cache.Lookup("c").has_value());
  EXPECT_TRUE(cache.Lookup("d").has_value());
  // The lookups above read a, c, d in that order: a is now the least recent.
  ASSERT_TRUE(Put(cache, "e", "E"));
  EXPECT_FALSE(cache.Lookup("a").has_value());
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_EQ(cache.stats().evicted, 2u);
}

TEST(OnboardingCacheTest, BytesBoundTheCacheAndAnEntryTooBigIsNotKept) {
  const std::string kb(1000, 'k');
  // Room for exactly two 1000-byte entries.
  OnboardingCache cache(/*max_entries=*/100, 2 * Cost("a", "contoso", 1000), /*shards=*/1);
  ASSERT_TRUE(Put(cache, "a", kb));
  ASSERT_TRUE(Put(cache, "b", kb));
  EXPECT_EQ(cache.stats().entries, 2u);
  ASSERT_TRUE(Put(cache, "c", kb));
  EXPECT_FALSE(cache.Lookup("a").has_value()) << "the oldest made room";
  EXPECT_TRUE(cache.Lookup("b").has_value());
  EXPECT_TRUE(cache.Lookup("c").has_value());
  EXPECT_LE(cache.stats().bytes, 2 * Cost("a", "contoso", 1000));

  // Bigger than the whole budget: refused, and nothing else is pushed out.
  EXPECT_FALSE(Put(cache, "huge", std::string(3000, 'h')));
  EXPECT_FALSE(cache.Lookup("huge").has_value());
  EXPECT_EQ(cache.stats().entries, 2u);
}

TEST(OnboardingCacheTest, ShardsTogetherStayWithinTheBounds) {
  OnboardingCache cache(/*max_entries=*/1000, kUnbounded, /*shards=*/16);
  for (int i = 0; i < 20000; ++i) Put(cache, absl::StrCat("onboarding-", i), "x");
  const OnboardingCache::Stats stats = cache.stats();
  // Each shard holds ceil(1000 / 16) = 63 at most.
  EXPECT_LE(stats.entries, 16u * 63u);
  EXPECT_GE(stats.entries, 900u) << "ids spread over the shards";
  EXPECT_EQ(stats.evicted, 20000u - stats.entries);

  OnboardingCache by_bytes(/*max_entries=*/1'000'000, /*max_bytes=*/1 << 20, /*shards=*/16);
  for (int i = 0; i < 5000; ++i)
    Put(by_bytes, absl::StrCat("onboarding-", i), std::string(1500, 'y'));
  EXPECT_LE(by_bytes.stats().bytes, size_t{1} << 20);
  EXPECT_GT(by_bytes.stats().entries, 400u);
}

TEST(OnboardingCacheTest, InvalidateErasesTheEntryAndMovesTheGeneration) {
  OnboardingCache cache;
  ASSERT_TRUE(Put(cache, "a", "A"));
  const uint64_t before = cache.Generation("a");
  cache.Invalidate("a");
  EXPECT_FALSE(cache.Lookup("a").has_value());
  EXPECT_NE(cache.Generation("a"), before);
  EXPECT_EQ(cache.stats().invalidated, 1u);
  EXPECT_EQ(cache.stats().bytes, 0u);
  // An id without an entry: its generation moves all the same.
  const uint64_t unknown = cache.Generation("never-cached");
  cache.Invalidate("never-cached");
  EXPECT_NE(cache.Generation("never-cached"), unknown);
}

TEST(OnboardingCacheTest, AReadThatRacedAWriteIsNotKept) {
  OnboardingCache cache;
  // The reader takes the generation, then reads the store (the old record)...
  const uint64_t generation = cache.Generation("a");
  // ...meanwhile a writer stores the new record and invalidates...
  cache.Invalidate("a");
  // ...so the reader's old record is refused.
  EXPECT_FALSE(cache.InsertIfUnchanged("a", generation, "contoso", Bytes("old")));
  EXPECT_FALSE(cache.Lookup("a").has_value());
  EXPECT_EQ(cache.stats().refused, 1u);
  // A read that began after the write is kept.
  EXPECT_TRUE(cache.InsertIfUnchanged("a", cache.Generation("a"), "contoso", Bytes("new")));
  EXPECT_EQ(Text(cache.Lookup("a")->bytes), "new");
}

TEST(OnboardingCacheTest, AWriteAfterTheInsertErasesIt) {
  OnboardingCache cache;
  const uint64_t generation = cache.Generation("a");
  ASSERT_TRUE(cache.InsertIfUnchanged("a", generation, "contoso", Bytes("old")));
  cache.Invalidate("a");  // the write landed after the insert
  EXPECT_FALSE(cache.Lookup("a").has_value());
}

// Writers bump an id's version in a "store" and then invalidate; readers
// follow the protocol (generation, read, insert if unchanged). Once a
// write has returned, no reader may be answered an older version, and at the
// end every entry left holds the stored version.
TEST(OnboardingCacheTest, ConcurrentReadersNeverSeeAVersionOlderThanAFinishedWrite) {
  constexpr int kIds = 8;
  constexpr int kWrites = 20000;
  // Room for every id: once the writers are done, a read of each is a hit.
  OnboardingCache cache(/*max_entries=*/2 * kIds, kUnbounded, /*shards=*/2);
  std::vector<std::atomic<int>> stored(kIds);    // the store
  std::vector<std::atomic<int>> finished(kIds);  // written and invalidated
  std::atomic<bool> done{false};
  std::atomic<int> stale{0};
  std::atomic<int> hits{0};

  auto id_of = [](int i) { return absl::StrCat("onboarding-", i); };
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int n = 0; n < kWrites; ++n) {
        const int i = (n * 7 + w) % kIds;
        const int version = stored[i].fetch_add(1) + 1;
        cache.Invalidate(id_of(i));
        int seen = finished[i].load();
        while (seen < version && !finished[i].compare_exchange_weak(seen, version)) {
        }
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      // Until the writers are done, then two rounds more: the first fills the
      // cache, the second hits it (hits during the writes depend on timing,
      // but the stale check holds for every one).
      int rounds_after = 2 * kIds;
      for (int n = 0; !done.load() || rounds_after-- > 0; ++n) {
        const int i = (n + r) % kIds;
        const std::string id = id_of(i);
        const int at_least = finished[i].load();
        if (std::optional<OnboardingCache::Entry> hit = cache.Lookup(id)) {
          ++hits;
          int version = 0;
          if (!absl::SimpleAtoi(Text(hit->bytes), &version) || version < at_least) ++stale;
          continue;
        }
        // The yields stand for the store's latency: they let writes land
        // between the generation, the read and the insert.
        const uint64_t generation = cache.Generation(id);
        std::this_thread::yield();
        const int version = stored[i].load();
        std::this_thread::yield();
        cache.InsertIfUnchanged(id, generation, "contoso", Bytes(absl::StrCat(version)));
      }
    });
  }
  threads[0].join();
  threads[1].join();
  done = true;
  for (size_t t = 2; t < threads.size(); ++t) threads[t].join();

  EXPECT_EQ(stale.load(), 0) << "a reader was answered from before a finished write";
  EXPECT_GT(hits.load(), 0);
  for (int i = 0; i < kIds; ++i) {
    if (std::optional<OnboardingCache::Entry> left = cache.Lookup(id_of(i))) {
      EXPECT_EQ(Text(left->bytes), absl::StrCat(stored[i].load())) << id_of(i);
    }
  }
}

}  // namespace
}  // namespace guestflow
