// Reading a file in fixed-size chunks, for uploads that stream it.
#pragma once

#include <cstddef>
#include <istream>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace guestflow::cli {

// The chunk size of `import`: 64 KiB, well under gRPC's 4 MiB message limit.
inline constexpr size_t kUploadChunkBytes = size_t{64} * 1024;

// Reads `in` to its end and hands `sink` each chunk of exactly `chunk_bytes`
// (the last one may be shorter; an empty input gives no chunk). Stops early,
// with OK, when `sink` returns false. DATA_LOSS when reading fails before
// the end. `chunk_bytes` must be > 0.
absl::Status ForEachChunk(std::istream& in, size_t chunk_bytes,
                          absl::FunctionRef<bool(absl::string_view chunk)> sink);

}  // namespace guestflow::cli
