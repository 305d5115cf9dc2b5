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
//   subject   optional; default "Your access to <organization>'s Dynamics 365".
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

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "eml_message.h"
#include "guestflow/plugin_sdk.h"
#include "nlohmann/json.hpp"

namespace guestflow::outbox {
namespace {

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

std::string Body(const std::string& guest_name, const std::string& email,
                 const std::string& organization, const std::string& instance_url,
                 const std::string& redeem_url) {
  std::string body;
  body += "Hello " + (guest_name.empty() ? email : guest_name) + ",\n\n";
  body += organization + " has given you access to its Microsoft Dynamics 365 environment.\n\n";
  if (!redeem_url.empty()) {
    body += "1. First accept the invitation to " + organization +
            ". You must do this before you can sign in:\n\n   " + redeem_url + "\n\n";
    body += "2. Then open Dynamics 365:\n\n   " + instance_url + "\n\n";
  } else {
    body += "1. First accept the invitation to " + organization +
            " that Microsoft sent you (from invites@microsoft.com). You must do this before "
            "you can sign in.\n\n";
    body += "2. Then open Dynamics 365:\n\n   " + instance_url + "\n\n";
  }
  body += "Sign in with " + email + ".\n\n";
  body += "-- \nSent by guestflow for " + organization + "\n";
  return body;
}

class OutboxNotifier : public sdk::Plugin {
 public:
  OutboxNotifier(const sdk::Host& /*host*/, std::string_view settings_json) {
    const nlohmann::json settings = nlohmann::json::parse(
        settings_json.empty() ? std::string_view("{}") : settings_json, nullptr, false);
    if (!settings.is_object()) {
      throw std::invalid_argument("outbox_notifier: the settings are not a JSON object");
    }
    // Other keys are the host's (tenant_settings, default_roles...) or another
    // version's: ignored.
    for (const char* key : {"dir", "base_dir", "from", "subject"}) {
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
    subject_ = StringOr(settings, "subject");
  }

  StepResult RunStep(sdk::Call& call, std::string_view step, std::string_view input_json) override {
    if (step != "notify") {
      return StepResult::Failed("outbox_notifier runs the `notify` step, not `" +
                                std::string(step) + "`");
    }
    const nlohmann::json input = nlohmann::json::parse(input_json, nullptr, false);
    if (!input.is_object()) return StepResult::Failed("outbox_notifier: the input is not JSON");

    std::string onboarding = StringOr(input, "onboarding");
    if (onboarding.rfind("onboardings/", 0) == 0) onboarding.erase(0, 12);
    if (onboarding.empty()) return StepResult::Failed("outbox_notifier: no onboarding id");

    const nlohmann::json guest = input.value("guest", nlohmann::json::object());
    const nlohmann::json tenant = input.value("tenant_settings", nlohmann::json::object());
    const std::string email = StringOr(guest, "email");
    if (!IsValidAddress(email)) {
      return StepResult::Failed("outbox_notifier: the guest's email \"" + SingleLine(email) +
                                "\" is not an address this notifier can write to");
    }
    const std::string instance_url = SingleLine(StringOr(tenant, "instance_url"));
    if (instance_url.empty()) {
      return StepResult::Failed(
          "outbox_notifier: the tenant has no Dynamics instance URL (dynamics.instance_url) "
          "to tell the guest");
    }
    std::string organization = SingleLine(StringOr(tenant, "display_name"));
    if (organization.empty()) organization = SingleLine(StringOr(input, "tenant"));
    std::string guest_name = SingleLine(StringOr(guest, "display_name"));
    if (guest_name.empty()) {
      guest_name = SingleLine(StringOr(guest, "first_name") + " " + StringOr(guest, "last_name"));
    }
    const nlohmann::json outputs = input.value("outputs", nlohmann::json::object());
    const std::string redeem_url = SingleLine(
        StringOr(outputs.value("invite", nlohmann::json::object()), "invite_redeem_url"));

    // The first attempt's date, so a retry writes the same bytes.
    std::string date = StringOr(input.value("step_outputs", nlohmann::json::object()), "date");
    if (date.empty()) date = Rfc5322Date(call.NowUnixMs());

    EmlMessage message;
    message.from = from_;
    message.to = Mailbox{guest_name, email};
    message.subject =
        subject_.empty() ? "Your access to " + organization + "'s Dynamics 365" : subject_;
    message.date = date;
    message.message_id = "<" + EscapeId(onboarding) + "@guestflow>";
    message.body = Body(guest_name, email, organization, instance_url, redeem_url);

    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return IoFailure("create the outbox folder", dir_, ec.value());
    const fs::path path = dir_ / (EscapeId(onboarding) + ".eml");
    call.SetOutput("date", date);
    if (std::optional<StepResult> failed = WriteAtomically(path, BuildEml(message))) {
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
  std::string subject_;
};

}  // namespace
}  // namespace guestflow::outbox

GUESTFLOW_PLUGIN(guestflow::outbox::OutboxNotifier, "outbox_notifier", GF_PLUGIN_KIND_NOTIFIER,
                 "1.0.0")
