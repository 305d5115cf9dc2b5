#include "server/batch/csv_reader.h"

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace guestflow {

void PrintTo(const CsvRecord& record, std::ostream* os) {
  *os << "{line " << record.line << ":";
  for (const std::string& field : record.fields) *os << " " << ::testing::PrintToString(field);
  *os << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

// What a reader made of a whole input: the records delivered and the first
// error (OK when there was none).
struct ReadResult {
  std::vector<CsvRecord> records;
  absl::Status status;
};

// Feeds `input` in the chunk sizes `next_size` returns, then finishes.
template <typename NextSize>
ReadResult ReadChunked(absl::string_view input, NextSize next_size,
                       CsvReader::Limits limits = CsvReader::Limits()) {
  CsvReader reader(limits);
  ReadResult result;
  while (!input.empty()) {
    const size_t n = std::min(input.size(), std::max<size_t>(1, next_size()));
    result.status = reader.Feed(input.substr(0, n), &result.records);
    if (!result.status.ok()) return result;
    input.remove_prefix(n);
  }
  result.status = reader.Finish(&result.records);
  return result;
}

ReadResult ReadWhole(absl::string_view input, CsvReader::Limits limits = CsvReader::Limits()) {
  return ReadChunked(
      input, [&] { return input.size(); }, limits);
}

ReadResult ReadByteByByte(absl::string_view input) {
  return ReadChunked(input, [] { return 1; });
}

// The records of an input that must parse.
std::vector<CsvRecord> Parse(absl::string_view input) {
  ReadResult result = ReadWhole(input);
  EXPECT_TRUE(result.status.ok()) << result.status;
  return result.records;
}

// The message of an input that must be refused.
std::string Refused(absl::string_view input, CsvReader::Limits limits = CsvReader::Limits()) {
  ReadResult result = ReadWhole(input, limits);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInvalidArgument) << result.status;
  return std::string(result.status.message());
}

CsvRecord Rec(int64_t line, std::vector<std::string> fields) {
  return CsvRecord{line, std::move(fields)};
}

// --- Fields and records ------------------------------------------------------

TEST(CsvReaderTest, SplitsFieldsAndRecords) {
  EXPECT_THAT(Parse("a,b,c\nd,e,f\n"),
              ElementsAre(Rec(1, {"a", "b", "c"}), Rec(2, {"d", "e", "f"})));
}

TEST(CsvReaderTest, EmptyFieldsAreKept) {
  EXPECT_THAT(Parse(",a,,\n"), ElementsAre(Rec(1, {"", "a", "", ""})));
}

TEST(CsvReaderTest, SpacesAroundUnquotedValuesAreKept) {
  EXPECT_THAT(Parse(" a , b\t\n"), ElementsAre(Rec(1, {" a ", " b\t"})));
}

TEST(CsvReaderTest, CrlfLfAndLoneCrAllEndRecords) {
  EXPECT_THAT(Parse("a\r\nb\nc\rd\r\n"),
              ElementsAre(Rec(1, {"a"}), Rec(2, {"b"}), Rec(3, {"c"}), Rec(4, {"d"})));
}

TEST(CsvReaderTest, LastRecordWithoutLineBreakComesFromFinish) {
  CsvReader reader;
  std::vector<CsvRecord> out;
  ASSERT_TRUE(reader.Feed("a,b\nc,d", &out).ok());
  EXPECT_THAT(out, ElementsAre(Rec(1, {"a", "b"})));
  ASSERT_TRUE(reader.Finish(&out).ok());
  EXPECT_THAT(out, ElementsAre(Rec(1, {"a", "b"}), Rec(2, {"c", "d"})));
}

TEST(CsvReaderTest, TrailingCommaAtEndOfFileIsAnEmptyField) {
  EXPECT_THAT(Parse("a,"), ElementsAre(Rec(1, {"a", ""})));
}

TEST(CsvReaderTest, EmptyInputHasNoRecords) {
  EXPECT_THAT(Parse(""), IsEmpty());
  EXPECT_THAT(Parse("\n\r\n\r"), IsEmpty());
}

TEST(CsvReaderTest, EmptyLinesAreSkippedButCounted) {
  EXPECT_THAT(Parse("\na\n\n\r\n\rb\n\n"), ElementsAre(Rec(2, {"a"}), Rec(6, {"b"})));
}

TEST(CsvReaderTest, LineOfOnlySpacesOrCommasOrEmptyQuotesIsARecord) {
  EXPECT_THAT(Parse(" \n,\n\"\"\n"), ElementsAre(Rec(1, {" "}), Rec(2, {"", ""}), Rec(3, {""})));
}

// --- Quoting -------------------------------------------------------------------

TEST(CsvReaderTest, QuotedFieldsHoldCommasAndQuotes) {
  EXPECT_THAT(Parse("\"a,b\",\"say \"\"hi\"\"\",\"\"\"\"\n"),
              ElementsAre(Rec(1, {"a,b", "say \"hi\"", "\""})));
}

TEST(CsvReaderTest, EmptyQuotedFields) {
  EXPECT_THAT(Parse("\"\",\"\"\n"), ElementsAre(Rec(1, {"", ""})));
}

TEST(CsvReaderTest, QuotedFieldsKeepLineBreaksAsWritten) {
  EXPECT_THAT(Parse("\"a\r\nb\",\"c\nd\",\"e\rf\"\n"),
              ElementsAre(Rec(1, {"a\r\nb", "c\nd", "e\rf"})));
}

TEST(CsvReaderTest, LineNumbersCountBreaksInsideQuotedFields) {
  // Record 1 spans lines 1-3 (a CRLF and an LF inside), record 2 lines 4-5
  // (a lone CR inside), line 6 is empty, record 3 is on line 7.
  const std::string input =
      "\"one\r\ntwo\nthree\",x\r\n"
      "\"four\rfive\",y\n"
      "\n"
      "z,w\n";
  EXPECT_THAT(Parse(input), ElementsAre(Rec(1, {"one\r\ntwo\nthree", "x"}),
                                        Rec(4, {"four\rfive", "y"}), Rec(7, {"z", "w"})));
}

TEST(CsvReaderTest, QuotedFieldClosedAtEndOfFile) {
  EXPECT_THAT(Parse("a,\"b\""), ElementsAre(Rec(1, {"a", "b"})));
}

TEST(CsvReaderTest, MissingClosingQuoteNamesTheLineOfTheOpeningQuote) {
  EXPECT_EQ(Refused("a,b\nc,\"d\ne\nf"),
            "line 2: a quoted field is not closed before the end of the file");
  EXPECT_EQ(Refused("\"ab\"\"\n"),
            "line 1: a quoted field is not closed before the end of the file");
}

TEST(CsvReaderTest, TextAfterClosingQuoteIsRefused) {
  EXPECT_THAT(Refused("a,b\nx,\"ab\"c,d\n"),
              StartsWith("line 2, column 2: text after the closing quote of a quoted field"));
  EXPECT_THAT(Refused("\"ab\" ,c\n"), StartsWith("line 1, column 1: text after the closing quote"));
}

TEST(CsvReaderTest, QuoteInsideUnquotedFieldIsRefused) {
  EXPECT_EQ(Refused("a,b,c\nd,e,f\"g\n"),
            "line 2, column 3: a quote inside an unquoted field; put the whole field in quotes and "
            "write the quote twice (\"\")");
}

TEST(CsvReaderTest, QuoteAfterLeadingSpacesIsRefusedWithAHint) {
  EXPECT_EQ(Refused("a, \"b\"\n"),
            "line 1, column 2: a quote after spaces; a quoted field must start right after the "
            "comma");
}

TEST(CsvReaderTest, ErrorsNameTheLineAfterEmbeddedLineBreaks) {
  EXPECT_THAT(Refused("\"a\nb\nc\",d\"\n"), StartsWith("line 3, column 2: a quote inside"));
}

// --- Byte order mark and UTF-8 ---------------------------------------------------

TEST(CsvReaderTest, ByteOrderMarkAtStartIsDropped) {
  EXPECT_THAT(Parse("\xEF\xBB\xBF"
                    "Email\nx\n"),
              ElementsAre(Rec(1, {"Email"}), Rec(2, {"x"})));
}

TEST(CsvReaderTest, ByteOrderMarkSplitAcrossFeedsIsDropped) {
  for (size_t cut = 1; cut < 3; ++cut) {
    CsvReader reader;
    std::vector<CsvRecord> out;
    const std::string input =
        "\xEF\xBB\xBF"
        "Email\n";
    ASSERT_TRUE(reader.Feed(absl::string_view(input).substr(0, cut), &out).ok());
    EXPECT_EQ(reader.buffered_bytes(), cut);
    ASSERT_TRUE(reader.Feed(absl::string_view(input).substr(cut), &out).ok());
    ASSERT_TRUE(reader.Finish(&out).ok());
    EXPECT_THAT(out, ElementsAre(Rec(1, {"Email"}))) << "cut after " << cut;
  }
}

TEST(CsvReaderTest, ByteOrderMarkAloneIsAnEmptyFile) {
  EXPECT_THAT(Parse("\xEF\xBB\xBF"), IsEmpty());
}

TEST(CsvReaderTest, ByteOrderMarkLaterIsData) {
  EXPECT_THAT(Parse("a\n\xEF\xBB\xBF"
                    "b\n"),
              ElementsAre(Rec(1, {"a"}), Rec(2, {"\xEF\xBB\xBF"
                                                 "b"})));
  EXPECT_THAT(Parse("\xEF\xBB\xBF\xEF\xBB\xBF"
                    "b\n"),
              ElementsAre(Rec(1, {"\xEF\xBB\xBF"
                                  "b"})));
}

TEST(CsvReaderTest, StartLikeAByteOrderMarkButNotOneIsData) {
  // EF BB BE is U+FEFE, a valid character.
  EXPECT_THAT(Parse("\xEF\xBB\xBE,x\n"), ElementsAre(Rec(1, {"\xEF\xBB\xBE", "x"})));
  // EF BB then a comma: a cut-short character, reported at the comma.
  EXPECT_THAT(Refused("\xEF\xBB,x\n"),
              StartsWith("line 1, column 1: the text is not valid UTF-8 (a multi-byte character "
                         "is cut short by byte 0x2C)"));
  // EF BB and the end of the file.
  EXPECT_THAT(Refused("\xEF\xBB"),
              StartsWith("line 1, column 1: the file ends inside a multi-byte character"));
}

TEST(CsvReaderTest, ValidMultiByteCharactersPass) {
  // 2, 3 and 4 bytes: ë, 東, 😀; and the largest code point.
  EXPECT_THAT(
      Parse("Zo\xC3\xAB,\xE6\x9D\xB1,\xF0\x9F\x98\x80,\xF4\x8F\xBF\xBF\n"),
      ElementsAre(Rec(1, {"Zo\xC3\xAB", "\xE6\x9D\xB1", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"})));
}

TEST(CsvReaderTest, InvalidUtf8IsRefused) {
  // Windows-1252 "é", as Excel's plain "CSV" writes it.
  EXPECT_EQ(Refused("a,b\nRen\xE9,x\n"),
            "line 2, column 1: the text is not valid UTF-8 (a multi-byte character is cut short "
            "by byte 0x2C); save the file as UTF-8 (in Excel: \"CSV UTF-8\")");
  EXPECT_EQ(Refused("a,\xFF\n"),
            "line 1, column 2: the text is not valid UTF-8 (byte 0xFF cannot start a "
            "character); save the file as UTF-8 (in Excel: \"CSV UTF-8\")");
  EXPECT_THAT(Refused("\x80"), HasSubstr("byte 0x80 cannot start a character"));
  // Overlong "/", a UTF-16 surrogate, U+110000.
  for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    EXPECT_THAT(Refused(absl::StrCat("x,", bad, "\n")),
                StartsWith("line 1, column 2: the text is not valid UTF-8 (an overlong form, a "
                           "surrogate or a code point above U+10FFFF)"));
  }
  EXPECT_THAT(Refused("\"\xC3"), HasSubstr("a quoted field is not closed"));
  EXPECT_THAT(Refused("x\xE6\x9D"), StartsWith("line 1, column 1: the file ends inside a "
                                               "multi-byte character"));
}

// --- Limits --------------------------------------------------------------------

TEST(CsvReaderTest, TenThousandCharacterFieldPasses) {
  const std::string long_value(10000, 'x');
  const std::string quoted =
      absl::StrCat("\"", std::string(5000, 'y'), ",\n", std::string(4998, 'z'), "\"");
  const std::vector<CsvRecord> records = Parse(absl::StrCat(long_value, ",", quoted, "\n"));
  ASSERT_THAT(records, SizeIs(1));
  EXPECT_EQ(records[0].fields[0], long_value);
  EXPECT_EQ(records[0].fields[1].size(), 10000u);
}

TEST(CsvReaderTest, FieldOverTheLimitIsRefused) {
  CsvReader::Limits limits;
  limits.max_field_bytes = 8;
  EXPECT_THAT(ReadWhole("12345678,x\n", limits).records, ElementsAre(Rec(1, {"12345678", "x"})));
  EXPECT_EQ(Refused("x\n12345678,123456789\n", limits),
            "line 2, column 2: the field is longer than 8 bytes");
  EXPECT_EQ(Refused("\"1234567\n89\"", limits),
            "line 2, column 1: the field is longer than 8 bytes");
}

TEST(CsvReaderTest, RecordOverTheLimitIsRefused) {
  CsvReader::Limits limits;
  limits.max_record_bytes = 10;
  EXPECT_THAT(ReadWhole("12345,67890\n", limits).records, ElementsAre(Rec(1, {"12345", "67890"})));
  EXPECT_EQ(Refused("12345,67890,1\n", limits),
            "line 1, column 3: the record is longer than 10 bytes");
}

TEST(CsvReaderTest, TooManyFieldsIsRefused) {
  CsvReader::Limits limits;
  limits.max_fields = 3;
  EXPECT_THAT(ReadWhole("a,b,c\n", limits).records, ElementsAre(Rec(1, {"a", "b", "c"})));
  EXPECT_EQ(Refused("a,b,c,d\n", limits), "line 1, column 4: the record has more than 3 fields");
  EXPECT_EQ(Refused("a,b,c,", limits), "line 1, column 4: the record has more than 3 fields");
}

TEST(CsvReaderTest, ALongFieldIsNeverBufferedBeyondTheLimit) {
  CsvReader::Limits limits;
  limits.max_field_bytes = 1000;
  CsvReader reader(limits);
  std::vector<CsvRecord> out;
  const std::string chunk(100, 'x');
  absl::Status status;
  for (int i = 0; i < 1000 && status.ok(); ++i) {
    status = reader.Feed(chunk, &out);
    EXPECT_LE(reader.buffered_bytes(), 1000u);
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

// --- Error handling ------------------------------------------------------------

TEST(CsvReaderTest, ErrorsAreStickyAndEarlierRecordsAreDelivered) {
  CsvReader reader;
  std::vector<CsvRecord> out;
  const absl::Status first = reader.Feed("a,b\nc,d\ne\"f\ng,h\n", &out);
  EXPECT_EQ(first.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(first.message(),
            "line 3, column 1: a quote inside an unquoted field; put the whole "
            "field in quotes and write the quote twice (\"\")");
  EXPECT_THAT(out, ElementsAre(Rec(1, {"a", "b"}), Rec(2, {"c", "d"})));
  out.clear();
  EXPECT_EQ(reader.Feed("i,j\n", &out), first);
  EXPECT_EQ(reader.Finish(&out), first);
  EXPECT_THAT(out, IsEmpty());
}

TEST(CsvReaderTest, FeedAfterFinishIsAFailedPrecondition) {
  CsvReader reader;
  std::vector<CsvRecord> out;
  ASSERT_TRUE(reader.Finish(&out).ok());
  EXPECT_EQ(reader.Feed("a\n", &out).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reader.Finish(&out).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CsvReaderTest, FeedAppendsWithoutTouchingEarlierOutput) {
  CsvReader reader;
  std::vector<CsvRecord> out = {Rec(99, {"kept"})};
  ASSERT_TRUE(reader.Feed("a\n", &out).ok());
  EXPECT_THAT(out, ElementsAre(Rec(99, {"kept"}), Rec(1, {"a"})));
}

// --- Chunking --------------------------------------------------------------------

// A file using every feature, with the records a reader must make of it.
struct GeneratedFile {
  std::string text;
  std::vector<CsvRecord> records;
};

GeneratedFile GenerateFile(int rows) {
  std::mt19937 random(20240601);
  GeneratedFile file;
  file.text = "\xEF\xBB\xBF";
  int64_t line = 1;
  const auto pick = [&](int n) { return static_cast<int>(random() % n); };
  const char* const kBreaks[] = {"\n", "\r\n", "\r"};
  for (int row = 0; row < rows; ++row) {
    if (pick(10) == 0) {  // an empty line ("\r\n" so that it never joins a CR before it)
      file.text += "\r\n";
      ++line;
    }
    CsvRecord record{line, {}};
    const int fields = 1 + pick(6);
    bool quoted = false;  // the last field
    for (int f = 0; f < fields; ++f) {
      if (f > 0) file.text += ',';
      std::string value;
      const int kind = pick(9);
      quoted = kind == 2 || kind == 3 || kind == 4 || kind == 6 || kind == 8;
      switch (kind) {
        case 0:
          value = absl::StrCat("plain", row, "_", f);
          file.text += value;
          break;
        case 1:  // empty, unquoted
          break;
        case 2:
          value = absl::StrCat("comma,", row);
          absl::StrAppend(&file.text, "\"", value, "\"");
          break;
        case 3:
          value = "say \"hi\"";
          file.text += "\"say \"\"hi\"\"\"";
          break;
        case 4: {  // line breaks inside quotes
          const char* inner = kBreaks[pick(3)];
          value = absl::StrCat("top", inner, "bottom", inner, "end");
          absl::StrAppend(&file.text, "\"", value, "\"");
          line += 2;
          break;
        }
        case 5:  // 2-, 3- and 4-byte characters
          value = "Zo\xC3\xAB \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x98\x80";
          file.text += value;
          break;
        case 6:  // empty, quoted
          file.text += "\"\"";
          break;
        case 7:
          value = " spaced\t";
          file.text += value;
          break;
        case 8:  // a quote-quote pair as the whole value, and the mark as data
          value = "\"\xEF\xBB\xBF";
          file.text += "\"\"\"\xEF\xBB\xBF\"";
          break;
      }
      record.fields.push_back(std::move(value));
    }
    // A line that is one empty unquoted field is an empty line: skipped. It
    // ends with CRLF, so that a CR before it and its own break never read as
    // one CRLF.
    const bool empty_line = record.fields.size() == 1 && record.fields[0].empty() && !quoted;
    if (!empty_line) file.records.push_back(std::move(record));
    if (row + 1 < rows) {  // the last record ends at the end of the file
      file.text += empty_line ? "\r\n" : kBreaks[pick(3)];
      ++line;
    }
  }
  return file;
}

TEST(CsvReaderTest, GeneratedFileParsesAsGenerated) {
  const GeneratedFile file = GenerateFile(2000);
  const ReadResult whole = ReadWhole(file.text);
  ASSERT_TRUE(whole.status.ok()) << whole.status;
  ASSERT_EQ(whole.records.size(), file.records.size());
  for (size_t i = 0; i < file.records.size(); ++i) {
    ASSERT_EQ(whole.records[i], file.records[i]) << "record " << i;
  }
}

TEST(CsvReaderTest, ChunkBoundariesDoNotChangeTheResult) {
  const GeneratedFile file = GenerateFile(2000);
  const ReadResult whole = ReadWhole(file.text);
  ASSERT_TRUE(whole.status.ok()) << whole.status;

  const ReadResult bytes = ReadByteByByte(file.text);
  ASSERT_TRUE(bytes.status.ok()) << bytes.status;
  EXPECT_TRUE(bytes.records == whole.records);

  std::mt19937 random(7);
  for (int max_chunk : {2, 3, 7, 64, 1000}) {
    const ReadResult chunked = ReadChunked(file.text, [&] { return 1 + random() % max_chunk; });
    ASSERT_TRUE(chunked.status.ok()) << chunked.status;
    EXPECT_TRUE(chunked.records == whole.records) << "chunks of up to " << max_chunk;
  }
}

TEST(CsvReaderTest, ChunkBoundariesDoNotChangeErrors) {
  const GeneratedFile file = GenerateFile(300);
  std::mt19937 random(11);
  // Each way to spoil the file, at a random line start after its middle
  // (possibly inside a quoted field: each spoiler is an error there too).
  for (const char* spoiler : {"x\"y", "\"a\"b", "\xC3(", "\xFF", "\"open"}) {
    std::string text = file.text;
    if (absl::string_view(spoiler) == "\"open") {
      text += "\n\"open";
    } else {
      // Insert at a record start so that the spoiler is where it is meant to be.
      size_t at = text.find('\n', text.size() / 2 + random() % (text.size() / 4));
      ASSERT_NE(at, std::string::npos);
      text.insert(at + 1, absl::StrCat(spoiler, "\n"));
    }
    const ReadResult whole = ReadWhole(text);
    ASSERT_EQ(whole.status.code(), absl::StatusCode::kInvalidArgument) << spoiler;
    const ReadResult bytes = ReadByteByByte(text);
    EXPECT_EQ(bytes.status, whole.status) << spoiler;
    EXPECT_TRUE(bytes.records == whole.records) << spoiler;
    const ReadResult chunked = ReadChunked(text, [&] { return 1 + random() % 50; });
    EXPECT_EQ(chunked.status, whole.status) << spoiler;
    EXPECT_TRUE(chunked.records == whole.records) << spoiler;
  }
}

TEST(CsvReaderTest, EveryTwoWaySplitOfATrickyInputGivesTheSameResult) {
  const std::string input =
      "\xEF\xBB\xBF\"a\"\"b\",\"c\r\nd\"\r\n\r\n\xE6\x9D\xB1,\xF0\x9F\x98\x80\r"
      "\"\"\"\"\rlast";
  const ReadResult whole = ReadWhole(input);
  ASSERT_TRUE(whole.status.ok()) << whole.status;
  EXPECT_THAT(whole.records,
              ElementsAre(Rec(1, {"a\"b", "c\r\nd"}), Rec(4, {"\xE6\x9D\xB1", "\xF0\x9F\x98\x80"}),
                          Rec(5, {"\""}), Rec(6, {"last"})));
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    CsvReader reader;
    std::vector<CsvRecord> out;
    ASSERT_TRUE(reader.Feed(absl::string_view(input).substr(0, cut), &out).ok());
    ASSERT_TRUE(reader.Feed(absl::string_view(input).substr(cut), &out).ok());
    ASSERT_TRUE(reader.Finish(&out).ok());
    EXPECT_TRUE(out == whole.records) << "cut at " << cut;
  }
}

// --- Streaming -------------------------------------------------------------------

TEST(CsvReaderTest, HundredThousandRowsStreamWithLittleBuffered) {
  constexpr int kRows = 100000;
  constexpr size_t kChunk = size_t{64} * 1024;
  CsvReader reader;
  std::vector<CsvRecord> out;
  int64_t records = 0;
  int64_t last_line = 0;
  size_t max_buffered = 0;
  size_t max_row = 0;
  std::string chunk;
  int row = 0;
  // Rows are generated chunk by chunk: the file never exists whole here either.
  const auto flush = [&](size_t keep_at_least) {
    while (chunk.size() > keep_at_least) {
      const size_t n = std::min(chunk.size(), kChunk);
      ASSERT_TRUE(reader.Feed(absl::string_view(chunk).substr(0, n), &out).ok());
      max_buffered = std::max(max_buffered, reader.buffered_bytes());
      records += static_cast<int64_t>(out.size());
      if (!out.empty()) last_line = out.back().line;
      out.clear();
      chunk.erase(0, n);
    }
  };
  chunk = "Email,FirstName,LastName,UsageLocation,Roles\r\n";
  for (; row < kRows; ++row) {
    const std::string line = absl::StrCat("guest", row, "@fabrikam.com,First", row, ",\"Last, ",
                                          row, "\",GB,\"Sales;\"\"Support\"\"\"\r\n");
    max_row = std::max(max_row, line.size());
    chunk += line;
    if (chunk.size() >= kChunk) flush(kChunk - 1);
  }
  flush(0);
  ASSERT_TRUE(reader.Finish(&out).ok());
  records += static_cast<int64_t>(out.size());
  EXPECT_EQ(records, kRows + 1);
  EXPECT_EQ(last_line, kRows + 1);
  EXPECT_LT(max_buffered, max_row);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace guestflow
