#include "tests/support/webhook_receiver.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "httplib.h"

namespace guestflow::testing {
namespace {

constexpr int64_t kMaxSkewSeconds = int64_t{5} * 60;

// HMAC-SHA256 through EVP_MAC: deliberately not the plugin's HMAC() call, so
// the two sides do not share a mistake. Empty on a libcrypto failure.
std::string HmacSha256(const std::string& key, const std::string& timestamp,
                       const std::string& body) {
  std::string mac;
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = hmac == nullptr ? nullptr : EVP_MAC_CTX_new(hmac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t out_len = 0;
  if (ctx != nullptr &&
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(timestamp.data()),
                     timestamp.size()) &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>("."), 1) &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) &&
      EVP_MAC_final(ctx, out, &out_len, sizeof(out))) {
    mac.assign(reinterpret_cast<const char*>(out), out_len);
  }
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  return mac;
}

// Lower- or upper-case hex → bytes; false on anything else.
bool DecodeHex(absl::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

// "" when the delivery's signature verifies against `secret`, else why not.
std::string VerifySignature(const std::string& secret, const WebhookDelivery& d) {
  const std::string timestamp = d.Header("x-guestflow-timestamp");
  const std::string signature = d.Header("x-guestflow-signature");
  if (timestamp.empty()) return "no X-Guestflow-Timestamp header";
  if (signature.empty()) return "no X-Guestflow-Signature header";
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(timestamp, &seconds) || !absl::ascii_isdigit(timestamp.front())) {
    return absl::StrCat("X-Guestflow-Timestamp '", timestamp, "' is not unix seconds");
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  if (seconds > now + kMaxSkewSeconds || seconds < now - kMaxSkewSeconds) {
    return absl::StrCat("timestamp ", seconds, " is more than ", kMaxSkewSeconds, " s from now (",
                        now, ")");
  }
  if (!absl::StartsWith(signature, "v1=")) {
    return absl::StrCat("X-Guestflow-Signature '", signature, "' does not start with v1=");
  }
  std::string given;
  if (!DecodeHex(absl::string_view(signature).substr(3), &given) || given.size() != 32) {
    return "X-Guestflow-Signature is not v1= and 64 hex digits";
  }
  const std::string expected = HmacSha256(secret, timestamp, d.body);
  if (expected.size() != 32) return "libcrypto could not compute HMAC-SHA256";
  if (CRYPTO_memcmp(expected.data(), given.data(), expected.size()) != 0) {
    return "signature mismatch";
  }
  return "";
}

}  // namespace

struct WebhookReceiver::State {
  explicit State(std::string s) : secret(std::move(s)) {}

  const std::string secret;
  httplib::Server server;
  std::thread serving;
  int port = 0;

  mutable absl::Mutex mu;
  std::deque<WebhookReply> script ABSL_GUARDED_BY(mu);
  std::vector<WebhookDelivery> deliveries ABSL_GUARDED_BY(mu);

  void Handle(const httplib::Request& req, httplib::Response& res) {
    WebhookDelivery delivery;
    delivery.path = req.path;
    for (const auto& [name, value] : req.headers) {
      delivery.headers.emplace(absl::AsciiStrToLower(name), value);
    }
    delivery.body = req.body;
    if (secret.empty()) {
      delivery.signature_error = "not checked: the receiver has no secret";
    } else {
      delivery.signature_error = VerifySignature(secret, delivery);
      delivery.signature_valid = delivery.signature_error.empty();
    }
    WebhookReply reply;
    {
      absl::MutexLock lock(&mu);
      if (!script.empty()) {
        reply = std::move(script.front());
        script.pop_front();
      }
      deliveries.push_back(std::move(delivery));
    }
    res.status = reply.status;
    if (!reply.retry_after.empty()) res.set_header("Retry-After", reply.retry_after);
    res.set_content(reply.body, "text/plain");
  }
};

WebhookReceiver::WebhookReceiver(std::string secret)
    : state_(std::make_unique<State>(std::move(secret))) {
  State& s = *state_;
  // One request per connection: a client's kept-alive connection would
  // otherwise hold a worker, and the destructor, for the keep-alive timeout.
  s.server.set_keep_alive_max_count(1);
  s.server.Post(".*",
                [&s](const httplib::Request& req, httplib::Response& res) { s.Handle(req, res); });
  s.port = s.server.bind_to_any_port("127.0.0.1");
  if (s.port <= 0) {
    std::fprintf(stderr, "WebhookReceiver: cannot bind a port on 127.0.0.1\n");
    std::abort();
  }
  s.serving = std::thread([&s] { s.server.listen_after_bind(); });
  // cpp-httplib 0.11 ignores stop() until its accept loop runs: wait for it.
  for (int i = 0; i < 5000 && !s.server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!s.server.is_running()) {
    std::fprintf(stderr, "WebhookReceiver: the server on port %d did not start\n", s.port);
    std::abort();
  }
}

WebhookReceiver::~WebhookReceiver() {
  state_->server.stop();
  state_->serving.join();
}

std::string WebhookReceiver::Url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", state_->port, path);
}

int WebhookReceiver::port() const { return state_->port; }

void WebhookReceiver::Script(std::vector<WebhookReply> replies) {
  absl::MutexLock lock(&state_->mu);
  state_->script.assign(std::make_move_iterator(replies.begin()),
                        std::make_move_iterator(replies.end()));
}

std::vector<WebhookDelivery> WebhookReceiver::Deliveries() const {
  absl::MutexLock lock(&state_->mu);
  return state_->deliveries;
}

bool WebhookReceiver::WaitForDeliveries(size_t n, std::chrono::milliseconds timeout) const {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  auto enough = [&s, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return s.deliveries.size() >= n; };
  return s.mu.AwaitWithTimeout(absl::Condition(&enough), absl::FromChrono(timeout));
}

}  // namespace guestflow::testing
