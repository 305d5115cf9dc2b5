// Aligned text tables for terminals and `grep`/`awk`: a header row, columns
// separated by two spaces, no trailing spaces, `-` for empty cells.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace guestflow::cli {

// How many terminal columns `utf8` takes: one per code point (no East Asian
// wide characters, which names rarely hold).
size_t DisplayWidth(absl::string_view utf8);

// A cell's text on one line: tabs, newlines and other control characters
// become spaces, runs of them one space; an empty result becomes `-`.
std::string SanitizeCell(absl::string_view text);

// Appends `label:` padded to 12 columns, SanitizeCell(value) and '\n': the
// labelled blocks of `get` and `import`.
void AppendField(std::string& out, absl::string_view label, absl::string_view value);

// Not thread-safe; build it, then Render() it.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers);

  // Adds a row. Missing cells are empty; cells past the header count are
  // dropped. Every cell goes through SanitizeCell().
  void AddRow(std::vector<std::string> cells);

  // Cuts the cells of `column` to `width` columns, the last one `…`. A width
  // under 2 is taken as 2. The header is never cut.
  void SetMaxWidth(size_t column, size_t width);

  size_t row_count() const { return rows_.size(); }

  // The header line, then one line per row, each ending in '\n'. The last
  // column is not padded.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> max_widths_;  // 0: no limit
};

}  // namespace guestflow::cli
