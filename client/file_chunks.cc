#include "client/file_chunks.h"

#include <string>

namespace guestflow::cli {

absl::Status ForEachChunk(std::istream& in, size_t chunk_bytes,
                          absl::FunctionRef<bool(absl::string_view chunk)> sink) {
  std::string buffer(chunk_bytes, '\0');
  while (true) {
    // read() sets eof and fail on a short last chunk; only `bad` means the
    // bytes could not be read.
    in.read(buffer.data(), static_cast<std::streamsize>(chunk_bytes));
    const auto got = static_cast<size_t>(in.gcount());
    if (in.bad()) return absl::DataLossError("reading the input failed");
    if (got > 0 && !sink(absl::string_view(buffer.data(), got))) return absl::OkStatus();
    if (got < chunk_bytes) return absl::OkStatus();
  }
}

}  // namespace guestflow::cli
