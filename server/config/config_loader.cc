#include "server/config/config_loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "server/common/status_macros.h"
#include "server/model/guest_validation.h"

namespace guestflow {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxErrors = 50;
constexpr size_t kMaxFileBytes = 4 << 20;
constexpr int kMaxSettingsDepth = 64;

constexpr absl::string_view kSecretExpected =
    "expected {env: NAME} or {file: PATH}; secrets are never written in the config file";

// yaml-cpp's tag for a plain (unquoted, untagged) scalar, and for a quoted one.
constexpr absl::string_view kPlainTag = "?";
constexpr absl::string_view kQuotedTag = "!";

// Every problem found, so that one run of the loader tells the operator all
// that is wrong with the file rather than one thing per restart.
class Errors {
 public:
  explicit Errors(std::string source) : source_(std::move(source)) {}

  void Add(const YAML::Mark& mark, absl::string_view path, absl::string_view message) {
    if (lines_.size() == kMaxErrors) {
      ++dropped_;
      return;
    }
    std::string line = source_;
    if (!mark.is_null()) absl::StrAppend(&line, ":", mark.line + 1, ":", mark.column + 1);
    absl::StrAppend(&line, ": ");
    if (!path.empty()) absl::StrAppend(&line, path, ": ");
    absl::StrAppend(&line, message);
    lines_.push_back(std::move(line));
  }

  bool empty() const { return lines_.empty(); }
  size_t size() const { return lines_.size() + dropped_; }

  absl::Status ToStatus() const {
    if (lines_.empty()) return absl::OkStatus();
    std::string message = absl::StrJoin(lines_, "\n");
    if (dropped_ > 0) absl::StrAppend(&message, "\n(", dropped_, " more errors not shown)");
    return absl::InvalidArgumentError(message);
  }

 private:
  std::string source_;
  std::vector<std::string> lines_;
  size_t dropped_ = 0;
};

std::string ChildPath(absl::string_view path, absl::string_view key) {
  return path.empty() ? absl::StrCat(key) : absl::StrCat(path, ".", key);
}

std::string IndexPath(absl::string_view path, size_t index) {
  return absl::StrCat(path, "[", index, "]");
}

std::string Quoted(absl::string_view s) {
  constexpr size_t kMaxShown = 80;
  if (s.size() > kMaxShown) return absl::StrCat("\"", s.substr(0, kMaxShown), "...\"");
  return absl::StrCat("\"", s, "\"");
}

// What a node is, for "expected X, got Y" messages. Never shows a value, so
// it is safe for secrets.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t cost = absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string UnknownKeyMessage(absl::string_view key,
                              const std::vector<absl::string_view>& allowed) {
  absl::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (absl::string_view candidate : allowed) {
    const size_t d = EditDistance(key, candidate);
    if (d < best_distance) best_distance = d, best = candidate;
  }
  // Close enough to be a typo: a couple of edits, more for longer words
  // ("notify" for "notifier").
  const size_t tolerance = std::max<size_t>(2, key.size() / 2);
  if (!best.empty() && best_distance <= tolerance) {
    return absl::StrCat("unknown key ", Quoted(key), "; did you mean \"", best, "\"?");
  }
  return absl::StrCat("unknown key ", Quoted(key),
                      "; expected one of: ", absl::StrJoin(allowed, ", "));
}

// A YAML map checked against the keys it may hold. Reports unknown and
// duplicate keys once, at construction.
class MapReader {
 public:
  // `node` may be null (an absent section): it then reads as an empty map.
  MapReader(const YAML::Node& node, std::string path, Errors* errors,
            std::vector<absl::string_view> allowed)
      : path_(std::move(path)), mark_(node.Mark()), errors_(errors) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      errors_->Add(mark_, path_, absl::StrCat("expected a map, got ", Describe(node)));
      valid_ = false;
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const YAML::Node& key = kv.first;
      if (!key.IsScalar()) {
        errors_->Add(key.Mark(), path_, "a key must be a plain word, not a map or a list");
        continue;
      }
      const std::string& name = key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        errors_->Add(key.Mark(), ChildPath(path_, name), UnknownKeyMessage(name, allowed));
        continue;
      }
      if (!seen.insert(name).second) {
        errors_->Add(key.Mark(), ChildPath(path_, name), "duplicate key");
        continue;
      }
      entries_.push_back(Entry{name, key.Mark(), kv.second});
    }
  }

  // False when the node was not a map (already reported).
  bool valid() const { return valid_; }
  std::string PathOf(absl::string_view key) const { return ChildPath(path_, key); }

  // The value of `key`, or nullptr when the key is absent or has no value.
  // Points into this reader.
  const YAML::Node* Get(absl::string_view key) const {
    const Entry* e = Find(key);
    return e == nullptr || e->value.IsNull() ? nullptr : &e->value;
  }

  // Where `key` is, or where the map is when the key is absent.
  YAML::Mark MarkOf(absl::string_view key) const {
    const Entry* e = Find(key);
    return e == nullptr ? mark_ : e->key_mark;
  }

  // Like Get, but reports "<path>.<key>: required (<what>)" when absent.
  const YAML::Node* Require(absl::string_view key, absl::string_view what) const {
    const YAML::Node* node = Get(key);
    if (node == nullptr && valid_) {
      errors_->Add(MarkOf(key), PathOf(key), absl::StrCat("required (", what, ")"));
    }
    return node;
  }

 private:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
  };

  const Entry* Find(absl::string_view key) const {
    for (const Entry& e : entries_) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }

  std::string path_;
  YAML::Mark mark_;
  Errors* errors_;
  bool valid_ = true;
  std::vector<Entry> entries_;
};

// The checked value of the scalar at `node`, or nullopt after reporting why
// not. Callers pass only present (non-null) nodes.
class ValueReader {
 public:
  explicit ValueReader(Errors* errors) : errors_(errors) {}

  std::optional<std::string> String(const YAML::Node& node, absl::string_view path) {
    if (!node.IsScalar()) {
      errors_->Add(node.Mark(), path, absl::StrCat("expected a string, got ", Describe(node)));
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<std::string> NonEmptyString(const YAML::Node& node, absl::string_view path) {
    std::optional<std::string> s = String(node, path);
    if (s && s->empty()) {
      errors_->Add(node.Mark(), path, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<int64_t> Int(const YAML::Node& node, absl::string_view path, int64_t min,
                             int64_t max) {
    const std::string expected = absl::StrCat("expected a whole number from ", min, " to ", max);
    int64_t value = 0;
    if (!IsPlainScalar(node) || !absl::SimpleAtoi(node.Scalar(), &value)) {
      errors_->Add(node.Mark(), path, absl::StrCat(expected, ", got ", Shown(node)));
      return std::nullopt;
    }
    if (value < min || value > max) {
      errors_->Add(node.Mark(), path, absl::StrCat(expected, ", got ", value));
      return std::nullopt;
    }
    return value;
  }

  std::optional<double> Double(const YAML::Node& node, absl::string_view path, double min,
                               double max) {
    const std::string expected = absl::StrCat("expected a number from ", min, " to ", max);
    double value = 0;
    if (!IsPlainScalar(node) || !absl::SimpleAtod(node.Scalar(), &value) || !std::isfinite(value)) {
      errors_->Add(node.Mark(), path, absl::StrCat(expected, ", got ", Shown(node)));
      return std::nullopt;
    }
    if (value < min || value > max) {
      errors_->Add(node.Mark(), path, absl::StrCat(expected, ", got ", node.Scalar()));
      return std::nullopt;
    }
    return value;
  }

  // Only true and false: YAML 1.1's yes/no/on/off are too easy to write by
  // accident (a country code NO, a word "on").
  std::optional<bool> Bool(const YAML::Node& node, absl::string_view path) {
    if (IsPlainScalar(node)) {
      const std::string lower = absl::AsciiStrToLower(node.Scalar());
      if (lower == "true") return true;
      if (lower == "false") return false;
    }
    errors_->Add(node.Mark(), path, absl::StrCat("expected true or false, got ", Shown(node)));
    return std::nullopt;
  }

  std::optional<absl::Duration> Duration(const YAML::Node& node, absl::string_view path) {
    constexpr absl::string_view kExpected =
        "expected a positive duration with a unit, such as 500ms, 30s, 5m or 1h";
    absl::Duration d;
    if (!node.IsScalar() || !absl::ParseDuration(node.Scalar(), &d)) {
      errors_->Add(node.Mark(), path, absl::StrCat(kExpected, ", got ", Shown(node)));
      return std::nullopt;
    }
    if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      errors_->Add(node.Mark(), path, absl::StrCat(kExpected, ", got ", Shown(node)));
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::vector<std::string>> StringList(const YAML::Node& node,
                                                     absl::string_view path) {
    if (!node.IsSequence()) {
      errors_->Add(node.Mark(), path, absl::StrCat("expected a list, got ", Describe(node)));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (size_t i = 0; i < node.size(); ++i) {
      std::optional<std::string> s = String(node[i], IndexPath(path, i));
      if (s) {
        out.push_back(*std::move(s));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A scalar shown in a message; other nodes are described.
  static std::string Shown(const YAML::Node& node) {
    return node.IsScalar() ? Quoted(node.Scalar()) : Describe(node);
  }

 private:
  static bool IsPlainScalar(const YAML::Node& node) {
    return node.IsScalar() && node.Tag() != kQuotedTag;
  }

  Errors* errors_;
};

bool IsLoopbackHost(absl::string_view host) {
  const std::string lower = absl::AsciiStrToLower(host);
  if (lower == "localhost" || lower == "[::1]") return true;
  if (!absl::StartsWith(lower, "127.")) return false;
  int parts = 0;
  for (absl::string_view part : absl::StrSplit(lower, '.')) {
    int octet = 0;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &octet) || octet > 255) {
      return false;
    }
    ++parts;
  }
  return parts == 4;
}

// Checks "name", "1.2.3.4" or "[v6]" followed by an optional or required
// ":port". Returns the problem, or nullopt.
std::optional<std::string> CheckHostPort(absl::string_view authority, bool port_required,
                                         int min_port, absl::string_view* host_out) {
  absl::string_view host;
  absl::string_view rest;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return "an IPv6 address must end with \"]\"";
    host = authority.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2)) {
      if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') {
        return absl::StrCat(Quoted(host), " is not an IPv6 address");
      }
    }
    if (host.size() == 2) return "the IPv6 address is empty";
    rest = authority.substr(close + 1);
  } else {
    if (std::count(authority.begin(), authority.end(), ':') > 1) {
      return "an IPv6 address must be written in brackets, like [::1]:50051";
    }
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == absl::string_view::npos ? absl::string_view() : authority.substr(colon);
    if (host.empty()) return "the host is missing";
    for (char c : host) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_') {
        return absl::StrCat("the host ", Quoted(host), " contains ",
                            Quoted(absl::string_view(&c, 1)));
      }
    }
  }
  if (rest.empty()) {
    if (port_required) return "the port is missing";
  } else {
    int port = -1;
    if (rest[0] != ':' || rest.size() == 1 || !absl::SimpleAtoi(rest.substr(1), &port) ||
        !std::all_of(rest.begin() + 1, rest.end(), absl::ascii_isdigit) || port < min_port ||
        port > 65535) {
      return absl::StrCat("expected a port from ", min_port, " to 65535 after the host, got ",
                          Quoted(rest));
    }
  }
  if (host_out != nullptr) *host_out = host;
  return std::nullopt;
}

// Checks an endpoint URL and returns it without a trailing "/", or the
// problem.
std::pair<std::string, std::optional<std::string>> CheckUrl(absl::string_view url) {
  const auto fail = [](std::string why) {
    return std::make_pair(std::string(), std::optional<std::string>(std::move(why)));
  };
  const std::string expected = "expected an absolute http(s) URL such as https://example.com";
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
      return fail(absl::StrCat(Quoted(url), " contains a space, a control or non-ASCII character"));
    }
  }
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) {
    return fail(absl::StrCat(expected, ", got ", Quoted(url)));
  }
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return fail(absl::StrCat(expected, ", got ", Quoted(url)));
  }
  if (url.find_first_of("?#") != absl::string_view::npos) {
    return fail(absl::StrCat(Quoted(url), " must not have a query (?) or fragment (#)"));
  }
  const absl::string_view after_scheme = url.substr(scheme_end + 3);
  const size_t slash = after_scheme.find('/');
  const absl::string_view authority = after_scheme.substr(0, slash);
  absl::string_view path =
      slash == absl::string_view::npos ? absl::string_view() : after_scheme.substr(slash);
  if (absl::StrContains(authority, '@')) {
    return fail(absl::StrCat(
        "a URL must not contain a user name or password; secrets are never written in the "
        "config file"));
  }
  absl::string_view host;
  if (std::optional<std::string> problem =
          CheckHostPort(authority, /*port_required=*/false, /*min_port=*/1, &host)) {
    return fail(absl::StrCat(Quoted(url), ": ", *problem));
  }
  if (scheme == "http" && !IsLoopbackHost(host)) {
    return fail(absl::StrCat(Quoted(url),
                             ": plain http is allowed only for loopback hosts (127.0.0.1, "
                             "localhost, [::1]); use https"));
  }
  while (absl::EndsWith(path, "/")) path.remove_suffix(1);
  return {absl::StrCat(scheme, "://", authority, path), std::nullopt};
}

bool IsCallerName(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

bool IsTenantId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z') || c == '-';
  });
}

bool IsEnvName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

bool IsPluginName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

// A Microsoft Entra tenant: a GUID or a domain name; it goes into the token
// URL's path, so nothing else is let through.
bool IsDirectoryId(absl::string_view id) {
  if (id.empty() || id.size() > 253 || id.front() == '.' || id.back() == '.' ||
      absl::StrContains(id, "..")) {
    return false;
  }
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '.' || c == '-'; });
}

// YAML 1.2 core schema, for plain scalars in plugin settings.
bool IsDecimalInt(absl::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), absl::ascii_isdigit);
}

bool IsDecimalFloat(absl::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  size_t i = 0;
  size_t digits = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    const size_t exponent_start = i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
    if (i == exponent_start) return false;
  }
  return i == s.size();
}

class Loader {
 public:
  Loader(Errors* errors, fs::path base_dir)
      : errors_(errors), values_(errors), base_dir_(std::move(base_dir)) {}

  void Load(const YAML::Node& root, Config* config) {
    MapReader top(root, "", errors_,
                  {"server", "store", "engine", "http", "limits", "tenants", "callers"});
    if (!top.valid()) return;
    LoadServer(Section(top, "server"), top.PathOf("server"), &config->server);
    LoadStore(Section(top, "store"), top.PathOf("store"), &config->store);
    LoadEngine(Section(top, "engine"), top.PathOf("engine"), &config->engine);
    LoadHttp(Section(top, "http"), top.PathOf("http"), &config->http);
    LoadLimits(Section(top, "limits"), top.PathOf("limits"), config->engine.lease, &config->limits);
    if (const YAML::Node* tenants = top.Get("tenants")) {
      LoadTenants(*tenants, top.PathOf("tenants"), &config->tenants);
    }
    if (const YAML::Node* callers = top.Get("callers")) {
      LoadCallers(*callers, top.PathOf("callers"), *config, &config->callers);
    }
  }

 private:
  // An absent section reads as an empty map.
  static YAML::Node Section(const MapReader& parent, absl::string_view key) {
    const YAML::Node* node = parent.Get(key);
    return node != nullptr ? *node : YAML::Node(YAML::NodeType::Null);
  }

  // Absolute, normalised, without a trailing "/", so that other components
  // can compare paths as strings.
  std::string ResolvePath(const std::string& p) const {
    fs::path path(p);
    if (path.is_relative()) path = base_dir_ / path;
    std::string out = path.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
  }

  // SQLite's in-memory database is not a file.
  std::string ResolveSqlitePath(const std::string& p) const {
    return p == ":memory:" ? p : ResolvePath(p);
  }

  void LoadServer(const YAML::Node& node, const std::string& path, ServerConfig* out) {
    MapReader m(node, path, errors_,
                {"listen", "tls", "plaintext", "metrics_listen", "plugin_dir", "plugins",
                 "plugin_sha256", "shutdown_grace"});
    if (const YAML::Node* n = m.Get("listen")) {
      if (std::optional<std::string> s = values_.String(*n, m.PathOf("listen"))) {
        if (std::optional<std::string> problem =
                CheckHostPort(*s, /*port_required=*/true, /*min_port=*/0, nullptr)) {
          errors_->Add(n->Mark(), m.PathOf("listen"),
                       absl::StrCat(Quoted(*s), ": ", *problem,
                                    "; expected host:port such as 127.0.0.1:50051 or [::]:50051"));
        } else {
          out->listen = *s;
        }
      }
    }
    if (const YAML::Node* n = m.Get("metrics_listen")) {
      if (std::optional<std::string> s = values_.String(*n, m.PathOf("metrics_listen"))) {
        if (std::optional<std::string> problem =
                CheckHostPort(*s, /*port_required=*/true, /*min_port=*/0, nullptr)) {
          errors_->Add(n->Mark(), m.PathOf("metrics_listen"),
                       absl::StrCat(Quoted(*s), ": ", *problem,
                                    "; expected host:port such as 0.0.0.0:9464"));
        } else {
          out->metrics_listen = *s;
        }
      }
    }
    if (const YAML::Node* n = m.Get("plaintext")) {
      if (std::optional<bool> b = values_.Bool(*n, m.PathOf("plaintext"))) out->plaintext = *b;
    }
    if (const YAML::Node* n = m.Get("tls")) {
      out->tls = LoadTls(*n, m.PathOf("tls"));
      if (out->plaintext) {
        errors_->Add(n->Mark(), m.PathOf("tls"),
                     "give only one of tls and plaintext: true; they are two transports");
      }
    }
    if (const YAML::Node* n = m.Get("plugin_dir")) {
      if (std::optional<std::string> s = values_.NonEmptyString(*n, m.PathOf("plugin_dir"))) {
        out->plugin_dir = ResolvePath(*s);
      }
    }
    if (const YAML::Node* n = m.Get("plugins")) {
      if (std::optional<std::vector<std::string>> files =
              values_.StringList(*n, m.PathOf("plugins"))) {
        std::set<std::string> seen;
        for (size_t i = 0; i < files->size(); ++i) {
          const std::string& file = (*files)[i];
          const std::string element = IndexPath(m.PathOf("plugins"), i);
          if (file.empty() || file == "." || file == ".." ||
              file.find_first_of("/\\") != std::string::npos) {
            errors_->Add((*n)[i].Mark(), element,
                         absl::StrCat(Quoted(file),
                                      " must be a library file name inside server.plugin_dir, "
                                      "without a folder"));
          } else if (!seen.insert(file).second) {
            errors_->Add((*n)[i].Mark(), element, absl::StrCat(Quoted(file), " is listed twice"));
          } else {
            out->plugins.push_back(file);
          }
        }
        if (!files->empty() && m.Get("plugin_dir") == nullptr) {
          errors_->Add(m.MarkOf("plugin_dir"), m.PathOf("plugin_dir"),
                       "required when server.plugins lists libraries (the folder that holds "
                       "them)");
        }
      }
    }
    if (const YAML::Node* n = m.Get("plugin_sha256")) {
      LoadPluginHashes(*n, m.PathOf("plugin_sha256"), out);
    }
    if (const YAML::Node* n = m.Get("shutdown_grace")) {
      if (auto d = values_.Duration(*n, m.PathOf("shutdown_grace"))) out->shutdown_grace = *d;
    }
  }

  // server.tls: the certificate files, resolved against the config's folder.
  TlsConfig LoadTls(const YAML::Node& node, const std::string& path) {
    TlsConfig out;
    MapReader m(
        node, path, errors_,
        {"cert_file", "key_file", "client_ca_file", "require_client_cert", "reload_interval"});
    if (!m.valid()) return out;
    const auto file = [&](absl::string_view key, absl::string_view what, std::string* target) {
      const YAML::Node* n = what.empty() ? m.Get(key) : m.Require(key, what);
      if (n == nullptr) return;
      if (std::optional<std::string> s = values_.NonEmptyString(*n, m.PathOf(key))) {
        *target = ResolvePath(*s);
      }
    };
    file("cert_file", "the server's PEM certificate chain", &out.cert_file);
    file("key_file", "the PEM private key of cert_file", &out.key_file);
    file("client_ca_file", "", &out.client_ca_file);
    if (const YAML::Node* n = m.Get("require_client_cert")) {
      if (std::optional<bool> b = values_.Bool(*n, m.PathOf("require_client_cert"))) {
        out.require_client_cert = *b;
        if (*b && m.Get("client_ca_file") == nullptr) {
          errors_->Add(n->Mark(), m.PathOf("require_client_cert"),
                       "needs client_ca_file: the CAs that sign the client certificates");
        }
      }
    }
    if (const YAML::Node* n = m.Get("reload_interval")) {
      if (auto d = values_.Duration(*n, m.PathOf("reload_interval"))) {
        if (*d < absl::Seconds(1)) {
          errors_->Add(n->Mark(), m.PathOf("reload_interval"),
                       absl::StrCat("expected at least 1s, got ", absl::FormatDuration(*d)));
        } else {
          out.reload_interval = *d;
        }
      }
    }
    return out;
  }

  // callers: who may call, with which role, for which tenants. Runs after
  // the tenants are loaded: a grant must name a configured tenant.
  void LoadCallers(const YAML::Node& node, const std::string& path, const Config& config,
                   std::vector<CallerConfig>* out) {
    if (!node.IsSequence()) {
      errors_->Add(
          node.Mark(), path,
          absl::StrCat("expected a list of callers (\"- name: ...\"), got ", Describe(node)));
      return;
    }
    std::map<std::string, size_t> names;  // name -> first index
    std::map<std::string, size_t> cert_names;
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = IndexPath(path, i);
      CallerConfig caller;
      if (!LoadCaller(node[i], item_path, config, &caller)) continue;
      if (auto [it, inserted] = names.emplace(caller.name, i); !inserted) {
        errors_->Add(node[i].Mark(), ChildPath(item_path, "name"),
                     absl::StrCat(Quoted(caller.name), " is already used by ",
                                  IndexPath(path, it->second), "; caller names must be unique"));
      }
      for (const std::string& cert_name : caller.client_cert_names) {
        if (auto [it, inserted] = cert_names.emplace(cert_name, i); !inserted && it->second != i) {
          errors_->Add(node[i].Mark(), ChildPath(item_path, "client_cert_names"),
                       absl::StrCat(Quoted(cert_name), " also names ", IndexPath(path, it->second),
                                    "; a certificate identity must name one caller"));
        }
      }
      out->push_back(std::move(caller));
    }
  }

  bool LoadCaller(const YAML::Node& node, const std::string& path, const Config& config,
                  CallerConfig* out) {
    MapReader m(node, path, errors_,
                {"name", "role", "tenants", "token_hash", "client_cert_names"});
    if (!m.valid()) return false;
    const size_t errors_before = errors_->size();
    if (const YAML::Node* n = m.Require("name", "who calls, such as \"hr-portal\"")) {
      if (std::optional<std::string> name = values_.String(*n, m.PathOf("name"))) {
        if (IsCallerName(*name)) {
          out->name = *name;
        } else {
          errors_->Add(n->Mark(), m.PathOf("name"),
                       absl::StrCat(Quoted(*name),
                                    " must be 1 to 63 letters, digits, \".\", \"_\" or \"-\""));
        }
      }
    }
    if (const YAML::Node* n = m.Require("role", "reader, operator or admin")) {
      if (std::optional<std::string> role = values_.String(*n, m.PathOf("role"))) {
        if (*role == "reader") {
          out->role = CallerRole::kReader;
        } else if (*role == "operator") {
          out->role = CallerRole::kOperator;
        } else if (*role == "admin") {
          out->role = CallerRole::kAdmin;
        } else {
          errors_->Add(n->Mark(), m.PathOf("role"),
                       absl::StrCat(Quoted(*role), ": expected reader, operator or admin"));
        }
      }
    }
    if (const YAML::Node* n =
            m.Require("tenants", "the tenant ids this caller may use, or [\"*\"] for all")) {
      if (std::optional<std::vector<std::string>> tenants =
              values_.StringList(*n, m.PathOf("tenants"))) {
        if (tenants->empty()) {
          errors_->Add(n->Mark(), m.PathOf("tenants"),
                       "must not be empty: the tenant ids this caller may use, or [\"*\"]");
        }
        for (size_t i = 0; i < tenants->size(); ++i) {
          const std::string& t = (*tenants)[i];
          if (t == "*") {
            out->all_tenants = true;
          } else if (config.FindTenant(t) == nullptr) {
            errors_->Add((*n)[i].Mark(), IndexPath(m.PathOf("tenants"), i),
                         absl::StrCat(Quoted(t), " is not a tenant of this configuration"));
          } else if (std::find(out->tenants.begin(), out->tenants.end(), t) == out->tenants.end()) {
            out->tenants.push_back(t);
          }
        }
        if (out->all_tenants && tenants->size() > 1) {
          errors_->Add(n->Mark(), m.PathOf("tenants"),
                       "\"*\" grants every tenant; list no other tenant beside it");
        }
      }
    }
    if (const YAML::Node* n = m.Get("token_hash")) {
      // Not echoed: it is not the token, but it is no one's business either.
      std::optional<std::string> hash = values_.String(*n, m.PathOf("token_hash"));
      std::vector<std::string> parts =
          hash.has_value() ? absl::StrSplit(*hash, ':') : std::vector<std::string>{};
      const auto is_hex = [](const std::string& s, size_t min, size_t max) {
        return s.size() >= min && s.size() <= max && s.size() % 2 == 0 &&
               s.find_first_not_of("0123456789abcdef") == std::string::npos;
      };
      if (parts.size() == 3 && parts[0] == "sha256" && is_hex(parts[1], 16, 128) &&
          is_hex(parts[2], 64, 64)) {
        out->token_salt_hex = parts[1];
        out->token_digest_hex = parts[2];
      } else if (hash.has_value()) {
        errors_->Add(n->Mark(), m.PathOf("token_hash"),
                     "expected sha256:<salt hex>:<digest hex> as printed by guestflowd "
                     "hash-token (the token itself never goes in the config)");
      }
    }
    if (const YAML::Node* n = m.Get("client_cert_names")) {
      if (std::optional<std::vector<std::string>> names =
              values_.StringList(*n, m.PathOf("client_cert_names"))) {
        for (size_t i = 0; i < names->size(); ++i) {
          if ((*names)[i].empty() || (*names)[i].size() > 255) {
            errors_->Add((*n)[i].Mark(), IndexPath(m.PathOf("client_cert_names"), i),
                         "expected a certificate's common name or subject alternative name "
                         "(1 to 255 characters)");
          } else {
            out->client_cert_names.push_back((*names)[i]);
          }
        }
      }
    }
    if (m.Get("token_hash") == nullptr && m.Get("client_cert_names") == nullptr) {
      errors_->Add(node.Mark(), path,
                   "give token_hash, client_cert_names or both: how the caller proves who it is");
    }
    return errors_->size() == errors_before;
  }

  // server.plugin_sha256: {file.so: <64 hex digits>, ...}, one per plugin.
  void LoadPluginHashes(const YAML::Node& node, const std::string& path, ServerConfig* out) {
    if (!node.IsMap()) {
      errors_->Add(node.Mark(), path, "expected a map of plugin file names to SHA-256 hex digests");
      return;
    }
    for (const auto& kv : node) {
      const std::string file = kv.first.as<std::string>("");
      const std::string key_path = absl::StrCat(path, ".", file);
      std::optional<std::string> hash = values_.String(kv.second, key_path);
      if (!hash.has_value()) continue;
      const std::string lower = absl::AsciiStrToLower(*hash);
      if (lower.size() != 64 || lower.find_first_not_of("0123456789abcdef") != std::string::npos) {
        errors_->Add(kv.second.Mark(), key_path,
                     "expected the 64 hex digits of a SHA-256 digest (sha256sum FILE)");
        continue;
      }
      out->plugin_sha256[file] = lower;
    }
    for (const std::string& file : out->plugins) {
      if (out->plugin_sha256.count(file) == 0) {
        errors_->Add(node.Mark(), path,
                     absl::StrCat(Quoted(file),
                                  " is in server.plugins but has no digest here; with an "
                                  "allowlist every plugin needs one"));
      }
    }
  }

  void LoadStore(const YAML::Node& node, const std::string& path, StoreConfig* out) {
    MapReader m(node, path, errors_, {"sqlite", "postgres"});
    bool path_set = false;
    if (const YAML::Node* pg = m.Get("postgres")) {
      if (m.Get("sqlite") != nullptr) {
        errors_->Add(pg->Mark(), m.PathOf("postgres"),
                     "give only one of sqlite and postgres; they are two stores");
      }
      out->postgres = LoadPostgres(*pg, m.PathOf("postgres"));
    }
    if (const YAML::Node* sqlite = m.Get("sqlite")) {
      MapReader s(*sqlite, m.PathOf("sqlite"), errors_, {"path", "group_commit"});
      if (const YAML::Node* n = s.Get("path")) {
        if (std::optional<std::string> p = values_.NonEmptyString(*n, s.PathOf("path"))) {
          out->sqlite_path = ResolveSqlitePath(*p);
          path_set = true;
        }
      }
      if (const YAML::Node* n = s.Get("group_commit")) {
        if (std::optional<bool> b = values_.Bool(*n, s.PathOf("group_commit"))) {
          out->sqlite_group_commit = *b;
        }
      }
    }
    if (!path_set) out->sqlite_path = ResolveSqlitePath(out->sqlite_path);
  }

  PostgresStoreConfig LoadPostgres(const YAML::Node& node, const std::string& path) {
    PostgresStoreConfig out;
    MapReader m(node, path, errors_, {"dsn_env", "pool_size", "statement_timeout"});
    if (const YAML::Node* n = m.Get("dsn_env")) {
      if (std::optional<std::string> name = values_.String(*n, m.PathOf("dsn_env"))) {
        if (IsEnvName(*name)) {
          out.dsn_env = *name;
        } else {
          errors_->Add(n->Mark(), m.PathOf("dsn_env"),
                       absl::StrCat(Quoted(*name),
                                    " is not an environment variable name; expected letters, "
                                    "digits and \"_\", not starting with a digit"));
        }
      }
    } else {
      errors_->Add(node.Mark(), path,
                   "dsn_env is required: the environment variable that holds the PostgreSQL "
                   "connection string (the file never holds it: it carries the password)");
    }
    if (const YAML::Node* n = m.Get("pool_size")) {
      if (auto v = values_.Int(*n, m.PathOf("pool_size"), 1, 256)) out.pool_size = *v;
    }
    if (const YAML::Node* n = m.Get("statement_timeout")) {
      if (auto d = values_.Duration(*n, m.PathOf("statement_timeout"))) {
        out.statement_timeout = *d;
      }
    }
    return out;
  }

  void LoadEngine(const YAML::Node& node, const std::string& path, EngineConfig* out) {
    MapReader m(node, path, errors_,
                {"workers", "max_attempts", "backoff_initial", "backoff_max", "backoff_multiplier",
                 "max_step_wait", "lease", "max_unfinished"});
    if (const YAML::Node* n = m.Get("workers")) {
      if (auto v = values_.Int(*n, m.PathOf("workers"), 1, 256)) out->workers = *v;
    }
    if (const YAML::Node* n = m.Get("max_attempts")) {
      if (auto v = values_.Int(*n, m.PathOf("max_attempts"), 1, 1000)) out->max_attempts = *v;
    }
    bool backoff_ok = true;
    if (const YAML::Node* n = m.Get("backoff_initial")) {
      auto d = values_.Duration(*n, m.PathOf("backoff_initial"));
      backoff_ok = backoff_ok && d.has_value();
      if (d) out->backoff_initial = *d;
    }
    if (const YAML::Node* n = m.Get("backoff_max")) {
      auto d = values_.Duration(*n, m.PathOf("backoff_max"));
      backoff_ok = backoff_ok && d.has_value();
      if (d) out->backoff_max = *d;
    }
    if (backoff_ok && out->backoff_initial > out->backoff_max) {
      errors_->Add(m.MarkOf("backoff_initial"), m.PathOf("backoff_initial"),
                   absl::StrCat(absl::FormatDuration(out->backoff_initial),
                                " is longer than engine.backoff_max (",
                                absl::FormatDuration(out->backoff_max), ")"));
    }
    if (const YAML::Node* n = m.Get("backoff_multiplier")) {
      if (auto v = values_.Double(*n, m.PathOf("backoff_multiplier"), 1, 100)) {
        out->backoff_multiplier = *v;
      }
    }
    if (const YAML::Node* n = m.Get("max_step_wait")) {
      if (auto d = values_.Duration(*n, m.PathOf("max_step_wait"))) out->max_step_wait = *d;
    }
    if (const YAML::Node* n = m.Get("lease")) {
      if (auto d = values_.Duration(*n, m.PathOf("lease"))) out->lease = *d;
    }
    if (const YAML::Node* n = m.Get("max_unfinished")) {
      if (auto v = values_.Int(*n, m.PathOf("max_unfinished"), 0, 100000000)) {
        out->max_unfinished = *v;
      }
    }
  }

  void LoadHttp(const YAML::Node& node, const std::string& path, HttpConfig* out) {
    MapReader m(node, path, errors_,
                {"connect_timeout", "request_timeout", "ca_file", "max_response_bytes"});
    bool timeouts_ok = true;
    if (const YAML::Node* n = m.Get("connect_timeout")) {
      auto d = values_.Duration(*n, m.PathOf("connect_timeout"));
      timeouts_ok = timeouts_ok && d.has_value();
      if (d) out->connect_timeout = *d;
    }
    if (const YAML::Node* n = m.Get("request_timeout")) {
      auto d = values_.Duration(*n, m.PathOf("request_timeout"));
      timeouts_ok = timeouts_ok && d.has_value();
      if (d) out->request_timeout = *d;
    }
    // libcurl's total timeout includes connecting, so a longer connect
    // timeout could never take effect.
    if (timeouts_ok && out->connect_timeout > out->request_timeout) {
      errors_->Add(m.MarkOf("connect_timeout"), m.PathOf("connect_timeout"),
                   absl::StrCat(absl::FormatDuration(out->connect_timeout),
                                " is longer than http.request_timeout (",
                                absl::FormatDuration(out->request_timeout), ")"));
    }
    if (const YAML::Node* n = m.Get("ca_file")) {
      if (std::optional<std::string> s = values_.String(*n, m.PathOf("ca_file"))) {
        out->ca_file = s->empty() ? "" : ResolvePath(*s);
      }
    }
    if (const YAML::Node* n = m.Get("max_response_bytes")) {
      if (auto v = values_.Int(*n, m.PathOf("max_response_bytes"), 1024, int64_t{1} << 30)) {
        out->max_response_bytes = static_cast<size_t>(*v);
      }
    }
  }

  void LoadLimits(const YAML::Node& node, const std::string& path, absl::Duration lease,
                  LimitsConfig* out) {
    MapReader m(node, path, errors_, {"graph_writes", "dataverse", "admin", "max_wait"});
    if (const YAML::Node* n = m.Get("graph_writes")) {
      LoadRateLimit(*n, m.PathOf("graph_writes"), /*has_concurrency=*/false, &out->graph_writes);
    }
    if (const YAML::Node* n = m.Get("dataverse")) {
      LoadRateLimit(*n, m.PathOf("dataverse"), /*has_concurrency=*/true, &out->dataverse);
    }
    if (const YAML::Node* n = m.Get("admin")) {
      LoadRateLimit(*n, m.PathOf("admin"), /*has_concurrency=*/false, &out->admin);
    }
    if (const YAML::Node* n = m.Get("max_wait")) {
      if (auto d = values_.Duration(*n, m.PathOf("max_wait"))) {
        // A worker waiting past its lease would see its step leased again
        // and run twice.
        if (*d > lease) {
          errors_->Add(n->Mark(), m.PathOf("max_wait"),
                       absl::StrCat(absl::FormatDuration(*d), " is longer than engine.lease (",
                                    absl::FormatDuration(lease), ")"));
        } else {
          out->max_wait = *d;
        }
      }
    } else if (out->max_wait > lease) {
      // Not set, and the lease is shorter than its default: the default
      // yields to the lease, as the bound above asks of a value that is set.
      out->max_wait = lease;
    }
  }

  void LoadRateLimit(const YAML::Node& node, const std::string& path, bool has_concurrency,
                     RateLimitConfig* out) {
    std::vector<absl::string_view> keys = {"requests", "per"};
    if (has_concurrency) keys.push_back("concurrent");
    MapReader m(node, path, errors_, std::move(keys));
    if (!m.valid()) return;
    if (const YAML::Node* n = m.Get("requests")) {
      // The limiter keeps the time of each of the last `requests` requests.
      if (auto v = values_.Int(*n, m.PathOf("requests"), 0, 1000000)) out->requests = *v;
    }
    if (const YAML::Node* n = m.Get("per")) {
      if (auto d = values_.Duration(*n, m.PathOf("per"))) {
        if (*d > absl::Hours(24)) {
          errors_->Add(n->Mark(), m.PathOf("per"),
                       absl::StrCat("expected at most 24h, got ", ValueReader::Shown(*n)));
        } else {
          out->per = *d;
        }
      }
    }
    if (const YAML::Node* n = m.Get("concurrent")) {
      if (auto v = values_.Int(*n, m.PathOf("concurrent"), 0, 10000)) out->concurrent = *v;
    }
  }

  void LoadTenants(const YAML::Node& node, const std::string& path,
                   std::vector<TenantConfig>* out) {
    if (!node.IsSequence()) {
      errors_->Add(
          node.Mark(), path,
          absl::StrCat("expected a list of tenants (\"- id: ...\"), got ", Describe(node)));
      return;
    }
    std::vector<std::pair<std::string, size_t>> ids;  // id -> first index
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      TenantConfig tenant;
      LoadTenant(item, IndexPath(path, i), &tenant);
      if (!tenant.id.empty()) {
        auto it = std::find_if(ids.begin(), ids.end(),
                               [&](const auto& p) { return p.first == tenant.id; });
        if (it != ids.end()) {
          errors_->Add(item.Mark(), ChildPath(IndexPath(path, i), "id"),
                       absl::StrCat(Quoted(tenant.id), " is already used by ",
                                    IndexPath(path, it->second), "; tenant ids must be unique"));
        } else {
          ids.emplace_back(tenant.id, i);
        }
      }
      out->push_back(std::move(tenant));
    }
  }

  void LoadTenant(const YAML::Node& node, const std::string& path, TenantConfig* out) {
    MapReader m(
        node, path, errors_,
        {"id", "display_name", "support_contact", "azure", "dynamics", "onboarding", "plugins"});
    if (!m.valid()) return;
    if (const YAML::Node* n = m.Require("id", "a short name such as \"contoso\"")) {
      if (std::optional<std::string> id = values_.String(*n, m.PathOf("id"))) {
        if (IsTenantId(*id)) {
          out->id = *id;
        } else {
          errors_->Add(
              n->Mark(), m.PathOf("id"),
              absl::StrCat(Quoted(*id), " must be 1 to 63 lower-case letters, digits or \"-\""));
        }
      }
    }
    if (const YAML::Node* n = m.Get("display_name")) {
      if (auto s = values_.String(*n, m.PathOf("display_name"))) out->display_name = *s;
    }
    if (const YAML::Node* n = m.Get("support_contact")) {
      if (auto s = values_.String(*n, m.PathOf("support_contact"))) out->support_contact = *s;
    }
    if (const YAML::Node* n = m.Require("azure", "tenant_id, client_id and client_secret")) {
      LoadAzure(*n, m.PathOf("azure"), out);
    }
    if (const YAML::Node* n = m.Require("dynamics", "at least instance_url")) {
      LoadDynamics(*n, m.PathOf("dynamics"), out);
    }
    if (const YAML::Node* n = m.Get("onboarding")) {
      LoadOnboarding(*n, m.PathOf("onboarding"), out);
    }
    if (const YAML::Node* n =
            m.Require("plugins", "the plugin for each of invite, license, role and notifier")) {
      LoadPlugins(*n, m.PathOf("plugins"), out);
    }
  }

  void ReadUrl(const MapReader& m, absl::string_view key, bool required, absl::string_view what,
               std::string* out) {
    const YAML::Node* n = required ? m.Require(key, what) : m.Get(key);
    if (n == nullptr) return;
    std::optional<std::string> s = values_.String(*n, m.PathOf(key));
    if (!s) return;
    auto [url, problem] = CheckUrl(*s);
    if (problem) {
      errors_->Add(n->Mark(), m.PathOf(key), *problem);
    } else {
      *out = std::move(url);
    }
  }

  void LoadAzure(const YAML::Node& node, const std::string& path, TenantConfig* out) {
    MapReader m(node, path, errors_,
                {"tenant_id", "client_id", "client_secret", "authority_url", "graph_url"});
    if (!m.valid()) return;
    if (const YAML::Node* n = m.Require("tenant_id",
                                        "the Entra tenant GUID or domain, such as "
                                        "contoso.onmicrosoft.com")) {
      if (std::optional<std::string> s = values_.String(*n, m.PathOf("tenant_id"))) {
        if (IsDirectoryId(*s)) {
          out->directory = *s;
        } else {
          errors_->Add(n->Mark(), m.PathOf("tenant_id"),
                       absl::StrCat(Quoted(*s),
                                    " is neither a GUID nor a domain name; expected e.g. "
                                    "contoso.onmicrosoft.com"));
        }
      }
    }
    if (const YAML::Node* n = m.Require("client_id", "the application (client) id")) {
      if (auto s = values_.NonEmptyString(*n, m.PathOf("client_id"))) out->client_id = *s;
    }
    if (const YAML::Node* n = m.Require("client_secret", kSecretExpected)) {
      LoadSecret(*n, m.PathOf("client_secret"), &out->client_secret);
    }
    ReadUrl(m, "authority_url", false, "", &out->authority_url);
    ReadUrl(m, "graph_url", false, "", &out->graph_url);
  }

  // Never echoes a scalar here: it may be the secret itself.
  void LoadSecret(const YAML::Node& node, const std::string& path, SecretRef* out) {
    if (!node.IsMap()) {
      errors_->Add(node.Mark(), path, kSecretExpected);
      return;
    }
    MapReader m(node, path, errors_, {"env", "file"});
    const YAML::Node* env = m.Get("env");
    const YAML::Node* file = m.Get("file");
    if ((env == nullptr) == (file == nullptr)) {
      errors_->Add(
          node.Mark(), path,
          absl::StrCat(env != nullptr ? "give only one of env and file; " : "", kSecretExpected));
      return;
    }
    if (env != nullptr) {
      if (std::optional<std::string> name = values_.String(*env, m.PathOf("env"))) {
        if (IsEnvName(*name)) {
          out->source = SecretRef::Source::kEnv;
          out->name = *name;
        } else {
          errors_->Add(env->Mark(), m.PathOf("env"),
                       absl::StrCat(Quoted(*name),
                                    " is not an environment variable name; expected letters, "
                                    "digits and \"_\", not starting with a digit"));
        }
      }
    } else if (std::optional<std::string> p = values_.NonEmptyString(*file, m.PathOf("file"))) {
      out->source = SecretRef::Source::kFile;
      out->name = ResolvePath(*p);
    }
  }

  void LoadDynamics(const YAML::Node& node, const std::string& path, TenantConfig* out) {
    MapReader m(node, path, errors_, {"instance_url", "admin_url", "environment_id"});
    if (!m.valid()) return;
    ReadUrl(m, "instance_url", true,
            "the Dynamics 365 instance URL, such as https://contoso.crm.dynamics.com",
            &out->instance_url);
    ReadUrl(m, "admin_url", false, "", &out->admin_url);
    if (const YAML::Node* n = m.Get("environment_id")) {
      if (std::optional<std::string> s = values_.NonEmptyString(*n, m.PathOf("environment_id"))) {
        if (std::all_of(s->begin(), s->end(),
                        [](char c) { return absl::ascii_isalnum(c) || c == '-'; })) {
          out->environment_id = *s;
        } else {
          errors_->Add(n->Mark(), m.PathOf("environment_id"),
                       absl::StrCat(Quoted(*s),
                                    " is not a Power Platform environment id; expected letters, "
                                    "digits and \"-\" (a GUID, or Default-<tenant GUID>)"));
        }
      }
    }
  }

  void LoadOnboarding(const YAML::Node& node, const std::string& path, TenantConfig* out) {
    MapReader m(node, path, errors_,
                {"default_roles", "send_invitation_message", "invitation_message",
                 "update_dynamics_email"});
    if (const YAML::Node* n = m.Get("default_roles")) {
      const std::string roles_path = m.PathOf("default_roles");
      if (auto roles = values_.StringList(*n, roles_path)) {
        // Same limits as a request's roles: the defaults end up in requests.
        if (absl::Status s = ValidateRoleNames(*roles, roles_path); !s.ok()) {
          for (absl::string_view line : absl::StrSplit(s.message(), '\n')) {
            errors_->Add(n->Mark(), "", line);
          }
        } else {
          out->default_roles = *std::move(roles);
        }
      }
    }
    if (const YAML::Node* n = m.Get("send_invitation_message")) {
      if (auto b = values_.Bool(*n, m.PathOf("send_invitation_message"))) {
        out->send_invitation_message = *b;
      }
    }
    if (const YAML::Node* n = m.Get("invitation_message")) {
      const std::string message_path = m.PathOf("invitation_message");
      if (auto s = values_.String(*n, message_path)) {
        if (absl::Status st = ValidateInvitationMessage(*s, message_path); !st.ok()) {
          errors_->Add(n->Mark(), "", st.message());
        } else {
          out->invitation_message = *s;
        }
      }
    }
    if (const YAML::Node* n = m.Get("update_dynamics_email")) {
      if (auto b = values_.Bool(*n, m.PathOf("update_dynamics_email"))) {
        out->update_dynamics_email = *b;
      }
    }
  }

  void LoadPlugins(const YAML::Node& node, const std::string& path, TenantConfig* out) {
    static constexpr absl::string_view kKinds[] = {"invite", "license", "role", "notifier"};
    MapReader m(node, path, errors_,
                {"invite", "license", "role", "notifier", "notifier_fallback"});
    if (!m.valid()) return;
    if (const YAML::Node* n = m.Get("notifier_fallback")) {
      PluginBinding binding;
      if (LoadBinding(*n, m.PathOf("notifier_fallback"), &binding)) {
        out->plugins.emplace("notifier_fallback", std::move(binding));
      }
    }
    for (absl::string_view kind : kKinds) {
      const YAML::Node* n =
          m.Require(kind, absl::StrCat("{name: PLUGIN} for the ", kind, " steps"));
      if (n == nullptr) continue;
      PluginBinding binding;
      if (LoadBinding(*n, m.PathOf(kind), &binding)) {
        out->plugins.emplace(absl::StrCat(kind), std::move(binding));
      }
    }
  }

  bool LoadBinding(const YAML::Node& node, const std::string& path, PluginBinding* out) {
    MapReader m(node, path, errors_, {"name", "settings"});
    if (!m.valid()) return false;
    bool ok = false;
    if (const YAML::Node* n = m.Require("name", "the plugin's name, such as azure_ad_invite")) {
      if (std::optional<std::string> name = values_.String(*n, m.PathOf("name"))) {
        if (IsPluginName(*name)) {
          out->plugin = *name;
          ok = true;
        } else {
          errors_->Add(n->Mark(), m.PathOf("name"),
                       absl::StrCat(Quoted(*name),
                                    " is not a plugin name; expected 1 to 64 letters, digits, "
                                    "\"_\", \".\" or \"-\""));
        }
      }
    }
    out->settings_json = "{}";
    if (const YAML::Node* n = m.Get("settings")) {
      if (!n->IsMap()) {
        errors_->Add(n->Mark(), m.PathOf("settings"),
                     absl::StrCat("expected a map (it is handed to the plugin as a JSON object), "
                                  "got ",
                                  Describe(*n)));
        return false;
      }
      std::optional<nlohmann::json> json = ToJson(*n, m.PathOf("settings"), 0);
      if (!json) return false;
      out->settings_json = json->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return ok;
  }

  std::optional<nlohmann::json> ToJson(const YAML::Node& node, const std::string& path, int depth) {
    if (depth > kMaxSettingsDepth) {
      errors_->Add(node.Mark(), path,
                   absl::StrCat("nested more than ", kMaxSettingsDepth,
                                " levels deep (does a YAML alias refer to itself?)"));
      return std::nullopt;
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nlohmann::json(nullptr);
      case YAML::NodeType::Scalar:
        return ScalarToJson(node, path);
      case YAML::NodeType::Sequence: {
        nlohmann::json array = nlohmann::json::array();
        bool ok = true;
        for (size_t i = 0; i < node.size(); ++i) {
          std::optional<nlohmann::json> item = ToJson(node[i], IndexPath(path, i), depth + 1);
          if (item) {
            array.push_back(*std::move(item));
          } else {
            ok = false;
          }
        }
        if (!ok) return std::nullopt;
        return array;
      }
      case YAML::NodeType::Map: {
        nlohmann::json object = nlohmann::json::object();
        bool ok = true;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            errors_->Add(kv.first.Mark(), path, "a settings key must be a string");
            ok = false;
            continue;
          }
          const std::string& key = kv.first.Scalar();
          const std::string child = ChildPath(path, key);
          if (object.contains(key)) {
            errors_->Add(kv.first.Mark(), child, "duplicate key");
            ok = false;
            continue;
          }
          std::optional<nlohmann::json> value = ToJson(kv.second, child, depth + 1);
          if (value) {
            object[key] = *std::move(value);
          } else {
            ok = false;
          }
        }
        if (!ok) return std::nullopt;
        return object;
      }
    }
    return std::nullopt;
  }

  std::optional<nlohmann::json> ScalarToJson(const YAML::Node& node, const std::string& path) {
    const std::string& s = node.Scalar();
    const std::string& tag = node.Tag();
    if (tag == kQuotedTag || tag == "tag:yaml.org,2002:str") return nlohmann::json(s);
    if (tag != kPlainTag) {
      errors_->Add(node.Mark(), path,
                   absl::StrCat("the YAML tag ", Quoted(tag),
                                " is not supported in plugin settings; quote the value instead"));
      return std::nullopt;
    }
    if (s == "true" || s == "True" || s == "TRUE") return nlohmann::json(true);
    if (s == "false" || s == "False" || s == "FALSE") return nlohmann::json(false);
    if (IsDecimalInt(s)) {
      int64_t i = 0;
      uint64_t u = 0;
      if (absl::SimpleAtoi(s, &i)) return nlohmann::json(i);
      if (absl::SimpleAtoi(s, &u)) return nlohmann::json(u);
    }
    if (IsDecimalInt(s) || IsDecimalFloat(s)) {
      double d = 0;
      if (absl::SimpleAtod(s, &d) && std::isfinite(d)) return nlohmann::json(d);
      errors_->Add(node.Mark(), path,
                   absl::StrCat(Quoted(s), " is too large for a JSON number; quote it"));
      return std::nullopt;
    }
    return nlohmann::json(s);
  }

  Errors* errors_;
  ValueReader values_;
  fs::path base_dir_;
};

// `p` made absolute against the current directory (the current directory
// itself when empty), normalised, without a trailing "/".
fs::path AbsolutePath(const std::string& p) {
  std::error_code ec;
  fs::path path = p.empty() ? fs::current_path(ec) : fs::absolute(p, ec);
  if (ec) path = p;
  path = path.lexically_normal();
  if (path.has_relative_path() && !path.has_filename()) path = path.parent_path();
  return path;
}

// The number of YAML documents in `text`, as YAML::LoadAll would count them
// but without its endless loop: after some malformed input (`"x",1`, a lone
// ",") yaml-cpp 0.7 hands out empty documents for ever, and LoadAll collects
// them until memory runs out (jbeder/yaml-cpp#1040; found by
// tests/fuzz/config_loader_fuzzer.cc). As upstream's fix does, an empty
// document after the first ends the count. Throws YAML::Exception.
size_t CountDocuments(const std::string& text) {
  class ContentSeen : public YAML::EventHandler {
   public:
    bool seen = false;
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override { seen = true; }
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {
      seen = true;
    }
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
      seen = true;
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
      seen = true;
    }
    void OnMapEnd() override {}
  };
  std::istringstream in(text);
  YAML::Parser parser(in);
  ContentSeen content;
  size_t count = 0;
  while (parser.HandleNextDocument(content)) {
    if (count > 0 && !content.seen) break;
    ++count;
    content.seen = false;
  }
  return count;
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, const std::string& source_name,
                                   const std::string& base_dir) {
  Errors errors(source_name);
  Config config;
  config.source = source_name;
  const fs::path base = AbsolutePath(base_dir);
  config.base_dir = base.string();

  // yaml-cpp reports through exceptions; they stop here.
  size_t documents = 0;
  YAML::Node document;
  try {
    const std::string text(yaml_text);
    documents = CountDocuments(text);
    if (documents == 1) document = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors.Add(e.mark, "", absl::StrCat("YAML syntax error: ", e.msg));
    return errors.ToStatus();
  }
  if (documents > 1) {
    errors.Add(YAML::Mark::null_mark(), "",
               absl::StrCat("expected one YAML document, found ", documents,
                            " (remove the extra \"---\")"));
    return errors.ToStatus();
  }
  if (documents == 0 || document.IsNull()) {
    errors.Add(YAML::Mark::null_mark(), "",
               "the configuration is empty; expected a map with keys server, store, engine, "
               "http and tenants");
    return errors.ToStatus();
  }
  try {
    Loader(&errors, base).Load(document, &config);
  } catch (const YAML::Exception& e) {
    errors.Add(e.mark, "", absl::StrCat("unexpected YAML error: ", e.msg));
  } catch (const std::exception& e) {
    errors.Add(YAML::Mark::null_mark(), "", absl::StrCat("unexpected error: ", e.what()));
  }
  if (!errors.empty()) return errors.ToStatus();
  return config;
}

absl::Status CheckServable(const Config& config) {
  std::vector<std::string> problems;
  const ServerConfig& server = config.server;
  if (!server.tls.has_value() && !server.plaintext) {
    problems.push_back(
        "server.tls: required (cert_file and key_file), or server.plaintext: true to serve "
        "without TLS on a loopback address during development");
  }
  if (server.plaintext) {
    const size_t colon = server.listen.rfind(':');
    const std::string host =
        colon == std::string::npos ? server.listen : server.listen.substr(0, colon);
    if (!IsLoopbackHost(host)) {
      problems.push_back(absl::StrCat(
          "server.plaintext: plain text is allowed only on a loopback address (127.0.0.1, [::1], "
          "localhost), not on ",
          server.listen, "; configure server.tls to listen there"));
    }
  }
  if (config.callers.empty()) {
    problems.push_back(
        "callers: none configured, so every RPC would be refused; add one with a token_hash "
        "(guestflowd new-token prints a token and its hash) or client_cert_names");
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      config.source, ": ", absl::StrJoin(problems, absl::StrCat("\n", config.source, ": "))));
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a folder; expected a YAML configuration file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot read config file ", path, ": ", std::strerror(err));
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read config file ", path));
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than ", kMaxFileBytes >> 20,
                                                   " MiB; is this the configuration file?"));
  }
  const fs::path absolute = AbsolutePath(path);
  GF_ASSIGN_OR_RETURN(Config config, ParseConfig(text, path, absolute.parent_path().string()));
  config.source = absolute.string();
  return config;
}

}  // namespace guestflow
