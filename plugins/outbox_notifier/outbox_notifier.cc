// outbox_notifier (kind notifier, step `notify`): tells the guest where their
// Dynamics 365 environment is by writing one RFC 5322 message per onboarding
// into an outbox folder, for a mail relay, a pickup directory or a person to
// send on.
//
// Settings (JSON object):
//   dir       required. The outbox folder, made when missing. A relative path
//             resolves against `base_dir`, and is refused at create without
//             one.
//   base_dir  absolute folder relative `dir`s resolve against (the host passes
//             the config file's folder).
//   from      sender, "addr" or "Name <addr>"; default guestflow@localhost.
//   template  the message (subject, text, html...), see
//             plugins/common/message_template.h; default: the built-in one.
// Any other key is refused (a typo must not silently fall back to a default).
//
// The file is `<onboarding id>.eml` (id spelled by EscapeId), written
// atomically (temporary file in the same folder, fsync, rename, fsync of the
// folder), so a retried step rewrites the same file whole and a reader never
// sees half a message. Its Date is the first attempt's (kept in the step's
// outputs), so a retry writes the same bytes.
//
// Outputs: eml_path (absolute), message_id (<id@guestflow>), date.
// Failures: missing guest email or instance URL, an invalid address, and a
// folder that cannot be made or written (ENOENT, ENOTDIR, EACCES, EROFS...)
// are permanent (the message names the path); other I/O errors (ENOSPC, EIO)
// are retried.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "common/mail_message.h"
#include "common/message_template.h"
#include "common/step_input.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"

namespace guestflow::outbox {
namespace {

using plugins::BuildMessage;
using plugins::EscapeId;
using plugins::IsValidAddress;
using plugins::Mailbox;
using plugins::MailMessage;
using plugins::ParseMailbox;
using plugins::Rfc5322Date;
using plugins::SingleLine;

namespace fs = std::filesystem;
using sdk::StepResult;

constexpr char kDefaultFrom[] = "guestflow@localhost";

std::string StringOr(const nlohmann::json& object, const char* key, std::string fallback = {}) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

bool IsPermanentIoError(int error) {
  return error == ENOENT || error == ENOTDIR || error == EACCES || error == EPERM ||
         error == EROFS || error == EISDIR || error == ENAMETOOLONG || error == ELOOP ||
         error == EEXIST;
}

StepResult IoFailure(const std::string& what, const fs::path& path, int error) {
  std::string message =
      "outbox_notifier: cannot " + what + " " + path.string() + ": " + std::strerror(error);
  if (IsPermanentIoError(error)) {
    message += " (check the notifier setting `dir` and the folder's permissions)";
    return StepResult::Failed(std::move(message));
  }
  return StepResult::Retry(std::move(message));
}

// Writes `content` to `path` atomically. Returns a failure result, or nullopt.
std::optional<StepResult> WriteAtomically(const fs::path& path, const std::string& content) {
  static std::atomic<uint64_t> counter{0};
  const fs::path dir = path.parent_path();
  const fs::path temp = dir / ("." + path.filename().string() + ".tmp." + std::to_string(getpid()) +
                               "." + std::to_string(counter.fetch_add(1)));
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return IoFailure("create a file in", dir, errno);
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      unlink(temp.c_str());
      return IoFailure("write", temp, error);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const int error = errno;
    close(fd);
    unlink(temp.c_str());
    return IoFailure("flush", temp, error);
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temp.c_str());
    return IoFailure("rename a file to", path, error);
  }
  // The rename itself is durable only once the folder is.
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return std::nullopt;
}

class OutboxNotifier : public sdk::Plugin {
 public:
  OutboxNotifier(const sdk::Host& /*host*/, std::string_view settings_json)
      : OutboxNotifier(ParseSettings(settings_json)) {}

  static nlohmann::json ParseSettings(std::string_view settings_json) {
    nlohmann::json settings = nlohmann::json::parse(
        settings_json.empty() ? std::string_view("{}") : settings_json, nullptr, false);
    if (!settings.is_object()) {
      throw std::invalid_argument("outbox_notifier: the settings are not a JSON object");
    }
    return settings;
  }

  explicit OutboxNotifier(const nlohmann::json& settings) : template_(settings, "outbox_notifier") {
    for (auto it = settings.begin(); it != settings.end(); ++it) {
      static constexpr std::string_view kKnown[] = {
          "dir", "from", "template", "base_dir", "tenant_settings", "default_roles"};
      if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown)) {
        throw std::invalid_argument("outbox_notifier: unknown setting `" + it.key() +
                                    "` (known: dir, from, template)");
      }
    }
    for (const char* key : {"dir", "base_dir", "from"}) {
      if (settings.contains(key) && !settings[key].is_string()) {
        throw std::invalid_argument(std::string("outbox_notifier: setting `") + key +
                                    "` must be a string");
      }
    }
    const std::string dir = StringOr(settings, "dir");
    if (dir.empty()) {
      throw std::invalid_argument(
          "outbox_notifier: setting `dir` is required (the folder the .eml files go to)");
    }
    fs::path path(dir);
    if (path.is_relative()) {
      const std::string base = StringOr(settings, "base_dir");
      if (base.empty() || fs::path(base).is_relative()) {
        throw std::invalid_argument("outbox_notifier: setting `dir` is the relative path \"" + dir +
                                    "\" and the host gave no absolute `base_dir` to resolve it "
                                    "against; write an absolute path");
      }
      path = fs::path(base) / path;
    }
    dir_ = path.lexically_normal();

    const std::string from = StringOr(settings, "from", kDefaultFrom);
    std::optional<Mailbox> sender = ParseMailbox(from);
    if (!sender.has_value()) {
      throw std::invalid_argument("outbox_notifier: setting `from` (\"" + SingleLine(from) +
                                  "\") is not an address like name@example.com or "
                                  "\"Name <name@example.com>\"");
    }
    from_ = *sender;
  }

  StepResult RunStep(sdk::Call& call, std::string_view step, std::string_view input_json) override {
    if (step != "notify") {
      return StepResult::Failed("outbox_notifier runs the `notify` step, not `" +
                                std::string(step) + "`");
    }
    const plugins::StepInput in = plugins::ParseStepInput(input_json);
    const plugins::Fields fields = plugins::FieldsFrom(in);
    if (fields.onboarding.empty()) return StepResult::Failed("outbox_notifier: no onboarding id");
    const std::string& onboarding = fields.onboarding;
    if (!IsValidAddress(fields.email)) {
      return StepResult::Failed("outbox_notifier: the guest's email \"" + fields.email +
                                "\" is not an address this notifier can write to");
    }
    if (fields.instance_url.empty()) {
      return StepResult::Failed(
          "outbox_notifier: the tenant has no Dynamics instance URL (dynamics.instance_url) "
          "to tell the guest");
    }

    // The first attempt's date, so a retry writes the same bytes.
    std::string date = in.PreviousOutput("date");
    if (date.empty()) date = Rfc5322Date(call.NowUnixMs());

    const plugins::RenderedMessage rendered = template_.Render(fields);
    MailMessage message;
    message.from = from_;
    message.to = Mailbox{fields.guest_name == fields.email ? "" : fields.guest_name, fields.email};
    message.subject = rendered.subject;
    message.date = date;
    message.message_id = "<" + EscapeId(onboarding) + "@guestflow>";
    message.body = rendered.text;
    message.html_body = rendered.html;

    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return IoFailure("create the outbox folder", dir_, ec.value());
    const fs::path path = dir_ / (EscapeId(onboarding) + ".eml");
    call.SetOutput("date", date);
    if (std::optional<StepResult> failed = WriteAtomically(path, BuildMessage(message))) {
      return *failed;
    }
    call.SetOutput("eml_path", path.string());
    call.SetOutput("message_id", message.message_id);
    call.Log(GF_LOG_INFO, "outbox_notifier: wrote " + path.string());
    return StepResult::Succeeded();
  }

  StepResult Check(sdk::Call& call) override {
    std::error_code ec;
    const bool exists = fs::is_directory(dir_, ec);
    const bool writable = exists && access(dir_.c_str(), W_OK | X_OK) == 0;
    call.AddCheck("outbox folder", writable || !exists,
                  writable ? dir_.string() + " is writable"
                  : exists ? dir_.string() + " is not writable"
                           : dir_.string() + " does not exist yet; it is made on the first notify");
    return StepResult::Succeeded();
  }

 private:
  fs::path dir_;
  Mailbox from_;
  const plugins::MessageTemplate template_;
};

}  // namespace
}  // namespace guestflow::outbox

GUESTFLOW_PLUGIN(guestflow::outbox::OutboxNotifier, "outbox_notifier", GF_PLUGIN_KIND_NOTIFIER,
                 "1.0.0")
