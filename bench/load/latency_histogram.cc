#include "load/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace guestflow::bench {

int LatencyHistogram::BucketOf(uint64_t value) {
  if (value < uint64_t{2} * kHalf) return static_cast<int>(value);
  // 2^k <= value < 2^(k+1), k >= kSubBucketBits: keep its top kSubBucketBits
  // bits, of which the first is always 1.
  const int k = 63 - std::countl_zero(value);
  const int shift = k - (kSubBucketBits - 1);
  const int sub = static_cast<int>(value >> shift) - kHalf;  // 0 .. kHalf-1
  return 2 * kHalf + (k - kSubBucketBits) * kHalf + sub;
}

uint64_t LatencyHistogram::HighestIn(int bucket) {
  if (bucket < 2 * kHalf) return static_cast<uint64_t>(bucket);
  const int k = kSubBucketBits + (bucket - 2 * kHalf) / kHalf;
  const int sub = (bucket - 2 * kHalf) % kHalf;
  const int shift = k - (kSubBucketBits - 1);
  const uint64_t low = static_cast<uint64_t>(kHalf + sub) << shift;
  return low + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(uint64_t micros) {
  ++counts_[BucketOf(micros)];
  ++count_;
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::Percentile(double fraction) const {
  if (count_ == 0) return 0;
  // The rank of the value asked for, 1-based: p50 of 10 values is the 5th.
  const auto rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(HighestIn(i), max_);
  }
  return max_;
}

}  // namespace guestflow::bench
