// Reading back the Internet messages the mail notifiers produce (an .eml file,
// or what an SMTP server received): headers unfolded, RFC 2047 words
// decodable, and the text/plain and text/html parts of a multipart/alternative
// decoded from 8bit or quoted-printable. Header-only; a test's parser, written
// independently of the plugins' builder so that it can disagree with it.
#pragma once

#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace guestflow::testing {

struct MimeHeaders {
  std::vector<std::pair<std::string, std::string>> fields;  // unfolded, in order

  std::string Get(const std::string& name) const {
    for (const auto& [n, v] : fields) {
      if (absl::EqualsIgnoreCase(n, name)) return v;
    }
    return "";
  }
  int Count(const std::string& name) const {
    int n = 0;
    for (const auto& f : fields) n += absl::EqualsIgnoreCase(f.first, name) ? 1 : 0;
    return n;
  }
};

struct MimeMessage {
  std::string raw;
  MimeHeaders headers;
  MimeHeaders text_headers;  // the text/plain part's (the message's, when not multipart)
  MimeHeaders html_headers;  // the text/html part's, if any
  std::string text;          // decoded, CRLF line endings
  std::string html;          // decoded; "" without an HTML part

  std::string Header(const std::string& name) const { return headers.Get(name); }
  int Count(const std::string& name) const { return headers.Count(name); }
};

inline std::string DecodeQuotedPrintable(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;  // soft line break
    } else if (in[i] == '=' && i + 2 < in.size()) {
      out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// RFC 2047 B-encoded words, decoded; the whitespace between two adjacent
// encoded-words disappears (RFC 2047 section 6.2).
inline std::string DecodeWords(const std::string& value) {
  static const std::regex kWord(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=)");
  std::string out;
  bool last_was_word = false;
  for (const std::string& token : std::vector<std::string>(absl::StrSplit(value, ' '))) {
    std::smatch m;
    if (std::regex_match(token, m, kWord)) {
      std::string decoded;
      EXPECT_TRUE(absl::Base64Unescape(m[1].str(), &decoded)) << token;
      if (!last_was_word && !out.empty()) out += ' ';
      out += decoded;
      last_was_word = true;
    } else {
      if (!out.empty()) out += ' ';
      out += token;
      last_was_word = false;
    }
  }
  return out;
}

// Splits an entity into its headers and its body (after the blank line).
inline std::pair<MimeHeaders, std::string> SplitEntity(const std::string& raw) {
  MimeHeaders headers;
  const size_t split = raw.find("\r\n\r\n");
  EXPECT_NE(split, std::string::npos) << "no blank line between headers and body";
  if (split == std::string::npos) return {headers, ""};
  for (const std::string& line : std::vector<std::string>(
           absl::StrSplit(raw.substr(0, split + 2), "\r\n", absl::SkipEmpty()))) {
    if (line[0] == ' ' || line[0] == '\t') {
      EXPECT_FALSE(headers.fields.empty()) << "continuation line first";
      if (!headers.fields.empty()) headers.fields.back().second += line;  // unfold: drop CRLF
      continue;
    }
    const size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << "header line without a colon: " << line;
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    headers.fields.emplace_back(line.substr(0, colon), value);
  }
  return {headers, raw.substr(split + 4)};
}

inline std::string DecodeBody(const MimeHeaders& headers, const std::string& body) {
  if (absl::EqualsIgnoreCase(headers.Get("Content-Transfer-Encoding"), "quoted-printable")) {
    return DecodeQuotedPrintable(body);
  }
  return body;
}

inline MimeMessage ParseMime(const std::string& raw) {
  MimeMessage m;
  m.raw = raw;
  auto [headers, body] = SplitEntity(raw);
  m.headers = headers;
  const std::string type = headers.Get("Content-Type");
  if (!absl::StartsWith(type, "multipart/alternative")) {
    m.text_headers = headers;
    m.text = DecodeBody(headers, body);
    return m;
  }
  const size_t at = type.find("boundary=\"");
  EXPECT_NE(at, std::string::npos) << type;
  if (at == std::string::npos) return m;
  const std::string boundary = type.substr(at + 10, type.find('"', at + 10) - at - 10);
  const std::string delimiter = "\r\n--" + boundary;
  const std::vector<std::string> parts = absl::StrSplit("\r\n" + body, delimiter);
  EXPECT_GE(parts.size(), 3u) << "a multipart without parts";
  EXPECT_TRUE(absl::StartsWith(parts.back(), "--")) << "no closing delimiter";
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    std::string part = parts[i];
    if (absl::StartsWith(part, "\r\n")) part.erase(0, 2);
    auto [part_headers, part_body] = SplitEntity(part);
    const std::string part_type = part_headers.Get("Content-Type");
    if (absl::StartsWith(part_type, "text/plain")) {
      m.text_headers = part_headers;
      m.text = DecodeBody(part_headers, part_body);
    } else if (absl::StartsWith(part_type, "text/html")) {
      m.html_headers = part_headers;
      m.html = DecodeBody(part_headers, part_body);
    } else {
      ADD_FAILURE() << "unexpected part type " << part_type;
    }
  }
  return m;
}

}  // namespace guestflow::testing
