#include "tests/support/smtp_peer.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace guestflow::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs argv to completion, its output to /dev/null; its exit status, or -1
// when it could not start.
int Run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TestCertificate MakeTestCertificate(const std::string& dir, const std::string& name) {
  TestCertificate c{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  const int status =
      Run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
           "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
           "-keyout", c.key_file, "-out", c.cert_file});
  EXPECT_EQ(status, 0) << "openssl req failed";
  return c;
}

SmtpPeer::SmtpPeer(SmtpPeerOptions options) {
  char pattern[] = "/tmp/smtp_peer.XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  const std::string port_file = dir_ + "/port";
  std::vector<std::string> args = {"/usr/bin/python3", SMTP_PEER_SCRIPT, "--port-file",
                                   port_file,          "--out",          dir_ + "/out",
                                   "--mode",           options.mode};
  if (!options.cert_file.empty()) args.insert(args.end(), {"--cert", options.cert_file});
  if (!options.key_file.empty()) args.insert(args.end(), {"--key", options.key_file});
  if (!options.auth.empty()) args.insert(args.end(), {"--auth", options.auth});
  if (!options.refuse.empty()) args.insert(args.end(), {"--refuse", options.refuse});
  if (!options.tempfail.empty()) args.insert(args.end(), {"--tempfail", options.tempfail});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    pid_ = -1;
    ADD_FAILURE() << "cannot start /usr/bin/python3 " << SMTP_PEER_SCRIPT;
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(port_file)) {
      port_ = std::stoi(ReadFile(port_file));
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "the SMTP peer exited before listening (is python3-aiosmtpd installed?)";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the SMTP peer did not listen within 20 s";
}

SmtpPeer::~SmtpPeer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::vector<ReceivedMail> SmtpPeer::Received() const {
  std::vector<ReceivedMail> mails;
  std::ifstream in(dir_ + "/out/envelopes.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    ReceivedMail m;
    m.raw = ReadFile(dir_ + "/out/" + j.at("file").get<std::string>());
    m.mail_from = j.at("mail_from");
    m.rcpt_tos = j.at("rcpt_tos").get<std::vector<std::string>>();
    if (j.at("auth_user").is_string()) m.auth_user = j.at("auth_user");
    m.tls = j.at("tls");
    mails.push_back(std::move(m));
  }
  return mails;
}

bool SmtpPeer::WaitForMessages(size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Received().size() < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace guestflow::testing
