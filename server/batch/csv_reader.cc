#include "server/batch/csv_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"

namespace guestflow {
namespace {

constexpr unsigned char kBom[] = {0xEF, 0xBB, 0xBF};

// Excel's plain "CSV" is Windows-1252, the usual cause of bad bytes.
constexpr absl::string_view kSaveAsUtf8 = "save the file as UTF-8 (in Excel: \"CSV UTF-8\")";

bool IsLineBreak(unsigned char c) { return c == '\n' || c == '\r'; }

}  // namespace

CsvReader::CsvReader() : CsvReader(Limits()) {}

CsvReader::CsvReader(Limits limits) : limits_(limits) {}

size_t CsvReader::buffered_bytes() const {
  return record_bytes_ + field_.size() + (bom_done_ ? 0 : bom_matched_);
}

absl::Status CsvReader::Error(absl::string_view what) const {
  return absl::InvalidArgumentError(
      absl::StrCat("line ", line_, ", column ", fields_.size() + 1, ": ", what));
}

absl::Status CsvReader::Fail(absl::Status status) {
  status_ = std::move(status);
  // The unfinished record will never be delivered: give its memory back.
  field_ = std::string();
  fields_ = std::vector<std::string>();
  record_bytes_ = 0;
  return status_;
}

absl::Status CsvReader::Feed(absl::string_view bytes, std::vector<CsvRecord>* out) {
  if (!status_.ok()) return status_;
  if (finished_) return absl::FailedPreconditionError("CsvReader::Feed called after Finish");
  size_t i = 0;
  // The mark may be split across calls, so matching goes byte by byte and a
  // partial match is replayed as data once it turns out not to be the mark.
  while (!bom_done_ && i < bytes.size()) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == kBom[bom_matched_]) {
      ++i;
      if (++bom_matched_ == sizeof(kBom)) bom_done_ = true;
      continue;
    }
    bom_done_ = true;
    for (size_t k = 0; k < bom_matched_; ++k) {
      if (absl::Status s = Consume(kBom[k], out); !s.ok()) return Fail(std::move(s));
    }
  }
  for (; i < bytes.size(); ++i) {
    if (absl::Status s = Consume(static_cast<unsigned char>(bytes[i]), out); !s.ok()) {
      return Fail(std::move(s));
    }
  }
  return absl::OkStatus();
}

absl::Status CsvReader::Finish(std::vector<CsvRecord>* out) {
  if (!status_.ok()) return status_;
  if (finished_) return absl::FailedPreconditionError("CsvReader::Finish called twice");
  if (!bom_done_) {
    bom_done_ = true;
    for (size_t k = 0; k < bom_matched_; ++k) {
      if (absl::Status s = Consume(kBom[k], out); !s.ok()) return Fail(std::move(s));
    }
  }
  if (state_ == State::kQuoted) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "line ", quote_line_, ": a quoted field is not closed before the end of the file")));
  }
  if (utf8_needed_ > 0) {
    return Fail(Error(absl::StrCat("the file ends inside a multi-byte character; ", kSaveAsUtf8)));
  }
  if (record_started_) {
    if (absl::Status s = EndField(); !s.ok()) return Fail(std::move(s));
    EndRecord(out);
  }
  finished_ = true;
  return absl::OkStatus();
}

absl::Status CsvReader::CheckUtf8(unsigned char c) {
  if (utf8_needed_ > 0) {
    if ((c & 0xC0) != 0x80) {
      return Error(
          absl::StrCat("the text is not valid UTF-8 (a multi-byte character is cut short "
                       "by byte ",
                       absl::StrFormat("0x%02X", c), "); ", kSaveAsUtf8));
    }
    utf8_code_point_ = (utf8_code_point_ << 6) | (c & 0x3F);
    if (--utf8_needed_ == 0 && (utf8_code_point_ < utf8_min_ || utf8_code_point_ > 0x10FFFF ||
                                (utf8_code_point_ >= 0xD800 && utf8_code_point_ <= 0xDFFF))) {
      return Error(absl::StrCat(
          "the text is not valid UTF-8 (an overlong form, a surrogate or a code point above "
          "U+10FFFF); ",
          kSaveAsUtf8));
    }
    return absl::OkStatus();
  }
  if (c < 0x80) return absl::OkStatus();
  if ((c & 0xE0) == 0xC0) {
    utf8_needed_ = 1, utf8_code_point_ = c & 0x1F, utf8_min_ = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    utf8_needed_ = 2, utf8_code_point_ = c & 0x0F, utf8_min_ = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    utf8_needed_ = 3, utf8_code_point_ = c & 0x07, utf8_min_ = 0x10000;
  } else {
    return Error(absl::StrCat("the text is not valid UTF-8 (byte ", absl::StrFormat("0x%02X", c),
                              " cannot start a character); ", kSaveAsUtf8));
  }
  return absl::OkStatus();
}

absl::Status CsvReader::Append(unsigned char c) {
  if (field_.size() + 1 > limits_.max_field_bytes) {
    return Error(absl::StrCat("the field is longer than ", limits_.max_field_bytes, " bytes"));
  }
  if (record_bytes_ + field_.size() + 1 > limits_.max_record_bytes) {
    return Error(absl::StrCat("the record is longer than ", limits_.max_record_bytes, " bytes"));
  }
  field_.push_back(static_cast<char>(c));
  return absl::OkStatus();
}

absl::Status CsvReader::EndField() {
  // Checked here rather than at the comma so that the error names the first
  // field too many, whichever way it ends.
  if (fields_.size() + 1 > limits_.max_fields) {
    return Error(absl::StrCat("the record has more than ", limits_.max_fields, " fields"));
  }
  record_bytes_ += field_.size();
  fields_.push_back(std::move(field_));
  field_.clear();
  state_ = State::kFieldStart;
  return absl::OkStatus();
}

void CsvReader::EndRecord(std::vector<CsvRecord>* out) {
  const bool empty_line = fields_.size() == 1 && fields_[0].empty() && !field_quoted_;
  if (!empty_line) out->push_back(CsvRecord{record_line_, std::move(fields_)});
  fields_ = std::vector<std::string>();
  record_bytes_ = 0;
  record_started_ = false;
  field_quoted_ = false;
  state_ = State::kFieldStart;
}

absl::Status CsvReader::Consume(unsigned char c, std::vector<CsvRecord>* out) {
  GF_RETURN_IF_ERROR(CheckUtf8(c));
  // CRLF is one line break: its LF neither counts a line nor, outside a
  // quoted field, ends another (empty) record.
  const bool lf_of_crlf = c == '\n' && previous_was_cr_;
  previous_was_cr_ = c == '\r';
  absl::Status status;
  if (!lf_of_crlf || state_ == State::kQuoted) status = Parse(c, out);
  // Counted after parsing, so that errors name the line of the byte.
  if (IsLineBreak(c) && !lf_of_crlf) ++line_;
  return status;
}

absl::Status CsvReader::Parse(unsigned char c, std::vector<CsvRecord>* out) {
  if (!record_started_) {
    record_started_ = true;
    record_line_ = line_;
  }
  switch (state_) {
    case State::kFieldStart:
      field_quoted_ = false;
      if (c == '"') {
        field_quoted_ = true;
        quote_line_ = line_;
        state_ = State::kQuoted;
        return absl::OkStatus();
      }
      state_ = State::kUnquoted;
      [[fallthrough]];
    case State::kUnquoted:
      if (c == ',') return EndField();
      if (IsLineBreak(c)) {
        GF_RETURN_IF_ERROR(EndField());
        EndRecord(out);
        return absl::OkStatus();
      }
      if (c == '"') {
        if (field_.find_first_not_of(' ') == std::string::npos) {
          return Error("a quote after spaces; a quoted field must start right after the comma");
        }
        return Error(
            "a quote inside an unquoted field; put the whole field in quotes and write the quote "
            "twice (\"\")");
      }
      return Append(c);
    case State::kQuoted:
      if (c == '"') {
        state_ = State::kQuoteInQuoted;
        return absl::OkStatus();
      }
      return Append(c);
    case State::kQuoteInQuoted:
      if (c == '"') {
        state_ = State::kQuoted;
        return Append(c);
      }
      if (c == ',') return EndField();
      if (IsLineBreak(c)) {
        GF_RETURN_IF_ERROR(EndField());
        EndRecord(out);
        return absl::OkStatus();
      }
      return Error(
          "text after the closing quote of a quoted field; a quote inside a quoted field is "
          "written twice (\"\")");
  }
  return absl::OkStatus();
}

}  // namespace guestflow
