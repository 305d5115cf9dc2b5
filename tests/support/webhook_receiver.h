// WebhookReceiver: a real HTTP server on a loopback port that plays the
// other end of webhook_notifier (or any JSON webhook) in tests. It records
// every POST, answers from a script, and checks the guestflow signature on
// its own (its own HMAC-SHA256 with OpenSSL's EVP_MAC, not the plugin's
// code), so a test learns whether what the plugin signs verifies the way a
// receiver would verify it.
//
//   WebhookReceiver receiver("shared-secret");
//   receiver.Script({{503, "busy", "7"}});      // then 200 "ok" forever
//   ... settings {"url": receiver.Url(), ...}
//   receiver.WaitForDeliveries(1, std::chrono::seconds(5));
//   WebhookDelivery d = receiver.Deliveries()[0];
//   EXPECT_TRUE(d.signature_valid) << d.signature_error;
//
// Signature check (when constructed with a secret): the headers
// X-Guestflow-Timestamp (unix seconds) and X-Guestflow-Signature ("v1=" +
// lower-case hex HMAC-SHA256(secret, timestamp + "." + body)) must be
// present, the MAC must match (constant-time compare) and the timestamp must
// be within 5 minutes of the receiver's real clock. The verdict is recorded,
// never acted on: the reply is always the scripted one, so a test decides
// what a bad signature means.
//
// Lifecycle: the constructor binds 127.0.0.1 on a port the kernel picks and
// serves on its own thread before it returns; the destructor stops the
// server and joins the thread. Connections are closed after each reply
// (no keep-alive), so a client's pooled connection never delays the stop.
// Thread safety: every method may be called from any thread, also while
// requests are being served. Not copyable or movable.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace guestflow::testing {

// One POST the receiver got (scripted failures included).
struct WebhookDelivery {
  std::string path;                            // without the query string
  std::map<std::string, std::string> headers;  // lower-case names; first value of each
  std::string body;
  // With a secret: whether the signature verified, and if not, why (e.g.
  // "no X-Guestflow-Signature header", "signature mismatch", "timestamp 123
  // is more than 300 s from now"). Without a secret: false, and
  // signature_error says it was not checked.
  bool signature_valid = false;
  std::string signature_error;

  // headers[lower-case name], or "".
  std::string Header(const std::string& lower_case_name) const {
    auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// What to answer one POST with.
struct WebhookReply {
  int status = 200;
  std::string body = "ok";  // sent as text/plain
  std::string retry_after;  // a Retry-After header when not empty
};

class WebhookReceiver {
 public:
  // `secret` "" → no signature checking. Aborts the process (with a line on
  // stderr) when no loopback port can be bound or the server does not start.
  explicit WebhookReceiver(std::string secret = "");
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // http://127.0.0.1:PORT + path. Any path is served.
  std::string Url(const std::string& path = "/hook") const;
  int port() const;

  // The replies to the next POSTs, in order (replacing what was left of an
  // earlier script); after them, 200 "ok" forever.
  void Script(std::vector<WebhookReply> replies);

  // Every POST received so far, in arrival order. A delivery is recorded
  // before its reply is sent, so once the client has its answer the
  // delivery is here.
  std::vector<WebhookDelivery> Deliveries() const;

  // Whether at least `n` POSTs arrived within `timeout`.
  bool WaitForDeliveries(size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace guestflow::testing
