// LatencyHistogram: call latencies in microseconds, HDR-style (log-linear
// buckets), so that a run of any length takes the same memory.
#pragma once

#include <array>
#include <cstdint>

namespace guestflow::bench {

// Values below 2^kSubBucketBits are counted exactly; above, each power of two
// is split into 2^(kSubBucketBits - 1) equal buckets, so a bucket is at most
// 1/128 (0.8 %) of its values wide. Percentile() answers the highest value
// of the bucket that holds it (never below the true percentile); Max() is
// exact. Not thread-safe: one per load thread, merged at the end.
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 8;

  void Record(uint64_t micros);
  void Merge(const LatencyHistogram& other);

  uint64_t Count() const { return count_; }
  uint64_t Max() const { return max_; }
  // The value at or below which `fraction` (0 < fraction <= 1) of the
  // recorded values lie; 0 when nothing was recorded.
  uint64_t Percentile(double fraction) const;

 private:
  static constexpr int kHalf = 1 << (kSubBucketBits - 1);
  // Bucket 0..2*kHalf-1: the values themselves; then kHalf buckets for each
  // further power of two up to 2^64.
  static constexpr int kBuckets = 2 * kHalf + (64 - kSubBucketBits) * kHalf;

  static int BucketOf(uint64_t value);
  static uint64_t HighestIn(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace guestflow::bench
