// An incremental RFC 4180 CSV reader for bulk import: the file arrives in
// chunks (a gRPC client stream, a file read) and only the record being read
// is held in memory, so a 100,000-row file never sits whole anywhere.
//
// The format read:
// - Fields are separated by ",". Records end at CRLF, LF or a lone CR (old
//   Mac line ends, which Excel for Mac can still write): all three count as
//   one line break, for record ends and for line numbers alike.
// - A field that starts with a quote is quoted: it may hold commas, line
//   breaks (kept as written, CRLF stays CRLF) and `""` for one quote; it must
//   be followed by a comma, a line break or the end of the file.
// - Unquoted fields are taken byte for byte: surrounding spaces are kept
//   (trimming is the caller's decision, see guest_row.h), and a quote inside
//   one is an error, as is a quote after leading spaces (`a, "b"`).
// - A UTF-8 byte order mark at the very start of the input is dropped; a
//   U+FEFF anywhere else is data. The input must be UTF-8 (overlong forms,
//   surrogates and code points above U+10FFFF are refused).
// - An empty line (a record that is one empty unquoted field) is skipped; a
//   line holding only `""` is a record with one empty field.
// - The last record may end without a line break; Finish() delivers it.
//
// Output is independent of how the input is cut into chunks: a chunk may end
// anywhere (inside a `""`, between CR and LF, inside a multi-byte character
// or the byte order mark) and the records and errors are exactly those of
// the whole input fed at once.
//
// Errors: INVALID_ARGUMENT, "line L, column C: <what>", where L is the
// 1-based physical line of the offending byte and C the 1-based number of the
// field in its record. The first error is sticky: every later Feed() or
// Finish() returns it and delivers nothing more. Records completed before the
// error, including those earlier in the same chunk, are still delivered.
// Feed() or Finish() after a successful Finish() return FAILED_PRECONDITION.
//
// Memory: at most about Limits::max_record_bytes plus the per-field overhead
// of Limits::max_fields fields (buffered_bytes() tells how much), whatever
// the input size.
//
// Thread safety: thread-compatible (one reader per stream; calls on one
// reader need external synchronisation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace guestflow {

struct CsvRecord {
  int64_t line = 0;  // 1-based physical line where the record starts
  std::vector<std::string> fields;

  friend bool operator==(const CsvRecord&, const CsvRecord&) = default;
};

class CsvReader {
 public:
  struct Limits {
    size_t max_field_bytes = size_t{64} * 1024;     // bytes of one field's value
    size_t max_record_bytes = size_t{1024} * 1024;  // bytes of all values of one record
    size_t max_fields = 256;                        // fields in one record
  };

  // Two constructors rather than `Limits limits = {}`: GCC cannot use a
  // nested class's default member initializers in a default argument of the
  // class that encloses it.
  CsvReader();
  explicit CsvReader(Limits limits);

  // Consumes the next bytes of the input; appends to *out every record that
  // they complete (nothing else in *out is touched). Keeps only the
  // unfinished record. See the file comment for errors.
  [[nodiscard]] absl::Status Feed(absl::string_view bytes, std::vector<CsvRecord>* out);

  // Ends the input: appends the last record if the input does not end with a
  // line break. Errors: an open quoted field ("line L: a quoted field is not
  // closed before the end of the file", L being the line of its opening
  // quote) or a multi-byte character cut short by the end of the input.
  [[nodiscard]] absl::Status Finish(std::vector<CsvRecord>* out);

  // Bytes of the unfinished record (and of a partly seen byte order mark)
  // held right now.
  size_t buffered_bytes() const;

 private:
  enum class State {
    kFieldStart,     // nothing of the current field read yet
    kUnquoted,       // inside an unquoted field
    kQuoted,         // inside a quoted field
    kQuoteInQuoted,  // after a quote in a quoted field: `""` or the closing one
  };

  absl::Status Consume(unsigned char c, std::vector<CsvRecord>* out);
  absl::Status Parse(unsigned char c, std::vector<CsvRecord>* out);
  absl::Status CheckUtf8(unsigned char c);
  absl::Status Append(unsigned char c);
  absl::Status EndField();
  void EndRecord(std::vector<CsvRecord>* out);
  absl::Status Error(absl::string_view what) const;
  absl::Status Fail(absl::Status status);

  Limits limits_;
  absl::Status status_;  // the sticky error
  bool finished_ = false;

  // Byte order mark: how many of its bytes have been matched at the start.
  bool bom_done_ = false;
  size_t bom_matched_ = 0;

  // UTF-8 decoding of the current multi-byte character.
  int utf8_needed_ = 0;  // continuation bytes still expected
  char32_t utf8_code_point_ = 0;
  char32_t utf8_min_ = 0;  // smallest code point of this length (overlong check)

  // Position.
  int64_t line_ = 1;
  bool previous_was_cr_ = false;

  // The unfinished record.
  State state_ = State::kFieldStart;
  bool record_started_ = false;
  int64_t record_line_ = 0;
  int64_t quote_line_ = 0;  // line of the current quoted field's opening quote
  bool field_quoted_ = false;
  std::string field_;
  std::vector<std::string> fields_;
  size_t record_bytes_ = 0;  // bytes in fields_
};

}  // namespace guestflow
