// SmtpPeer: a real SMTP server (tests/support/smtp_peer.py on Debian's
// python3-aiosmtpd) in a child process on 127.0.0.1, for the notifier tests.
// The constructor returns once it accepts connections (or fails the test);
// the destructor stops it and removes its folder.
//
// Thread-compatible; Received() reads what the server wrote to disk.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace guestflow::testing {

struct SmtpPeerOptions {
  std::string mode = "plain";  // "plain", "starttls" or "tls" (implicit)
  std::string cert_file;       // for starttls and tls
  std::string key_file;
  std::string auth;               // "user:password": AUTH required
  std::string refuse = "refuse";  // RCPT local parts with this prefix get 550
  std::string tempfail = "busy";  // ... and with this one 451
};

struct ReceivedMail {
  std::string raw;  // the message as received, CRLF line endings
  std::string mail_from;
  std::vector<std::string> rcpt_tos;
  std::string auth_user;  // "" without AUTH
  bool tls = false;
};

// A self-signed certificate (and key) for 127.0.0.1 and localhost, made in
// `dir` with the openssl command. Fails the test when openssl fails.
struct TestCertificate {
  std::string cert_file;
  std::string key_file;
};
TestCertificate MakeTestCertificate(const std::string& dir, const std::string& name = "server");

class SmtpPeer {
 public:
  explicit SmtpPeer(SmtpPeerOptions options = {});
  ~SmtpPeer();
  SmtpPeer(const SmtpPeer&) = delete;
  SmtpPeer& operator=(const SmtpPeer&) = delete;

  int port() const { return port_; }
  // Every message accepted so far, in order.
  std::vector<ReceivedMail> Received() const;
  bool WaitForMessages(size_t n, std::chrono::milliseconds timeout) const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace guestflow::testing
