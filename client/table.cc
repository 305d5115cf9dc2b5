#include "client/table.h"

#include <algorithm>
#include <utility>

namespace guestflow::cli {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Keeps the first `width - 1` code points and appends an ellipsis, never
// splitting a multi-byte character.
std::string Truncate(const std::string& text, size_t width) {
  if (DisplayWidth(text) <= width) return text;
  size_t kept = 0;
  size_t end = 0;
  while (end < text.size()) {
    if (!IsContinuationByte(text[end])) {
      if (kept == width - 1) break;
      ++kept;
    }
    ++end;
  }
  return text.substr(0, end) + "…";
}

}  // namespace

size_t DisplayWidth(absl::string_view utf8) {
  return static_cast<size_t>(
      std::count_if(utf8.begin(), utf8.end(), [](char c) { return !IsContinuationByte(c); }));
}

std::string SanitizeCell(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  if (out.empty()) return "-";
  return out;
}

void AppendField(std::string& out, absl::string_view label, absl::string_view value) {
  const size_t width = DisplayWidth(label) + 1;
  out.append(label.data(), label.size());
  out += ':';
  out.append(width < 12 ? 12 - width : 1, ' ');
  out += SanitizeCell(value);
  out += '\n';
}

TextTable::TextTable(std::vector<std::string> headers)
    : headers_(std::move(headers)), max_widths_(headers_.size(), 0) {}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (std::string& cell : cells) cell = SanitizeCell(cell);
  rows_.push_back(std::move(cells));
}

void TextTable::SetMaxWidth(size_t column, size_t width) {
  if (column < max_widths_.size()) max_widths_[column] = std::max<size_t>(width, 2);
}

std::string TextTable::Render() const {
  std::vector<std::vector<std::string>> lines;
  lines.reserve(rows_.size() + 1);
  lines.push_back(headers_);
  for (const auto& row : rows_) {
    std::vector<std::string> cut = row;
    for (size_t i = 0; i < cut.size(); ++i) {
      if (max_widths_[i] > 0) cut[i] = Truncate(cut[i], max_widths_[i]);
    }
    lines.push_back(std::move(cut));
  }

  std::vector<size_t> widths(headers_.size(), 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(line[i]));
  }

  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text.append(widths[i] - DisplayWidth(line[i]) + 2, ' ');
    }
    // A header with an empty last title would otherwise end in spaces.
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  }
  return out;
}

}  // namespace guestflow::cli
